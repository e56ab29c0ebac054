"""A worker's sessions trained in stacks: per-run events, controls, fairness, failures apart."""

import io
import time
from collections import defaultdict
from typing import Any

import pytest
import torch

from layerlab.core.spec import RunSpec
from layerlab.core.training import RunStatus, Trainer
from layerlab.engine.session import INTERNAL_ERROR, TrainingSession
from layerlab.engine.stacking import StackedSessions


def spec_of(**fields: Any) -> RunSpec:
    base = {"dataset": {"samples": 120}, "epochs": 6, "grid_resolution": 8}
    return RunSpec.model_validate({**base, **fields})


class Events:
    """Every event of every run, by run id."""

    def __init__(self) -> None:
        self.by_run: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)

    def emit_for(self, run_id: str) -> Any:
        return lambda kind, payload: self.by_run[run_id].append((kind, payload))

    def kinds(self, run_id: str) -> list[str]:
        return [kind for kind, _ in self.by_run[run_id]]

    def final(self, run_id: str) -> dict[str, Any]:
        return self.by_run[run_id][-1][1]


def sessions_of(
    specs: dict[str, RunSpec], events: Events, dtype: torch.dtype = torch.float64
) -> dict[str, TrainingSession]:
    return {
        run_id: TrainingSession(spec, events.emit_for(run_id), dtype=dtype)
        for run_id, spec in specs.items()
    }


def run_to_the_end(stacks: StackedSessions, sessions: dict[str, TrainingSession]) -> None:
    for _ in range(10_000):
        if all(session.finished for session in sessions.values()):
            return
        stacks.sync(sessions)
        stacks.train_round()
    raise AssertionError("the runs did not finish")


def lone_weights(spec: RunSpec, steps: int | None = None) -> dict[str, torch.Tensor]:
    trainer = Trainer(spec, dtype=torch.float64)
    trainer.train_steps(trainer.total_steps if steps is None else steps)
    return trainer.model.state_dict()


def saved_weights(final: dict[str, Any]) -> dict[str, torch.Tensor]:
    return torch.load(io.BytesIO(final["weights"]))  # type: ignore[no-any-return]


SPECS = {
    "a": spec_of(hidden_widths=[8, 8], seed=1),
    "b": spec_of(hidden_widths=[3], seed=2, optimizer="momentum", learning_rate=0.1),
    "c": spec_of(hidden_widths=[5, 4, 3], activation="tanh", seed=3),
    "d": spec_of(dataset={"name": "blobs", "samples": 90}, hidden_widths=[6], seed=4),
}


def stack_sizes(stacks: StackedSessions) -> list[int]:
    """How many runs each stack holds, read from inside: the worker itself never asks."""
    return [len(entry.stack) for entry in stacks._stacks.values()]


def test_stacked_runs_report_as_lone_runs_do_and_end_with_the_lone_weights() -> None:
    events = Events()
    sessions = sessions_of(SPECS, events)
    stacks = StackedSessions(0.0, 0.0, 0.01)  # frames every round
    stacks.sync(sessions)
    assert sorted(stack_sizes(stacks)) == [1, 3]  # binary (ReLU and tanh in one stack), blobs
    run_to_the_end(stacks, sessions)
    for run_id, spec in SPECS.items():
        kinds = events.kinds(run_id)
        assert kinds[0] == "status" and kinds.count("metrics") > 2 and "grid" in kinds
        final = events.final(run_id)
        assert final["status"] == "done", final
        assert final["final_metrics"]["step"] == Trainer(spec).total_steps
        torch.testing.assert_close(saved_weights(final), lone_weights(spec), rtol=1e-9, atol=1e-12)
    assert len(stacks) == 0 and stack_sizes(stacks) == []


def test_a_paused_run_leaves_its_stack_and_resumes_on_the_same_path() -> None:
    events = Events()
    sessions = sessions_of(SPECS, events)
    stacks = StackedSessions(0.05, 0.1, 0.005)
    stacks.sync(sessions)
    for _ in range(3):
        stacks.train_round()
    stacks.release("a")
    sessions["a"].pause()
    paused_at = sessions["a"].trainer.step
    for _ in range(3):
        stacks.sync(sessions)
        stacks.train_round()
    assert sessions["a"].trainer.step == paused_at
    assert "a" not in stacks._where  # the others still stacked, unless one has ended already
    assert len(stacks) == sum(not s.finished for run_id, s in sessions.items() if run_id != "a")
    sessions["a"].step()  # one single step, alone, while paused
    sessions["a"].advance(0.0)
    sessions["a"].resume()
    run_to_the_end(stacks, sessions)
    torch.testing.assert_close(saved_weights(events.final("a")), lone_weights(SPECS["a"]))
    statuses = [p["status"] for kind, p in events.by_run["a"] if kind == "status"]
    assert statuses == ["running", "paused", "running", "done"]


def test_new_rates_reach_a_stacked_run_from_its_next_step() -> None:
    events = Events()
    sessions = sessions_of({"b": SPECS["b"]}, events)
    stacks = StackedSessions(1.0, 1.0, 0.001)
    stacks.sync(sessions)
    stacks.train_round()
    changed_at = sessions["b"].trainer.step
    stacks.set_rates(sessions["b"], "b", learning_rate=0.02)
    run_to_the_end(stacks, sessions)

    trainer = Trainer(SPECS["b"], dtype=torch.float64)
    trainer.train_steps(changed_at)
    trainer.set_learning_rate(0.02)
    trainer.train_steps(trainer.total_steps)
    torch.testing.assert_close(saved_weights(events.final("b")), trainer.model.state_dict())


def test_every_running_run_takes_the_same_steps_whatever_its_stack() -> None:
    long = {run_id: spec.model_copy(update={"epochs": 500}) for run_id, spec in SPECS.items()}
    sessions = sessions_of(long, Events(), torch.float32)
    stacks = StackedSessions(1.0, 1.0, 0.01)
    stacks.sync(sessions)
    for _ in range(5):
        stacks.train_round()
    steps = {session.trainer.step for session in sessions.values()}
    assert len(steps) == 1 and steps.pop() > 5


def test_a_paced_run_sits_out_while_its_stack_mates_go_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a clock the test moves: no step before its time, its epochs at its pace, no frame
    while it waits, and once the pace is lifted, the weights of the same run never paced."""
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    unpaced = SPECS["a"].model_copy(update={"epochs": 30})
    paced = unpaced.model_copy(update={"epochs_per_s": 8.0})
    mate = spec_of(hidden_widths=[8], seed=7, epochs=400)
    events = Events()
    sessions = sessions_of({"paced": paced, "mate": mate}, events)
    stacks = StackedSessions(0.0, 0.0, 0.02)  # frames every round
    stacks.sync(sessions)
    assert stack_sizes(stacks) == [2], "the pace is not in the stack key"
    for _ in range(3):  # no time passes: its first step is not due
        stacks.train_round()
    assert sessions["paced"].trainer.step == 0 and sessions["mate"].trainer.step > 0
    assert events.kinds("paced").count("metrics") == 1  # its start, and nothing it did not do

    trainer = sessions["paced"].trainer
    assert trainer.steps_per_epoch == 3
    for eighths in range(1, 9):  # a second, an eighth at a time (exact in binary): 1 epoch each
        clock[0] += 0.125
        stacks.train_round()
        stacks.train_round()  # a second round in the same instant owes nothing more
        assert trainer.step == 3 * eighths
    epochs = [payload["epoch"] for kind, payload in events.by_run["paced"] if kind == "metrics"]
    assert len(epochs) > 2 and epochs == sorted(set(epochs)), "no frame twice for a step"
    last = [payload for kind, payload in events.by_run["paced"] if kind == "metrics"][-1]
    assert last["samples_per_s"] == pytest.approx(24 * trainer.batch_size, rel=1e-6)

    stacks.set_rates(sessions["paced"], "paced", epochs_per_s=None)  # as fast as it goes
    run_to_the_end(stacks, sessions)
    twin_events = Events()
    twins = sessions_of({"paced": unpaced, "mate": mate}, twin_events)
    run_to_the_end(StackedSessions(0.0, 0.0, 0.02), twins)
    for run_id in ("paced", "mate"):
        final, twin = events.final(run_id), twin_events.final(run_id)
        assert final["final_metrics"] == twin["final_metrics"]
        for name, tensor in saved_weights(twin).items():
            assert torch.equal(saved_weights(final)[name], tensor), (run_id, name)


def test_a_stack_that_raises_fails_its_own_runs_only(monkeypatch: pytest.MonkeyPatch) -> None:
    events = Events()
    sessions = sessions_of(SPECS, events, torch.float32)
    stacks = StackedSessions(1.0, 1.0, 0.01)
    stacks.sync(sessions)
    blobs = next(e.stack for e in stacks._stacks.values() if e.stack.task == "multiclass")

    def broken(steps: int) -> None:
        raise RuntimeError("out of memory")

    monkeypatch.setattr(blobs, "train", broken)
    stacks.train_round()
    assert sessions["d"].status is RunStatus.FAILED
    assert events.final("d")["error"] == INTERNAL_ERROR  # the details go to the log
    for run_id in ("a", "b", "c"):
        assert sessions[run_id].status is RunStatus.RUNNING
    run_to_the_end(stacks, {k: v for k, v in sessions.items() if k != "d"})
    assert all(events.final(run_id)["status"] == "done" for run_id in ("a", "b", "c"))


@pytest.mark.parametrize("command", ["read", "rates", "leave"])
def test_a_command_that_raises_fails_its_own_run_only(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, command: str
) -> None:
    """ "a" and "b" share a stack: "a"'s broken read, rate change or departure fails "a" alone,
    with a sentence for the learner and the traceback in the log; "b" trains on, on its path."""
    events = Events()
    specs = {"a": SPECS["a"], "b": spec_of(hidden_widths=[8], seed=7)}
    sessions = sessions_of(specs, events)
    stacks = StackedSessions(1.0, 1.0, 0.01)
    stacks.sync(sessions)
    stacks.train_round()
    stack = next(iter(stacks._stacks.values())).stack
    assert len(stack) == 2
    victim = sessions["a"].trainer
    method = {"read": "write_back", "rates": "set_rates", "leave": "leave"}[command]
    original = getattr(stack, method)

    def broken(trainer: Any, *args: Any, **kwargs: Any) -> None:
        touches_victim = trainer is victim or (isinstance(trainer, list) and victim in trainer)
        if touches_victim and kwargs.get("write_back") is not False:
            raise KeyError(3)
        original(trainer, *args, **kwargs)

    monkeypatch.setattr(stack, method, broken)
    if command == "read":
        stacks.write_back("a")
    elif command == "rates":
        stacks.set_rates(sessions["a"], "a", learning_rate=0.1)
    else:
        sessions["a"].pause()
        stacks.sync(sessions)
    assert sessions["a"].status is RunStatus.FAILED
    assert events.final("a") == {"status": "failed", "error": INTERNAL_ERROR}
    assert "KeyError" in caplog.text
    assert len(stacks) == 1 and sessions["b"].status is RunStatus.RUNNING
    run_to_the_end(stacks, {"b": sessions["b"]})
    assert events.final("b")["status"] == "done"
    torch.testing.assert_close(saved_weights(events.final("b")), lone_weights(specs["b"]))
