"""Worker processes: where runs train, a few per machine or one per GPU, behind a small executor.

The server process never trains. Each worker is a spawned process that imports PyTorch once and
then holds many runs, giving each a short turn in turn. Each worker talks to the server over its
own pipe (commands in, events out), so a worker that is killed breaks nothing but its own pipe:
the pool notices its exit, reports its runs lost and starts a new worker in its place.

The interface the scheduler sees is narrow (submit, control, call, events), so that another
executor (for instance one that places workers on a cluster) is an addition, not a rewrite.
"""

import concurrent.futures
import contextlib
import functools
import itertools
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from layerlab.core.training import FINAL_STATUSES, RunStatus

if TYPE_CHECKING:
    import torch

logger = logging.getLogger("layerlab.workers")

# Event kinds a worker sends besides the wire's `status`, `metrics` and `grid`; BATCH carries
# many events in one message (a stack's frames), so the pipe and the reader see one, not K.
# CHECKPOINT carries a run's state now and then; PARKED its state as it leaves the worker.
READY, REPLY, LOST, BATCH = "ready", "reply", "lost", "batch"
CHECKPOINT, PARKED = "checkpoint", "parked"

WORKER_NICENESS = 5  # below the server process, which only waits on sockets and pipes

AFFINITY_SLACK = 8  # runs a worker may hold beyond the least busy one, to keep a stack whole

EventHandler = Callable[[str | None, str, dict[str, Any]], None]


@dataclass(frozen=True)
class WorkerConfig:
    """What every worker needs to know, picklable for a spawned process."""

    metrics_interval_s: float = 0.05
    grid_interval_s: float = 0.1
    time_slice_s: float = 0.02  # one training round of all stacks: how soon a command is heard
    checkpoint_interval_s: float = 10.0  # how often each run's state goes to the server


def affinity(spec_json: dict[str, Any]) -> Hashable:
    """The stack a run will join (`stack_key`) as far as its spec tells before its data exists."""
    from layerlab.core.datasets import DATASETS
    from layerlab.core.stacked.trainer_stack import width_class

    dataset = spec_json.get("dataset", {})
    info = DATASETS.get(dataset.get("name", ""))
    task = (info.task if info else None) or "csv"
    shape = (task, dataset.get("classes"), tuple(spec_json.get("features") or ()),
             spec_json.get("batch_size"))  # fmt: skip
    widths = spec_json.get("hidden_widths") or []
    if not widths:
        return (*shape, "none")
    return (*shape, spec_json.get("activation"), width_class(max(widths)))


def worker_devices(device: str, count: int) -> list[str]:
    """The device of each worker: 'auto' spreads them over the GPUs, else all on `device`."""
    import torch

    if device == "auto":
        gpus = torch.cuda.device_count()
        return [f"cuda:{i % gpus}" if gpus else "cpu" for i in range(count)]
    return [device] * count


# --- inside a worker process ----------------------------------------------------------------


def worker_main(index: int, device_name: str, conn: Connection, config: WorkerConfig) -> None:
    """A worker's life: take commands, give every runnable session a turn, send events."""
    import torch

    from layerlab.core.datasets import DatasetError, load_csv
    from layerlab.core.spec import RunSpec
    from layerlab.engine.session import INTERNAL_ERROR, TrainingSession
    from layerlab.engine.stacking import StackedSessions

    torch.set_num_threads(1)  # many small runs: one thread each is fastest, and fair to others
    with contextlib.suppress(OSError):  # where cores are few, the server answers first
        os.nice(WORKER_NICENESS)
    device = torch.device(device_name)
    sessions: dict[str, TrainingSession] = {}
    stacks = StackedSessions(config.metrics_interval_s, config.grid_interval_s, config.time_slice_s)

    outbox: list[tuple[str | None, str, dict[str, Any]]] = []

    def send(run_id: str | None, kind: str, payload: dict[str, Any]) -> None:
        outbox.append((run_id, kind, payload))

    def flush() -> None:
        """What was sent since the last flush, in one message (in the order it was sent)."""
        if len(outbox) == 1:
            conn.send(outbox[0])
        elif outbox:
            conn.send((None, BATCH, {"events": list(outbox)}))
        outbox.clear()

    last_checkpoint: dict[str, tuple[float, int]] = {}  # run id -> (when, at which step)

    def start(
        run_id: str,
        spec_json: dict[str, Any],
        csv_text: str | None,
        paused: bool,
        checkpoint: bytes | None = None,
    ) -> None:
        spec = RunSpec.model_validate(spec_json)
        dataset = load_csv(csv_text, spec.dataset) if csv_text is not None else None
        sessions[run_id] = session = TrainingSession(
            spec,
            lambda kind, payload: send(run_id, kind, payload),
            dataset=dataset,
            device=device,
            metrics_interval_s=config.metrics_interval_s,
            grid_interval_s=config.grid_interval_s,
            paused=paused,
            checkpoint=checkpoint,
        )
        last_checkpoint[run_id] = (time.monotonic(), session.trainer.step)

    def state_of(run_id: str) -> dict[str, Any]:
        """A run's checkpoint: its whole state, its weights alone (for reads) and its step."""
        session = sessions[run_id]
        stacks.write_back(run_id)
        last_checkpoint[run_id] = (time.monotonic(), session.trainer.step)
        return {
            "step": session.trainer.step,
            "state": session.trainer.checkpoint(),
            "weights": session.weights_bytes(),
        }

    def checkpoint_due(everything: bool = False) -> None:
        """Every run that moved since its last checkpoint, if that was long enough ago."""
        now = time.monotonic()
        for run_id, session in list(sessions.items()):
            when, step = last_checkpoint.get(run_id, (now, -1))
            due = everything or now - when >= config.checkpoint_interval_s
            if due and not session.finished and session.trainer.step != step:
                guarded(run_id, functools.partial(send_checkpoint, run_id))

    def send_checkpoint(run_id: str) -> None:
        send(run_id, CHECKPOINT, state_of(run_id))

    def park(run_id: str) -> None:
        """The run leaves this worker with its state (the server keeps it until resume)."""
        stacks.release(run_id)
        send(run_id, PARKED, state_of(run_id))
        del sessions[run_id], last_checkpoint[run_id]

    def handle(command: tuple[Any, ...]) -> bool:
        name, run_id, *args = command
        if name == "stop":  # the server is stopping: what each run has reached goes with it
            checkpoint_due(everything=True)
            return False
        guarded(run_id, lambda: act(name, run_id, *args))
        return True

    def act(name: str, run_id: str, *args: Any) -> None:
        if name == "start":
            start(run_id, *args)
            return
        session = sessions.get(run_id)
        if name == "park":
            if session is not None and not session.finished:
                park(run_id)
            return
        if name == "call":
            call_id = args[0]
            if session is None:
                send(run_id, REPLY, {"call_id": call_id, "error": "the run is not training here"})
                return
            try:
                stacks.write_back(run_id)
                reply = {
                    "call_id": call_id,
                    "weights": session.weights_bytes(),
                    "gradient_norms": session.gradient_norms(),
                    "step": session.trainer.step,
                }
            except Exception:
                send(run_id, REPLY, {"call_id": call_id, "error": "the run failed"})
                raise
            send(run_id, REPLY, reply)
        elif session is not None:
            if name == "rates":
                stacks.set_rates(session, run_id, **args[0])
            else:  # pause, resume, step, cancel; a run that stops moving leaves its stack first
                if name in ("pause", "cancel"):
                    stacks.release(run_id)
                getattr(session, name)()

    def guarded(run_id: str, action: Callable[[], None]) -> None:
        """Run an action of one session; if it raises, that run fails and the others go on."""
        try:
            action()
        except (EOFError, OSError):
            raise  # the pipe to the server broke: the worker ends, below
        except Exception as error:  # a bad CSV, out of memory, a bug: one run's problem only
            if isinstance(error, DatasetError):
                message = f"The data could not be used: {error}"
            else:
                logger.exception("internal error on run %s", run_id)
                message = INTERNAL_ERROR
            session = sessions.get(run_id)
            if session is not None:
                session.fail(message)
            else:
                send(run_id, "status", {"status": "failed", "error": message})

    def take_commands(block: bool) -> bool:
        timeout = 0.5 if block else 0.0
        while conn.poll(timeout):
            going_on = handle(conn.recv())
            flush()
            if not going_on:
                return False
            timeout = 0.0
        return True

    warm_up(device, config)  # first-call costs, paid once here rather than by a learner
    send(None, READY, {"pid": os.getpid(), "device": str(device)})
    flush()
    try:
        while take_commands(block=not any(s.runnable for s in sessions.values())):
            for run_id, session in list(sessions.items()):
                if session.status is RunStatus.PAUSED and session.runnable:  # single steps
                    guarded(run_id, functools.partial(session.advance, 0.0))
            stacks.sync(sessions)
            stacks.train_round()
            checkpoint_due()
            flush()
            ended = [r for r, s in sessions.items() if s.finished]
            for run_id in ended:
                stacks.release(run_id)
                del sessions[run_id]  # ended by its last step, a cancel or a failure
                last_checkpoint.pop(run_id, None)
            if ended and not sessions:
                give_memory_back()
    except (EOFError, OSError, KeyboardInterrupt):
        pass  # the server has gone (its pipe is closed or reset): nothing left to report to


def give_memory_back() -> None:
    """An idle worker hands the memory its runs' freed tensors left in the C heap back to the
    system: glibc keeps freed blocks for reuse, so a busy hour would stay counted forever."""
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc (macOS, musl): nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def warm_up(device: "torch.device", config: WorkerConfig) -> None:
    """Train two tiny runs to the end in a stack and drop them: what the first learner would
    otherwise pay for first calls."""
    from layerlab.core.spec import RunSpec
    from layerlab.engine.session import TrainingSession
    from layerlab.engine.stacking import StackedSessions

    spec = RunSpec.model_validate({"dataset": {"samples": 40}, "epochs": 2, "grid_resolution": 8})
    stacks = StackedSessions(0.0, 0.0, config.time_slice_s)
    sessions = {
        f"warm-up-{seed}": TrainingSession(
            spec.model_copy(update={"seed": seed}), lambda kind, payload: None, device=device
        )
        for seed in (1, 2)
    }
    while not all(session.finished for session in sessions.values()):
        stacks.sync(sessions)
        stacks.train_round()


# --- in the server process ------------------------------------------------------------------


@dataclass
class _Worker:
    index: int
    device: str
    process: multiprocessing.process.BaseProcess
    conn: Connection
    runs: dict[str, Hashable]  # run id -> the stack it is expected to join (`affinity`)
    started_at: float


class WorkerPool:
    """Local worker processes: submit runs, control them, and hear their events.

    `on_event(run_id, kind, payload)` is called from the pool's reader thread, in the order each
    worker sent its events; a worker's death arrives as one `lost` event per run it held, after
    everything it sent before dying.
    """

    def __init__(
        self,
        devices: list[str],
        runs_per_worker: int,
        config: WorkerConfig,
        on_event: EventHandler,
    ) -> None:
        self.devices = devices
        self.runs_per_worker = runs_per_worker
        self.config = config
        self.on_event = on_event
        self.restarts = 0
        self._context = multiprocessing.get_context("spawn")  # no forked locks or CUDA state
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()  # guards the workers' run sets and pipes' send ends
        self._calls: dict[int, tuple[int, concurrent.futures.Future[dict[str, Any]]]] = {}
        self._call_ids = itertools.count(1)
        self._stopping = threading.Event()
        self._reader: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
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
            target=worker_main,
            args=(index, device, child_end, self.config),
            name=f"layerlab-worker-{index}",
            daemon=True,
        )
        process.start()
        child_end.close()
        logger.info("worker %d started (pid %s, %s)", index, process.pid, device)
        return _Worker(index, device, process, parent_end, {}, time.monotonic())

    # --- the executor interface ---------------------------------------------------------------

    @property
    def capacity(self) -> int:
        return self.runs_per_worker * len(self._workers)

    def free_slots(self) -> int:
        with self._lock:
            return sum(max(0, self.runs_per_worker - len(w.runs)) for w in self._workers)

    def pids(self) -> list[int | None]:
        return [worker.process.pid for worker in self._workers]

    def pid_of(self, run_id: str) -> int | None:
        """The process id of the worker training `run_id` (None when none holds it)."""
        with self._lock:
            worker = self._holder(run_id)
            return worker.process.pid if worker else None

    def submit(
        self,
        run_id: str,
        spec_json: dict[str, Any],
        csv_text: str | None,
        paused: bool,
        checkpoint: bytes | None = None,
    ) -> int:
        """Start a run (from a checkpoint, if given) on the least busy worker; returns that
        worker's index."""
        with self._lock:
            worker = self._placement(affinity(spec_json))
            worker.runs[run_id] = affinity(spec_json)
            self._send(worker, ("start", run_id, spec_json, csv_text, paused, checkpoint))
            return worker.index

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
