"""What an executor keeps of its workers, wherever they run: the runs each holds, where a new run
goes, the reads waiting for an answer, and what to do with the events that come back.

`LocalExecutor` (processes of this machine) and `RayExecutor` (actors on a cluster) differ only
in how a worker starts, how a command reaches it, how its events come back and how its death is
noticed; the rest is here, once.
"""

import concurrent.futures
import itertools
import logging
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from layerlab.core.spec import RunSpec
from layerlab.core.stacked.trainer_stack import (
    STACK_STEP_COST,
    StackKey,
    run_step_cost,
    stack_key,
)
from layerlab.core.training import FINAL_STATUSES
from layerlab.engine.executor import (
    BATCH,
    LOST,
    PARKED,
    PROFILE,
    READY,
    REPLY,
    EventHandler,
    ExecutorInfo,
    NodeState,
    WorkerState,
)

logger = logging.getLogger("layerlab.workers")

# A worker may hold this many times its share of runs (the server holds workers ×
# runs_per_worker in all): room to give a worker of cheap runs more of them than one of costly
# ones. A run of width class 32 costs ~3.7 of class 16: at 1.5, the bench's class put its 101
# narrow runs' last 5 in a stack of their own beside the wide ones, and that worker's runs got
# 0.68-0.71 of the median's rate in two of three invocations (1.0 in three at 2).
SHARE_SLACK = 2.0


@dataclass(eq=False, kw_only=True)
class Slot:
    """One worker as the server keeps it; each executor adds how it reaches the worker."""

    index: int
    device: str
    runs: dict[str, StackKey] = field(default_factory=dict)  # run id -> its stack's key
    ready: bool = False  # it has imported PyTorch, warmed up and said so
    pid: int | None = None  # its process, on its node, once ready
    node: str = "local"
    profile: dict[str, Any] | None = None  # the last totals of where its time went


W = TypeVar("W", bound=Slot)


class WorkerSlots(Generic[W]):
    """The executor protocol's bookkeeping (executor.py). A subclass starts the workers, fills
    `_workers`, implements `_send` and `nodes`, and passes what each worker sends to `_dispatch`
    from one thread per executor, in the order the worker sent it."""

    kind = "local"

    def __init__(self, runs_per_worker: int) -> None:
        self.runs_per_worker = runs_per_worker
        self.on_event: EventHandler = lambda run_id, kind, payload: None
        self.restarts = 0
        self._workers: list[W] = []
        self._lock = threading.Lock()  # guards the workers' run sets and their command channels
        self._calls: dict[int, tuple[int, concurrent.futures.Future[dict[str, Any]]]] = {}
        self._call_ids = itertools.count(1)

    def _send(self, worker: W, command: tuple[Any, ...]) -> None:
        """Pass a command on (called under the lock); a worker that cannot take it is dying, and
        its death is noticed elsewhere."""
        raise NotImplementedError

    def nodes(self) -> tuple[NodeState, ...]:
        raise NotImplementedError

    # --- the executor interface ---------------------------------------------------------------

    def free_slots(self) -> int:
        """Runs the server may still start: runs_per_worker for each worker, pooled."""
        with self._lock:
            held = sum(len(w.runs) for w in self._workers)
            return max(0, self.runs_per_worker * len(self._workers) - held)

    def info(self) -> ExecutorInfo:
        with self._lock:
            workers = tuple(
                WorkerState(w.index, w.device, w.pid, frozenset(w.runs), w.node, w.ready, w.profile)
                for w in self._workers
            )
        return ExecutorInfo(workers, self.restarts, self.kind, self.nodes())

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
        """Any command for the run's worker (pause, resume, step, cancel, rates, park, …); False
        when no worker holds the run."""
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

    def _placement(self, key: StackKey) -> W:
        """The worker for a new run: one already holding runs of its stack, so that stacks grow
        few and large, unless that worker's step costs more than the least busy one's by more
        than a new stack would (`step_cost`: a run of width 32 weighs as 3.7 of width 16);
        else the least busy. A worker holds at most SHARE_SLACK times its share of runs. A
        worker still starting takes runs only while none is ready: a run should not wait for a
        replacement to import PyTorch (or, on a cluster, for a node to have room) when another
        worker could train it now."""
        limit = int(self.runs_per_worker * SHARE_SLACK)
        open_ = [w for w in self._workers if len(w.runs) < limit] or self._workers
        open_ = [w for w in open_ if w.ready] or open_
        costs = {w.index: step_cost(w.runs.values()) for w in open_}
        least = min(costs.values())
        fellows = [
            w for w in open_ if key in w.runs.values() and costs[w.index] <= least + STACK_STEP_COST
        ]
        if fellows:
            return max(fellows, key=lambda w: sum(k == key for k in w.runs.values()))
        return min(open_, key=lambda w: costs[w.index])

    def _holder(self, run_id: str) -> W | None:
        return next((w for w in self._workers if run_id in w.runs), None)

    # --- what the workers send ----------------------------------------------------------------

    def _dispatch(self, worker: W, run_id: str | None, kind: str, payload: dict[str, Any]) -> None:
        if kind == BATCH:
            for event in payload["events"]:
                self._dispatch(worker, *event)
            return
        if kind == REPLY:
            _, future = self._calls.pop(payload["call_id"], (None, None))
            if future is not None and not future.done():
                future.set_result(payload)
            return
        if kind == PROFILE:
            worker.profile = payload
            return
        if kind == READY:
            worker.ready, worker.pid = True, payload["pid"]
            worker.device = payload.get("device", worker.device)
            worker.node = payload.get("node", worker.node)
            where = "" if worker.node == "local" else f", node {worker.node}"
            logger.info(
                "worker %d ready (pid %s, %s%s)", worker.index, worker.pid, worker.device, where
            )
            return
        if run_id and (kind == PARKED or payload.get("status") in FINAL_STATUSES):
            with self._lock:
                worker.runs.pop(run_id, None)
        self.on_event(run_id, kind, payload)

    def _replaced(self, worker: W, replacement: W, how: str) -> None:
        """A worker died (after what it sent was dispatched): its replacement takes its place,
        its pending reads are answered, and each of its runs is reported lost."""
        with self._lock:
            lost = sorted(worker.runs)
            self._workers[self._workers.index(worker)] = replacement
        self.restarts += 1
        logger.warning("worker %d stopped (%s); %d runs lost", worker.index, how, len(lost))
        for call_id, (index, future) in list(self._calls.items()):
            if index == worker.index:  # the dead worker will never answer these
                self._calls.pop(call_id, None)
                if not future.done():
                    future.set_result({"error": "the worker stopped"})
        for run_id in lost:
            self.on_event(run_id, LOST, {"reason": how, "runs_lost": len(lost)})

    def _cancel_calls(self) -> None:
        for _, future in self._calls.values():
            future.cancel()


def step_cost(keys: Iterable[StackKey]) -> float:
    """What a step of each of its stacks costs a worker holding runs of these keys, in steps of
    one run of width class 16 (trainer_stack.STACK_STEP_COST, run_step_cost)."""
    return sum(STACK_STEP_COST + runs * run_step_cost(key) for key, runs in Counter(keys).items())
