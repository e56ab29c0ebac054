"""What a load test saw: runs, frames per viewer, time to the first frame, the page's reads of
each run (model, neurons, predict), errors, memory; in a room, the wall's frames and tiles.

One report (about 350 lines): its sections read the same counters and print one table."""

import collections
import math
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MIB = 2**20
# websocket close codes that mean the server or the network failed, not a run that ended
ABNORMAL_CLOSES = ("1006", "1011", "1012", "1013", "1014")
# final statuses of runs the server lost: training raised, or its worker died (or the server)
LOST_RUNS = ("failed", "interrupted")


@dataclass(frozen=True)
class ServerMemory:
    """Resident memory of the server process and of its workers together, in bytes."""

    server_bytes: int
    worker_bytes: int
    workers: int

    @property
    def total_bytes(self) -> int:
        return self.server_bytes + self.worker_bytes

    def describe(self) -> str:
        return (
            f"{self.total_bytes / MIB:,.0f} MiB (server {self.server_bytes / MIB:,.0f} + "
            f"{self.workers} workers {self.worker_bytes / MIB:,.0f})"
        )


SAMPLE = re.compile(r'^process_resident_memory_bytes\{process="([^"]+)"\} (\S+)$')


def memory_from_metrics(text: str) -> ServerMemory | None:
    """The `process_resident_memory_bytes` samples of a LayerLab server's GET /metrics."""
    server, workers, count = 0, 0, 0
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match is None:
            continue
        if match[1] == "server":
            server = int(float(match[2]))
        else:
            workers, count = workers + int(float(match[2])), count + 1
    return ServerMemory(server, workers, count) if server else None


def memory_from_proc(pid: int) -> ServerMemory:
    """A server process's resident memory and its workers', from /proc: the workers are the
    descendants that multiprocessing spawned (not its resource tracker)."""
    page_bytes = os.sysconf("SC_PAGE_SIZE")
    server = _resident_pages(pid) * page_bytes
    workers = [child for child in _descendants(pid) if _is_spawned_worker(child)]
    worker_bytes = sum(_resident_pages(worker) for worker in workers) * page_bytes
    return ServerMemory(server, worker_bytes, len(workers))


def _is_spawned_worker(pid: int) -> bool:
    try:
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _resident_pages(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0  # it exited while we looked


def _descendants(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            pending += children
    return found


def percentile(values: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile (0.5 = median); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))]


READ_KINDS = ("model", "neurons", "predict")  # what the page asks for while a run trains


@dataclass
class ReadStats:
    """One kind of read the page makes of its run (frontend/js/live-polls.js)."""

    sent: int = 0
    latency_s: list[float] = field(default_factory=list)  # one per answer with the data
    # reads that failed, by HTTP status ("409", "500") or "connection <error>": each one a read
    # of a live run the page needed and did not get
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    # 409s for a run that ended, or that its learner left, while the read was on its way: the
    # page expects these
    refused_after_end: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.sent,
            "p50_s": percentile(self.latency_s, 0.5),
            "p95_s": percentile(self.latency_s, 0.95),
            "errors": dict(self.errors),
            "refused_after_end": self.refused_after_end,
        }


MIN_TRAINING_S = 3.0  # a wall tile watched for less than this is too short to give a rate


@dataclass
class Tile:
    """What the wall showed of one learner: when its content changed while they trained."""

    changes: int = 0
    training_s: float = 0.0
    last: tuple[Any, ...] | None = None


@dataclass
class RoomStats:
    """The room's side of a load report: joining, the wall's frames and its tiles."""

    code: str = ""
    joined: int = 0
    wall_frames: int = 0
    wall_seconds: float = 0.0
    wall_gaps_s: list[float] = field(default_factory=list)  # between consecutive frames
    tiles: dict[str, Tile] = field(default_factory=dict)  # by learner id
    run_posted: dict[str, float] = field(default_factory=dict)  # run id → when it was created
    run_shown_s: list[float] = field(default_factory=list)  # created → first on its tile

    def tile_rates(self) -> list[float]:
        """Changes per second of each tile whose learner trained long enough to tell."""
        return [
            tile.changes / tile.training_s
            for tile in self.tiles.values()
            if tile.training_s >= MIN_TRAINING_S
        ]

    def to_dict(self) -> dict[str, Any]:
        rates = self.tile_rates()
        return {
            "code": self.code,
            "joined": self.joined,
            "wall_frames_per_s": self.wall_frames / self.wall_seconds
            if self.wall_seconds
            else None,
            "wall_gap_s": {
                "p95": percentile(self.wall_gaps_s, 0.95),
                "max": max(self.wall_gaps_s, default=None),
            },
            "tile_updates_per_s": {
                "min": min(rates, default=None),
                "p5": percentile(rates, 0.05),
                "median": percentile(rates, 0.5),
                "tiles": len(rates),
            },
            "run_to_tile_s": {
                "p50": percentile(self.run_shown_s, 0.5),
                "p95": percentile(self.run_shown_s, 0.95),
                "runs": len(self.run_shown_s),
            },
        }

    def rows(self) -> list[tuple[str, str]]:
        """The report's lines about the room."""
        rates = self.tile_rates()
        wall = self.to_dict()
        frames = wall["wall_frames_per_s"]
        gap = wall["wall_gap_s"]["max"]
        shown = self.run_shown_s
        return [
            ("room", f"{self.code}: {self.joined} learners joined"),
            (
                "wall frames / s",
                f"{frames:.2f}, longest gap {gap:.2f} s" if frames and gap else "no frame",
            ),
            (
                "wall tile updates / s",
                f"per training tile: min {min(rates):.2f}, p5 {percentile(rates, 0.05):.2f}, "
                f"median {percentile(rates, 0.5):.2f} ({len(rates)} tiles)"
                if rates
                else "no tile trained long enough to tell",
            ),
            (
                "run → its tile",
                f"p50 {percentile(shown, 0.5) or 0:.2f} s, "
                f"p95 {percentile(shown, 0.95) or 0:.2f} s ({len(shown)} runs)"
                if shown
                else "no run reached the wall",
            ),
        ]


@dataclass
class LoadReport:
    """Filled in by the learners as they go; read once they have all stopped."""

    url: str
    clients: int
    seconds: float
    runs_created: int = 0
    runs_ended: collections.Counter[str] = field(default_factory=collections.Counter)
    metrics_frames_per_s: list[float] = field(default_factory=list)  # one per learner
    grid_frames_per_s: list[float] = field(default_factory=list)
    first_frame_s: list[float] = field(default_factory=list)  # one per run that showed progress
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    reads: dict[str, ReadStats] = field(
        default_factory=lambda: {kind: ReadStats() for kind in READ_KINDS}
    )
    requests: int = 0
    retried: int = 0  # requests sent again after the server closed a kept-alive connection
    memory_before: ServerMemory | None = None
    memory_peak: ServerMemory | None = None
    memory_after: ServerMemory | None = None
    steps_per_s_peak: float | None = None
    room: RoomStats | None = None  # `layerlab load --room`: the room and its wall

    @property
    def server_errors(self) -> int:
        """Answers that mean the server failed: a 5xx, no connection, an abnormal websocket
        close, a stream that did not end after its run was cancelled, a run the server lost
        (failed or interrupted), or a failed read of a live run (a 409 there means its worker
        no longer holds it)."""
        failed = (
            "http 5",
            "connection",
            "ws no final",
            *(f"ws close {c}" for c in ABNORMAL_CLOSES),
        )
        failed_reads = sum(read.errors.total() for read in self.reads.values())
        return (
            sum(self.runs_ended[status] for status in LOST_RUNS)
            + failed_reads
            + sum(count for kind, count in self.errors.items() if kind.startswith(failed))
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values: the counts, and each distribution with its percentiles."""
        plain = {
            name: getattr(self, name)
            for name in ("url", "clients", "seconds", "runs_created", "requests", "retried")
        }
        memory = {
            f"memory_{when}": asdict(value) if value else None
            for when, value in (
                ("before", self.memory_before),
                ("peak", self.memory_peak),
                ("after", self.memory_after),
            )
        }
        return {
            **plain,
            "runs_ended": dict(self.runs_ended),
            "metrics_frames_per_s": _spread(self.metrics_frames_per_s),
            "grid_frames_per_s": _spread(self.grid_frames_per_s),
            "first_frame_s": {
                "p50": percentile(self.first_frame_s, 0.5),
                "p95": percentile(self.first_frame_s, 0.95),
                "runs": len(self.first_frame_s),
            },
            "reads": {kind: read.to_dict() for kind, read in self.reads.items()},
            "errors": dict(self.errors),
            "server_errors": self.server_errors,
            "steps_per_s_peak": self.steps_per_s_peak,
            **memory,
            "room": self.room.to_dict() if self.room else None,
        }


def _spread(per_viewer: list[float]) -> dict[str, Any]:
    return {
        "min": min(per_viewer, default=None),
        "p5": percentile(per_viewer, 0.05),
        "median": percentile(per_viewer, 0.5),
        "per_viewer": [round(value, 3) for value in per_viewer],
    }


def format_report(report: LoadReport) -> str:
    """The report as a table a person reads."""
    ended = report.runs_ended
    others = ", ".join(f"{status} {count}" for status, count in sorted(ended.items())
                       if status not in ("done", "cancelled"))  # fmt: skip
    rows = [
        ("learners", f"{report.clients} for {report.seconds:g} s against {report.url}"),
        ("runs", f"created {report.runs_created}, completed {ended['done']}, "
                 f"cancelled {ended['cancelled']}" + (f", {others}" if others else "")),
        ("requests", f"{report.requests:,} HTTP, {report.retried} sent again on a new "
                     "connection (the server had closed the idle one)"),
        ("metrics frames / s", _per_viewer(report.metrics_frames_per_s)),
        ("grid frames / s", _per_viewer(report.grid_frames_per_s)),
        ("POST → first frame", _latency(report.first_frame_s)),
        *((f"{kind} reads", _reads(read)) for kind, read in report.reads.items()),
        ("errors", ", ".join(f"{kind}: {n}" for kind, n in report.errors.most_common()) or "none"),
    ]  # fmt: skip
    if report.room is not None:
        rows += report.room.rows()
    if report.steps_per_s_peak is not None:
        rows.append(("server steps / s", f"{report.steps_per_s_peak:,.0f} at the busiest"))
    for name, memory in (
        ("memory before", report.memory_before),
        ("memory peak", report.memory_peak),
        ("memory after", report.memory_after),
    ):
        if memory is not None:
            rows.append((name, memory.describe()))
    width = max(len(name) for name, _ in rows) + 2
    return "\n".join(f"{name:<{width}}{text}" for name, text in rows)


def _per_viewer(rates: list[float]) -> str:
    if not rates:
        return "no viewer"
    return (
        f"per viewer: min {min(rates):.1f}, p5 {percentile(rates, 0.05):.1f}, "
        f"median {percentile(rates, 0.5):.1f} "
        f"({len(rates)} viewers)"
    )


def _reads(read: ReadStats) -> str:
    if not read.sent:
        return "none"
    p50, p95 = percentile(read.latency_s, 0.5) or 0.0, percentile(read.latency_s, 0.95) or 0.0
    timing = f"p50 {p50 * 1000:,.0f} ms, p95 {p95 * 1000:,.0f} ms" if read.latency_s else "no data"
    failed = ", ".join(f"{status}: {n}" for status, n in sorted(read.errors.items())) or "none"
    ended = f", {read.refused_after_end} refused as the run ended" if read.refused_after_end else ""
    return f"{read.sent:,} sent, {timing}, failed {failed}{ended}"


def _latency(seconds: list[float]) -> str:
    if not seconds:
        return "no run showed progress"
    p50, p95 = percentile(seconds, 0.5) or 0.0, percentile(seconds, 0.95) or 0.0
    return f"p50 {p50 * 1000:,.0f} ms, p95 {p95 * 1000:,.0f} ms ({len(seconds)} runs)"
