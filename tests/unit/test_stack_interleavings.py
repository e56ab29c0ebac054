"""Whatever happens to a stack between its steps, each run follows the path it follows alone.

Hypothesis draws interleavings of join, leave, read, step, steps some members sit out (paced
runs), single steps while out of the stack (a paused run), and learning-rate changes over runs
with 1, 2 and 3 batches per epoch: far fewer than the stack gathers ahead, so reads and
departures land in epochs drawn long before. Lone
Trainers take the same steps and rates in lockstep; every read and every departure must hand
back a Trainer at the lone one's step, with its batch order, generator state and weights.
"""

import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerlab.core.spec import RunSpec
from layerlab.core.stacked.trainer_stack import STEPS_PER_REFILL, TrainerStack
from layerlab.core.training import Trainer


def spec_of(**fields: Any) -> RunSpec:
    return RunSpec.model_validate({"epochs": 400, "grid_resolution": 8, **fields})


# Batches of 16 over 16, 32 and 48 training points: 1, 2 and 3 steps per epoch.
SPECS = [
    spec_of(dataset={"name": "moons", "samples": 20}, hidden_widths=[8, 8], seed=1,
            optimizer="adam", learning_rate=0.01, batch_size=16),
    spec_of(dataset={"name": "circles", "samples": 40}, hidden_widths=[4], seed=2,
            optimizer="sgd", learning_rate=0.3, batch_size=16),
    spec_of(dataset={"name": "xor", "samples": 60}, hidden_widths=[8, 3], seed=3,
            optimizer="momentum", learning_rate=0.05, batch_size=16, regularization="l2",
            regularization_rate=0.01),
]  # fmt: skip
RUNS = range(len(SPECS))

operations = st.one_of(
    st.tuples(st.just("join"), st.sampled_from(RUNS)),
    st.tuples(st.just("leave"), st.sampled_from(RUNS)),
    st.tuples(st.just("read"), st.sampled_from(RUNS)),
    st.tuples(st.just("step"), st.integers(1, 2 * STEPS_PER_REFILL)),
    st.tuples(
        st.just("paced"),
        st.lists(st.integers(0, 2 * STEPS_PER_REFILL), min_size=len(SPECS), max_size=len(SPECS)),
    ),
    st.tuples(st.just("alone"), st.sampled_from(RUNS), st.integers(1, 5)),
    st.tuples(st.just("rate"), st.sampled_from(RUNS), st.sampled_from([0.003, 0.02, 0.1])),
)


@dataclass
class Playground:
    """A stack, the Trainers it may hold, and their lone twins stepped in lockstep."""

    stacked: list[Trainer]
    lone: list[Trainer]
    stack: TrainerStack | None = None
    members: set[int] = field(default_factory=set)

    def apply(self, operation: tuple[Any, ...]) -> None:
        name, *args = operation
        getattr(self, name)(*args)

    def join(self, i: int) -> None:
        if i in self.members or self.stacked[i].finished:
            return
        if self.stack is None:
            self.stack = TrainerStack([self.stacked[i]])
        else:
            self.stack.join([self.stacked[i]])
        self.members.add(i)

    def leave(self, i: int) -> None:
        if i in self.members:
            assert self.stack is not None
            self.stack.leave([self.stacked[i]])
            self.members.discard(i)
            if not self.members:
                self.stack = None
            self.assert_on_the_lone_path(i)

    def read(self, i: int) -> None:
        if i in self.members:
            assert self.stack is not None
            self.stack.write_back(self.stacked[i])
            self.assert_on_the_lone_path(i)

    def step(self, steps: int) -> None:
        if self.stack is None:
            return
        steps = min(steps, self.stack.steps_left)
        self.stack.train(steps)
        for i in self.members:
            self.lone[i].train_steps(steps)
        for i in [i for i in self.members if self.stacked[i].finished]:
            self.leave(i)  # as a worker does: a run at its end leaves its stack

    def paced(self, budgets: list[int]) -> None:
        """Member i takes budgets[i] of the stack's steps (at most what it has left)."""
        if self.stack is None:
            return
        mine = [min(budgets[RUNS.index(self.index_of(t))], t.total_steps - t.step)
                for t in self.stack.trainers]  # fmt: skip
        if max(mine) == 0:
            return
        self.stack.train(max(mine), mine)
        for trainer, steps in zip(self.stack.trainers, mine, strict=True):
            self.lone[self.index_of(trainer)].train_steps(steps)
        for i in [i for i in self.members if self.stacked[i].finished]:
            self.leave(i)

    def index_of(self, trainer: Trainer) -> int:
        return next(i for i, mine in enumerate(self.stacked) if mine is trainer)

    def alone(self, i: int, steps: int) -> None:
        if i not in self.members:
            self.stacked[i].train_steps(steps)
            self.lone[i].train_steps(steps)

    def rate(self, i: int, learning_rate: float) -> None:
        if i in self.members:
            assert self.stack is not None
            self.stack.set_rates(self.stacked[i], learning_rate, None)
        else:
            self.stacked[i].set_learning_rate(learning_rate)
        self.lone[i].set_learning_rate(learning_rate)

    def assert_on_the_lone_path(self, i: int) -> None:
        mine, theirs = self.stacked[i], self.lone[i]
        assert mine.step == theirs.step
        assert torch.equal(mine.shuffle.get_state(), theirs.shuffle.get_state()), "generator"
        if mine.step % mine.steps_per_epoch:  # mid-epoch: the epoch's order is in use
            assert torch.equal(mine.epoch_order, theirs.epoch_order), "batch order"
        torch.testing.assert_close(
            mine.model.state_dict(), theirs.model.state_dict(), rtol=1e-9, atol=1e-12
        )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operations, min_size=1, max_size=30))
def test_any_interleaving_keeps_every_run_on_its_lone_path(
    script: list[tuple[Any, ...]],
) -> None:
    playground = Playground(
        [Trainer(spec, dtype=torch.float64) for spec in SPECS],
        [Trainer(spec, dtype=torch.float64) for spec in SPECS],
    )
    for operation in script:
        playground.apply(operation)
    for i in list(playground.members):
        playground.leave(i)
    for i in RUNS:
        playground.assert_on_the_lone_path(i)
        # and alone from here on, they stay together
        playground.alone(i, 7)
        playground.assert_on_the_lone_path(i)


@pytest.mark.parametrize("reads_every", [1, 3, 50])
def test_reading_a_stacked_run_never_changes_its_path(reads_every: int) -> None:
    """The same stack twice in float32, one read every few steps: bit for bit the same."""

    def train(read: bool) -> list[dict[str, torch.Tensor]]:
        trainers = [Trainer(spec) for spec in SPECS]
        stack = TrainerStack(trainers)
        for done in range(0, 600, reads_every):
            stack.train(min(reads_every, stack.steps_left))
            if read:
                stack.write_back(trainers[done % len(trainers)])
        stack.leave(trainers)
        return [trainer.model.state_dict() for trainer in trainers]

    for untouched, read in zip(train(read=False), train(read=True), strict=True):
        for name in untouched:
            assert torch.equal(untouched[name], read[name]), name


def test_steps_sat_out_never_change_a_runs_numbers() -> None:
    """float32, bit for bit: runs that sit out steps (paced) end with the weights, optimizer
    state and metrics of the same runs stepped together throughout."""
    pattern = [[5, 0, 5], [5, 5, 1], [0, 3, 2], [5, 5, 5]]  # run 0 waits, run 1 lags…

    def train(paced: bool) -> list[Trainer]:
        trainers = [Trainer(spec) for spec in SPECS]
        stack = TrainerStack(trainers)
        for round_ in itertools.count():
            if paced:
                wanted = pattern[round_ % len(pattern)]
                budgets = [
                    min(wanted[trainers.index(trainer)], trainer.total_steps - trainer.step)
                    for trainer in stack.trainers
                ]
                if max(budgets):
                    stack.train(max(budgets), budgets)
            else:
                stack.train(min(5, stack.steps_left))
            done = [trainer for trainer in stack.trainers if trainer.finished]
            if len(done) == len(stack):
                stack.leave(done)
                return trainers
            if done:  # as a worker does: a run at its end leaves its stack
                stack.leave(done)
        raise AssertionError("unreachable")

    for together, paced in zip(train(paced=False), train(paced=True), strict=True):
        assert paced.step == together.step == together.total_steps
        assert paced.final_metrics() == together.final_metrics()
        for name, tensor in together.model.state_dict().items():
            assert torch.equal(paced.model.state_dict()[name], tensor), name
        theirs = together.optimizer.state_dict()["state"]
        for index, state in paced.optimizer.state_dict()["state"].items():
            for name, value in state.items():
                assert torch.equal(torch.as_tensor(value), torch.as_tensor(theirs[index][name]))


# Stack mates of every kind that shares the run's stack key: same shape, deeper, wider (in its
# width class), larger batches (in its batch class), more data, other optimizers and rates.
MATES = [
    {"seed": 4, "batch_size": 32},
    {"seed": 3, "batch_size": 17, "optimizer": "sgd"},
    {"seed": 9},
    {"seed": 8, "hidden_widths": [5, 5, 5, 5], "optimizer": "momentum", "learning_rate": 0.1},
    {"seed": 7, "hidden_widths": [16], "optimizer": "sgd", "regularization": "l2"},
    {"seed": 6, "hidden_widths": [3]},
]


@pytest.mark.parametrize(
    ("activation", "dataset"),
    [(activation, "moons") for activation in ("relu", "tanh", "sigmoid", "gelu", "silu", "elu")]
    + [("tanh", "blobs"), ("relu", "multigauss")],  # softmax and cross-entropy; regression
)
def test_a_runs_numbers_never_depend_on_who_shares_its_stack(activation: str, dataset: str) -> None:
    """float32, bit for bit: alone, or first, or last among runs of every shape. (The metric
    frames a stack sends on the way may differ in their last bits: their sums run over the
    largest data set of the stack.)"""
    base = {"dataset": {"name": dataset, "samples": 60}, "hidden_widths": [8, 8],
            "activation": activation, "batch_size": 10, "optimizer": "adam"}  # fmt: skip
    run = spec_of(**base)
    mates = [spec_of(**{**base, **mate}) for mate in MATES]
    mates.append(spec_of(**{**base, "seed": 5, "dataset": {"name": dataset, "samples": 200}}))

    def trained(specs: list[RunSpec], index: int) -> tuple[dict[str, Any], dict[str, Any]]:
        trainers = [Trainer(spec) for spec in specs]
        stack = TrainerStack(trainers)
        stack.train(300)
        stack.leave(trainers)
        return trainers[index].final_metrics(), trainers[index].model.state_dict()

    alone = trained([run], 0)
    for together in (trained([run, *mates], 0), trained([*mates, run], len(mates))):
        assert together[0] == alone[0]  # what the learner reads at the end
        for name, tensor in alone[1].items():
            assert torch.equal(together[1][name], tensor), name
