"""What the scheduler knows, read: runs live and stored, uploads, viewers, the workers.

`LiveRun` is a run that has not ended, as the scheduler tracks it; `SchedulerReads` holds the
scheduler's state (the live runs, the queue, the store, the hub, the executor) and answers every
read the API makes, so that no route reaches into those parts. The scheduler (scheduler.py) is
these reads plus what changes the state: admission, the queue, controls and the workers' events.
"""

import asyncio
import collections
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

from layerlab.config import Settings
from layerlab.core.spec import RunSpec
from layerlab.engine.activity import Activity
from layerlab.engine.executor import Executor, ExecutorInfo
from layerlab.engine.hub import Hub, Mailbox, StreamCounts
from layerlab.engine.store import RunRecord, Store
from layerlab.engine.tokens import token_matches

CALL_TIMEOUT_S = 5.0


class ControlError(Exception):
    """A control that does not apply to the run in its current state (409)."""


@dataclass
class LiveRun:
    """A run that has not ended: queued here, or held by a worker."""

    id: str
    client: str
    token_hash: str
    spec: RunSpec
    csv_text: str | None
    created_at: float
    last_seen: float
    start_paused: bool = False
    submitted: bool = False  # held by a worker (or on its way to one)
    status: str = "queued"
    paused_at: float | None = None  # when it last became paused
    parking: bool = False  # asked to leave its worker while paused; not yet gone
    parked: bool = False  # paused with its state in the store, holding no worker's place
    resume_when_parked: bool | None = None  # a control that came while parking: paused or not
    pending_steps: int = 0  # single steps asked for before its worker had it
    pending_rates: dict[str, float | None] = field(default_factory=dict)
    deleted: bool = False
    in_sweep: bool = False  # one of a sweep's runs: not counted among its client's active runs
    stop_reason: str | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    status_changed: asyncio.Event = field(default_factory=asyncio.Event)


def public_run(record: RunRecord) -> dict[str, Any]:
    """What anyone may read about a run (never its token)."""
    return {
        "id": record.id,
        "status": record.status,
        "error": record.error,
        "spec": record.spec,
        "created_at": record.created_at,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "queue_position": None,
        "model_info": record.model_info,
        "final_metrics": record.final_metrics,
        "has_weights": record.has_weights,
    }


class SchedulerReads:
    def __init__(self, settings: Settings, store: Store, hub: Hub, executor: Executor) -> None:
        self.settings = settings
        self.store = store
        self.hub = hub
        self.executor = executor
        self.activity = Activity()  # counts for GET /metrics
        self.live: dict[str, LiveRun] = {}
        self.queue: list[LiveRun] = []
        self._weights_asked: dict[str, asyncio.Future[dict[str, Any] | None]] = {}

    def snapshot(self, run_id: str) -> dict[str, Any] | None:
        """The run, its metric history and latest grid: live from the hub, else as stored."""
        live = self.hub.snapshot(run_id)
        if live is not None:
            return live
        record = self.store.get_run(run_id)
        if record is None:
            return None
        return {
            "type": "snapshot",
            "run": public_run(record),
            "history": record.history,
            "grid": record.grid,
        }

    def describe(self, run_id: str) -> dict[str, Any] | None:
        """The run's public view (None for an unknown id)."""
        snapshot = self.snapshot(run_id)
        return snapshot["run"] if snapshot else None

    def latest(self, run_id: str) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
        """The run's public view and its latest metric point, without copying its history."""
        channel = self.hub.channels.get(run_id)
        if channel is not None:
            return dict(channel.run), (channel.history[-1] if channel.history else None)
        record = self.store.get_run(run_id)
        if record is None:
            return None
        return public_run(record), (record.history[-1] if record.history else None)

    def history(self, run_id: str) -> list[dict[str, Any]] | None:
        snapshot = self.snapshot(run_id)
        return snapshot["history"] if snapshot else None

    def latest_grid(self, run_id: str) -> dict[str, Any] | None:
        snapshot = self.snapshot(run_id)
        return snapshot["grid"] if snapshot else None

    def list_runs(self, limit: int, offset: int, status: str | None) -> list[dict[str, Any]]:
        """Public views, newest first; the live ones as they are now."""
        records = self.store.list_runs(limit=limit, offset=offset, status=status)
        return [self.describe(record.id) or public_run(record) for record in records]

    def count_runs(self, status: str | None = None) -> int:
        return self.store.count_runs(status=status)

    def uploads(self, limit: int, offset: int) -> list[dict[str, Any]]:
        return self.store.list_datasets(limit, offset)

    def count_uploads(self) -> int:
        return self.store.count_datasets()

    def upload(self, dataset_id: str) -> tuple[dict[str, Any], str] | None:
        """(meta, CSV text) of an upload, or None."""
        return self.store.get_dataset(dataset_id)

    def add_upload(self, dataset_id: str, name: str, text: str, info: dict[str, Any]) -> float:
        """Keep an upload; returns when it was made."""
        created_at = time.time()
        self.store.add_dataset(dataset_id, name, text, info, created_at)
        return created_at

    def subscribe(
        self, run_id: str
    ) -> contextlib.AbstractAsyncContextManager[tuple[dict[str, Any], Mailbox]]:
        """A viewer of a live run: (snapshot, mailbox); KeyError when the run is not live."""
        return self.hub.subscribe(run_id)

    @property
    def stream_counts(self) -> StreamCounts:
        return self.hub.counts

    def count_sent(self, frame_type: str) -> None:
        """A viewer took a frame of this type (the streams send them; the hub counts them)."""
        self.hub.counts.sent[frame_type] += 1

    def count_slow_viewer(self) -> None:
        """A viewer was closed for taking no frame in time."""
        self.hub.counts.slow_viewers_closed += 1

    @property
    def viewers(self) -> int:
        return self.hub.total_viewers

    def run_counts(self) -> tuple[collections.Counter[str], int]:
        """(live runs by status, how many of them wait in the queue)."""
        return collections.Counter(run.status for run in self.live.values()), len(self.queue)

    def executor_info(self) -> ExecutorInfo:
        return self.executor.info()

    def touch(self, run_id: str) -> None:
        """Someone looked at the run: it is not abandoned."""
        run = self.live.get(run_id)
        if run is not None:
            run.last_seen = time.time()

    async def current_weights(self, run_id: str) -> dict[str, Any] | None:
        """{'weights': bytes, 'gradient_norms', 'step'} now, from the worker or else the store.

        Reads of one run that come together (the page asks for three things at once) share
        one answer of its worker."""
        asking = self._weights_asked.get(run_id)
        if asking is None:
            asking = asyncio.ensure_future(self._ask_weights(run_id))
            self._weights_asked[run_id] = asking
            asking.add_done_callback(lambda _: self._weights_asked.pop(run_id, None))
        return await asyncio.shield(asking)

    async def _ask_weights(self, run_id: str) -> dict[str, Any] | None:
        run = self.live.get(run_id)
        if run is not None and run.submitted:
            future = self.executor.call(run_id)
            try:
                reply = await asyncio.wait_for(asyncio.wrap_future(future), CALL_TIMEOUT_S)
            except asyncio.TimeoutError:
                reply = {"error": "the worker did not answer in time"}
            if "error" not in reply:
                return reply
        blob = self.store.load_weights(run_id)
        if blob is None:
            return None
        history = self.history(run_id) or [{"step": None}]
        return {"weights": blob, "gradient_norms": {}, "step": history[-1]["step"]}

    def owner_matches(self, run_id: str, token: str) -> bool:
        """Whether `token` is the run's owner token or the server's admin token."""
        run = self.live.get(run_id)
        expected = run.token_hash if run else None
        if expected is None:
            record = self.store.get_run(run_id)
            expected = record.token_hash if record else None
        return token_matches(token, expected, self.settings.admin_token)

    async def wait_until_ended(self, run_id: str, timeout_s: float) -> bool:
        run = self.live.get(run_id)
        if run is None:
            return True
        try:
            await asyncio.wait_for(run.ended.wait(), timeout_s)
        except asyncio.TimeoutError:
            return False
        return True
