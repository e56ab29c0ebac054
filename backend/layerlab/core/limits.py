"""Limits: how much one run may ask for, as a value that spec and data validation are given.

A server's settings (LAYERLAB_MAX_*) tighten or loosen them, and `Settings.limits()` builds them;
core reads no settings. A spec is validated against them through pydantic's context:
`RunSpec.model_validate(data, context={"limits": limits})`; without one, the defaults hold.
"""

import sys
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Limits:
    """The bounds of one run; each error that quotes one names its LAYERLAB_ setting."""

    max_hidden_layers: int = 8
    max_width: int = 128  # neurons in one hidden layer
    max_samples: int = 5000  # points generated, rows of a CSV, samples in a batch
    max_epochs: int = 1000
    max_grid_resolution: int = 128  # cells per side of the decision-boundary grid


DEFAULT_LIMITS = Limits()

# For a spec read back after a server admitted it (in a worker, or resumed after a restart): its
# shape is checked again, not limits that may differ from those it was admitted under.
UNLIMITED = Limits(**{bound.name: sys.maxsize for bound in fields(Limits)})


def limits_in(context: Any) -> Limits:
    """The limits a validation context carries (`{"limits": Limits}`), else the defaults."""
    if isinstance(context, dict):
        limits = context.get("limits", DEFAULT_LIMITS)
        if not isinstance(limits, Limits):
            raise TypeError(f"the validation context's 'limits' should be Limits; got {limits!r}")
        return limits
    return DEFAULT_LIMITS
