"""What a teacher's room shows, read: who is in it, each learner's runs as they stand, the
leaderboard, the wall's frame and the results.

`RoomReads` holds the rooms' state beside the store (who was seen when, the tiles' grids, the
wall's last frame) and answers every read the routes make; `Rooms` (rooms.py) is these reads plus
what changes a room. A learner's runs are read live from the hub while they train, and from the
room's own record of them once they have ended, which it brings up to date as it reads.
The reads (about 380 lines) stay in one class: they share that state, which splitting them would
hand between modules.
"""

import hmac
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from layerlab.core.grids import Grid, decode_grid
from layerlab.core.room_rules import meets, normalized_code, rank_key, ranking_metric
from layerlab.core.strict_json import finite
from layerlab.core.training import FINAL_STATUSES
from layerlab.engine.scheduler import Scheduler
from layerlab.engine.store import LearnerRecord, RoomRecord, RoomRunRecord
from layerlab.engine.tokens import hash_token, token_matches

PRESENT_S = 30.0  # a learner's page reads its room every 2 s: gone after this long without
METRICS_WRITE_S = 5.0  # a live run's metrics reach the store at most this often
WALL_REUSE_S = 0.1  # walls of one room that ask within this share one frame
LOSS_POINTS = 60  # a tile's sparkline
WALL_GRID_CELLS = 32  # a tile's boundary, per side at most
METRIC_KEYS = ("train_loss", "test_loss", "train_acc", "test_acc", "train_rmse", "test_rmse")
# The results table's columns: the learner, their best run's spec and size, then its metrics.
RESULT_SPEC_FIELDS = (
    "activation", "optimizer", "learning_rate", "batch_size", "epochs", "regularization",
    "regularization_rate", "features",
)  # fmt: skip
RESULT_COLUMNS = (
    "name", "joined_at", "left_at", "run_id", "depth", "hidden_widths", *RESULT_SPEC_FIELDS,
    "parameters", "epoch", "train_loss", "test_loss",
)  # fmt: skip
# A run's status as the wall says it; every other final status is "finished".
TILE_STATUSES = {
    "queued": "waiting",
    "running": "training",
    "paused": "paused",
    "diverged": "diverged",
}


@dataclass
class RunState:
    """A learner's run as it stands: live from the hub, else as the room recorded it."""

    record: RoomRunRecord
    status: str
    epoch: float | None
    metrics: dict[str, Any] | None
    met: bool


def tile_status(run_status: str) -> str:
    """The wall's word for a run's status: training, paused, waiting, diverged or finished."""
    return TILE_STATUSES.get(run_status, "finished")


def small_grid(frame: dict[str, Any], cells: int = WALL_GRID_CELLS) -> dict[str, Any]:
    """A grid frame of at most `cells` × `cells`, every kept cell as it was, in the same
    encoding (a tile is a few centimetres wide: 64×64 would be wasted bytes)."""
    ny, nx = frame["shape"]
    if ny <= cells and nx <= cells:
        return frame
    values, classes = decode_grid(frame)
    rows = np.linspace(0, ny - 1, min(ny, cells)).round().astype(int)
    columns = np.linspace(0, nx - 1, min(nx, cells)).round().astype(int)
    kept = np.ix_(rows, columns)
    x0, x1, y0, y1 = frame["extent"]
    small = Grid(
        frame["step"],
        (x0, x1, y0, y1),
        frame["kind"],
        values[kept],
        None if classes is None else classes[kept],
    )
    return small.encode()


class RoomReads:
    """The rooms' state beside the store, and every read of a room."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.store = scheduler.store
        self.settings = scheduler.settings
        self.seen: dict[str, float] = {}  # learner id → when their page last read the room
        self._written: dict[str, float] = {}  # run id → when its metrics were last stored
        self._grids: dict[str, tuple[int, dict[str, Any]]] = {}  # run id → (step, small grid)
        self._ended: dict[str, tuple[list[Any], dict[str, Any] | None]] = {}  # loss, grid
        self._walls: dict[str, tuple[float, int, dict[str, Any]]] = {}  # room → its last frame

    def room(self, code: str) -> RoomRecord | None:
        """The open room of this code (any case), or None."""
        found = normalized_code(code)
        record = self.store.get_room(found) if found else None
        if record is not None and record.expires_at <= time.time():
            return None  # past its TTL: the next tending closes it
        return record

    def is_teacher(self, record: RoomRecord, token: str) -> bool:
        """Whether `token` is the room's teacher token or the server's admin token."""
        return token_matches(token, record.token_hash, self.settings.admin_token)

    def is_admin(self, token: str) -> bool:
        """Whether `token` is the server's admin token (which opens rooms where one is set)."""
        return token_matches(token, None, self.settings.admin_token)

    def learner_of(self, record: RoomRecord, token: str) -> LearnerRecord | None:
        """The learner of the room (not left) whose token this is, or None."""
        hashed = hash_token(token)
        for learner in self.store.room_learners(record.code):
            if learner.left_at is None and hmac.compare_digest(hashed, learner.token_hash):
                return learner
        return None

    def learner(self, record: RoomRecord, learner_id: str) -> LearnerRecord | None:
        learners = self.store.room_learners(record.code)
        return next((learner for learner in learners if learner.id == learner_id), None)

    def you(self, record: RoomRecord, token: str | None) -> dict[str, Any] | None:
        """Who `token` is in the room; a learner reading it counts as present."""
        if not token:
            return None
        if self.is_teacher(record, token):
            return {"role": "teacher"}
        learner = self.learner_of(record, token)
        if learner is None:
            return None
        self.seen[learner.id] = time.time()
        return {"role": "learner", "id": learner.id, "name": learner.name}

    def public(self, record: RoomRecord, you: dict[str, Any] | None = None) -> dict[str, Any]:
        learners = self.store.room_learners(record.code)
        code = record.code
        return {
            "code": code,
            "title": record.title,
            "setup": record.setup,
            "challenge": record.challenge,
            "frozen": record.frozen,
            "learners": sum(learner.left_at is None for learner in learners),
            "max_learners": self.settings.max_learners_per_room,
            "version": record.version,
            "created_at": record.created_at,
            "expires_at": record.expires_at,
            "you": you,
            "links": {
                "self": f"/api/rooms/{code}",
                "join": f"/#room={code}",
                "wall": f"/wall.html#room={code}",
                "qr": f"/api/rooms/{code}/qr.svg",
                "leaderboard": f"/api/rooms/{code}/leaderboard",
                "results": f"/api/rooms/{code}/results.csv",
                "stream": f"/ws/rooms/{code}",
            },
        }

    def counts(self) -> tuple[int, int]:
        """(open rooms, learners in them who have not left), for GET /metrics."""
        rooms = self.store.list_rooms()
        learners = sum(
            learner.left_at is None
            for room in rooms
            for learner in self.store.room_learners(room.code)
        )
        return len(rooms), learners

    # --- each learner's runs, the leaderboard, the wall and the results -------------------------

    def states(self, record: RoomRecord) -> dict[str, list[RunState]]:
        """Each learner's runs as they stand, oldest first; what changed reaches the store
        (a status or a first 'met' at once, metrics every METRICS_WRITE_S)."""
        now = time.time()
        by_learner: dict[str, list[RunState]] = {}
        for run in self.store.room_runs(record.code):
            by_learner.setdefault(run.learner_id, []).append(self._state(record, run, now))
        return by_learner

    def _state(self, record: RoomRecord, run: RoomRunRecord, now: float) -> RunState:
        channel = self.scheduler.hub.channels.get(run.run_id)
        if channel is not None:  # live: its latest point, or its final metrics
            point = channel.history[-1] if channel.history else None
            source = channel.run.get("final_metrics") or point
            status = channel.run["status"]
        elif run.status not in FINAL_STATUSES:  # ended since the room last looked
            found = self.scheduler.latest(run.run_id)
            view, point = found if found is not None else ({"status": "cancelled"}, None)
            source = view.get("final_metrics") or point
            status = view["status"] if view["status"] in FINAL_STATUSES else "interrupted"
        else:
            source, status = run.metrics, run.status
        # a diverging run's NaN is no number to rank or show (JSON has none): None, as at its end
        metrics = (
            finite({k: source[k] for k in METRIC_KEYS if k in source}) if source else run.metrics
        )
        epoch = source.get("epoch", run.epoch) if source else run.epoch
        met = meets(record.challenge, metrics, run.spec["hidden_widths"], run.parameters)
        changes: dict[str, Any] = {}
        if status != run.status:
            changes["status"] = status
        if met and run.met_at is None:
            changes["met_at"] = run.met_at = now
        stale = now - self._written.get(run.run_id, 0.0) >= METRICS_WRITE_S
        if metrics != run.metrics and (changes or stale or status in FINAL_STATUSES):
            changes |= {"metrics": metrics, "epoch": epoch}
        if changes:
            self.store.update_room_run(run.run_id, **changes)
            self._written[run.run_id] = now
            run.status, run.metrics, run.epoch = status, metrics, epoch
        return RunState(run, status, epoch, metrics, met)

    def _sparkline_and_grid(self, run_id: str) -> tuple[list[Any], dict[str, Any] | None]:
        """A tile's recent train losses and its small grid: live from the hub, else those the
        run ended with."""
        channel = self.scheduler.hub.channels.get(run_id)
        if channel is None:
            return self._ended_parts(run_id)
        loss = [point.get("train_loss") for point in channel.history[-LOSS_POINTS:]]
        return loss, self._small(run_id, channel.grid)

    def _small(self, run_id: str, grid: dict[str, Any] | None) -> dict[str, Any] | None:
        """The run's grid at tile size, made once per step."""
        if grid is None:
            return None
        cached = self._grids.get(run_id)
        if cached is None or cached[0] != grid["step"]:
            cached = (grid["step"], small_grid(grid))
            self._grids[run_id] = cached
        return cached[1]

    def _ended_parts(self, run_id: str) -> tuple[list[Any], dict[str, Any] | None]:
        """An ended run's sparkline and tile grid, read from the store once (none when the
        run itself has been deleted)."""
        parts = self._ended.get(run_id)
        if parts is None:
            stored = self.store.get_run(run_id)
            if stored is None:
                parts = ([], None)
            else:
                loss = [p.get("train_loss") for p in stored.history[-LOSS_POINTS:]]
                parts = (loss, small_grid(stored.grid) if stored.grid else None)
            self._ended[run_id] = parts
        return parts

    def leaderboard(
        self, record: RoomRecord, states: dict[str, list[RunState]] | None = None
    ) -> dict[str, Any]:
        """Each learner's best run, best first: met first, then by the metric, then fewer
        parameters, then name. Never a token."""
        states = self.states(record) if states is None else states
        metric = ranking_metric(record.challenge, record.task)

        def key(state: RunState) -> tuple[bool, float, float]:
            return rank_key(metric, state.met, state.metrics, state.record.parameters)

        ranked = []
        for learner in self.store.room_learners(record.code):
            runs = states.get(learner.id, [])
            best = min(runs, key=key) if runs else None
            ranked.append((key(best) if best else (True, np.inf, np.inf), learner, best))
        ranked.sort(key=lambda item: (item[0], item[1].name_key))
        entries = []
        for rank, (_, learner, best) in enumerate(ranked, start=1):
            entry: dict[str, Any] = {"rank": rank, "learner_id": learner.id, "name": learner.name}
            if best is None:
                entry |= {"status": "waiting", "run_id": None, "metric": None, "met": False}
                entry |= dict.fromkeys(("met_at", "parameters", "hidden_widths", "activation"))
                entry["epoch"] = None
            else:
                value = (best.metrics or {}).get(metric)
                entry |= {
                    "status": tile_status(best.status),
                    "run_id": best.record.run_id,
                    "metric": value,
                    "met": best.met,
                    "met_at": best.record.met_at if best.met else None,
                    "parameters": best.record.parameters,
                    "hidden_widths": best.record.spec["hidden_widths"],
                    "activation": best.record.spec["activation"],
                    "epoch": best.epoch,
                }
            if learner.left_at is not None:
                entry["status"] = "left"
            entries.append(entry)
        return {"challenge": record.challenge, "metric": metric, "entries": entries}

    def wall_frame(self, record: RoomRecord) -> dict[str, Any]:
        """The wall's frame: the room, one tile per learner (their latest run), the
        leaderboard. Walls of one room asking at once share it."""
        cached = self._walls.get(record.code)
        if cached and time.monotonic() - cached[0] < WALL_REUSE_S and cached[1] == record.version:
            return cached[2]
        states = self.states(record)
        now = time.time()
        tiles = []
        for learner in self.store.room_learners(record.code):
            latest = states[learner.id][-1] if learner.id in states else None
            tile: dict[str, Any] = {
                "id": learner.id,
                "name": learner.name,
                "joined_at": learner.joined_at,
                "present": now - self.seen.get(learner.id, 0.0) <= PRESENT_S,
                "left": learner.left_at is not None,
                "status": "waiting" if latest is None else tile_status(latest.status),
                "run_id": None,
                "epoch": None,
                "parameters": None,
                "hidden_widths": None,
                "activation": None,
                "metrics": None,
                "loss": [],
                "grid": None,
                "met": False,
            }
            if latest is not None:
                loss, grid = self._sparkline_and_grid(latest.record.run_id)
                tile |= {
                    "run_id": latest.record.run_id,
                    "epoch": latest.epoch,
                    "parameters": latest.record.parameters,
                    "hidden_widths": latest.record.spec["hidden_widths"],
                    "activation": latest.record.spec["activation"],
                    "metrics": latest.metrics,
                    "loss": loss,
                    "grid": grid,
                    "met": latest.met,
                }
            if tile["left"]:
                tile["status"] = "left"
            tiles.append(tile)
        room = self.public(record)
        del room["you"]
        frame = {
            "type": "room",
            "room": room,
            "learners": tiles,
            "leaderboard": self.leaderboard(record, states)["entries"],
        }
        self._walls[record.code] = (time.monotonic(), record.version, frame)
        return frame

    def results(self, record: RoomRecord) -> tuple[list[str], list[dict[str, Any]]]:
        """The results table: its columns, and one row per learner (those without a run too)
        with their best run's spec, size and metrics, and whether and when it met the
        challenge."""
        score = "rmse" if record.task == "regression" else "acc"
        columns = [*RESULT_COLUMNS, f"train_{score}", f"test_{score}", "met", "met_at"]
        states = self.states(record)
        board = {e["learner_id"]: e for e in self.leaderboard(record, states)["entries"]}
        rows = []
        for learner in self.store.room_learners(record.code):
            entry = board[learner.id]
            runs = states.get(learner.id, [])
            best = next((s for s in runs if s.record.run_id == entry["run_id"]), None)
            spec = best.record.spec if best else {}
            metrics = (best.metrics if best else None) or {}
            widths = spec.get("hidden_widths")
            row = {
                "name": learner.name,
                "joined_at": learner.joined_at,
                "left_at": learner.left_at,
                "run_id": entry["run_id"],
                "depth": None if widths is None else len(widths),
                "hidden_widths": widths,
                **{field: spec.get(field) for field in RESULT_SPEC_FIELDS},
                "parameters": entry["parameters"],
                "epoch": entry["epoch"],
                **{key: metrics.get(key) for key in columns if key in METRIC_KEYS},
                "met": entry["met"],
                "met_at": entry["met_at"],
            }
            rows.append({column: row[column] for column in columns})
        return columns, rows
