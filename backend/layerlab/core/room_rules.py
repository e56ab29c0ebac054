"""The rules of a teacher's room, as pure functions: join codes, display names, the teacher's
locks on a learner's run, and the challenge with its ranking.

Specs come as the JSON dicts a RunSpec dumps (`model_dump(mode="json")`), as the store keeps
them, so that the same rule reads a stored setup and a learner's new run alike.
"""

import math
import secrets
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a projector
CODE_LENGTH = 6

# The page's control names (frontend/js/controls.js CONTROL_NAMES); the teacher locks these.
CONTROL_NAMES = (
    "dataset", "noise", "samples", "train-fraction", "data-seed", "classes", "csv", "regenerate",
    "depth", "width", "layers", "activation", "features", "play", "step", "reset",
    "learning-rate", "optimizer", "batch-size", "regularization", "regularization-rate", "pace",
    "epochs", "until-paused", "show-test", "discretize", "threshold", "forward", "lang", "theme",
    "modes", "rooms", "lessons",
)  # fmt: skip
# Locks on the data: the control, and the dataset fields it decides.
DATASET_LOCKS: dict[str, tuple[str, ...]] = {
    "dataset": ("name", "source"),
    "noise": ("noise",),
    "samples": ("samples",),
    "train-fraction": ("train_fraction",),
    "data-seed": ("seed",),
    "regenerate": ("seed",),
    "classes": ("classes",),
    "csv": ("source",),
}
# Locks on one field of the spec each. The other controls only change what the page shows.
SPEC_LOCKS = {
    "activation": "activation",
    "features": "features",
    "optimizer": "optimizer",
    "epochs": "epochs",
    "learning-rate": "learning_rate",
    "batch-size": "batch_size",
    "regularization": "regularization",
    "regularization-rate": "regularization_rate",
    "pace": "epochs_per_s",
    "until-paused": "until_paused",
}
WIDTH_LOCKS = ("width", "layers")  # the per-layer −/+ buttons change widths as the slider does

METRICS = ("test_acc", "train_acc", "test_rmse", "train_rmse", "test_loss", "train_loss")
CSV_FORMULA_STARTS = ("=", "+", "-", "@")


# --- codes and names --------------------------------------------------------------------------


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalized_code(text: str) -> str | None:
    """A code as rooms are keyed (upper case), or None when it cannot be one."""
    code = text.strip().upper()
    if len(code) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        return None
    return code


class NameRefused(ValueError):
    """A display name that cannot be used; the message names the field and the rule."""


def unshowable(text: str) -> list[str]:
    """The control characters in `text`, as U+XXXX: what a name or a title may not hold."""
    return sorted({f"U+{ord(c):04X}" for c in text if unicodedata.category(c) == "Cc"})


def display_name(raw: str, max_chars: int) -> str:
    """The name as the room shows it: whitespace trimmed and collapsed, 1 to `max_chars`
    characters, no control characters (markup is text like any other)."""
    name = " ".join(raw.split())
    controls = unshowable(name)
    if controls:
        raise NameRefused(f"name: control characters are not allowed; found {', '.join(controls)}")
    if not name:
        raise NameRefused(f"name: give a name of 1 to {max_chars} characters; got none")
    if len(name) > max_chars:
        raise NameRefused(
            f"name: at most {max_chars} characters (LAYERLAB_MAX_NAME_CHARS); got {len(name)}"
        )
    return name


def name_key(name: str) -> str:
    """What two names must differ in: 'Ana', 'ANA' and 'Ａｎａ' are one name."""
    return unicodedata.normalize("NFKC", name).casefold()


def csv_safe(text: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    return f"'{text}" if text.startswith(CSV_FORMULA_STARTS) else text


# --- the teacher's setup and locks ------------------------------------------------------------


def locks_problem(spec: Mapping[str, Any], locked: Sequence[str]) -> str | None:
    """Why a setup cannot lock these controls, or None."""
    unknown = [name for name in locked if name not in CONTROL_NAMES]
    if unknown:
        known = ", ".join(CONTROL_NAMES)
        return f"setup.locked: unknown controls {unknown}; the page's controls are {known}"
    width_locked = any(name in locked for name in WIDTH_LOCKS)
    if width_locked and not spec["hidden_widths"] and "depth" not in locked:
        return (
            "setup.locked: the setup has no hidden layer, so there is no width to lock; lock "
            "'depth' too, or give the setup a hidden layer"
        )
    return None


def _locked_to(field: str, value: Any) -> str:
    return f"{field}: the teacher has locked it to {value!r} in this room"


def lock_problem(setup: Mapping[str, Any], spec: Mapping[str, Any], locked: Sequence[str]) -> str:
    """Why a learner's run breaks the teacher's locks ('' when it keeps them): the first field
    that differs from the setup's, named first as in other 422s."""
    for control, fields in DATASET_LOCKS.items():
        if control in locked:
            for field in fields:
                if spec["dataset"].get(field) != setup["dataset"].get(field):
                    return _locked_to(f"dataset.{field}", setup["dataset"].get(field))
    for control, field in SPEC_LOCKS.items():
        if control in locked and spec[field] != setup[field]:
            return _locked_to(field, setup[field])
    widths, wanted = list(spec["hidden_widths"]), list(setup["hidden_widths"])
    depth_locked = "depth" in locked
    width_locked = any(name in locked for name in WIDTH_LOCKS)
    if depth_locked and width_locked and widths != wanted:
        return _locked_to("hidden_widths", wanted)
    if depth_locked and len(widths) != len(wanted):
        return (
            f"hidden_widths: the teacher has locked the depth to {len(wanted)} hidden layers in "
            f"this room; got {len(widths)}"
        )
    if width_locked and wanted and any(width != wanted[-1] for width in widths):
        return (
            f"hidden_widths: the teacher has locked every hidden layer's width to {wanted[-1]} "
            f"in this room; got {widths}"
        )
    return ""


def rates_problem(
    setup: Mapping[str, Any], changes: Mapping[str, float | None], locked: Sequence[str]
) -> str:
    """Why changing a learner's rates or pace while it trains breaks a lock ('' when not)."""
    for control in ("learning-rate", "regularization-rate", "pace"):
        field = SPEC_LOCKS[control]
        if control in locked and field in changes and changes[field] != setup[field]:
            return _locked_to(field, setup[field])
    return ""


# --- the challenge and the ranking ------------------------------------------------------------


def higher_is_better(metric: str) -> bool:
    return metric.endswith("_acc")


def ranking_metric(challenge: Mapping[str, Any] | None, task: str) -> str:
    """The metric a room ranks by: the challenge's, else test accuracy (test RMSE for
    regression)."""
    if challenge is not None:
        return str(challenge["metric"])
    return "test_rmse" if task == "regression" else "test_acc"


def metric_value(metrics: Mapping[str, Any] | None, metric: str) -> float | None:
    """The metric as a number, None when absent or not finite (a diverged loss)."""
    value = (metrics or {}).get(metric)
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def meets(
    challenge: Mapping[str, Any] | None,
    metrics: Mapping[str, Any] | None,
    hidden_widths: Sequence[int],
    parameters: int | None,
) -> bool:
    """Whether a run's metrics reach the challenge's target while its network keeps the
    challenge's constraints."""
    if challenge is None:
        return False
    value = metric_value(metrics, challenge["metric"])
    if value is None:
        return False
    target = float(challenge["target"])
    reached = value >= target if higher_is_better(challenge["metric"]) else value <= target
    max_parameters, max_layers = challenge.get("max_parameters"), challenge.get("max_hidden_layers")
    if max_parameters is not None and (parameters is None or parameters > max_parameters):
        return False
    return reached and (max_layers is None or len(hidden_widths) <= max_layers)


def rank_key(
    metric: str, met: bool, metrics: Mapping[str, Any] | None, parameters: int | None
) -> tuple[bool, float, float]:
    """Sorts best first: met first, then by the metric (higher accuracy, lower RMSE or loss;
    none last), then fewer parameters."""
    value = metric_value(metrics, metric)
    sign = -1.0 if higher_is_better(metric) else 1.0
    score = math.inf if value is None else sign * value
    return (not met, score, math.inf if parameters is None else float(parameters))
