"""The worker's own loop, driven through its send and receive callables over a real pipe (in a
thread of the test, so that a fault can be planted): whatever one command raises, the worker
answers, fails that run and goes on."""

import io
import multiprocessing
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

import pytest
import torch

from layerlab.engine.executor import (
    BATCH,
    CHECKPOINT,
    PARKED,
    PROFILE,
    READY,
    REPLY,
    WorkerConfig,
)
from layerlab.engine.session import INTERNAL_ERROR, TrainingSession
from layerlab.engine.worker_loop import IDLE_WAIT_S, WorkerLoop, run_worker
from layerlab.engine.worker_profile import PARTS, shares

SPEC = {"dataset": {"samples": 100}, "hidden_widths": [8], "epochs": 300, "grid_resolution": 8}


class Worker:
    """run_worker on one end of a pipe; its events, unbatched, from the other."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.unread: list[tuple[str | None, str, dict[str, Any]]] = []

    def send(self, *command: Any) -> None:
        self.conn.send(command)

    def receive(self) -> None:
        assert self.conn.poll(30), "the worker fell silent"
        run_id, kind, payload = self.conn.recv()
        self.unread += payload["events"] if kind == BATCH else [(run_id, kind, payload)]

    def until(self, run_id: str | None, kind: str, **fields: Any) -> dict[str, Any]:
        """The first event not read yet of this run and kind whose payload has these fields."""
        while True:
            for event in self.unread:
                event_run, event_kind, payload = event
                matches = all(payload.get(name) == value for name, value in fields.items())
                if event_run == run_id and event_kind == kind and matches:
                    self.unread.remove(event)
                    return payload
            self.receive()


@pytest.fixture
def worker() -> Iterator[Worker]:
    threads = torch.get_num_threads()
    ours, theirs = multiprocessing.Pipe(duplex=True)
    config = WorkerConfig(metrics_interval_s=0.01, grid_interval_s=0.01, checkpoint_interval_s=0.05)

    def receive(timeout_s: float) -> tuple[Any, ...] | None:
        return theirs.recv() if theirs.poll(timeout_s) else None  # type: ignore[no-any-return]

    thread = threading.Thread(
        target=run_worker, args=("cpu", config, receive, theirs.send), daemon=True
    )
    thread.start()
    client = Worker(ours)
    client.until(None, READY)
    yield client
    client.send("stop", None)
    thread.join(30)
    torch.set_num_threads(threads)  # run_worker sets one thread, for its process


def test_a_read_that_raises_fails_that_run_and_the_worker_goes_on(
    worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = TrainingSession.gradient_norms

    def broken(self: TrainingSession) -> dict[str, float | None]:
        if self.trainer.spec.seed == 1:
            raise KeyError(3)
        return original(self)

    monkeypatch.setattr(TrainingSession, "gradient_norms", broken)
    worker.send("start", "victim", {**SPEC, "seed": 1}, None, False, None)
    worker.send("start", "bystander", {**SPEC, "seed": 2}, None, False, None)
    worker.until("victim", "status", status="running")
    worker.send("call", "victim", 1)
    worker.send("call", "bystander", 2)
    assert worker.until("victim", REPLY)["error"] == "the run failed"
    assert worker.until("victim", "status", status="failed")["error"] == INTERNAL_ERROR
    assert "weights" in worker.until("bystander", REPLY)
    assert worker.until("bystander", "status", status="done")["weights"]


def test_checkpoints_and_a_park_carry_the_whole_state(worker: Worker) -> None:
    """A parked run started again from its state ends exactly where it would have."""
    worker.send("start", "a", SPEC, None, False, None)
    checkpoint = worker.until("a", CHECKPOINT)
    assert checkpoint["step"] > 0 and checkpoint["state"] and checkpoint["weights"]
    worker.send("pause", "a")
    worker.until("a", "status", status="paused")
    worker.send("park", "a")
    parked = worker.until("a", PARKED)
    worker.unread.clear()  # the first life's frames
    worker.send("start", "a", SPEC, None, False, parked["state"])
    resumed = worker.until("a", "metrics")
    assert resumed["step"] == parked["step"]
    final = worker.until("a", "status", status="done")
    worker.send("start", "untouched", SPEC, None, False, None)
    untouched = worker.until("untouched", "status", status="done")
    assert final["final_metrics"] == untouched["final_metrics"]
    for name, tensor in torch.load(io.BytesIO(untouched["weights"])).items():
        assert torch.equal(torch.load(io.BytesIO(final["weights"]))[name], tensor), name


def test_a_weight_set_on_a_paused_run_is_read_back_and_checkpointed(worker: Worker) -> None:
    """The command sets it, the run's viewers get its new picture, a checkpoint keeps it, a read
    after the command sees it; a run that moves keeps its own weights."""
    worker.send("start", "a", SPEC, None, True, None)  # paused from the start
    worker.until("a", "status", status="paused")
    worker.unread.clear()
    worker.send("set_weight", "a", 1, 3, 1, -0.25)
    assert worker.until("a", "metrics")["step"] == 0 and worker.until("a", "grid")
    stored = torch.load(io.BytesIO(worker.until("a", CHECKPOINT)["weights"]))
    assert float(stored["0.weight"][3, 1]) == -0.25
    worker.send("set_weight", "a", 2, 0, None, 4.0)  # the output layer's bias
    worker.send("call", "a", 11)
    read = torch.load(io.BytesIO(worker.until("a", REPLY, call_id=11)["weights"]))
    assert float(read["0.weight"][3, 1]) == -0.25 and float(read["2.bias"][0]) == 4.0

    worker.send("resume", "a")
    worker.send("set_weight", "a", 1, 0, 0, 9.0)  # running: not set
    worker.send("call", "a", 12)
    read = torch.load(io.BytesIO(worker.until("a", REPLY, call_id=12)["weights"]))
    assert float(read["0.weight"][0, 0]) != 9.0
    worker.send("cancel", "a")
    worker.until("a", "status", status="cancelled")


def test_a_paced_run_lets_its_worker_wait_for_its_next_step() -> None:
    """No spinning while a paced run waits for its step, and no half-second naps either: the
    worker waits for commands until the next step falls due."""
    loop = WorkerLoop(torch.device("cpu"), WorkerConfig(), lambda message: None)
    assert loop.wait_s() == IDLE_WAIT_S  # nothing to train
    paced = {**SPEC, "epochs_per_s": 4.0}  # 80 training points, batches of 32: 12 steps/s
    loop.act("start", "a", paced, None, False)
    steps_per_s = 4.0 * loop.sessions["a"].trainer.steps_per_epoch
    waits: list[float] = []
    started = time.monotonic()

    def receive(timeout_s: float) -> tuple[Any, ...] | None:
        waits.append(timeout_s)
        if time.monotonic() - started > 1.0:
            return ("stop", None)
        time.sleep(timeout_s)  # no command comes
        return None

    loop.serve(receive)
    step = loop.sessions["a"].trainer.step
    assert steps_per_s - 2 <= step <= steps_per_s + 2, step
    assert len(waits) < 4 * steps_per_s, "the worker spun"  # a round per step, about
    assert max(waits) <= 1 / steps_per_s + 0.01, "the worker napped past a step"
    loop.act("start", "b", SPEC, None, False)  # beside a run that trains flat out
    assert loop.wait_s() == 0.0


def test_a_busy_worker_tells_where_its_time_goes(worker: Worker) -> None:
    worker.send("start", "r1", {**SPEC, "epochs": 3000}, None, False)
    worker.until("r1", "metrics")
    first = worker.until(None, PROFILE)
    later = worker.until(None, PROFILE)
    assert set(later["seconds"]) == set(PARTS)
    assert later["elapsed_s"] > first["elapsed_s"] and later["rounds"] > first["rounds"]
    spent = shares(first, later)
    assert spent["train"] > 0 and spent["metrics"] > 0 and spent["frames"] > 0
    assert spent["pipe"] > 0 and spent["rounds_per_s"] > 0
    assert sum(spent[part] for part in (*PARTS, "other")) == pytest.approx(1.0)
    worker.send("cancel", "r1")
    worker.until("r1", "status", status="cancelled")
