"""A stack's step as a CUDA graph: the same path as the eager step, captured again when it must.

A graph replays the kernels it recorded on the buffers it recorded them on. What makes that safe
is bookkeeping this machine can test without a GPU: every step goes through the same input
buffers, the graph is renewed exactly when the stack's buffers or kernels change, and the step
through those buffers is the eager step to the bit. The capture itself runs where CUDA is.
"""

import pytest
import torch

from layerlab.config import Settings
from layerlab.core.spec import RunSpec
from layerlab.core.stacked.graph import WARMUP_STEPS
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


def stacks(device: str, dtype: torch.dtype) -> tuple[list[TrainerStack], list[list[Trainer]]]:
    """The same three runs in an eager stack and in a graphed one; a fourth run of each waits."""
    members = [[Trainer(spec, dtype=dtype, device=torch.device(device)) for spec in SPECS]
               for _ in range(2)]  # fmt: skip
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


def test_graphs_are_a_setting_that_is_off_by_default_and_reaches_the_workers() -> None:
    assert Settings().cuda_graphs is False
    assert WorkerConfig.from_settings(Settings(cuda_graphs=True)).cuda_graphs is True
    eager = TrainerStack([Trainer(SPECS[0])])
    assert eager.graph is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="a CUDA graph needs a GPU")
def test_on_a_gpu_the_step_is_captured_replayed_and_captured_again() -> None:
    (eager, graphed), (eager_runs, graphed_runs) = stacks("cuda", torch.float32)
    for stack in (eager, graphed):
        stack.train(WARMUP_STEPS + 20)
    assert graphed.graph is not None and graphed.graph.failed is None
    assert graphed.graph.graph is not None  # captured, and replayed since
    graphed.join([graphed_runs[3]])
    eager.join([eager_runs[3]])
    assert graphed.graph.graph is None
    for stack in (eager, graphed):
        stack.train(WARMUP_STEPS + 20)
    assert graphed.graph.graph is not None and graphed.graph.failed is None
    for name in ("params", "exp_avg_sq"):
        torch.testing.assert_close(graphed.rows[name], eager.rows[name], rtol=1e-5, atol=1e-6)
