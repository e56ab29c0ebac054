"""A stack's step as a CUDA graph: the same path as the eager step, captured again when it must.

A graph replays the kernels it recorded on the buffers it recorded them on. What makes that safe
is bookkeeping this machine can test without a GPU: every step goes through the same input
buffers, each step of a graph issues the very operations on the very buffers its first step did
(what a replay would do), the graph is renewed exactly when the stack's buffers or kernels
change, and the step through those buffers is the eager step to the bit. The capture itself runs
where CUDA is.
"""

from collections.abc import Iterator
from typing import Any

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from layerlab.config import Settings
from layerlab.core.spec import RunSpec
from layerlab.core.stacked.graph import WARMUP_STEPS, StepGraph
from layerlab.core.stacked.trainer_stack import TrainerStack
from layerlab.core.training import Trainer
from layerlab.engine.executor import WorkerConfig

SPECS = [
    RunSpec.model_validate(spec)
    for spec in [
        {"dataset": {"name": "moons", "samples": 200}, "hidden_widths": [8, 8], "seed": 1,
         "optimizer": "adam", "learning_rate": 0.01},
        {"dataset": {"name": "circles", "samples": 300}, "hidden_widths": [4], "seed": 2,
         "optimizer": "sgd", "learning_rate": 0.5, "batch_size": 10},
        {"dataset": {"name": "xor", "samples": 250}, "hidden_widths": [8, 3, 5], "seed": 3,
         "optimizer": "momentum", "learning_rate": 0.05, "regularization": "l2"},  # rate 0
        {"dataset": {"name": "moons", "samples": 120}, "hidden_widths": [2, 2], "seed": 4,
         "optimizer": "adam", "learning_rate": 0.03},
    ]
]  # fmt: skip


def specs_on(dataset: str | None) -> list[RunSpec]:
    """SPECS, or the same runs on another dataset (multiclass, regression)."""
    if dataset is None:
        return SPECS
    return [
        spec.model_copy(update={"dataset": spec.dataset.model_copy(update={"name": dataset})})
        for spec in SPECS
    ]


def stacks(
    device: str, dtype: torch.dtype, dataset: str | None = None
) -> tuple[list[TrainerStack], list[list[Trainer]]]:
    """The same three runs in an eager stack and in a graphed one; a fourth run of each waits."""
    members = [
        [Trainer(spec, dtype=dtype, device=torch.device(device)) for spec in specs_on(dataset)]
        for _ in range(2)
    ]
    return [
        TrainerStack(runs[:3], graphed=graphed)
        for runs, graphed in zip(members, (False, True), strict=True)
    ], members


def live_through(stack: TrainerStack, runs: list[Trainer]) -> None:
    """What a stack meets in a classroom: rates changed, a penalty switched on, a run joining,
    paced runs sitting steps out, a run leaving."""
    stack.train(20)
    stack.set_rates(runs[0], 0.02, None)
    stack.train(15)
    stack.set_rates(runs[2], None, 0.01)  # the first penalty in the stack
    stack.train(15)
    stack.join([runs[3]])
    stack.train(10, budgets=[10, 4, 10, 7][: len(stack)])
    stack.leave([runs[1]])
    stack.train(25)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_the_step_through_a_graphs_buffers_is_the_eager_step_to_the_bit(
    dtype: torch.dtype,
) -> None:
    (eager, graphed), (eager_runs, graphed_runs) = stacks("cpu", dtype)
    live_through(eager, eager_runs)
    live_through(graphed, graphed_runs)
    assert graphed.graph is not None and graphed.graph.warm_steps == 25
    for name in ("params", "grads", "velocity", "exp_avg", "exp_avg_sq", "adam_steps"):
        assert torch.equal(eager.rows[name], graphed.rows[name]), name
    eager.leave(eager.trainers)
    graphed.leave(graphed.trainers)
    for mine, theirs in zip(eager_runs, graphed_runs, strict=True):
        assert mine.step == theirs.step
        for key, value in mine.model.state_dict().items():
            assert torch.equal(value, theirs.model.state_dict()[key]), key


def test_a_graph_is_renewed_when_the_buffers_or_the_kernels_change_and_only_then() -> None:
    (_, stack), (_, runs) = stacks("cpu", torch.float32)
    first = stack.graph
    assert first is not None and not first.inputs  # nothing recorded before the first step
    stack.train(5)
    buffers = [buffer.data_ptr() for buffer in first.inputs]
    stack.train(140)  # past a refill of the batches and a new optimizer schedule
    assert stack.graph is first  # every step through the same buffers a capture would read
    assert [buffer.data_ptr() for buffer in first.inputs] == buffers
    stack.set_rates(runs[0], 0.5, None)  # a new rate is a new step size, copied in each step
    stack.train(3, budgets=[3, 1, 2])  # a paced run's turn changes no kernel either
    assert stack.graph is first
    renewed = []
    for change in (
        lambda: stack.set_rates(runs[2], None, 0.01),  # the stack's first penalty: new kernels
        lambda: stack.join([runs[3]]),  # new buffers
        lambda: stack.leave([runs[1]]),
        lambda: stack.set_rates(runs[2], None, 0.0),  # the last penalty gone
    ):
        before = stack.graph
        change()
        renewed.append(stack.graph is not before)
        stack.train(2)
    assert renewed == [True, True, True, True]
    kept = stack.graph
    stack.set_rates(runs[2], None, 0.0)  # no penalty before, none after: the same kernels
    assert stack.graph is kept


class OpTrace(TorchDispatchMode):
    """Every ATen operation a step issues, with the tensors it reads and writes: those made
    before the step by where their memory lies (a graph would read and write exactly there),
    those made within it by shape alone (a graph allocates them from its own pool)."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[tuple[str, tuple[Any, ...]]] = []
        self._made: set[int] = set()  # storages made by this step's own operations

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        arguments = tree_flatten((args, kwargs or {}))[0]
        read = tuple(self._describe(value) for value in arguments)
        result = func(*args, **(kwargs or {}))
        given = {a.untyped_storage().data_ptr() for a in arguments if isinstance(a, torch.Tensor)}
        for value in tree_flatten(result)[0]:
            if isinstance(value, torch.Tensor) and value.untyped_storage().data_ptr() not in given:
                self._made.add(value.untyped_storage().data_ptr())
        self.ops.append((str(func), read))
        return result

    def _describe(self, value: Any) -> Any:
        if not isinstance(value, torch.Tensor):
            return repr(value)  # a number or a flag: what a capture would bake in
        where = value.untyped_storage().data_ptr()
        known = (where, value.storage_offset()) if where not in self._made else ("made here",)
        return (*known, tuple(value.shape), value.stride(), value.dtype)


@pytest.fixture
def traced_steps(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[StepGraph, list[Any]]]:
    """Each StepGraph's steps traced: graph -> the ops of its first step (the graph kept, so
    that no later one takes its place), and every later step of the same graph checked against
    them, operation by operation."""
    first: dict[StepGraph, list[Any]] = {}
    run_inputs = StepGraph._run_inputs

    def traced(graph: StepGraph, run: Any) -> None:
        with OpTrace() as trace:
            run_inputs(graph, run)
        expected = first.setdefault(graph, trace.ops)
        for i, (want, got) in enumerate(zip(expected, trace.ops, strict=True)):
            assert got == want, f"step {graph.warm_steps} differs from the captured one at op {i}"

    monkeypatch.setattr(StepGraph, "_run_inputs", traced)
    yield first


@pytest.mark.parametrize("dataset", [None, "blobs", "plane"])
def test_every_step_of_a_graph_does_what_its_captured_step_did(
    traced_steps: dict[StepGraph, list[Any]], dataset: str | None
) -> None:
    """Binary, multiclass and regression stacks through what a classroom does to them: a
    replay would compute exactly what the eager step does, step after step."""
    (_, stack), (_, runs) = stacks("cpu", torch.float32, dataset)
    live_through(stack, runs)
    stack.set_rates(runs[2], 0.1, 0.02)  # the penalty already on: the same graph, a new rate
    stack.train(5)
    # the first graph, and one each for the penalty switched on, the join and the leave
    assert len(traced_steps) == 4


def test_graphs_are_a_setting_that_is_off_by_default_and_reaches_the_workers() -> None:
    assert Settings().cuda_graphs is False
    assert WorkerConfig.from_settings(Settings(cuda_graphs=True)).cuda_graphs is True
    eager = TrainerStack([Trainer(SPECS[0])])
    assert eager.graph is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="a CUDA graph needs a GPU")
@pytest.mark.parametrize("dataset", [None, "blobs", "plane"])
def test_on_a_gpu_the_step_is_captured_replayed_and_captured_again(dataset: str | None) -> None:
    (eager, graphed), (eager_runs, graphed_runs) = stacks("cuda", torch.float32, dataset)
    live_through(eager, eager_runs)
    live_through(graphed, graphed_runs)  # its last graph: 25 steps, captured after 3
    assert graphed.graph is not None and graphed.graph.failed is None
    assert graphed.graph.graph is not None  # captured, and replayed since
    assert graphed.graph.warm_steps == WARMUP_STEPS
    for name in ("params", "exp_avg_sq", "velocity"):
        torch.testing.assert_close(graphed.rows[name], eager.rows[name], rtol=1e-4, atol=1e-6)
