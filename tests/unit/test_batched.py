"""The stacked engine computes what the lone loop computes: same losses, same weights."""

from typing import Any

import pytest
import torch

from layerlab.core.batched import ACTIVATIONS, StackedMLP, StackedRuns, loss_gradient
from layerlab.core.datasets import make_dataset
from layerlab.core.models import build_model, build_optimizer, linear_layers, penalty
from layerlab.core.spec import RunSpec
from layerlab.core.training import Trainer

STEPS = 200


def spec_of(**fields: Any) -> RunSpec:
    return RunSpec.model_validate(fields)


# Widths [8, 8], [4, 4], [8, 3], [2, 2] pad to [8, 8]; every optimizer, three datasets.
MIXED_STACK = [
    spec_of(dataset={"name": "moons", "samples": 200}, hidden_widths=[8, 8], seed=1,
            optimizer="adam", learning_rate=0.01),
    spec_of(dataset={"name": "circles", "samples": 300}, hidden_widths=[4, 4], seed=2,
            optimizer="sgd", learning_rate=0.5),
    spec_of(dataset={"name": "xor", "samples": 250}, hidden_widths=[8, 3], seed=3,
            optimizer="momentum", learning_rate=0.05, regularization="l2",
            regularization_rate=0.01),
    spec_of(dataset={"name": "moons", "samples": 120}, hidden_widths=[2, 2], seed=4,
            optimizer="adam", learning_rate=0.03, batch_size=10, regularization="l1",
            regularization_rate=0.001),
]  # fmt: skip


def lone_trainer(spec: RunSpec, dtype: torch.dtype) -> Trainer:
    """Trainer as it runs alone, in `dtype`, and not stopped by its epoch count."""
    trainer = Trainer(spec)
    trainer.model.to(dtype)
    for name in ("x_train", "y_train", "x_test", "y_test"):
        tensor = getattr(trainer, name)
        if tensor.is_floating_point():
            setattr(trainer, name, tensor.to(dtype))
    trainer.optimizer = build_optimizer(spec, trainer.model)
    trainer._weights = [layer.weight for layer in linear_layers(trainer.model)]
    trainer.total_steps = STEPS
    return trainer


def assert_stack_matches_lone_runs(
    specs: list[RunSpec], dtype: torch.dtype, rtol: float, atol: float
) -> None:
    runs = StackedRuns(specs, dtype=dtype)
    runs.train_steps(STEPS)
    train_losses, test_losses = runs.losses()
    for k, spec in enumerate(specs):
        trainer = lone_trainer(spec, dtype)
        trainer.train_steps(STEPS)
        point = trainer.evaluate()
        torch.testing.assert_close(float(train_losses[k]), point.train_loss, rtol=rtol, atol=0)
        torch.testing.assert_close(float(test_losses[k]), point.test_loss, rtol=rtol, atol=0)
        torch.testing.assert_close(
            runs.state_dict(k), trainer.model.state_dict(), rtol=rtol, atol=atol
        )
    padding = runs.model.params[runs.model.mask == 0]
    assert padding.numel() > 0 and bool((padding == 0).all())


def test_mixed_stack_follows_each_lone_run_in_float64() -> None:
    assert_stack_matches_lone_runs(MIXED_STACK, torch.float64, rtol=1e-8, atol=1e-12)


def test_mixed_stack_follows_each_lone_run_in_float32() -> None:
    # float32 sums in another order drift by ~1e-6 relative over 200 steps.
    assert_stack_matches_lone_runs(MIXED_STACK, torch.float32, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    ("dataset", "activation"),
    [("blobs", "tanh"), ("plane", "sigmoid"), ("spiral", "gelu"), ("gaussian", "elu")],
)
def test_cross_entropy_and_mse_stacks_follow_lone_runs(dataset: str, activation: str) -> None:
    # A small rate: MSE on the plane (losses ~500) with a large one is chaotic, not a test.
    specs = [
        spec_of(dataset={"name": dataset, "samples": 150, "seed": k}, hidden_widths=widths,
                activation=activation, optimizer=optimizer, seed=k, learning_rate=0.003)
        for k, (widths, optimizer) in enumerate([([6], "adam"), ([3], "momentum")])
    ]  # fmt: skip
    assert_stack_matches_lone_runs(specs, torch.float64, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_explicit_backward_equals_autograd(activation: str) -> None:
    torch.manual_seed(0)
    widths, n_inputs, batch = [[5, 3], [2, 4], [5, 4]], 3, 7
    specs = [spec_of(hidden_widths=w, activation=activation, seed=k) for k, w in enumerate(widths)]
    models = [build_model(spec, n_inputs, 1).double() for spec in specs]
    stack = StackedMLP(models, activation, torch.float64)
    x = torch.randn(len(specs), batch, n_inputs, dtype=torch.float64)
    y = torch.randint(0, 2, (len(specs), batch)).double()
    l1_rates, l2_rates = torch.tensor([[0.01], [0.0], [0.0]]), torch.tensor([[0.0], [0.02], [0]])

    outputs, inputs, slopes = stack.forward(x)
    weights = torch.full((len(specs), batch), 1 / batch, dtype=torch.float64)
    stack.backward(inputs, slopes, loss_gradient("binary", outputs, y, weights))
    stack.add_penalty_gradient(l1_rates.double(), l2_rates.double())
    stack.grads.mul_(stack.mask)

    for k, model in enumerate(models):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x[k]).squeeze(1), y[k])
        weights_k = [layer.weight for layer in linear_layers(model)]
        loss = loss + float(l1_rates[k]) * penalty(weights_k, "l1")
        loss = loss + float(l2_rates[k]) * penalty(weights_k, "l2")
        loss.backward()
        for i, layer in enumerate(linear_layers(model)):
            fan_out, fan_in = layer.weight.shape
            assert layer.weight.grad is not None and layer.bias.grad is not None
            explicit_w = stack.weight_grads[i][k, :fan_in, :fan_out].T
            torch.testing.assert_close(explicit_w, layer.weight.grad, rtol=1e-10, atol=1e-12)
            explicit_b = stack.bias_grads[i][k, 0, :fan_out]
            torch.testing.assert_close(explicit_b, layer.bias.grad, rtol=1e-10, atol=1e-12)
    assert bool((stack.grads[stack.mask == 0] == 0).all())


def test_runs_of_different_depths_are_refused_with_a_reason() -> None:
    specs = [spec_of(hidden_widths=[4]), spec_of(hidden_widths=[4, 4])]
    data = [make_dataset(spec.dataset) for spec in specs]
    with pytest.raises(ValueError, match=r"expected depth 1 .* but got 2"):
        StackedRuns(specs, data)
