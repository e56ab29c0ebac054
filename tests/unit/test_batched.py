"""The stacked engine computes what the lone loop computes: same losses, same weights, same state.

Each test trains runs in a stack and the same specs alone through `Trainer.train_steps` (autograd
and torch.optim), then compares. float64 checks the maths; float32 is what the server runs.
"""

from typing import Any

import numpy as np
import pytest
import torch

from layerlab.core.activations import ACTIVATIONS
from layerlab.core.models import build_model, linear_layers, penalty
from layerlab.core.spec import RunSpec
from layerlab.core.stacked.model import Geometry, StackedMLP, loss_gradient, pack
from layerlab.core.stacked.model import placement as place
from layerlab.core.stacked.trainer_stack import TrainerStack, gather_rows, stack_key
from layerlab.core.training import MetricPoint, Trainer

STEPS = 200


def spec_of(**fields: Any) -> RunSpec:
    return RunSpec.model_validate({"epochs": 1000, **fields})


# One stack key (width class 16, 2 inputs, batches of 32): widths [8, 8], [4], [8, 3, 5], [2, 2]
# in one stack of depth 3, with every optimizer, three datasets of three sizes (a short last
# batch in two of them), L1 and L2.
MIXED_STACK = [
    spec_of(dataset={"name": "moons", "samples": 200}, hidden_widths=[8, 8], seed=1,
            optimizer="adam", learning_rate=0.01),
    spec_of(dataset={"name": "circles", "samples": 300}, hidden_widths=[4], seed=2,
            optimizer="sgd", learning_rate=0.5, batch_size=10),  # padded to 32 in the stack
    spec_of(dataset={"name": "xor", "samples": 250}, hidden_widths=[8, 3, 5], seed=3,
            optimizer="momentum", learning_rate=0.05, regularization="l2",
            regularization_rate=0.01),
    spec_of(dataset={"name": "moons", "samples": 120}, hidden_widths=[2, 2], seed=4,
            optimizer="adam", learning_rate=0.03, regularization="l1",
            regularization_rate=0.001),
]  # fmt: skip


def trainers(specs: list[RunSpec], dtype: torch.dtype) -> list[Trainer]:
    return [Trainer(spec, dtype=dtype) for spec in specs]


def points_of(stack: TrainerStack, members: list[Trainer]) -> list[MetricPoint]:
    """The stack's metric points of these members, in their order (the stack keeps its own)."""
    points = stack.evaluate([0.0] * len(stack))
    return [points[stack.trainers.index(member)] for member in members]


def assert_same_path(
    stacked: list[Trainer], stack: TrainerStack, specs: list[RunSpec], dtype: torch.dtype,
    rtol: float, rounds: int = 10,
) -> list[Trainer]:  # fmt: skip
    """Train the stack and lone Trainers side by side; every round, each run's losses agree."""
    lone = trainers(specs, dtype)
    order = [next(i for i, t in enumerate(stacked) if t is member) for member in stack.trainers]
    for _ in range(rounds):
        stack.train(STEPS // rounds)
        points = stack.evaluate([0.0] * len(stack))
        for k, point in zip(order, points, strict=True):
            lone[k].train_steps(STEPS // rounds)
            alone = lone[k].evaluate()
            assert point.step == alone.step
            for name in ("train_loss", "test_loss", "regularization_loss"):
                got, expected = getattr(point, name), getattr(alone, name)
                assert got == pytest.approx(expected, rel=rtol, abs=1e-12), (k, name)
            if alone.train_acc is not None:  # the lone loop counts in float32
                assert point.train_acc == pytest.approx(alone.train_acc, abs=1e-6)
    return lone


def test_a_mixed_stack_follows_each_run_alone_in_float64() -> None:
    stacked = trainers(MIXED_STACK, torch.float64)
    stack = TrainerStack(stacked)
    assert stack.geometry == Geometry(n_inputs=2, width=16, depth=3, n_outputs=1)
    lone = assert_same_path(stacked, stack, MIXED_STACK, torch.float64, rtol=1e-10)
    stack.leave(stacked)  # the Trainers get the weights back: the same as the lone ones'
    for mine, theirs in zip(stacked, lone, strict=True):
        torch.testing.assert_close(mine.model.state_dict(), theirs.model.state_dict())


def test_a_mixed_stack_follows_each_run_alone_in_float32() -> None:
    # Runs whose updates are not chaotic: under L1 + Adam a weight hovering at 0 flips sign with
    # float32's rounding, and the lone loop sums in another order (float64 covers that run).
    specs = MIXED_STACK[:3]
    stacked = trainers(specs, torch.float32)
    assert_same_path(stacked, TrainerStack(stacked), specs, torch.float32, rtol=1e-5)


@pytest.mark.parametrize(
    ("dataset", "activation"),
    [("blobs", "tanh"), ("plane", "sigmoid"), ("spiral", "gelu"), ("gaussian", "elu"),
     ("moons", "leaky_relu"), ("circles", "silu")],
)  # fmt: skip
def test_cross_entropy_mse_and_every_activation_follow_lone_runs(
    dataset: str, activation: str
) -> None:
    # A small rate: MSE on the plane (losses ~500) with a large one is chaotic, not a test.
    specs = [
        spec_of(dataset={"name": dataset, "samples": 150, "seed": k}, hidden_widths=widths,
                activation=activation, optimizer=optimizer, seed=k, learning_rate=0.003)
        for k, (widths, optimizer) in enumerate([([6, 5], "adam"), ([3], "momentum")])
    ]  # fmt: skip
    stacked = trainers(specs, torch.float64)
    assert_same_path(stacked, TrainerStack(stacked), specs, torch.float64, rtol=1e-10, rounds=4)


def test_runs_of_every_depth_under_every_optimizer_follow_lone_runs() -> None:
    """Each hidden layer is computed for the rows of the runs that have it, one span about the
    SGD/Adam boundary; a shallow run's output layer takes its own last hidden layer's output."""
    layout = [
        ([4], "adam"),
        ([8, 8, 8], "sgd"),
        ([3, 5], "adam"),
        ([6, 2, 7, 5], "adam"),
        ([5], "momentum"),
        ([9, 3, 4, 2], "momentum"),
        ([2, 2, 6], "adam"),
        ([7, 7], "sgd"),
    ]
    specs = [spec_of(dataset={"name": "moons", "samples": 120}, hidden_widths=widths, seed=k,
                     optimizer=optimizer, learning_rate=0.02)
             for k, (widths, optimizer) in enumerate(layout)]  # fmt: skip
    stacked = trainers(specs, torch.float64)
    stack = TrainerStack(stacked)
    depths = [trainer.spec.depth for trainer in stack.trainers]
    assert depths == [1, 2, 3, 4, 4, 3, 2, 1]  # SGD's shallowest first, then Adam's deepest
    assert [trainer.spec.optimizer == "adam" for trainer in stack.trainers] == [False] * 4 + [
        True
    ] * 4
    (block,) = stack.model.blocks
    assert block.spans == [(0, 8), (1, 7), (2, 6), (3, 5)]
    assert (stack.optimizer.sgd_blocks, stack.optimizer.adam_blocks) == ([(0, 4)], [(4, 8)])
    lone = assert_same_path(stacked, stack, specs, torch.float64, rtol=1e-10, rounds=4)
    stack.leave(stacked)
    for mine, theirs in zip(stacked, lone, strict=True):
        torch.testing.assert_close(mine.model.state_dict(), theirs.model.state_dict())


def test_runs_of_every_activation_share_a_stack_and_follow_lone_runs() -> None:
    """A block of rows for each activation, its hidden layers computed apart; one output layer,
    loss and optimizer pass for all. Blocks alternate which optimizer comes first, so that the
    Adam runs of neighbouring blocks meet. A block that empties goes, and the rest go on."""
    layout = [
        ([4], "relu", "adam"),
        ([8, 8, 8], "tanh", "sgd"),
        ([3, 5], "tanh", "adam"),
        ([6, 2, 7, 5], "relu", "momentum"),
        ([5], "sigmoid", "adam"),
        ([9, 3], "sigmoid", "sgd"),
        ([2, 2, 6], "tanh", "adam"),
        ([7, 7], "relu", "adam"),
        ([3], "gelu", "momentum"),
    ]
    specs = [spec_of(dataset={"name": "moons", "samples": 120}, hidden_widths=widths, seed=k,
                     activation=activation, optimizer=optimizer, learning_rate=0.02)
             for k, (widths, activation, optimizer) in enumerate(layout)]  # fmt: skip
    stacked = trainers(specs, torch.float64)
    assert len({stack_key(trainer) for trainer in stacked}) == 1
    stack = TrainerStack(stacked)
    order = [(t.spec.activation, t.spec.optimizer == "adam", t.spec.depth) for t in stack.trainers]
    assert order == [
        ("gelu", False, 1),  # block 0: SGD's shallowest first, then Adam's deepest (none here)
        ("relu", True, 1), ("relu", True, 2), ("relu", False, 4),  # block 1: Adam's first
        ("sigmoid", False, 2), ("sigmoid", True, 1),
        ("tanh", True, 2), ("tanh", True, 3), ("tanh", False, 3),
    ]  # fmt: skip
    assert [(b.start, b.stop) for b in stack.model.blocks] == [(0, 1), (1, 4), (4, 6), (6, 9)]
    assert [b.spans for b in stack.model.blocks][1:] == [
        [(0, 3), (1, 3), (2, 3), (2, 3)], [(0, 2), (0, 1)], [(0, 3), (0, 3), (1, 3)]
    ]  # fmt: skip
    assert stack.optimizer.adam_blocks == [(1, 3), (5, 8)]
    assert stack.optimizer.sgd_blocks == [(0, 1), (3, 5), (8, 9)]
    assert stack.masked  # the sigmoid's padding
    lone = assert_same_path(stacked, stack, specs, torch.float64, rtol=1e-10, rounds=4)
    tanh = [trainer for trainer in stacked if trainer.spec.activation == "tanh"]
    stack.leave(tanh)
    assert [(b.start, b.stop) for b in stack.model.blocks] == [(0, 1), (1, 4), (4, 6)]
    stack.train(30)
    for trainer in lone:
        if trainer.spec.activation != "tanh":
            trainer.train_steps(30)
    stack.leave(stack.trainers)
    for mine, theirs in zip(stacked, lone, strict=True):
        torch.testing.assert_close(mine.model.state_dict(), theirs.model.state_dict())


def test_a_model_whose_layers_rows_are_not_side_by_side_is_refused() -> None:
    geometry = Geometry(2, 16, 2, 1)
    params = torch.zeros(3, geometry.size)
    with pytest.raises(ValueError, match="hidden layer 2 are not side by side"):
        StackedMLP(geometry, ["relu"] * 3, params, params.clone(), torch.tensor([2, 1, 2]))


def test_runs_with_no_hidden_layer_stack_apart_and_follow_lone_runs() -> None:
    specs = [spec_of(hidden_widths=[], seed=k, learning_rate=0.1) for k in range(3)]
    stacked = trainers(specs, torch.float64)
    stack = TrainerStack(stacked)
    other = Trainer(spec_of(hidden_widths=[4]))
    assert stack.key != stack_key(other)
    assert_same_path(stacked, stack, specs, torch.float64, rtol=1e-10, rounds=4)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "gelu"])
def test_padded_weights_stay_exactly_zero(activation: str) -> None:
    """Masked where f(0) ≠ 0 (the sigmoid); elsewhere their gradients are exactly 0 as they are."""
    specs = [spec_of(**{**spec.model_dump(), "activation": activation}) for spec in MIXED_STACK]
    stack = TrainerStack(trainers(specs, torch.float32))
    assert stack.masked == (activation == "sigmoid")
    stack.train(STEPS)
    padding = stack.rows["params"][stack.rows["mask"] == 0]
    assert padding.numel() > 500  # [2, 2] in a 3-deep stack of width 16 is mostly padding
    assert bool((padding == 0).all())
    for name in ("velocity", "exp_avg", "exp_avg_sq"):
        assert bool((stack.rows[name][stack.rows["mask"] == 0] == 0).all()), name


def test_runs_joining_and_leaving_midway_leave_the_others_unchanged() -> None:
    dtype = torch.float64
    staying, passing = MIXED_STACK[:2], MIXED_STACK[2:]
    stayers, passers = trainers(staying, dtype), trainers(passing, dtype)
    stack = TrainerStack(stayers)
    lone = trainers(staying, dtype)
    passers[0].train_steps(30)  # one joins having trained alone, one fresh
    for when, action in [(50, "join"), (120, "leave")]:
        steps = when - stayers[0].step
        stack.train(steps)
        for trainer in lone:
            trainer.train_steps(steps)
        if action == "join":
            stack.join(passers)
            assert stack.geometry.depth == 3
        else:
            stack.leave(passers)
            assert stack.geometry.depth == 2  # the 3-deep run has gone: so have its layers
        optimizers = [t.spec.optimizer for t in stack.trainers]
        assert optimizers == sorted(optimizers, key=lambda name: name == "adam")  # SGD first
        for point, trainer in zip(points_of(stack, stayers), lone, strict=True):
            assert point.train_loss == pytest.approx(trainer.evaluate().train_loss, rel=1e-12)
    stack.train(80)
    for trainer in lone:
        trainer.train_steps(80)
    for point, trainer in zip(points_of(stack, stayers), lone, strict=True):
        assert point.train_loss == pytest.approx(trainer.evaluate().train_loss, rel=1e-12)


def test_a_stack_shrinks_when_its_deepest_run_leaves_and_nobody_else_notices() -> None:
    """The deepest run leaves: the stack drops the layers only it had, and every run ends to the
    last bit where it ends stacked on its own (float64), a deep run joining again included."""
    dtype = torch.float64
    specs = MIXED_STACK[:3]  # depths 2, 1 and 3
    stacked = trainers(specs, dtype)
    stack = TrainerStack(stacked)
    stack.train(40)
    stack.leave([stacked[2]])
    assert stack.geometry == Geometry(n_inputs=2, width=16, depth=2, n_outputs=1)
    assert stack.rows["params"].shape[1] == stack.geometry.size
    stack.train(35)
    stack.leave([stacked[0]])  # the 1-deep run left on its own: one hidden layer
    assert stack.geometry.depth == 1
    stack.train(25)
    stack.join([stacked[0], stacked[2]])  # 3 deep again
    assert stack.geometry.depth == 3
    stack.train(30)
    stack.leave(stacked)
    for k, steps in enumerate([40 + 35 + 30, 40 + 35 + 25 + 30, 40 + 30]):
        alone = Trainer(specs[k], dtype=dtype)
        own = TrainerStack([alone])
        own.train(steps)
        own.leave([alone])
        assert stacked[k].step == alone.step == steps
        for name, value in stacked[k].model.state_dict().items():
            assert torch.equal(value, alone.model.state_dict()[name]), (k, name)


def test_a_run_that_leaves_goes_on_alone_on_the_same_path() -> None:
    """Weights, optimizer state and batch order handed back: alone it continues as if never
    stacked, and it can join again; checked for every optimizer, mid-epoch and at an edge."""
    dtype = torch.float64
    stacked = trainers(MIXED_STACK, dtype)
    lone = trainers(MIXED_STACK, dtype)
    stack = TrainerStack(stacked)
    for steps_in, steps_alone in [(37, 23), (40, 17)]:
        stack.train(steps_in)
        stack.leave(stacked)
        for mine in stacked:
            mine.train_steps(steps_alone)
        stack.join(stacked)
        for theirs in lone:
            theirs.train_steps(steps_in + steps_alone)
    stack.train(25)
    stack.leave(stacked)
    for mine, theirs in zip(stacked, lone, strict=True):
        theirs.train_steps(25)
        assert mine.step == theirs.step
        torch.testing.assert_close(mine.model.state_dict(), theirs.model.state_dict())
        assert mine.evaluate().train_loss == pytest.approx(theirs.evaluate().train_loss, rel=1e-12)


def test_new_rates_apply_from_the_next_step() -> None:
    dtype = torch.float64
    stacked, lone = trainers(MIXED_STACK, dtype), trainers(MIXED_STACK, dtype)
    stack = TrainerStack(stacked)
    stack.train(40)
    stack.set_rates(stacked[2], 0.2, 0.05)
    for trainer in lone:
        trainer.train_steps(40)
    lone[2].set_learning_rate(0.2)
    lone[2].set_regularization_rate(0.05)
    stack.train(40)
    for point, trainer in zip(points_of(stack, stacked), lone, strict=True):
        trainer.train_steps(40)
        assert point.train_loss == pytest.approx(trainer.evaluate().train_loss, rel=1e-10)


@pytest.mark.parametrize(
    ("activation", "dataset"), [("relu", "moons"), ("tanh", "moons"), ("tanh", "blobs"),
                                ("relu", "plane"), ("tanh", "plane")],
)  # fmt: skip
def test_grids_equal_each_runs_own_grid(activation: str, dataset: str) -> None:
    """Grids of the stack's runs: their own within 1e-6 (a regression's within 1e-5 of its
    range, or float32's rounding of its values; tanh by NumPy), far below the 1/255
    steps the page gets them in; the winning class of every cell the same."""
    data = {"name": dataset, "samples": 200}
    specs = [
        spec_of(
            **{
                **spec.model_dump(),
                "activation": activation,
                "dataset": data,
                **({"learning_rate": 0.003} if dataset == "plane" else {}),
            }
        )  # MSE: calm
        for spec in MIXED_STACK
    ]
    stacked = trainers(specs, torch.float32)
    stack = TrainerStack(stacked)
    stack.train(60)
    grids = dict(zip(map(id, stack.trainers), stack.grids(), strict=True))
    stack.leave(stacked)
    for trainer in stacked:
        grid = grids[id(trainer)]
        assert grid is not None
        alone = trainer.grid()
        assert grid.step == alone.step == 60
        probability = grid.kind == "probability"
        torch.testing.assert_close(
            torch.from_numpy(grid.values),
            torch.from_numpy(alone.values),
            rtol=0 if probability else 1e-6,  # float32's own rounding of a regression's values
            atol=1e-6 if probability else 1e-5 * float(np.ptp(alone.values)),
        )
        if alone.classes is not None:
            assert grid.classes is not None and (grid.classes == alone.classes).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_stacks_tanh_rounds_each_element_alike_wherever_it_sits(dtype: torch.dtype) -> None:
    """The stack's tanh (NumPy's, on the CPU) gives an element the same bits in any slice at any
    offset, as a run's numbers must whoever shares its stack; within float32's rounding of tanh
    (float64's own, as the reference)."""
    tanh = ACTIVATIONS["tanh"]
    assert tanh.exact_value and not tanh.exact  # its backward is padded as PyTorch's tails need
    z = torch.linspace(-12, 12, 4001, dtype=dtype)[
        torch.randperm(4001, generator=torch.Generator().manual_seed(0))
    ]
    whole = tanh.value(z)
    for start in range(0, 67):
        for length in (1, 3, 15, 16, 17, 31, 33, 63, 64, 65, 100, 129):
            part = z[start : start + length].clone()  # its own memory, at its own alignment
            assert torch.equal(tanh.value(part), whole[start : start + length]), (start, length)
    in_place = z.clone()
    assert tanh.value_(in_place) is in_place and torch.equal(in_place, whole)
    reference = torch.tanh(z.double())
    error = ((whole.double() - reference).abs() / reference.abs().clamp_min(1e-30)).max()
    assert error <= (2e-7 if dtype == torch.float32 else 1e-15)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_explicit_backward_equals_autograd(activation: str) -> None:
    """Gradients of runs of depths 1 to 3 in one stack (each layer over the runs that have it,
    the shallow runs' output layers fed by their own last hidden layers)."""
    torch.manual_seed(0)
    widths, n_inputs, batch = [[2], [5, 3, 2], [5, 4], [3]], 3, 7  # depths 1, 3, 2, 1
    geometry = Geometry(n_inputs, 8, 3, 1)
    specs = [spec_of(hidden_widths=w, activation=activation, seed=k) for k, w in enumerate(widths)]
    models = [build_model(spec, n_inputs, 1).double() for spec in specs]
    rows = [
        pack(
            [(layer.weight.detach(), layer.bias.detach()) for layer in linear_layers(model)],
            place(geometry, n_inputs, spec.hidden_widths),
            geometry,
        )
        for model, spec in zip(models, specs, strict=True)
    ]
    params = torch.stack(rows)
    grads = torch.zeros_like(params)
    depths = torch.tensor([len(w) for w in widths])
    stack = StackedMLP(geometry, [activation] * len(specs), params, grads, depths)
    x = torch.randn(len(specs), batch, n_inputs, dtype=torch.float64)
    y = torch.randint(0, 2, (len(specs), batch)).double()

    outputs, saved = stack.forward(x)
    weights = torch.full((len(specs), batch), 1 / batch, dtype=torch.float64)
    stack.backward(saved, loss_gradient("binary", outputs, y, weights))

    for k, (model, spec) in enumerate(zip(models, specs, strict=True)):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x[k]).squeeze(1), y[k])
        (loss + 0 * penalty([layer.weight for layer in linear_layers(model)], "l2")).backward()
        where = place(geometry, n_inputs, spec.hidden_widths)
        for layer, (i, fan_in, fan_out) in zip(linear_layers(model), where, strict=True):
            assert layer.weight.grad is not None and layer.bias.grad is not None
            W_grad, b_grad = stack.grad_layers[i]
            torch.testing.assert_close(W_grad[k, :fan_in, :fan_out].T, layer.weight.grad)
            torch.testing.assert_close(b_grad[k, 0, :fan_out], layer.bias.grad)
        torch.testing.assert_close(outputs[k], model(x[k]))


def test_a_run_of_another_key_is_refused_with_a_reason() -> None:
    stack = TrainerStack([Trainer(spec_of(hidden_widths=[4]))])
    with pytest.raises(ValueError, match="cannot join stack"):
        stack.join([Trainer(spec_of(hidden_widths=[20]))])  # width class 32


@pytest.mark.parametrize(
    ("n_inputs", "dtype"),
    [(2, torch.float32), (1, torch.float32), (4, torch.float32), (3, torch.float32),
     (1, torch.float64), (2, torch.float64), (0, torch.float32)],
)  # fmt: skip
def test_gathered_rows_are_the_rows_indexed(n_inputs: int, dtype: torch.dtype) -> None:
    """Batches gathered as whole rows (one wide element where one exists) equal plain indexing,
    NaN and -0.0 bit for bit."""
    data = torch.randn(50, n_inputs, dtype=dtype) if n_inputs else torch.randn(50, dtype=dtype)
    data.view(-1)[:3] = torch.tensor([float("nan"), -0.0, float("inf")], dtype=dtype)
    rows = torch.randint(0, 50, (6, 4, 5))
    rows[0, 0, :3] = torch.tensor([0, 0, 1])
    gathered = gather_rows(data, rows)
    assert gathered.shape == data[rows].shape and gathered.dtype == dtype
    assert torch.equal(gathered.view(torch.uint8), data[rows].contiguous().view(torch.uint8))
