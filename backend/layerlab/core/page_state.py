"""The playground page's address state (`dataset=moons&hidden=8,8&...`) read as a RunSpec.

This is the Python twin of frontend/js/url-hash.js `readHash`, over state.js `defaultConfig`
and `specFromConfig`: a key the state leaves out keeps the page's default, so the run found here
is the run a link to that state starts. Change one side and change the other. It is stricter
than the page: where the page silently ignores a key it cannot read, this names it, since a
lesson's state (or a room's setup) should mean what it says.
"""

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from pydantic import ValidationError

from layerlab.core.datasets import DATASETS
from layerlab.core.limits import DEFAULT_LIMITS, Limits
from layerlab.core.spec import RunSpec, describe_errors
from layerlab.core.sweep import axes_problems

# state.js defaultConfig, in RunSpec's names: what the page starts with.
PAGE_DEFAULTS: dict[str, Any] = {
    "dataset": {"name": "moons", "samples": 500, "noise": 0.2, "train_fraction": 0.8, "seed": 0},
    "features": ["x1", "x2"],
    "hidden_widths": [4, 4],
    "activation": "tanh",
    "optimizer": "adam",
    "learning_rate": 0.03,
    "batch_size": 10,
    "epochs": 500,
    "regularization": "none",
    "regularization_rate": 0.0,
    "seed": 0,
    "grid_resolution": 64,
}
# The address's keys and the spec fields they set (url-hash.js NUMBER_KEYS and TEXT_KEYS).
DATA_KEYS = {
    "dataset": "name",
    "source": "source",
    "noise": "noise",
    "samples": "samples",
    "train": "train_fraction",
    "dataseed": "seed",
    "classes": "classes",
}
TRAINING_KEYS = {
    "activation": "activation",
    "optimizer": "optimizer",
    "lr": "learning_rate",
    "batch": "batch_size",
    "epochs": "epochs",
    "reg": "regularization",
    "regrate": "regularization_rate",
    "seed": "seed",
}
TEXT_KEYS = {"dataset", "source", "activation", "optimizer", "reg"}
# The second run of a comparison sets its network and the training keys a learner unlinks
# (state.js COMPARE_KEYS); it shares the data and the seeds.
SECOND_RUN_KEYS = ("hidden", "activation", "lr", "optimizer", "batch", "epochs", "reg", "regrate")
# The view's switches, as the page names them; the page's own keys of no spec field (the width
# slider's value) or of one read apart (pace, until); and the lesson step it shows.
VIEW_KEYS = {"lang", "theme", "test", "discretize", "hide", "only"}
PAGE_KEYS = {"width", "pace", "until"}
LESSON_KEYS = {"lesson", "step"}
MODES = ("play", "compare", "sweep")
ADDRESS_KEYS = {
    *DATA_KEYS, *TRAINING_KEYS, *VIEW_KEYS, *PAGE_KEYS, *LESSON_KEYS,
    "hidden", "features", "threshold", "mode", "depths", "widths",
}  # fmt: skip


class PageStateError(ValueError):
    """A state the page would not read as written: each line names the key and what was wrong."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class PageState:
    """What a link to a state opens: its run (and a comparison's second run), the view's mode,
    a sweep's axes, the decision threshold, and the view's switches as the page names them."""

    spec: RunSpec
    mode: str = "play"
    second: RunSpec | None = None  # mode=compare
    depths: tuple[int, ...] = ()  # mode=sweep
    widths: tuple[int, ...] = ()
    threshold: float | None = None  # None: the page's 0.5
    view: dict[str, str] = field(default_factory=dict)  # VIEW_KEYS as written: lang, hide, ...

    @property
    def runs(self) -> dict[str, RunSpec]:
        """The runs goals may name, by the prefix their metrics take ("" and "b.")."""
        return {"": self.spec} | ({"b.": self.second} if self.second else {})


def read_page_state(state: str, limits: Limits = DEFAULT_LIMITS) -> PageState:
    """The page's reading of `state` (with or without a leading #), its runs validated against
    `limits`; raises PageStateError naming every key it cannot read."""
    problems: list[str] = []
    params: dict[str, str] = {}
    for key, value in parse_qsl(state.removeprefix("#"), keep_blank_values=True):
        if key in params:
            problems.append(f"{key}: given twice")
        params[key] = value

    mode = params.get("mode", "play")
    if mode not in MODES:
        problems.append(f"mode: one of {', '.join(MODES)}; got {mode!r}")
    first = _run_fields(params, "", problems)
    second_fields = _run_fields(params, "b.", problems)
    for key in params:
        if key.startswith("b.") and key[2:] not in SECOND_RUN_KEYS:
            own = ", ".join(f"b.{name}" for name in SECOND_RUN_KEYS)
            problems.append(f"{key}: the second run shares the data and seeds; its keys are {own}")
        elif not key.startswith("b.") and key not in ADDRESS_KEYS:
            problems.append(f"{key}: not a key of the page's address")
        elif key.startswith("b.") and mode != "compare":
            problems.append(f"{key}: a second run's key needs mode=compare")
        elif key in ("depths", "widths") and mode != "sweep":
            problems.append(f"{key}: a sweep's axis needs mode=sweep")

    threshold = None
    if "threshold" in params:
        threshold = _number(params, "threshold", problems)
        if threshold is not None and not 0 <= threshold <= 1:
            problems.append(f"threshold: from 0 to 1; got {threshold}")
    depths: tuple[int, ...] = ()
    widths: tuple[int, ...] = ()
    if mode == "sweep" and ("depths" in params or "widths" in params):
        depths, widths = (
            _integers(params, "depths", problems),
            _integers(params, "widths", problems),
        )
        problems.extend(axes_problems(depths, widths, limits))
    spec = _spec(first, limits, "", problems)
    second = None
    if mode == "compare":
        # With none of its own keys, the page's second run is state.js defaultCompare: linear.
        second_fields = second_fields or {"hidden_widths": [], "activation": "tanh"}
        second = _spec({**first, **second_fields}, limits, "b.", problems)
    if problems:
        raise PageStateError(problems)
    assert spec is not None
    view = {key: params[key] for key in VIEW_KEYS if key in params}
    return PageState(spec, mode, second, depths, widths, threshold, view)


def _run_fields(params: dict[str, str], prefix: str, problems: list[str]) -> dict[str, Any]:
    """The spec fields one run's keys set; the second run's (prefix "b.") only its own keys."""
    fields: dict[str, Any] = {}
    data: dict[str, Any] = {}
    keys = TRAINING_KEYS if prefix else {**DATA_KEYS, **TRAINING_KEYS}
    for key, name in keys.items():
        if (prefix and key not in SECOND_RUN_KEYS) or prefix + key not in params:
            continue
        value = (
            params[prefix + key] if key in TEXT_KEYS else _number(params, prefix + key, problems)
        )
        if value is None or value == "":
            if value == "":
                problems.append(f"{prefix}{key}: empty")
            continue
        (data if key in DATA_KEYS else fields)[name] = value
    if data:
        fields["dataset"] = data
    if prefix + "hidden" in params:
        widths = _list(params[prefix + "hidden"])
        if all(_is_integer(width) for width in widths):
            fields["hidden_widths"] = [int(width) for width in widths]
        else:
            problems.append(f"{prefix}hidden: widths as whole numbers, e.g. 8,8; got {widths}")
    if not prefix and _list(params.get("features", "")):
        fields["features"] = _list(params["features"])
    if not prefix and "pace" in params and params["pace"] != "max":
        pace = _number(params, "pace", problems)
        if pace is not None:
            fields["epochs_per_s"] = pace
    if not prefix and params.get("until") == "1":
        fields["until_paused"] = True
    return fields


def _spec(
    fields: dict[str, Any], limits: Limits, prefix: str, problems: list[str]
) -> RunSpec | None:
    """The RunSpec the page sends (state.js specFromState), or None with the problems noted."""
    data = {**PAGE_DEFAULTS["dataset"], **fields.get("dataset", {})}
    merged = {**PAGE_DEFAULTS, **fields, "dataset": data}
    info = DATASETS.get(data["name"])
    if info is not None and info.generate is not None and info.extent is None:
        merged["features"] = ["x1", "x2"]  # a table's columns go in as they are
    try:
        return RunSpec.model_validate(merged, context={"limits": limits})
    except ValidationError as error:
        problems.extend(f"{prefix}{line}" for line in describe_errors(error))
        return None


def _number(params: dict[str, str], key: str, problems: list[str]) -> float | int | None:
    text = params[key].strip()
    try:
        value = float(text)
    except ValueError:
        problems.append(f"{key}: a number; got {params[key]!r}")
        return None
    if value != value or value in (float("inf"), float("-inf")):
        problems.append(f"{key}: a finite number; got {params[key]!r}")
        return None
    return int(value) if _is_integer(text) else value


def _integers(params: dict[str, str], key: str, problems: list[str]) -> tuple[int, ...]:
    items = _list(params.get(key, ""))
    if not all(_is_integer(item) for item in items):
        problems.append(f"{key}: whole numbers, e.g. 0,1,2; got {items}")
        return ()
    return tuple(sorted({int(item) for item in items}))


def _is_integer(text: str) -> bool:
    return text.strip().lstrip("-").isdigit()


def _list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]
