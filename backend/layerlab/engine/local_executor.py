"""The local executor: worker processes of this machine, a few per machine or one per GPU.

Each worker is a spawned process that imports PyTorch once and then holds many runs
(worker_loop.py). It talks to the server over its own pipe (commands in, events out), so a worker
that is killed breaks nothing but its own pipe: the executor notices its exit, reports its runs
lost and starts a new worker in its place. A run goes to a worker already holding runs of its
stack (`stack_key`), so that stacks grow few and large.
"""

import concurrent.futures
import contextlib
import itertools
import logging
import multiprocessing
import threading
import time
from collections.abc import Hashable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from layerlab.core.spec import RunSpec
from layerlab.core.stacked.trainer_stack import stack_key
from layerlab.core.training import FINAL_STATUSES
from layerlab.engine.executor import (
    BATCH,
    LOST,
    PARKED,
    READY,
    REPLY,
    EventHandler,
    ExecutorInfo,
    WorkerConfig,
    WorkerState,
)

if TYPE_CHECKING:
    from layerlab.config import Settings

logger = logging.getLogger("layerlab.workers")

AFFINITY_SLACK = 8  # runs a worker may hold beyond the least busy one, to keep a stack whole


def worker_devices(device: str, count: int) -> list[str]:
    """The device of each worker: 'auto' spreads them over the GPUs, else all on `device`."""
    import torch

    if device == "auto":
        gpus = torch.cuda.device_count()
        return [f"cuda:{i % gpus}" if gpus else "cpu" for i in range(count)]
    return [device] * count


def worker_process(device_name: str, conn: Connection, config: WorkerConfig) -> None:
    """A worker process: the worker loop over its pipe, logging as the server does."""
    from layerlab.engine.worker_loop import run_worker
    from layerlab.logs import configure_logging

    configure_logging(config.log_format)  # type: ignore[arg-type]

    def receive(timeout_s: float) -> tuple[Any, ...] | None:
        return conn.recv() if conn.poll(timeout_s) else None  # type: ignore[no-any-return]

    run_worker(device_name, config, receive, conn.send)


@dataclass
class _Worker:
    index: int
    device: str
    process: multiprocessing.process.BaseProcess
    conn: Connection
    runs: dict[str, Hashable]  # run id -> the stack it is expected to join (its spec's key)
    started_at: float
    ready: bool = False  # it has imported PyTorch, warmed up and taken its first command


class LocalExecutor:
    """Worker processes of this machine, behind the executor protocol (executor.py): events
    come from one reader thread, in the order each worker sent them."""

    def __init__(self, devices: list[str], runs_per_worker: int, config: WorkerConfig) -> None:
        self.devices = devices
        self.runs_per_worker = runs_per_worker
        self.config = config
        self.on_event: EventHandler = lambda run_id, kind, payload: None
        self.restarts = 0
        self._context = multiprocessing.get_context("spawn")  # no forked locks or CUDA state
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()  # guards the workers' run sets and pipes' send ends
        self._calls: dict[int, tuple[int, concurrent.futures.Future[dict[str, Any]]]] = {}
        self._call_ids = itertools.count(1)
        self._stopping = threading.Event()
        self._reader: threading.Thread | None = None

    @classmethod
    def from_settings(cls, settings: "Settings") -> "LocalExecutor":
        count = settings.worker_count(_cuda_devices() if settings.device == "auto" else 0)
        return cls(
            worker_devices(settings.device, count),
            settings.runs_per_worker,
            WorkerConfig.from_settings(settings),
        )

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self, on_event: EventHandler) -> None:
        self.on_event = on_event
        self._workers = [self._spawn(i, device) for i, device in enumerate(self.devices)]
        self._reader = threading.Thread(target=self._read_events, name="worker-events", daemon=True)
        self._reader.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ask every worker to stop, then make sure they have."""
        self._stopping.set()
        with self._lock:
            for worker in self._workers:
                with contextlib.suppress(OSError):
                    worker.conn.send(("stop", None))
        for worker in self._workers:
            if not worker.ready:  # still importing PyTorch (a replacement, say): nothing of a
                worker.process.kill()  # run has trained there, and waiting for it costs seconds
        deadline = time.monotonic() + timeout_s
        for worker in self._workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(1.0)
        if self._reader is not None:
            self._reader.join(2.0)
        for worker in self._workers:
            self._receive(worker)  # their last checkpoints, sent as they stopped
            worker.conn.close()
        for _, future in self._calls.values():
            future.cancel()

    def _spawn(self, index: int, device: str) -> _Worker:
        parent_end, child_end = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=worker_process,
            args=(device, child_end, self.config),
            name=f"layerlab-worker-{index}",
            daemon=True,
        )
        process.start()
        child_end.close()
        logger.info("worker %d started (pid %s, %s)", index, process.pid, device)
        return _Worker(index, device, process, parent_end, {}, time.monotonic())

    # --- the executor interface ---------------------------------------------------------------

    def free_slots(self) -> int:
        with self._lock:
            return sum(max(0, self.runs_per_worker - len(w.runs)) for w in self._workers)

    def info(self) -> ExecutorInfo:
        with self._lock:
            workers = tuple(
                WorkerState(w.index, w.device, w.process.pid, frozenset(w.runs))
                for w in self._workers
            )
        return ExecutorInfo(workers, self.restarts)

    def submit(
        self,
        run_id: str,
        spec: RunSpec,
        csv_text: str | None,
        paused: bool,
        checkpoint: bytes | None = None,
    ) -> None:
        """Start a run (from a checkpoint, if given) beside runs of its stack, or on the least
        busy worker."""
        key, spec_json = stack_key(spec), spec.model_dump(mode="json")
        with self._lock:
            worker = self._placement(key)
            worker.runs[run_id] = key
            self._send(worker, ("start", run_id, spec_json, csv_text, paused, checkpoint))

    def control(self, run_id: str, action: str, *args: Any) -> bool:
        """pause, resume, step, cancel or rates; False when no worker holds the run."""
        with self._lock:
            worker = self._holder(run_id)
            if worker is None:
                return False
            self._send(worker, (action, run_id, *args))
            return True

    def call(self, run_id: str) -> "concurrent.futures.Future[dict[str, Any]]":
        """The run's current weights and gradient norms, answered by its worker."""
        future: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
        with self._lock:
            worker = self._holder(run_id)
            if worker is None:
                future.set_result({"error": "the run is not training"})
                return future
            call_id = next(self._call_ids)
            self._calls[call_id] = (worker.index, future)
            self._send(worker, ("call", run_id, call_id))
        return future

    def _placement(self, key: Hashable) -> _Worker:
        """The worker for a new run: one already holding runs of its stack, so that stacks grow
        few and large, unless that worker has AFFINITY_SLACK more runs than the least busy."""
        open_ = [w for w in self._workers if len(w.runs) < self.runs_per_worker] or self._workers
        least = min(len(w.runs) for w in open_)
        fellows = [
            w for w in open_ if key in w.runs.values() and len(w.runs) <= least + AFFINITY_SLACK
        ]
        if fellows:
            return max(fellows, key=lambda w: sum(k == key for k in w.runs.values()))
        return min(open_, key=lambda w: len(w.runs))

    def _holder(self, run_id: str) -> _Worker | None:
        return next((w for w in self._workers if run_id in w.runs), None)

    def _send(self, worker: _Worker, command: tuple[Any, ...]) -> None:
        with contextlib.suppress(OSError):  # a dying worker: the reader reports its runs lost
            worker.conn.send(command)

    # --- the reader thread --------------------------------------------------------------------

    def _read_events(self) -> None:
        while not self._stopping.is_set():
            workers = list(self._workers)
            by_handle: dict[Any, tuple[str, _Worker]] = {}
            for worker in workers:
                by_handle[worker.conn] = ("conn", worker)
                by_handle[worker.process.sentinel] = ("exit", worker)
            for ready in wait(list(by_handle), timeout=0.2):
                kind, worker = by_handle[ready]
                if kind == "conn":
                    self._receive(worker)
                elif not self._stopping.is_set():
                    self._replace(worker)

    def _receive(self, worker: _Worker) -> None:
        try:
            while worker.conn.poll():
                self._dispatch(worker, *worker.conn.recv())
        except (EOFError, OSError):
            pass  # the worker exited; its sentinel brings it to _replace
        except Exception:  # a message cut short by a kill: the sentinel follows
            logger.exception("unreadable message from worker %d", worker.index)

    def _dispatch(
        self, worker: _Worker, run_id: str | None, kind: str, payload: dict[str, Any]
    ) -> None:
        if kind == BATCH:
            for event in payload["events"]:
                self._dispatch(worker, *event)
            return
        if kind == REPLY:
            _, future = self._calls.pop(payload["call_id"], (None, None))
            if future is not None and not future.done():
                future.set_result(payload)
            return
        if kind == READY:
            worker.ready = True
            logger.info("worker %d ready (pid %s)", worker.index, payload["pid"])
            return
        if run_id and (kind == PARKED or payload.get("status") in FINAL_STATUSES):
            with self._lock:
                worker.runs.pop(run_id, None)
        self.on_event(run_id, kind, payload)

    def _replace(self, worker: _Worker) -> None:
        """A worker died: drain what it sent, report its runs lost, start another in its place."""
        self._receive(worker)
        worker.process.join(1.0)  # the sentinel fired: it has exited, and join reads its code
        code = worker.process.exitcode
        with self._lock:
            lost = sorted(worker.runs)
            replacement = self._spawn(worker.index, worker.device)
            self._workers[self._workers.index(worker)] = replacement
        worker.conn.close()
        self.restarts += 1
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        logger.warning("worker %d stopped (%s); %d runs lost", worker.index, how, len(lost))
        for call_id, (index, future) in list(self._calls.items()):
            if index == worker.index:  # the dead worker will never answer these
                self._calls.pop(call_id, None)
                if not future.done():
                    future.set_result({"error": "the worker stopped"})
        for run_id in lost:
            self.on_event(run_id, LOST, {"reason": how, "runs_lost": len(lost)})


def _cuda_devices() -> int:
    import torch

    return torch.cuda.device_count()
