"""A sweep: one base spec trained at every (depth, width) of two axes, to compare capacities.

A cell's network is `[width] * depth`. Depth 0 is the same network whatever the width (no
hidden layer), so its whole row is served by one run. Every run keeps the base's data, seeds and
training settings: runs of one width class then share a stack (see `stack_key`).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from layerlab.core.limits import Limits
from layerlab.core.spec import RunSpec
from layerlab.core.stacked.trainer_stack import StackKey, TrainerStack, stack_key
from layerlab.core.training import Trainer

MAX_AXIS_VALUES = 10  # values on one axis: a table a person can read
METRIC_KEYS = {
    "regression": ("train_loss", "test_loss", "train_rmse", "test_rmse"),
    "classification": ("train_loss", "test_loss", "train_acc", "test_acc"),
}


@dataclass(frozen=True)
class Cell:
    depth: int
    width: int

    @property
    def hidden_widths(self) -> list[int]:
        return [self.width] * self.depth


@dataclass
class SweepRun:
    """One run of a sweep and the cells it serves (several for depth 0, else one)."""

    spec: RunSpec
    cells: list[Cell] = field(default_factory=list)


def axis_problem(name: str, values: Sequence[int], low: int, high: int, setting: str) -> str | None:
    """Why `values` cannot be the `name` axis (1–10 distinct values from low to high), or None."""
    if not 1 <= len(values) <= MAX_AXIS_VALUES:
        return f"{name}: give 1 to {MAX_AXIS_VALUES} values; got {len(values)}"
    repeated = sorted({value for value in values if list(values).count(value) > 1})
    if repeated:
        return f"{name}: each value once; repeated: {repeated}"
    outside = [value for value in values if not low <= value <= high]
    if outside:
        return f"{name}: each value from {low} to {high} ({setting}); got {outside}"
    return None


def axes_problems(depths: Sequence[int], widths: Sequence[int], limits: Limits) -> list[str]:
    """Every reason the two axes cannot make a sweep under these limits."""
    found = [
        axis_problem("depths", depths, 0, limits.max_hidden_layers, "LAYERLAB_MAX_HIDDEN_LAYERS"),
        axis_problem("widths", widths, 1, limits.max_width, "LAYERLAB_MAX_WIDTH"),
    ]
    return [problem for problem in found if problem]


def run_count(depths: Sequence[int], widths: Sequence[int]) -> int:
    """Runs a sweep creates: one per cell, but one for the whole depth-0 row."""
    deep = sum(1 for depth in depths if depth > 0)
    return deep * len(widths) + (1 if 0 in depths else 0)


def sweep_runs(base: RunSpec, depths: Sequence[int], widths: Sequence[int]) -> list[SweepRun]:
    """The runs of a sweep, rows in the order of `depths`, cells in the order of `widths`."""
    runs: list[SweepRun] = []
    for depth in depths:
        if depth == 0:
            spec = base.model_copy(update={"hidden_widths": []})
            runs.append(SweepRun(spec, [Cell(0, width) for width in widths]))
            continue
        for width in widths:
            cell = Cell(depth, width)
            runs.append(
                SweepRun(base.model_copy(update={"hidden_widths": cell.hidden_widths}), [cell])
            )
    return runs


def cell_metrics(task: str, source: dict[str, Any] | None) -> dict[str, Any] | None:
    """A run's losses and scores as a cell shows them, from a metric point or final metrics."""
    if not source:
        return None
    keys = METRIC_KEYS["regression" if task == "regression" else "classification"]
    return {key: source.get(key) for key in keys}


def train_stacked(
    trainers: Sequence[Trainer],
    steps_per_turn: int = 256,
    after_turn: Callable[[], None] | None = None,
) -> None:
    """Train every Trainer to its last step, those of one `stack_key` as one TrainerStack (as the
    server's workers group them), one stack after another; `after_turn` is called after each
    `steps_per_turn` steps. Each Trainer then holds its final weights and optimizer state."""
    stacks: dict[StackKey, list[Trainer]] = {}
    for trainer in trainers:
        stacks.setdefault(stack_key(trainer), []).append(trainer)
    for members in stacks.values():
        stack = TrainerStack(members)
        while stack.steps_left > 0:
            stack.train(min(steps_per_turn, stack.steps_left))
            if after_turn is not None:
                after_turn()
        stack.leave(members)
