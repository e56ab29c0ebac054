"""`GET /metrics`: the server's state and counters in the Prometheus text format.

Written by hand (see exposition.py) rather than with prometheus_client: nearly every value is
read from live state at scrape time (through the scheduler's reads: its runs, viewers and
workers), and a test process builds many apps, which one process-wide registry would mix up.
"""

import collections
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import APIRouter, Request, Response

from layerlab.api.exposition import CONTENT_TYPE, Exposition
from layerlab.core.training import FINAL_STATUSES
from layerlab.engine.rooms import Rooms
from layerlab.engine.scheduler import Scheduler

router = APIRouter(tags=["service"])

ACTIVE_STATUSES = ("queued", "running", "paused")
# cell: of a sweep's stream; room: of a teacher's wall
FRAME_TYPES = ("snapshot", "status", "metrics", "grid", "cell", "room")
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@dataclass
class RequestCounts:
    """HTTP requests answered, by method, route template and status; filled by the access log."""

    started_at: float = field(default_factory=time.time)
    answered: collections.Counter[tuple[str, str, int]] = field(default_factory=collections.Counter)
    # (method, route) -> [seconds spent answering, requests]
    seconds: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def add(self, method: str, route: str, status: int, duration_s: float) -> None:
        method = method if method in KNOWN_METHODS else "other"  # labels stay few
        self.answered[(method, route, status)] += 1
        total = self.seconds.setdefault((method, route), [0.0, 0])
        total[0] += duration_s
        total[1] += 1


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}}},
    summary="Runs, training rate, viewers, frames, workers, requests and memory for Prometheus",
)
async def metrics(request: Request) -> Response:
    scheduler: Scheduler = request.app.state.scheduler
    requests: RequestCounts = request.app.state.requests
    exposition = Exposition()
    _runs(exposition, scheduler)
    _rooms(exposition, request.app.state.rooms)
    _stream(exposition, scheduler)
    _process(exposition, scheduler, requests)
    return Response(exposition.text(), media_type=CONTENT_TYPE)


def _runs(out: Exposition, scheduler: Scheduler) -> None:
    activity = scheduler.activity
    statuses, queued = scheduler.run_counts()
    out.gauge(
        "layerlab_runs_active",
        "Runs that have not ended, by status (queued includes runs a worker is starting).",
        [({"status": status}, statuses[status]) for status in ACTIVE_STATUSES],
    )
    out.gauge(
        "layerlab_runs_queued",
        "Runs waiting for a place in a worker (LAYERLAB_MAX_QUEUED_RUNS bounds them).",
        queued,
    )
    out.counter("layerlab_runs_created_total", "Runs created.", activity.runs_created)
    out.counter(
        "layerlab_runs_finished_total",
        "Runs ended, by final status.",
        [({"status": status}, activity.runs_finished[status]) for status in sorted(FINAL_STATUSES)],
    )
    out.counter(
        "layerlab_steps_total",
        "Training steps (one batch each) of all runs, from their metric reports.",
        activity.steps_total,
    )
    out.gauge(
        "layerlab_steps_per_second",
        f"Training steps per second of all runs over the last {activity.window_s:g} s.",
        activity.steps_per_s(),
    )


def _rooms(out: Exposition, rooms: Rooms) -> None:
    open_rooms, learners = rooms.counts()
    out.gauge(
        "layerlab_rooms_open", "Teachers' rooms open (LAYERLAB_MAX_ROOMS bounds them).", open_rooms
    )
    out.gauge(
        "layerlab_room_learners", "Learners in the open rooms (not those who left).", learners
    )


def _stream(out: Exposition, scheduler: Scheduler) -> None:
    counts = scheduler.stream_counts
    out.gauge("layerlab_websocket_viewers", "Websocket viewers watching a run.", scheduler.viewers)
    out.counter(
        "layerlab_stream_frames_sent_total",
        "Frames sent to websocket viewers, by type.",
        [({"type": kind}, counts.sent[kind]) for kind in FRAME_TYPES],
    )
    out.counter(
        "layerlab_stream_frames_coalesced_total",
        "Frames a viewer did not get on their own, by type: metric points sent together, "
        "grids replaced by a newer one before they were sent, status changes merged.",
        [({"type": kind}, counts.coalesced[kind]) for kind in ("metrics", "grid", "status")],
    )
    out.counter(
        "layerlab_stream_points_dropped_total",
        "Metric points thinned out of slow viewers' backlogs.",
        counts.points_dropped,
    )
    out.counter(
        "layerlab_stream_slow_viewers_closed_total",
        "Viewers closed (code 1008) for taking no frame in LAYERLAB_SLOW_VIEWER_TIMEOUT_S.",
        counts.slow_viewers_closed,
    )


def _process(out: Exposition, scheduler: Scheduler, requests: RequestCounts) -> None:
    executor = scheduler.executor_info()
    out.gauge(
        "layerlab_executor_info",
        "Where runs train (LAYERLAB_EXECUTOR): local processes or Ray actors.",
        [({"kind": executor.kind}, 1)],
    )
    out.gauge(
        "layerlab_nodes",
        "Machines the workers may run on, alive: this one, or a Ray cluster's nodes.",
        sum(node.alive for node in executor.nodes),
    )
    out.gauge(
        "layerlab_workers", "Training workers (processes or Ray actors).", len(executor.workers)
    )
    out.gauge(
        "layerlab_worker_runs",
        "Runs each worker holds (training, paused, or starting), by worker, node and device.",
        [
            ({"worker": str(w.index), "node": w.node, "device": w.device}, len(w.runs))
            for w in executor.workers
        ],
    )
    out.counter(
        "layerlab_worker_restarts_total",
        "Workers that stopped (killed, out of memory, node lost) and were replaced.",
        executor.restarts,
    )
    out.counter(
        "layerlab_http_requests_total",
        "HTTP requests answered, by method, route template and status.",
        [
            ({"method": method, "route": route, "status": str(status)}, count)
            for (method, route, status), count in sorted(requests.answered.items())
        ],
    )
    out.summary(
        "layerlab_http_request_duration_seconds",
        "Time to answer HTTP requests, by method and route template.",
        [
            ({"method": method, "route": route}, total, int(count))
            for (method, route), (total, count) in sorted(requests.seconds.items())
        ],
    )
    out.gauge(
        "process_start_time_seconds",
        "When the server started, in seconds since the Unix epoch.",
        requests.started_at,
    )
    out.gauge("layerlab_uptime_seconds", "Seconds since the server started.", _uptime(requests))
    processes = [("server", os.getpid())]
    processes += [  # a Ray actor on another node is no process of this machine
        (f"worker-{w.index}", w.pid) for w in executor.workers if w.pid and w.node == "local"
    ]
    memory = [({"process": name}, rss) for name, pid in processes if (rss := resident_bytes(pid))]
    out.gauge(
        "process_resident_memory_bytes",
        "Resident memory of the server process and of each worker process.",
        memory,
    )


def _uptime(requests: RequestCounts) -> float:
    return round(time.time() - requests.started_at, 3)


def resident_bytes(pid: int) -> int | None:
    """A process's resident set size from /proc (None where there is no /proc, or no process)."""
    try:
        resident_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return resident_pages * os.sysconf("SC_PAGE_SIZE")
