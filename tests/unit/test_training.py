from typing import Any

import numpy as np
import pytest
import torch

from layerlab.core.spec import RunSpec
from layerlab.core.training import MetricPoint, Trainer, divergence_message


def spec_of(**fields: Any) -> RunSpec:
    return RunSpec.model_validate(fields)


def train_to_the_end(trainer: Trainer) -> dict[str, Any]:
    """The trainer's final metrics after its last step, which must have kept the loss finite."""
    trainer.train_steps(trainer.total_steps)
    assert trainer.finished
    error = divergence_message(trainer, trainer.evaluate())
    assert error is None, error
    return trainer.final_metrics()


def train(**fields: Any) -> dict[str, Any]:
    return train_to_the_end(Trainer(spec_of(**fields)))


def epoch_points(trainer: Trainer) -> list[MetricPoint]:
    """The metrics at the start and after each epoch."""
    points = [trainer.evaluate()]
    while not trainer.finished:
        trainer.train_steps(trainer.steps_per_epoch)
        points.append(trainer.evaluate())
    return points


MOONS = {"name": "moons", "samples": 1000, "noise": 0.2}


def test_moons_needs_hidden_layers_to_bend_the_boundary() -> None:
    deep = train(dataset=MOONS, hidden_widths=[8, 8], activation="relu", optimizer="adam")
    linear = train(dataset=MOONS, hidden_widths=[], optimizer="adam")
    assert deep["test_acc"] >= 0.95
    assert linear["test_acc"] < 0.90


def test_xor_is_solved_only_with_a_hidden_layer() -> None:
    deep = train(dataset={"name": "xor"}, hidden_widths=[8, 8])
    linear = train(dataset={"name": "xor"}, hidden_widths=[])
    assert deep["test_acc"] >= 0.9
    assert linear["test_acc"] < 0.7


def test_blobs_are_classified_with_softmax_over_classes() -> None:
    metrics = train(dataset={"name": "blobs", "classes": 4}, hidden_widths=[8], epochs=50)
    assert metrics["test_acc"] >= 0.9
    matrix = np.array(metrics["confusion_matrix"])
    assert matrix.shape == (4, 4)
    assert matrix.sum() == 200
    assert np.trace(matrix) / matrix.sum() == pytest.approx(metrics["test_acc"])


def test_plane_regression_recovers_the_lessons_weights_and_bias() -> None:
    # The lesson: no hidden layer, SGD at 0.02 for 100 epochs on y = 2x - 3z + 5 + U(-10, 10).
    spec = spec_of(
        dataset={"name": "plane", "noise": 1.0},
        hidden_widths=[],
        optimizer="sgd",
        learning_rate=0.02,
        epochs=100,
        batch_size=800,
    )
    trainer = Trainer(spec)
    metrics = train_to_the_end(trainer)
    layer = trainer.model[0]
    np.testing.assert_allclose(layer.weight.detach().numpy()[0], [2.0, -3.0], atol=0.1)
    assert layer.bias.item() == pytest.approx(5.0, abs=0.3)
    assert metrics["test_r2"] > 0.9
    assert metrics["test_rmse"] == pytest.approx(10 / np.sqrt(3), rel=0.15)  # the noise


def test_same_spec_gives_the_same_losses_and_another_seed_does_not() -> None:
    spec = spec_of(epochs=5, regularization="l2", regularization_rate=0.001)
    first = [p.train_loss for p in epoch_points(Trainer(spec))]
    second = [p.train_loss for p in epoch_points(Trainer(spec))]
    other = [p.train_loss for p in epoch_points(Trainer(spec.model_copy(update={"seed": 1})))]
    assert first == second
    assert first != other


def test_reset_starts_again_from_the_same_initial_weights() -> None:
    trainer = Trainer(spec_of(epochs=3))
    initial = [p.detach().clone() for p in trainer.model.parameters()]
    trainer.train_steps(40)
    trainer.reset()
    assert trainer.step == 0
    for before, after in zip(initial, trainer.model.parameters(), strict=True):
        assert torch.equal(before, after)


def test_training_leaves_the_global_random_state_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    trainer = Trainer(spec_of(epochs=1))
    epoch_points(trainer)
    trainer.final_metrics()
    trainer.grid()
    assert torch.equal(torch.rand(3), expected)


def test_regularization_is_reported_apart_from_the_data_loss() -> None:
    spec = spec_of(epochs=2, regularization="l1", regularization_rate=0.01)
    trainer = Trainer(spec)
    point = trainer.evaluate()
    l1 = sum(
        float(w.detach().abs().sum()) for n, w in trainer.model.named_parameters() if "weight" in n
    )
    assert point.regularization_loss == pytest.approx(0.01 * l1, rel=1e-5)
    assert epoch_points(Trainer(spec_of(epochs=2)))[-1].regularization_loss == 0.0


def test_strong_l2_shrinks_the_weights() -> None:
    def weight_norm(rate: float) -> float:
        trainer = Trainer(spec_of(epochs=20, regularization="l2", regularization_rate=rate))
        train_to_the_end(trainer)
        return sum(
            float(p.detach().norm()) for n, p in trainer.model.named_parameters() if "weight" in n
        )

    assert weight_norm(0.1) < 0.5 * weight_norm(0.0)


def test_learning_rate_and_regularization_change_while_training_without_reset() -> None:
    trainer = Trainer(spec_of(epochs=10, regularization="l2"))
    trainer.train_steps(30)
    weights = [p.detach().clone() for p in trainer.model.parameters()]
    trainer.set_learning_rate(0.0)
    trainer.set_regularization_rate(0.5)
    trainer.train_steps(5)
    assert trainer.step == 35
    assert trainer.optimizer.param_groups[0]["lr"] == 0.0
    assert trainer.evaluate().regularization_loss > 0
    for before, after in zip(weights, trainer.model.parameters(), strict=True):
        assert torch.equal(before, after)  # a zero learning rate moves nothing


def test_batch_larger_than_the_data_is_full_batch_training() -> None:
    trainer = Trainer(spec_of(batch_size=5000, dataset={"samples": 100}))
    assert trainer.batch_size == 80
    assert trainer.steps_per_epoch == 1
