"""A run being trained, by a worker or `layerlab train`: its events, controls, frame rates."""

import io
import math
from typing import Any

import pytest
import torch

from layerlab.core.spec import RunSpec
from layerlab.core.training import RunStatus, Trainer
from layerlab.engine.session import TrainingSession

SPEC = RunSpec.model_validate(
    {"dataset": {"samples": 100}, "epochs": 10, "grid_resolution": 8, "batch_size": 10}
)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, kind: str, payload: dict[str, Any]) -> None:
        self.events.append((kind, payload))

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]

    def statuses(self) -> list[str]:
        return [payload["status"] for kind, payload in self.events if kind == "status"]

    def metrics(self) -> list[dict[str, Any]]:
        return [payload for kind, payload in self.events if kind == "metrics"]

    def grids(self) -> list[dict[str, Any]]:
        return [payload for kind, payload in self.events if kind == "grid"]


def train_to_the_end(session: TrainingSession) -> None:
    for _ in range(10_000):
        if session.finished:
            return
        session.advance(0.01)
    raise AssertionError("the session never finished")


def by_steps(session: TrainingSession, steps: int) -> TrainingSession:
    """The session (made with no metrics by the clock) with frames every `steps` steps."""
    session.metrics_every_steps = steps
    return session


def test_a_session_reports_its_start_and_its_end_with_weights() -> None:
    events = Recorder()
    session = TrainingSession(SPEC, events)
    assert events.kinds() == ["status", "metrics", "grid"]
    start = events.events[0][1]
    assert start["status"] == "running"
    assert start["model_info"]["total_steps"] == 80
    train_to_the_end(session)
    final = events.events[-1][1]
    assert final["status"] == "done"
    assert events.events[-2][0] == "grid"  # the last picture comes with the end
    state = torch.load(io.BytesIO(final["weights"]), weights_only=True)
    assert state["0.weight"].shape == (8, 2)
    metrics = [payload for kind, payload in events.events if kind == "metrics"]
    assert metrics[-1]["step"] == 80


def test_a_session_follows_the_lone_trainer_step_for_step() -> None:
    session = TrainingSession(SPEC, Recorder())
    train_to_the_end(session)
    alone = Trainer(SPEC)
    alone.train_steps(80)
    for mine, theirs in zip(
        session.trainer.model.parameters(), alone.model.parameters(), strict=True
    ):
        torch.testing.assert_close(mine, theirs)


def test_frame_rates_are_capped() -> None:
    events = Recorder()
    session = TrainingSession(SPEC, events, metrics_interval_s=3600.0, grid_interval_s=3600.0)
    train_to_the_end(session)
    # start and end only: nothing in between at one frame an hour
    assert events.kinds().count("metrics") == 2
    assert events.kinds().count("grid") == 2


def test_pause_step_resume_and_cancel() -> None:
    events = Recorder()
    session = TrainingSession(SPEC, events, paused=True)
    assert session.status.value == "paused" and not session.runnable
    session.step()
    assert session.runnable
    session.advance(1.0)
    assert session.trainer.step == 1 and not session.runnable
    session.resume()
    session.advance(0.001)
    assert session.trainer.step > 1
    session.pause()
    paused_at = session.trainer.step
    session.advance(0.05)
    assert session.trainer.step == paused_at
    session.cancel()
    assert session.finished
    assert events.statuses() == ["paused", "running", "paused", "cancelled"]
    assert "weights" in events.events[-1][1]


def test_metrics_come_each_epoch_when_due_by_steps_with_rising_accuracy() -> None:
    events = Recorder()
    spec = RunSpec.model_validate({"epochs": 10})
    session = TrainingSession(spec, events, metrics_interval_s=math.inf)
    train_to_the_end(by_steps(session, session.trainer.steps_per_epoch))
    points = events.metrics()
    assert [p["epoch"] for p in points] == list(range(11))
    assert points[-1]["test_acc"] > points[0]["test_acc"]
    assert {"train_loss", "test_loss", "train_acc", "test_acc", "samples_per_s"} <= set(points[-1])
    assert events.events[0][0] == "status" and events.events[0][1]["status"] == "running"
    assert events.events[-1][0] == "status"
    assert events.events[-1][1]["status"] == "done" and events.events[-1][1]["error"] is None


def test_grids_come_with_the_frames_due_by_steps_and_at_the_end() -> None:
    events = Recorder()
    spec = RunSpec.model_validate({"epochs": 4, "grid_resolution": 16})  # 25 steps per epoch
    session = TrainingSession(spec, events, metrics_interval_s=math.inf, grid_interval_s=0.0)
    train_to_the_end(by_steps(session, 50))
    grids = events.grids()
    assert [g["step"] for g in grids] == [0, 50, 100]
    assert grids[0]["shape"] == [16, 16]


def test_no_grid_interval_sends_no_grids() -> None:
    events = Recorder()
    session = TrainingSession(SPEC, events, grid_interval_s=None, paused=True)
    session.resume()
    session.pause()  # a pause draws the frozen picture, where there are pictures
    session.resume()
    train_to_the_end(session)
    assert events.grids() == []
    assert events.statuses()[-1] == "done"


def test_two_single_steps_then_a_long_run_cancelled_midway() -> None:
    events = Recorder()
    spec = RunSpec.model_validate({"dataset": {"samples": 200}, "epochs": 1000})
    session = TrainingSession(spec, events)
    session.advance(0.001)
    session.pause()
    paused_at = session.trainer.step
    session.step()
    session.step()
    session.advance(1.0)
    assert session.trainer.step == paused_at + 2
    assert session.status is RunStatus.PAUSED and not session.runnable
    session.resume()
    while session.trainer.step < 200:
        session.advance(0.01)
    session.cancel()
    assert session.finished
    assert events.statuses() == ["running", "paused", "running", "cancelled"]
    assert 200 <= session.trainer.step < session.trainer.total_steps
    assert events.events[-1][1]["final_metrics"]["step"] == session.trainer.step


def test_cancel_before_any_step_ends_cancelled_with_metrics() -> None:
    events = Recorder()
    session = TrainingSession(SPEC, events)
    session.cancel()
    final = events.events[-1][1]
    assert session.status is RunStatus.CANCELLED
    assert final["status"] == "cancelled"
    assert final["final_metrics"]["step"] == 0
    assert "test_acc" in final["final_metrics"]


def test_rates_change_without_a_reset() -> None:
    session = TrainingSession(SPEC, Recorder())
    session.advance(0.001)
    step = session.trainer.step
    session.set_rates(learning_rate=0.5, regularization_rate=0.1)
    assert session.trainer.learning_rate == 0.5
    assert session.trainer.optimizer.param_groups[0]["lr"] == 0.5
    assert session.trainer.regularization_rate == 0.1
    assert session.trainer.step == step


def test_rates_set_between_turns_hold_to_the_end() -> None:
    spec = RunSpec.model_validate({"epochs": 2, "regularization": "l2"})
    events = Recorder()
    session = TrainingSession(spec, events)
    weights = [p.detach().clone() for p in session.trainer.model.parameters()]
    session.set_rates(learning_rate=0.5, regularization_rate=0.25)
    assert session.trainer.step == 0  # nothing moves until the next turn
    for before, after in zip(weights, session.trainer.model.parameters(), strict=True):
        assert torch.equal(before, after)
    train_to_the_end(session)
    trainer = session.trainer
    assert (trainer.learning_rate, trainer.regularization_rate) == (0.5, 0.25)
    assert trainer.optimizer.param_groups[0]["lr"] == 0.5
    assert events.metrics()[-1]["regularization_loss"] > 0


@pytest.mark.parametrize(
    "fields",
    [
        {"dataset": {"name": "plane", "samples": 100}, "hidden_widths": [], "epochs": 50},
        {"dataset": {"name": "plane"}},
        {"dataset": {"name": "multigauss"}},
    ],
    ids=["plane, linear", "plane", "multigauss"],
)
def test_a_learning_rate_of_10_ends_diverged_with_advice_and_no_weights(
    fields: dict[str, Any],
) -> None:
    spec = RunSpec.model_validate({**fields, "optimizer": "sgd", "learning_rate": 10})
    events = Recorder()
    session = TrainingSession(spec, events, metrics_interval_s=math.inf)
    train_to_the_end(by_steps(session, session.trainer.steps_per_epoch))
    kind, final = events.events[-1]
    assert kind == "status" and final["status"] == "diverged"
    assert "learning rate 10 is too high" in final["error"]
    assert set(final) == {"status", "error", "final_metrics"}  # no weights
    assert final["final_metrics"]["step"] == events.metrics()[-1]["step"]  # where it blew up
    assert len(events.metrics()) <= 3  # it stops at once, not after 100 epochs


def test_a_session_leaves_the_global_random_state_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_to_the_end(TrainingSession(SPEC, Recorder()))
    assert torch.equal(torch.rand(3), expected)


def test_data_without_a_plane_sends_no_grid() -> None:
    spec = RunSpec.model_validate({"dataset": {"name": "features4", "samples": 100}, "epochs": 2})
    events = Recorder()
    train_to_the_end(TrainingSession(spec, events))
    assert "grid" not in events.kinds()
