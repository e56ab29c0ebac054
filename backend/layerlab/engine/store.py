"""The SQLite store of runs, their weights and checkpoints, sweeps, teachers' rooms, and
uploaded CSV datasets.

One schema and the queries on it, behind one connection and one lock: about 630 lines, kept
whole so that every statement that touches a table sits beside its definition.
"""

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one server per database is up to its user
    fcntl = None  # type: ignore[assignment]

SCHEMA_VERSION = 1
# The non-final members of core.training.RunStatus, kept literal so the store needs no torch.
ACTIVE_STATUSES = ("queued", "running", "paused")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, client TEXT NOT NULL, token_hash TEXT NOT NULL, spec TEXT NOT NULL,
    status TEXT NOT NULL, error TEXT,
    created_at REAL NOT NULL, started_at REAL, finished_at REAL,
    final_metrics TEXT, history TEXT NOT NULL, model_info TEXT, grid TEXT
);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status);
CREATE INDEX IF NOT EXISTS runs_created_at ON runs (created_at);
CREATE TABLE IF NOT EXISTS weights (run_id TEXT PRIMARY KEY, blob BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (
    run_id TEXT PRIMARY KEY, step INTEGER NOT NULL, state BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, text TEXT NOT NULL, info TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS datasets_created_at ON datasets (created_at);
CREATE TABLE IF NOT EXISTS sweeps (
    id TEXT PRIMARY KEY, client TEXT NOT NULL, token_hash TEXT NOT NULL, base TEXT NOT NULL,
    task TEXT NOT NULL, depths TEXT NOT NULL, widths TEXT NOT NULL, cells TEXT NOT NULL,
    status TEXT NOT NULL, created_at REAL NOT NULL, finished_at REAL
);
CREATE INDEX IF NOT EXISTS sweeps_status ON sweeps (status);
CREATE INDEX IF NOT EXISTS sweeps_created_at ON sweeps (created_at);
CREATE TABLE IF NOT EXISTS rooms (
    code TEXT PRIMARY KEY, title TEXT, token_hash TEXT NOT NULL, setup TEXT NOT NULL,
    challenge TEXT, task TEXT NOT NULL, frozen INTEGER NOT NULL, version INTEGER NOT NULL,
    created_at REAL NOT NULL, expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS learners (
    id TEXT PRIMARY KEY, room TEXT NOT NULL, name TEXT NOT NULL, name_key TEXT NOT NULL,
    token_hash TEXT NOT NULL, joined_at REAL NOT NULL, left_at REAL
);
CREATE INDEX IF NOT EXISTS learners_room ON learners (room, joined_at);
CREATE TABLE IF NOT EXISTS room_runs (
    run_id TEXT PRIMARY KEY, room TEXT NOT NULL, learner_id TEXT NOT NULL, spec TEXT NOT NULL,
    parameters INTEGER, status TEXT NOT NULL, epoch REAL, metrics TEXT, met_at REAL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS room_runs_room ON room_runs (room, created_at);
"""

_JSON_FIELDS = ("spec", "final_metrics", "history", "model_info", "grid")
# `spec` changes only in its pace (epochs_per_s), which a learner may change while it trains.
_UPDATABLE = (
    "status", "error", "started_at", "finished_at", "final_metrics", "history", "model_info",
    "grid", "spec",
)  # fmt: skip
# Everything but history and grid, which only get_run loads.
_SUMMARY_COLUMNS = (
    "id, client, token_hash, spec, status, error, created_at, started_at, finished_at, "
    "final_metrics, model_info, "
    "EXISTS (SELECT 1 FROM weights WHERE weights.run_id = runs.id) AS has_weights"
)
_ACTIVE_PLACEHOLDERS = ", ".join("?" for _ in ACTIVE_STATUSES)
_DATASET_META_KEYS = ("id", "name", "created_at")


@dataclass
class RunRecord:
    """One run as stored; `has_weights` is computed by the store and ignored by `add_run`."""

    id: str
    client: str  # who created it (an IP address or similar), for per-client limits
    token_hash: str  # sha256 hex of the owner token; the store never sees the token
    spec: dict[str, Any]
    status: str = "queued"
    error: str | None = None
    created_at: float = 0.0  # unix seconds
    started_at: float | None = None
    finished_at: float | None = None
    final_metrics: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)  # metric points, with "step"
    model_info: dict[str, Any] | None = None
    grid: dict[str, Any] | None = None  # the latest encoded grid frame
    has_weights: bool = False


@dataclass
class SweepRecord:
    """One sweep as stored: its axes and, for each cell, the run that trains it."""

    id: str
    client: str
    token_hash: str
    base: dict[str, Any]  # the RunSpec every run starts from
    task: str  # binary, multiclass or regression: which metrics its cells hold
    depths: list[int]
    widths: list[int]
    cells: list[dict[str, Any]]  # {"depth", "width", "hidden_widths", "run_id", "parameters"}
    status: str = "running"  # running, then done or cancelled
    created_at: float = 0.0
    finished_at: float | None = None


@dataclass
class RoomRecord:
    """A teacher's room: its setup, challenge and state; learners and their runs apart."""

    code: str
    title: str | None
    token_hash: str  # the teacher token's
    setup: dict[str, Any]  # {"spec", "locked", "lesson"}
    challenge: dict[str, Any] | None
    task: str  # the setup's data: binary, multiclass or regression
    frozen: bool = False
    version: int = 1  # bumps on every change of setup, challenge or frozen
    created_at: float = 0.0
    expires_at: float = 0.0


@dataclass
class LearnerRecord:
    id: str
    room: str
    name: str
    name_key: str  # NFKC + casefold: unique among the room's learners who have not left
    token_hash: str
    joined_at: float
    left_at: float | None = None


@dataclass
class RoomRunRecord:
    """A learner's run in a room, with what its results need once the run itself is gone."""

    run_id: str
    room: str
    learner_id: str
    spec: dict[str, Any]
    parameters: int | None
    status: str = "queued"
    epoch: float | None = None
    metrics: dict[str, Any] | None = None  # latest, then final
    met_at: float | None = None  # when it first met the room's challenge
    created_at: float = 0.0


_ROOM_JSON = ("setup", "challenge")
_ROOM_RUN_JSON = ("spec", "metrics")
_ROOM_UPDATABLE = ("title", "setup", "challenge", "task", "frozen", "version")
_ROOM_RUN_UPDATABLE = ("status", "epoch", "metrics", "met_at")


def _room(row: sqlite3.Row) -> RoomRecord:
    values = dict(row)
    for name in _ROOM_JSON:
        values[name] = _loads(values[name])
    values["frozen"] = bool(values["frozen"])
    return RoomRecord(**values)


def _room_run(row: sqlite3.Row) -> RoomRunRecord:
    values = dict(row)
    values["spec"], values["metrics"] = json.loads(values["spec"]), _loads(values["metrics"])
    return RoomRunRecord(**values)


def _as_stored(values: dict[str, Any], json_fields: tuple[str, ...]) -> dict[str, Any]:
    """Values as their columns hold them: the JSON fields as JSON text (json.dumps writes a
    diverged loss's NaN, which json.loads reads back), None left NULL."""
    return {
        name: json.dumps(value) if name in json_fields and value is not None else value
        for name, value in values.items()
    }


def _insert(table: str, values: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """The statement and parameters that add a row of `values` (column names our own)."""
    placeholders = ", ".join("?" for _ in values)
    return f"INSERT INTO {table} ({', '.join(values)}) VALUES ({placeholders})", tuple(
        values.values()
    )


def _update(
    table: str,
    key: tuple[str, str],
    fields: dict[str, Any],
    updatable: tuple[str, ...],
) -> tuple[str, tuple[Any, ...]]:
    """The statement and parameters that set `fields` (as stored) of the row whose `key`
    (column, value) names it. ValueError for a field not `updatable`: column names come from
    those lists, never from a caller's text."""
    for name in fields:
        if name not in updatable:
            raise ValueError(f"unknown field {name!r} of {table}; expected one of {updatable}")
    assignments = ", ".join(f"{name} = ?" for name in fields)
    column, value = key
    return f"UPDATE {table} SET {assignments} WHERE {column} = ?", (*fields.values(), value)


_SWEEP_JSON = ("base", "depths", "widths", "cells")


def _sweep(row: sqlite3.Row) -> SweepRecord:
    values = dict(row)
    for name in _SWEEP_JSON:
        values[name] = json.loads(values[name])
    return SweepRecord(**values)


def downsample(points: list[dict[str, Any]], max_points: int) -> list[dict[str, Any]]:
    """At most max_points points spread evenly over the run, always keeping first and last."""
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2 to keep first and last, got {max_points}")
    n = len(points)
    if n <= max_points:
        return list(points)
    gaps = max_points - 1
    # i·(n−1)/gaps rounded in integers: distinct indices from 0 to n−1, no float drift.
    return [points[(i * (n - 1) + gaps // 2) // gaps] for i in range(max_points)]


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _record(row: sqlite3.Row) -> RunRecord:
    values = dict(row)
    for name in _JSON_FIELDS:
        if name in values:
            values[name] = _loads(values[name])
    values["has_weights"] = bool(values["has_weights"])
    return RunRecord(**values)


def _dataset_meta(row: sqlite3.Row) -> dict[str, Any]:
    meta = {"id": row["id"], "name": row["name"], "created_at": row["created_at"]}
    return meta | json.loads(row["info"])


class DatabaseDamaged(RuntimeError):
    """The database file is corrupt: no retry mends it; its operator must."""

    def __init__(self, path: str, error: sqlite3.DatabaseError) -> None:
        found = "; ".join(str(error).splitlines())  # quick_check's findings come one a line
        super().__init__(
            f"the database {path} (LAYERLAB_DATABASE) is damaged ({found}): stop the server, "
            f"move the file aside with its -wal and -shm files (or restore a backup) and start "
            f"again for an empty one; `sqlite3 {path} .recover` may save what it holds"
        )


def _is_damage(error: sqlite3.DatabaseError) -> bool:
    name = getattr(error, "sqlite_errorname", "")  # Python 3.11+
    if name:
        return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))
    return str(error) in ("file is not a database", "database disk image is malformed")


class DatabaseInUse(RuntimeError):
    """Another server holds the database: starting beside it would mark its runs interrupted."""


def claim_database(path: str) -> IO[str] | None:
    """Hold `<path>.lock` for as long as the returned file stays open (None for ':memory:').

    A server marks the runs it finds active as interrupted when it starts, which is right after
    a crash and wrong while another server is still training them.
    """
    if path == ":memory:" or fcntl is None:
        return None
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handle = open(f"{path}.lock", "a+")  # noqa: SIM115 (held open on purpose)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "unknown"
        handle.close()
        raise DatabaseInUse(
            f"another LayerLab server (pid {owner}) is using the database {path}; stop it, "
            "or give this server its own file with LAYERLAB_DATABASE"
        ) from None
    handle.truncate(0)
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


class Store:
    """Runs, weights and datasets in one SQLite database; safe to call from several threads."""

    def __init__(self, path: str, max_history_points: int = 500) -> None:
        if max_history_points < 2:
            raise ValueError(f"max_history_points must be at least 2, got {max_history_points}")
        self.path = path
        self.max_history_points = max_history_points
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        with self._damage_named():
            self._open()

    def _open(self) -> None:
        if self.path != ":memory:":
            # WAL lets a reader of the file (a backup, the CLI) proceed while the server writes.
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            self._conn.close()
            raise RuntimeError(
                f"the store at {self.path} has schema version {version}; "
                f"this LayerLab reads version {SCHEMA_VERSION} at most"
            )
        self._conn.executescript(_SCHEMA)
        self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def check(self) -> None:
        """Raise DatabaseDamaged unless SQLite finds every page of the file sound: a server
        that starts on a damaged file would fail one request in some, later, at random."""
        found = [row[0] for row in self._read("PRAGMA quick_check(3)")]
        if found != ["ok"]:
            raise DatabaseDamaged(self.path, sqlite3.DatabaseError("; ".join(found)))

    @contextlib.contextmanager
    def _damage_named(self) -> Iterator[None]:
        """SQLite's words for a damaged file become DatabaseDamaged, which names the file and
        what to do; every other error passes as it is."""
        try:
            yield
        except sqlite3.DatabaseError as error:
            if not _is_damage(error):
                raise
            raise DatabaseDamaged(self.path, error) from error

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection, for statements that commit together or roll back together."""
        with self._lock, self._damage_named(), self._conn:
            yield self._conn

    def _write(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self._transaction() as conn:
            return conn.execute(sql, params)

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock, self._damage_named():
            return self._conn.execute(sql, params).fetchall()

    def _columns(self, values: dict[str, Any]) -> dict[str, Any]:
        """Field values as stored: history downsampled, JSON fields as text."""
        stored = dict(values)
        if "history" in stored:
            stored["history"] = downsample(stored["history"] or [], self.max_history_points)
        return _as_stored(stored, _JSON_FIELDS)

    # runs

    def add_run(self, record: RunRecord) -> None:
        """Insert a new run (history downsampled); a duplicate id raises sqlite3.IntegrityError."""
        values = asdict(record)
        del values["has_weights"]
        self._write(*_insert("runs", self._columns(values)))

    def update_run(self, run_id: str, **fields: Any) -> None:
        """Set the named fields, history downsampled; a run deleted meanwhile is left alone."""
        if fields:
            self._write(*_update("runs", ("id", run_id), self._columns(fields), _UPDATABLE))

    def get_run(self, run_id: str) -> RunRecord | None:
        sql = f"SELECT {_SUMMARY_COLUMNS}, history, grid FROM runs WHERE id = ?"
        rows = self._read(sql, (run_id,))
        return _record(rows[0]) if rows else None

    def list_runs(
        self,
        *,
        limit: int = 50,
        offset: int = 0,
        status: str | None = None,
        client: str | None = None,
    ) -> list[RunRecord]:
        """Newest first; history and grid are left empty to keep listing cheap."""
        rows = self._read(
            f"SELECT {_SUMMARY_COLUMNS} FROM runs"
            " WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR client = ?2)"
            " ORDER BY created_at DESC, id LIMIT ?3 OFFSET ?4",
            (status, client, limit, offset),
        )
        return [_record(row) for row in rows]

    def count_runs(self, *, status: str | None = None) -> int:
        rows = self._read("SELECT COUNT(*) FROM runs WHERE ?1 IS NULL OR status = ?1", (status,))
        return int(rows[0][0])

    def delete_run(self, run_id: str) -> bool:
        """Remove the run, its weights and checkpoint; True when it existed."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM weights WHERE run_id = ?", (run_id,))
            conn.execute("DELETE FROM checkpoints WHERE run_id = ?", (run_id,))
            return conn.execute("DELETE FROM runs WHERE id = ?", (run_id,)).rowcount > 0

    def mark_interrupted(self, error: str, now: float) -> list[str]:
        """Every queued, running or paused run becomes "interrupted"; returns their ids."""
        where = f"WHERE status IN ({_ACTIVE_PLACEHOLDERS})"
        with self._transaction() as conn:
            sql = f"SELECT id FROM runs {where} ORDER BY created_at, id"
            ids = [row["id"] for row in conn.execute(sql, ACTIVE_STATUSES)]
            conn.execute(
                f"UPDATE runs SET status = 'interrupted', error = ?, finished_at = ? {where}",
                (error, now, *ACTIVE_STATUSES),
            )
        return ids

    def finished_before(self, timestamp: float) -> list[str]:
        """Ids of runs in a final status that finished before `timestamp`, oldest first."""
        rows = self._read(
            f"SELECT id FROM runs WHERE status NOT IN ({_ACTIVE_PLACEHOLDERS})"
            " AND finished_at < ? ORDER BY finished_at, id",
            (*ACTIVE_STATUSES, timestamp),
        )
        return [row["id"] for row in rows]

    # weights

    def save_weights(self, run_id: str, blob: bytes) -> None:
        """Store or replace the run's torch.save bytes; a run deleted meanwhile gets none."""
        self._write(
            "INSERT OR REPLACE INTO weights (run_id, blob) SELECT id, ? FROM runs WHERE id = ?",
            (blob, run_id),
        )

    def load_weights(self, run_id: str) -> bytes | None:
        rows = self._read("SELECT blob FROM weights WHERE run_id = ?", (run_id,))
        return bytes(rows[0]["blob"]) if rows else None

    def has_weights(self, run_id: str) -> bool:
        return bool(self._read("SELECT 1 FROM weights WHERE run_id = ?", (run_id,)))

    # checkpoints: an active run's whole state, to go on from after a crash or a park

    def save_checkpoint(self, run_id: str, step: int, state: bytes, weights: bytes) -> None:
        """Store or replace the run's checkpoint and its weights, in one transaction."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO checkpoints (run_id, step, state) "
                "SELECT id, ?, ? FROM runs WHERE id = ?",
                (step, state, run_id),
            )
            conn.execute(
                "INSERT OR REPLACE INTO weights (run_id, blob) SELECT id, ? FROM runs WHERE id = ?",
                (weights, run_id),
            )

    def load_checkpoint(self, run_id: str) -> tuple[int, bytes] | None:
        """(step, state) of the run's last checkpoint."""
        rows = self._read("SELECT step, state FROM checkpoints WHERE run_id = ?", (run_id,))
        return (int(rows[0]["step"]), bytes(rows[0]["state"])) if rows else None

    def checkpoint_step(self, run_id: str) -> int | None:
        """The step of the run's last checkpoint, without reading its state."""
        rows = self._read("SELECT step FROM checkpoints WHERE run_id = ?", (run_id,))
        return int(rows[0]["step"]) if rows else None

    def delete_checkpoint(self, run_id: str) -> None:
        self._write("DELETE FROM checkpoints WHERE run_id = ?", (run_id,))

    # sweeps: their runs are ordinary runs, each deleted on its own

    def add_sweep(self, record: SweepRecord) -> None:
        self._write(*_insert("sweeps", _as_stored(asdict(record), _SWEEP_JSON)))

    def get_sweep(self, sweep_id: str) -> SweepRecord | None:
        rows = self._read("SELECT * FROM sweeps WHERE id = ?", (sweep_id,))
        return _sweep(rows[0]) if rows else None

    def running_sweeps(self, client: str | None = None) -> list[SweepRecord]:
        """Sweeps not yet marked ended (of `client`, or of everyone), oldest first."""
        rows = self._read(
            "SELECT * FROM sweeps WHERE status = 'running' AND (?1 IS NULL OR client = ?1)"
            " ORDER BY created_at, id",
            (client,),
        )
        return [_sweep(row) for row in rows]

    def end_sweep(self, sweep_id: str, status: str, finished_at: float) -> None:
        self._write(
            "UPDATE sweeps SET status = ?, finished_at = ? WHERE id = ?",
            (status, finished_at, sweep_id),
        )

    def delete_sweep(self, sweep_id: str) -> bool:
        return self._write("DELETE FROM sweeps WHERE id = ?", (sweep_id,)).rowcount > 0

    def sweeps_before(self, timestamp: float) -> list[SweepRecord]:
        """Sweeps created before `timestamp`, oldest first."""
        sql = "SELECT * FROM sweeps WHERE created_at < ? ORDER BY created_at, id"
        return [_sweep(row) for row in self._read(sql, (timestamp,))]

    def any_run_of(self, run_ids: list[str]) -> bool:
        """Whether any of these runs is still stored."""
        placeholders = ", ".join("?" for _ in run_ids) or "NULL"
        sql = f"SELECT 1 FROM runs WHERE id IN ({placeholders}) LIMIT 1"
        return bool(self._read(sql, tuple(run_ids)))

    # rooms, their learners and the learners' runs (the runs themselves are ordinary runs)

    def add_room(self, record: RoomRecord) -> None:
        self._write(*_insert("rooms", _as_stored(asdict(record), _ROOM_JSON)))

    def get_room(self, code: str) -> RoomRecord | None:
        rows = self._read("SELECT * FROM rooms WHERE code = ?", (code,))
        return _room(rows[0]) if rows else None

    def list_rooms(self) -> list[RoomRecord]:
        """Every room kept, oldest first."""
        return [_room(row) for row in self._read("SELECT * FROM rooms ORDER BY created_at, code")]

    def update_room(self, code: str, **fields: Any) -> None:
        stored = _as_stored(fields, _ROOM_JSON)
        self._write(*_update("rooms", ("code", code), stored, _ROOM_UPDATABLE))

    def delete_room(self, code: str) -> bool:
        """Forget the room, its learners and its record of their runs (not the runs)."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM room_runs WHERE room = ?", (code,))
            conn.execute("DELETE FROM learners WHERE room = ?", (code,))
            return conn.execute("DELETE FROM rooms WHERE code = ?", (code,)).rowcount > 0

    def add_learner(self, record: LearnerRecord) -> None:
        self._write(*_insert("learners", asdict(record)))

    def room_learners(self, code: str) -> list[LearnerRecord]:
        """The room's learners, those who left too, in the order they joined."""
        sql = "SELECT * FROM learners WHERE room = ? ORDER BY joined_at, id"
        return [LearnerRecord(**dict(row)) for row in self._read(sql, (code,))]

    def learner_left(self, learner_id: str, left_at: float) -> None:
        self._write("UPDATE learners SET left_at = ? WHERE id = ?", (left_at, learner_id))

    def add_room_run(self, record: RoomRunRecord) -> None:
        self._write(*_insert("room_runs", _as_stored(asdict(record), _ROOM_RUN_JSON)))

    def room_runs(self, code: str) -> list[RoomRunRecord]:
        """The room's runs, oldest first."""
        sql = "SELECT * FROM room_runs WHERE room = ? ORDER BY created_at, run_id"
        return [_room_run(row) for row in self._read(sql, (code,))]

    def room_run(self, run_id: str) -> RoomRunRecord | None:
        rows = self._read("SELECT * FROM room_runs WHERE run_id = ?", (run_id,))
        return _room_run(rows[0]) if rows else None

    def update_room_run(self, run_id: str, **fields: Any) -> None:
        stored = _as_stored(fields, _ROOM_RUN_JSON)
        self._write(*_update("room_runs", ("run_id", run_id), stored, _ROOM_RUN_UPDATABLE))

    # uploaded datasets

    def add_dataset(
        self, dataset_id: str, name: str, text: str, info: dict[str, Any], created_at: float
    ) -> None:
        """Store an uploaded CSV; `info` may not use the keys the store sets itself."""
        clashes = sorted(set(info) & set(_DATASET_META_KEYS))
        if clashes:
            raise ValueError(f"dataset info may not contain {clashes}: the store sets them")
        self._write(
            "INSERT INTO datasets (id, name, text, info, created_at) VALUES (?, ?, ?, ?, ?)",
            (dataset_id, name, text, json.dumps(info), created_at),
        )

    def get_dataset(self, dataset_id: str) -> tuple[dict[str, Any], str] | None:
        """(meta, CSV text), meta being {"id", "name", "created_at", **info}."""
        rows = self._read("SELECT * FROM datasets WHERE id = ?", (dataset_id,))
        return (_dataset_meta(rows[0]), rows[0]["text"]) if rows else None

    def list_datasets(self, limit: int = -1, offset: int = 0) -> list[dict[str, Any]]:
        """Metas of the uploads, newest first, without the CSV text: `limit` of them (all if
        negative) after skipping `offset`."""
        sql = (
            "SELECT id, name, info, created_at FROM datasets"
            " ORDER BY created_at DESC, id LIMIT ? OFFSET ?"
        )
        return [_dataset_meta(row) for row in self._read(sql, (limit, offset))]

    def count_datasets(self) -> int:
        return int(self._read("SELECT COUNT(*) AS n FROM datasets")[0]["n"])

    def delete_dataset(self, dataset_id: str) -> bool:
        return self._write("DELETE FROM datasets WHERE id = ?", (dataset_id,)).rowcount > 0

    def datasets_before(self, timestamp: float) -> list[str]:
        """Ids of uploads created before `timestamp`, oldest first."""
        sql = "SELECT id FROM datasets WHERE created_at < ? ORDER BY created_at, id"
        return [row["id"] for row in self._read(sql, (timestamp,))]
