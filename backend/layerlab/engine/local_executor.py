"""The local executor: worker processes of this machine, a few per machine or one per GPU.

Each worker is a spawned process that imports PyTorch once and then holds many runs
(worker_loop.py). It talks to the server over its own pipe (commands in, events out), so a worker
that is killed breaks nothing but its own pipe: the executor notices its exit, reports its runs
lost and starts a new worker in its place. A run goes to a worker already holding runs of its
stack (`stack_key`), so that stacks grow few and large.
"""

import contextlib
import logging
import multiprocessing
import os
import socket
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from layerlab.engine.executor import EventHandler, NodeState, WorkerConfig
from layerlab.engine.worker_slots import Slot, WorkerSlots

if TYPE_CHECKING:
    from layerlab.config import Settings

logger = logging.getLogger("layerlab.workers")


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


@dataclass(eq=False, kw_only=True)
class _Worker(Slot):
    process: multiprocessing.process.BaseProcess
    conn: Connection


class LocalExecutor(WorkerSlots[_Worker]):
    """Worker processes of this machine, behind the executor protocol (executor.py): events
    come from one reader thread, in the order each worker sent them."""

    kind = "local"

    def __init__(self, devices: list[str], runs_per_worker: int, config: WorkerConfig) -> None:
        super().__init__(runs_per_worker)
        self.devices = devices
        self.config = config
        self._context = multiprocessing.get_context("spawn")  # no forked locks or CUDA state
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
        self._cancel_calls()

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
        return _Worker(
            index=index, device=device, pid=process.pid, process=process, conn=parent_end
        )

    def _send(self, worker: _Worker, command: tuple[Any, ...]) -> None:
        with contextlib.suppress(OSError):  # a dying worker: the reader reports its runs lost
            worker.conn.send(command)

    def nodes(self) -> tuple[NodeState, ...]:
        gpus = len({device for device in self.devices if device.startswith("cuda")})
        return (NodeState("local", socket.gethostname(), float(os.cpu_count() or 1), float(gpus)),)

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

    def _replace(self, worker: _Worker) -> None:
        """A worker died: drain what it sent, report its runs lost, start another in its place."""
        self._receive(worker)
        worker.process.join(1.0)  # the sentinel fired: it has exited, and join reads its code
        code = worker.process.exitcode
        worker.conn.close()
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        self._replaced(worker, self._spawn(worker.index, worker.device), how)


def _cuda_devices() -> int:
    import torch

    return torch.cuda.device_count()
