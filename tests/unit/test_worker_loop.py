"""The worker's own loop, driven through its send and receive callables over a real pipe (in a
thread of the test, so that a fault can be planted): whatever one command raises, the worker
answers, fails that run and goes on."""

import io
import multiprocessing
import threading
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

import pytest
import torch

from layerlab.engine.executor import BATCH, CHECKPOINT, PARKED, READY, REPLY, WorkerConfig
from layerlab.engine.session import INTERNAL_ERROR, TrainingSession
from layerlab.engine.worker_loop import run_worker

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
