"""What the registry holds of a dataset: what the picker shows, how its points are made, and how
the generated script makes the same points."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from layerlab.core.datasets.dataset import Extent, LinearTruth, Task

# (samples, noise, seed, classes) -> (points (n, inputs), labels (n,))
Generator = Callable[[int, float, int, int], tuple[np.ndarray, np.ndarray]]


def _nothing(noise: float) -> Mapping[str, object]:
    return {}


@dataclass(frozen=True)
class Snippet:
    """How the generated script makes a dataset's points: `code` is a string.Template of Python.

    Its holes are the spec's `$samples`, `$noise`, `$data_seed` and `$classes`; the script's
    phrases, in its language, by their key in core/script_phrases.py (`$data_moons`: a comment);
    and what `values` gives for the spec's noise, which the phrases may use too. The code leaves
    `points` (n, inputs) and `labels` (classes) or `targets` (regression).
    """

    code: str
    values: Callable[[float], Mapping[str, object]] = _nothing
    imports: tuple[str, ...] = ()  # the script's import lines it needs, e.g. of make_moons


@dataclass(frozen=True)
class DatasetInfo:
    """One dataset of the registry: its name in a RunSpec, what the picker shows about it, the
    function that makes its points and the script's code that makes the same ones."""

    name: str
    task: Task | None  # None: the data decides (a CSV)
    title: str
    description: str
    extent: Extent | None  # the plane a 2-D dataset lives on; None when it has no 2-D view
    generate: Generator | None = field(default=None, repr=False)  # None: read, not generated
    script: Snippet | None = field(default=None, repr=False)
    inputs: int | None = 2  # raw input columns; None: the data decides (a CSV)
    truth: LinearTruth | None = None  # the weights and bias that made a regression's targets


def script_literal(value: float, formula: str) -> str:
    """`value` as a short literal when one equals it exactly, else the formula that computes it:
    the script then computes the very float the generator computed."""
    short = repr(round(value, 12))
    return short if float(short) == value else formula
