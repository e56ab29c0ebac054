import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from layerlab.core.spec import RunSpec
from layerlab.core.training import RunControl, RunStatus, Trainer, run_training


def spec_of(**fields: Any) -> RunSpec:
    return RunSpec.model_validate(fields)


def train(**fields: Any) -> dict[str, Any]:
    result = run_training(Trainer(spec_of(**fields)))
    assert result.status is RunStatus.DONE, result.error
    return result.metrics


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
    result = run_training(trainer)
    layer = trainer.model[0]
    np.testing.assert_allclose(layer.weight.detach().numpy()[0], [2.0, -3.0], atol=0.1)
    assert layer.bias.item() == pytest.approx(5.0, abs=0.3)
    assert result.metrics["test_r2"] > 0.9
    assert result.metrics["test_rmse"] == pytest.approx(10 / np.sqrt(3), rel=0.15)  # the noise


def test_same_spec_gives_the_same_losses_and_another_seed_does_not() -> None:
    spec = spec_of(epochs=5, regularization="l2", regularization_rate=0.001)
    first = [p.train_loss for p in run_training(Trainer(spec)).history]
    second = [p.train_loss for p in run_training(Trainer(spec)).history]
    other = [
        p.train_loss for p in run_training(Trainer(spec.model_copy(update={"seed": 1}))).history
    ]
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
    run_training(Trainer(spec_of(epochs=1)))
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize(
    "dataset",
    [{"name": "plane"}, {"name": "multigauss"}],
)
def test_a_learning_rate_of_10_ends_diverged_with_a_sentence_not_an_exception(
    dataset: dict[str, Any],
) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    spec = spec_of(dataset=dataset, optimizer="sgd", learning_rate=10)
    result = run_training(
        Trainer(spec), on_event=lambda kind, payload: events.append((kind, payload))
    )
    assert result.status is RunStatus.DIVERGED
    assert "learning rate 10 is too high" in result.error
    assert events[-1] == ("status", {"status": "diverged", "error": result.error})
    assert len(result.history) <= 3  # it stops at once, not after 100 epochs


def test_regularization_is_reported_apart_from_the_data_loss() -> None:
    spec = spec_of(epochs=2, regularization="l1", regularization_rate=0.01)
    trainer = Trainer(spec)
    point = trainer.evaluate()
    l1 = sum(
        float(w.detach().abs().sum()) for n, w in trainer.model.named_parameters() if "weight" in n
    )
    assert point.regularization_loss == pytest.approx(0.01 * l1, rel=1e-5)
    assert run_training(Trainer(spec_of(epochs=2))).history[-1].regularization_loss == 0.0


def test_strong_l2_shrinks_the_weights() -> None:
    def weight_norm(rate: float) -> float:
        trainer = Trainer(spec_of(epochs=20, regularization="l2", regularization_rate=rate))
        run_training(trainer)
        return sum(
            float(p.detach().norm()) for n, p in trainer.model.named_parameters() if "weight" in n
        )

    assert weight_norm(0.1) < 0.5 * weight_norm(0.0)


def test_metrics_events_arrive_each_epoch_with_rising_accuracy() -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    run_training(Trainer(spec_of(epochs=10)), on_event=lambda k, p: events.append((k, p)))
    points = [payload for kind, payload in events if kind == "metrics"]
    assert [p["epoch"] for p in points] == list(range(11))
    assert points[-1]["test_acc"] > points[0]["test_acc"]
    assert {"train_loss", "test_loss", "train_acc", "test_acc", "samples_per_s"} <= set(points[-1])
    assert events[0] == ("status", {"status": "running"})
    assert events[-1] == ("status", {"status": "done"})


def test_grids_are_sent_every_so_many_steps_and_at_the_end() -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    spec = spec_of(epochs=4, grid_resolution=16)  # 25 steps per epoch
    run_training(Trainer(spec), on_event=lambda k, p: events.append((k, p)), grid_every=50)
    grids = [payload for kind, payload in events if kind == "grid"]
    assert [g["step"] for g in grids] == [0, 50, 100]
    assert grids[0]["shape"] == [16, 16]


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


def wait_until(condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_pause_step_resume_and_cancel_from_another_thread() -> None:
    control = RunControl()
    statuses: list[str] = []
    steps_at: dict[str, int] = {}
    seen = threading.Event()
    trainer = Trainer(spec_of(epochs=1000, dataset={"samples": 200}))

    def on_event(kind: str, payload: dict[str, Any]) -> None:
        if kind == "status":
            statuses.append(payload["status"])
            seen.set()

    control.pause()
    worker = threading.Thread(target=lambda: run_training(trainer, on_event, control))
    worker.start()
    assert seen.wait(5)
    seen.clear()
    assert seen.wait(5)  # paused
    steps_at["paused"] = trainer.step
    control.step_once()
    control.step_once()
    assert wait_until(lambda: trainer.step >= steps_at["paused"] + 2)
    assert trainer.step == steps_at["paused"] + 2
    control.resume()
    assert wait_until(lambda: trainer.step >= 200)
    control.cancel()
    worker.join(5)
    assert not worker.is_alive()
    assert statuses == ["running", "paused", "running", "cancelled"]
    assert 200 <= trainer.step < trainer.total_steps


def test_cancel_before_start_ends_cancelled_with_metrics() -> None:
    control = RunControl()
    control.cancel()
    result = run_training(Trainer(spec_of()), control=control)
    assert result.status is RunStatus.CANCELLED
    assert result.metrics["step"] == 0
    assert "test_acc" in result.metrics


def test_rates_set_through_the_control_apply_between_steps() -> None:
    control = RunControl()
    trainer = Trainer(spec_of(epochs=2, regularization="l2"))
    control.set_rates(learning_rate=0.5, regularization_rate=0.25)
    assert trainer.learning_rate == 0.01  # nothing changes until the loop takes a step
    result = run_training(trainer, control=control)
    assert (trainer.learning_rate, trainer.regularization_rate) == (0.5, 0.25)
    assert trainer.optimizer.param_groups[0]["lr"] == 0.5
    assert result.history[-1].regularization_loss > 0


def test_batch_larger_than_the_data_is_full_batch_training() -> None:
    trainer = Trainer(spec_of(batch_size=5000, dataset={"samples": 100}))
    assert trainer.batch_size == 80
    assert trainer.steps_per_epoch == 1
