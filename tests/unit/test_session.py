"""A run inside a worker: its events, its controls, its frame-rate caps."""

import io
from typing import Any

import torch

from layerlab.core.spec import RunSpec
from layerlab.core.training import Trainer
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


def train_to_the_end(session: TrainingSession) -> None:
    for _ in range(10_000):
        if session.finished:
            return
        session.advance(0.01)
    raise AssertionError("the session never finished")


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


def test_rates_change_without_a_reset() -> None:
    session = TrainingSession(SPEC, Recorder())
    session.advance(0.001)
    step = session.trainer.step
    session.set_rates(learning_rate=0.5, regularization_rate=0.1)
    assert session.trainer.learning_rate == 0.5
    assert session.trainer.optimizer.param_groups[0]["lr"] == 0.5
    assert session.trainer.regularization_rate == 0.1
    assert session.trainer.step == step


def test_a_diverging_session_ends_with_advice_and_no_weights() -> None:
    spec = RunSpec.model_validate(
        {
            "dataset": {"name": "plane", "samples": 100},
            "hidden_widths": [],
            "optimizer": "sgd",
            "learning_rate": 10,
            "epochs": 50,
        }
    )
    events = Recorder()
    train_to_the_end(TrainingSession(spec, events))
    final = events.events[-1][1]
    assert final["status"] == "diverged"
    assert "too high" in final["error"]
    assert "weights" not in final


def test_data_without_a_plane_sends_no_grid() -> None:
    spec = RunSpec.model_validate({"dataset": {"name": "features4", "samples": 100}, "epochs": 2})
    events = Recorder()
    train_to_the_end(TrainingSession(spec, events))
    assert "grid" not in events.kinds()
