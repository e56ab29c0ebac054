"""The hub: fans each run's events out to its websocket viewers without ever waiting for them.

Every viewer has a mailbox, not a queue: metric points pile up (thinned past a bound), a newer
grid replaces one not yet sent, and status changes merge into one pending status. Whatever a
viewer's speed, its mailbox holds at most `max_points` points, one grid and one status, and
publishing is a few dictionary updates. A viewer that subscribes late first gets a snapshot:
the run, its metric history so far and its latest grid.

A run's grids and metric points go to all its viewers alike: each is a `Frame`, written as JSON
once, by the first viewer to send it, however many send it after.
"""

import asyncio
import collections
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from layerlab.core.strict_json import finite
from layerlab.core.training import FINAL_STATUSES
from layerlab.engine.store import downsample


def to_json(value: Any) -> str:
    """Compact JSON; a diverged run's NaN losses become null, as the REST routes write them."""
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    except ValueError:
        return json.dumps(finite(value), separators=(",", ":"))


class Frame(dict[str, Any]):
    """A frame or metric point that every viewer of a run sends alike; never changed once
    published, so that its JSON, written on the first send, holds for all the others."""

    _text: str | None = None

    def json(self) -> str:
        if self._text is None:
            self._text = to_json(self)
        return self._text


def frame_text(frame: dict[str, Any]) -> str:
    """A frame as the websocket sends it: shared frames and points from their one encoding."""
    if isinstance(frame, Frame):
        return frame.json()
    if frame.get("type") == "metrics":  # this viewer's points, each encoded once for all
        points = ",".join(p.json() if isinstance(p, Frame) else to_json(p) for p in frame["points"])
        return f'{{"type":"metrics","points":[{points}]}}'
    return to_json(frame)


@dataclass
class StreamCounts:
    """Frames of every viewer since the server started: those sent, and those merged into a later
    frame or dropped because the viewer had not taken the earlier one yet."""

    sent: collections.Counter[str] = field(default_factory=collections.Counter)  # by type
    # metric points sent in one frame with others, grids replaced, status changes merged
    coalesced: collections.Counter[str] = field(default_factory=collections.Counter)
    points_dropped: int = 0  # metric points thinned out of a slow viewer's backlog
    slow_viewers_closed: int = 0


class Mailbox:
    """What one viewer has not been sent yet."""

    def __init__(self, max_points: int, counts: StreamCounts | None = None) -> None:
        self.max_points = max_points
        self.counts = counts if counts is not None else StreamCounts()
        self.points: list[dict[str, Any]] = []
        self.grid: dict[str, Any] | None = None
        self.status: dict[str, Any] | None = None
        self.closed = False
        self.replaced_grids = 0  # grids dropped because a newer one came first
        self._ready = asyncio.Event()

    def put_points(self, points: list[dict[str, Any]]) -> None:
        self.points.extend(points)
        if len(self.points) > self.max_points:
            # a slow viewer gets a thinner curve, not a longer one
            kept = downsample(self.points, self.max_points // 2)
            self.counts.points_dropped += len(self.points) - len(kept)
            self.points = kept
        self._ready.set()

    def put_grid(self, frame: dict[str, Any]) -> None:
        if self.grid is not None:
            self.replaced_grids += 1
            self.counts.coalesced["grid"] += 1
        self.grid = frame
        self._ready.set()

    def put_status(self, frame: dict[str, Any]) -> None:
        if self.status is not None:
            self.counts.coalesced["status"] += 1
        self.status = frame if self.status is None else {**self.status, **frame}
        self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    @property
    def pending(self) -> int:
        return len(self.points) + (self.grid is not None) + (self.status is not None)

    async def next_frames(self) -> list[dict[str, Any]]:
        """Wait for something to send; [] once the run has ended and everything has been sent.

        Order: a status change first (queued → running), then metrics and the grid, and a final
        status (done, failed…) last, after the numbers that led to it.
        """
        while not self.pending and not self.closed:
            self._ready.clear()
            await self._ready.wait()
        frames: list[dict[str, Any]] = []
        status, self.status = self.status, None
        final = status is not None and status.get("status") in FINAL_STATUSES
        if status is not None and not final:
            frames.append({"type": "status", **status})
        if self.points:
            frames.append({"type": "metrics", "points": self.points})
            self.counts.coalesced["metrics"] += len(self.points) - 1
            self.points = []
        if self.grid is not None:
            frames.append(self.grid)
            self.grid = None
        if status is not None and final:
            frames.append({"type": "status", **status})
        return frames


@dataclass
class Channel:
    """One run's live state: what a new viewer's snapshot is made of, and who is watching."""

    run: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    grid: dict[str, Any] | None = None
    viewers: set[Mailbox] = field(default_factory=set)


class Hub:
    """Publish from the event loop's thread; subscribe from websocket handlers on that loop."""

    def __init__(self, max_history_points: int = 4000, max_pending_points: int = 1000) -> None:
        self.max_history_points = max_history_points
        self.max_pending_points = max_pending_points
        self.channels: dict[str, Channel] = {}
        self.counts = StreamCounts()

    def open(
        self,
        run_id: str,
        run: dict[str, Any],
        history: list[dict[str, Any]] | None = None,
        grid: dict[str, Any] | None = None,
    ) -> None:
        """A channel for the run; one that goes on (resumed) keeps its history and grid."""
        self.channels[run_id] = Channel(run=dict(run), history=list(history or []), grid=grid)

    def update_run(self, run_id: str, **fields: Any) -> None:
        """Change what snapshots say of the run (its status, model, queue position…)."""
        channel = self.channels.get(run_id)
        if channel is not None:
            channel.run.update(fields)

    def publish_metrics(self, run_id: str, point: dict[str, Any]) -> None:
        channel = self.channels.get(run_id)
        if channel is None:
            return
        point = Frame(point)
        channel.history.append(point)
        if len(channel.history) > self.max_history_points:  # a long run keeps its shape
            channel.history = downsample(channel.history, self.max_history_points // 2)
        for mailbox in channel.viewers:
            mailbox.put_points([point])

    def publish_grid(self, run_id: str, frame: dict[str, Any]) -> None:
        channel = self.channels.get(run_id)
        if channel is None:
            return
        channel.grid = frame
        shared = Frame(type="grid", **frame)
        for mailbox in channel.viewers:
            mailbox.put_grid(shared)

    def publish_status(self, run_id: str, frame: dict[str, Any]) -> None:
        """A status change; a final one ends every subscription once it has been sent."""
        channel = self.channels.get(run_id)
        if channel is None:
            return
        channel.run.update(frame)
        for mailbox in channel.viewers:
            mailbox.put_status(frame)
            if frame.get("status") in FINAL_STATUSES:
                mailbox.close()

    def discard(self, run_id: str) -> None:
        """Forget a run; its viewers' subscriptions end after what they have pending."""
        channel = self.channels.pop(run_id, None)
        if channel is not None:
            for mailbox in channel.viewers:
                mailbox.close()

    def snapshot(self, run_id: str) -> dict[str, Any] | None:
        channel = self.channels.get(run_id)
        if channel is None:
            return None
        return {
            "type": "snapshot",
            "run": dict(channel.run),
            "history": list(channel.history),
            "grid": channel.grid,
        }

    def viewers(self, run_id: str) -> int:
        channel = self.channels.get(run_id)
        return len(channel.viewers) if channel else 0

    @property
    def total_viewers(self) -> int:
        return sum(len(channel.viewers) for channel in self.channels.values())

    @contextlib.asynccontextmanager
    async def subscribe(self, run_id: str) -> AsyncIterator[tuple[dict[str, Any], Mailbox]]:
        """(snapshot, mailbox) for a run the hub holds; KeyError when it holds none.

        The snapshot is taken and the mailbox registered in one step, so that no event falls
        between them; the mailbox is unregistered on the way out, however the viewer leaves.
        """
        snapshot = self.snapshot(run_id)
        if snapshot is None:
            raise KeyError(run_id)
        channel = self.channels[run_id]
        mailbox = Mailbox(self.max_pending_points, self.counts)
        channel.viewers.add(mailbox)
        if snapshot["run"].get("status") in FINAL_STATUSES:
            mailbox.close()
        try:
            yield snapshot, mailbox
        finally:
            channel.viewers.discard(mailbox)
