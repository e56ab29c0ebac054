"""torch.optim's SGD, momentum and Adam for K runs at once, over one flat `(K, P)` buffer.

Each run keeps its own optimizer, rate and step count as `(K, 1)` columns, and each run's update
is the one its `torch.optim` would make. Adam's passes run over its rows and SGD's over the
others', each a few blocks of neighbouring rows (the stack orders its rows so), each row paying
for its own optimizer only.
A run's state moves between its own optimizer and the stack with `read_state` / `write_state`.
"""

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch

from layerlab.core.stacked.model import Layer, blocks, lanewise

ADAM_BETA1, ADAM_BETA2, ADAM_EPS = 0.9, 0.999, 1e-8  # torch.optim.Adam's defaults


SCHEDULE_STEPS = 128  # steps whose per-run step sizes are worked out at once


class StepSizes(NamedTuple):
    """One step's sizes, of the Adam rows and of the others each in row order: each Adam run's
    lr / (1 − β₁ᵗ) and 1 / √(1 − β₂ᵗ), each SGD run's lr."""

    adam: torch.Tensor  # (a, 1)
    inverse_correction: torch.Tensor  # (a, 1)
    sgd: torch.Tensor  # (K − a, 1)


class _Rows(NamedTuple):
    """A block of neighbouring rows of one optimizer: views made once (a view costs an
    operation a step), and where its sizes sit among that optimizer's (`first`, `last`)."""

    params: torch.Tensor
    grads: torch.Tensor
    state: tuple[torch.Tensor, ...]  # SGD: momentum column, velocity; Adam: exp_avg, exp_avg_sq
    first: int
    last: int


class StackedOptimizer:
    """Views of a stack's optimizer columns and state; `update` steps every run in place with
    the sizes `next_sizes` hands out.

    What depends only on each run's step count and rate (Adam's bias corrections, the step
    sizes) is worked out for SCHEDULE_STEPS steps at once, so a step is a few passes over the
    flat buffers and none over small columns. Call `sync` before reading `adam_steps` or after
    changing `learning_rates`.
    """

    def __init__(
        self,
        params: torch.Tensor,  # (K, P): what `update` steps
        grads: torch.Tensor,  # (K, P)
        learning_rates: torch.Tensor,  # (K, 1)
        momentum: torch.Tensor,  # (K, 1): 0.9 for momentum, 0 for plain SGD and Adam
        is_adam: torch.Tensor,  # (K, 1): 1 for Adam, 0 for SGD
        adam_steps: torch.Tensor,  # (K, 1): Adam steps taken so far, for the bias corrections
        velocity: torch.Tensor,  # (K, P): SGD's momentum buffer
        exp_avg: torch.Tensor,  # (K, P): Adam's first moment
        exp_avg_sq: torch.Tensor,  # (K, P): Adam's second moment
    ) -> None:
        self.learning_rates, self.adam_steps = learning_rates, adam_steps
        self.adam_blocks: list[tuple[int, int]] = []  # (first row, past the last) of each block
        self.sgd_blocks: list[tuple[int, int]] = []
        for adam, start, stop in blocks((is_adam[:, 0] == 1).tolist()):
            (self.adam_blocks if adam else self.sgd_blocks).append((start, stop))
        self.adams = sum(stop - start for start, stop in self.adam_blocks)
        self._adam = _rows_of(self.adam_blocks, params, grads, exp_avg, exp_avg_sq)
        self._sgd = _rows_of(self.sgd_blocks, params, grads, momentum, velocity)
        # √(v + tiny): sqrt of 0 (padding, dead units) takes a path ~6x slower, and tiny (~5e-31
        # in float32) moves the result by < 1e-7 relative, float32's own rounding
        self.tiny = torch.finfo(exp_avg_sq.dtype).tiny ** 0.8
        self._adam_step_sizes = self._sgd_step_sizes = learning_rates.new_empty(0, 1, 1)
        self._inverse_corrections = learning_rates.new_empty(0, 1, 1)
        self._taken = 0  # steps taken of the schedule

    def _schedule(self) -> None:
        """Each Adam run's step size lr / (1 − β₁ᵗ) and 1 / √(1 − β₂ᵗ), for the next
        SCHEDULE_STEPS values of its step count t: (S, a, 1) each; SGD's is its rate."""
        self.sync()
        ahead = torch.arange(1, SCHEDULE_STEPS + 1, dtype=self.adam_steps.dtype)
        steps = _gathered(self.adam_steps, self.adam_blocks)
        t = steps + ahead.to(steps.device).view(-1, 1, 1)
        # lanewise: a run's pow and rsqrt round alike wherever it sits in the stack
        learning_rates = _gathered(self.learning_rates, self.adam_blocks)
        self._adam_step_sizes = learning_rates / (1 - lanewise(_pow_of(ADAM_BETA1), t))
        self._inverse_corrections = lanewise(torch.rsqrt, 1 - lanewise(_pow_of(ADAM_BETA2), t))
        sgd_rates = _gathered(self.learning_rates, self.sgd_blocks)
        self._sgd_step_sizes = sgd_rates.expand(SCHEDULE_STEPS, -1, -1)

    def sync(self) -> None:
        """Count the steps taken into `adam_steps`, and work the schedule out afresh."""
        self.adam_steps.add_(self._taken)
        self._taken = 0
        self._sgd_step_sizes = self._sgd_step_sizes[:0]

    def next_sizes(self) -> StepSizes:
        """The next step's sizes (views of the schedule), the step counted."""
        if self._taken == len(self._sgd_step_sizes):
            self._schedule()
        taken = self._taken
        self._taken += 1
        return StepSizes(
            self._adam_step_sizes[taken],
            self._inverse_corrections[taken],
            self._sgd_step_sizes[taken],
        )

    def update(self, sizes: "StepSizes") -> None:
        """params -= step_size · direction, with PyTorch's formulas for each run's optimizer.

        Device work alone, no host-side state: a CUDA graph captures it once and replays it
        with each step's sizes copied in (graph.py)."""
        whole = len(self._sgd) == 1  # one block: its sizes are all of them, no view to make
        for rows in self._sgd:  # buf = μ·buf + g; PyTorch's first buf = g is the same from buf = 0
            momentum, velocity = rows.state
            size = sizes.sgd if whole else sizes.sgd[rows.first : rows.last]
            direction = velocity.mul_(momentum).add_(rows.grads)
            rows.params.addcmul_(size, direction, value=-1)
        whole = len(self._adam) == 1
        for rows in self._adam:
            g, (exp_avg, exp_avg_sq) = rows.grads, rows.state
            exp_avg.lerp_(g, 1 - ADAM_BETA1)  # m = β₁m + (1−β₁)g
            exp_avg_sq.mul_(ADAM_BETA2).addcmul_(g, g, value=1 - ADAM_BETA2)
            size, correction = sizes.adam, sizes.inverse_correction
            if not whole:
                size, correction = size[rows.first : rows.last], correction[rows.first : rows.last]
            denom = (exp_avg_sq + self.tiny).sqrt_()
            denom.mul_(correction).add_(ADAM_EPS)
            direction = exp_avg / denom  # m̂ / (√v̂ + ε), up to 1/(1 − β₁ᵗ)
            rows.params.addcmul_(size, direction, value=-1)


def _rows_of(
    row_blocks: list[tuple[int, int]],
    params: torch.Tensor,
    grads: torch.Tensor,
    *state: torch.Tensor,
) -> list[_Rows]:
    result, first = [], 0
    for start, stop in row_blocks:
        views = (t[start:stop] for t in (params, grads, *state))
        result.append(_Rows(next(views), next(views), tuple(views), first, first + stop - start))
        first += stop - start
    return result


def _gathered(column: torch.Tensor, row_blocks: list[tuple[int, int]]) -> torch.Tensor:
    """The rows of these blocks of a (K, 1) column, one after another: (rows, 1)."""
    return torch.cat([column[start:stop] for start, stop in row_blocks] or [column[:0]])


def _pow_of(base: float) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda exponent: torch.pow(base, exponent)


# The stack's state buffers, by the name torch.optim gives the same state.
STATE_NAMES = {"velocity": "momentum_buffer", "exp_avg": "exp_avg", "exp_avg_sq": "exp_avg_sq"}


def read_state(
    optimizer: torch.optim.Optimizer, layers: Sequence[Layer]
) -> tuple[dict[str, list[Layer]], float]:
    """A run's torch.optim state per stack buffer, per layer as (weight, bias), and its Adam
    step count; zeros where its optimizer has not stepped yet."""

    def state(p: torch.Tensor, name: str) -> torch.Tensor:
        value = optimizer.state.get(p, {}).get(name)
        return torch.zeros_like(p) if value is None else value.detach()

    buffers = {
        buffer: [(state(w, name), state(b, name)) for w, b in layers]
        for buffer, name in STATE_NAMES.items()
    }
    step = optimizer.state.get(layers[0][0], {}).get("step")
    return buffers, 0.0 if step is None else float(step)


def write_state(
    optimizer: torch.optim.Optimizer,
    layers: Sequence[Layer],
    kind: str,
    buffers: dict[str, list[Layer]],
    adam_steps: float,
) -> None:
    """Give a run's optimizer the state the stack kept for it, as torch.optim keeps it itself.

    Call it only once the run has taken a step: before that torch.optim holds no state.
    """
    for i, (weight, bias) in enumerate(layers):
        for j, p in enumerate((weight, bias)):
            if kind == "momentum":
                optimizer.state[p] = {
                    "momentum_buffer": buffers["velocity"][i][j].clone(
                        memory_format=torch.contiguous_format
                    )
                }
            elif kind == "adam":  # as Adam keeps it unfused: its step a float32 scalar on the CPU
                optimizer.state[p] = {
                    "step": torch.tensor(adam_steps, dtype=torch.float32),
                    "exp_avg": buffers["exp_avg"][i][j].clone(
                        memory_format=torch.contiguous_format
                    ),
                    "exp_avg_sq": buffers["exp_avg_sq"][i][j].clone(
                        memory_format=torch.contiguous_format
                    ),
                }
