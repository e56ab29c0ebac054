import itertools
import math
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from layerlab.core.training import RunStatus
from layerlab.engine.store import (
    ACTIVE_STATUSES,
    DatabaseDamaged,
    DatabaseInUse,
    RunRecord,
    Store,
    claim_database,
    downsample,
)

SPEC = {"dataset": {"name": "moons", "samples": 200}, "hidden_widths": [8, 8], "seed": 0}


@pytest.fixture
def store() -> Iterator[Store]:
    store = Store(":memory:", max_history_points=10)
    yield store
    store.close()


@pytest.fixture
def add(store: Store) -> Callable[..., RunRecord]:
    """Add a run with defaults: add("a", status="done", created_at=3.0)."""

    def add_run(run_id: str, **fields: Any) -> RunRecord:
        values: dict[str, Any] = {"client": "10.0.0.1", "token_hash": "ab" * 32, "spec": SPEC}
        record = RunRecord(id=run_id, **(values | fields))
        store.add_run(record)
        return record

    return add_run


def points(n: int) -> list[dict[str, Any]]:
    return [{"step": step, "train_loss": 1.0 / (step + 1)} for step in range(n)]


def test_active_statuses_are_the_non_final_run_statuses() -> None:
    assert set(ACTIVE_STATUSES) == {status.value for status in RunStatus if not status.is_final}


def test_add_and_get_round_trip_every_field(store: Store) -> None:
    record = RunRecord(
        id="r1",
        client="10.0.0.1",
        token_hash="f" * 64,
        spec=SPEC,
        status="diverged",
        error="The loss became NaN: try a smaller learning rate.",
        created_at=100.5,
        started_at=101.0,
        finished_at=102.25,
        final_metrics={"train_loss": math.nan, "test_loss": math.inf, "train_acc": 0.5},
        history=[{"step": 0, "train_loss": 0.7}, {"step": 10, "train_loss": math.nan}],
        model_info={"task": "binary", "inputs": ["x1", "x2"], "layers": [{"out": 8}]},
        grid={"step": 10, "shape": [2, 2], "encoding": "u8", "data": "AAEC"},
    )
    store.add_run(record)
    loaded = store.get_run("r1")
    assert loaded is not None
    metrics = loaded.final_metrics
    assert metrics is not None
    assert math.isnan(metrics["train_loss"]) and metrics["test_loss"] == math.inf
    assert math.isnan(loaded.history[1]["train_loss"])
    # NaN != NaN, so compare everything else field by field
    for name in ("id", "client", "token_hash", "spec", "status", "error", "created_at"):
        assert getattr(loaded, name) == getattr(record, name)
    for name in ("started_at", "finished_at", "model_info", "grid"):
        assert getattr(loaded, name) == getattr(record, name)
    assert metrics["train_acc"] == 0.5
    assert loaded.history[0] == {"step": 0, "train_loss": 0.7}
    assert loaded.has_weights is False


def test_get_missing_run_is_none(store: Store) -> None:
    assert store.get_run("nope") is None


def test_duplicate_id_raises(add: Callable[..., RunRecord]) -> None:
    add("r1")
    with pytest.raises(sqlite3.IntegrityError):
        add("r1")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("status", "running"),
        ("error", "out of memory"),
        ("started_at", 5.0),
        ("finished_at", 6.0),
        ("final_metrics", {"test_acc": 0.9}),
        ("history", [{"step": 1, "train_loss": 0.3}]),
        ("model_info", {"task": "regression"}),
        ("grid", {"step": 3, "data": "AA"}),
    ],
)
def test_update_run_sets_each_field(
    store: Store, add: Callable[..., RunRecord], name: str, value: Any
) -> None:
    before = add("r1")
    store.update_run("r1", **{name: value})
    loaded = store.get_run("r1")
    assert loaded is not None
    assert getattr(loaded, name) == value
    assert loaded.spec == before.spec and loaded.client == before.client


def test_update_run_several_fields_and_back_to_none(
    store: Store, add: Callable[..., RunRecord]
) -> None:
    add("r1", error="boom", status="failed")
    store.update_run("r1", status="queued", error=None)
    loaded = store.get_run("r1")
    assert loaded is not None and (loaded.status, loaded.error) == ("queued", None)


def test_update_run_unknown_field_names_it(store: Store, add: Callable[..., RunRecord]) -> None:
    add("r1")
    with pytest.raises(ValueError, match="'colour'"):
        store.update_run("r1", colour="red")
    with pytest.raises(ValueError, match="'has_weights'"):
        store.update_run("r1", has_weights=True)


def test_update_missing_run_is_a_no_op(store: Store) -> None:
    store.update_run("gone", status="done")
    assert store.get_run("gone") is None
    assert store.count_runs() == 0


def test_history_saved_via_update_run_is_downsampled(
    store: Store, add: Callable[..., RunRecord]
) -> None:
    add("r1")
    store.update_run("r1", history=points(1000))
    loaded = store.get_run("r1")
    assert loaded is not None
    assert len(loaded.history) == store.max_history_points
    assert loaded.history[0]["step"] == 0 and loaded.history[-1]["step"] == 999


def test_history_given_to_add_run_is_downsampled(
    store: Store, add: Callable[..., RunRecord]
) -> None:
    add("r1", history=points(50))
    loaded = store.get_run("r1")
    assert loaded is not None and len(loaded.history) == store.max_history_points


def test_list_runs_newest_first_with_limit_and_offset(
    store: Store, add: Callable[..., RunRecord]
) -> None:
    for run_id, created_at in [("a", 1.0), ("c", 3.0), ("b", 2.0), ("d", 3.0)]:
        add(run_id, created_at=created_at)
    assert [run.id for run in store.list_runs()] == ["c", "d", "b", "a"]  # ties by id
    assert [run.id for run in store.list_runs(limit=2)] == ["c", "d"]
    assert [run.id for run in store.list_runs(limit=2, offset=2)] == ["b", "a"]
    assert store.list_runs(offset=4) == []


def test_list_runs_filters_by_status_and_client(
    store: Store, add: Callable[..., RunRecord]
) -> None:
    add("a", status="done", client="alice")
    add("b", status="running", client="alice")
    add("c", status="done", client="bob")
    assert {run.id for run in store.list_runs(status="done")} == {"a", "c"}
    assert {run.id for run in store.list_runs(client="alice")} == {"a", "b"}
    assert [run.id for run in store.list_runs(status="done", client="bob")] == ["c"]
    assert store.list_runs(status="paused") == []


def test_list_runs_does_not_load_history_or_grid(
    store: Store, add: Callable[..., RunRecord]
) -> None:
    add("a", history=points(3), grid={"data": "AA"}, model_info={"task": "binary"})
    [listed] = store.list_runs()
    assert listed.history == [] and listed.grid is None
    assert listed.model_info == {"task": "binary"} and listed.spec == SPEC


def test_count_runs(store: Store, add: Callable[..., RunRecord]) -> None:
    assert store.count_runs() == 0
    add("a", status="done")
    add("b", status="running")
    add("c", status="running")
    assert store.count_runs() == 3
    assert store.count_runs(status="running") == 2
    assert store.count_runs(status="failed") == 0


def test_weights_save_replace_load(store: Store, add: Callable[..., RunRecord]) -> None:
    add("a")
    add("b")
    assert store.load_weights("a") is None
    store.save_weights("a", b"first")
    store.save_weights("a", b"\x00second")
    assert store.load_weights("a") == b"\x00second"
    assert store.load_weights("b") is None


def test_has_weights_in_get_and_list(store: Store, add: Callable[..., RunRecord]) -> None:
    add("a", created_at=2.0)
    add("b", created_at=1.0)
    store.save_weights("a", b"w")
    with_weights, without_weights = store.get_run("a"), store.get_run("b")
    assert with_weights is not None and with_weights.has_weights is True
    assert without_weights is not None and without_weights.has_weights is False
    assert [run.has_weights for run in store.list_runs()] == [True, False]


def test_weights_for_a_missing_run_are_not_kept(store: Store) -> None:
    store.save_weights("gone", b"w")
    assert store.load_weights("gone") is None


def test_delete_run_removes_it_and_its_weights(store: Store, add: Callable[..., RunRecord]) -> None:
    add("a")
    store.save_weights("a", b"w")
    assert store.delete_run("a") is True
    assert store.get_run("a") is None
    assert store.load_weights("a") is None
    assert store.delete_run("a") is False


def test_mark_interrupted_touches_only_active_runs(
    store: Store, add: Callable[..., RunRecord]
) -> None:
    statuses = ["queued", "running", "paused", "done", "failed", "cancelled", "diverged"]
    for index, status in enumerate(statuses):
        add(status, status=status, created_at=float(index), finished_at=None)
    ids = store.mark_interrupted("The server stopped while this run trained.", now=50.0)
    assert sorted(ids) == ["paused", "queued", "running"]
    for status in statuses:
        run = store.get_run(status)
        assert run is not None
        if status in ids:
            assert (run.status, run.finished_at) == ("interrupted", 50.0)
            assert run.error == "The server stopped while this run trained."
        else:
            assert (run.status, run.finished_at, run.error) == (status, None, None)
    assert store.mark_interrupted("again", now=60.0) == []


def test_finished_before_lists_final_runs_only(store: Store, add: Callable[..., RunRecord]) -> None:
    add("old", status="done", finished_at=10.0)
    add("older", status="failed", finished_at=5.0)
    add("new", status="done", finished_at=30.0)
    add("paused", status="paused", finished_at=1.0)  # active: never cleaned up
    add("unfinished", status="cancelled")
    assert store.finished_before(20.0) == ["older", "old"]
    assert store.finished_before(5.0) == []


@pytest.fixture
def datasets(store: Store) -> Store:
    store.add_dataset("d1", "heights.csv", "x,y\n1,2\n", {"rows": 1, "task": "regression"}, 1.0)
    store.add_dataset("d2", "iris.csv", "a,b,label\n1,2,x\n", {"rows": 1, "classes": 3}, 2.0)
    return store


def test_get_dataset_returns_meta_and_text(datasets: Store) -> None:
    found = datasets.get_dataset("d1")
    assert found is not None
    meta, text = found
    assert meta == {
        "id": "d1",
        "name": "heights.csv",
        "created_at": 1.0,
        "rows": 1,
        "task": "regression",
    }
    assert text == "x,y\n1,2\n"
    assert datasets.get_dataset("nope") is None


def test_list_datasets_newest_first_without_text(datasets: Store) -> None:
    listed = datasets.list_datasets()
    assert [meta["id"] for meta in listed] == ["d2", "d1"]
    assert listed[0] == {"id": "d2", "name": "iris.csv", "created_at": 2.0, "rows": 1, "classes": 3}


def test_delete_dataset(datasets: Store) -> None:
    assert datasets.delete_dataset("d1") is True
    assert datasets.get_dataset("d1") is None
    assert datasets.delete_dataset("d1") is False
    assert [meta["id"] for meta in datasets.list_datasets()] == ["d2"]


def test_datasets_before(datasets: Store) -> None:
    assert datasets.datasets_before(1.5) == ["d1"]
    assert datasets.datasets_before(3.0) == ["d1", "d2"]
    assert datasets.datasets_before(1.0) == []


def test_dataset_info_may_not_override_the_store_keys(store: Store) -> None:
    with pytest.raises(ValueError, match="'id'"):
        store.add_dataset("d1", "a.csv", "x\n", {"id": "other"}, 1.0)
    assert store.list_datasets() == []


def test_downsample_keeps_first_and_last_and_stays_within_max() -> None:
    history = points(1001)
    for max_points in (2, 3, 10, 500, 1000):
        kept = downsample(history, max_points)
        assert len(kept) == max_points
        assert kept[0] is history[0] and kept[-1] is history[-1]
        steps = [point["step"] for point in kept]
        assert steps == sorted(set(steps))


def test_downsample_spreads_points_evenly() -> None:
    steps = [point["step"] for point in downsample(points(101), 11)]
    assert steps == list(range(0, 101, 10))
    # 999 steps do not split into 6 equal gaps: they differ by at most one step
    gaps = [b["step"] - a["step"] for a, b in itertools.pairwise(downsample(points(1000), 7))]
    assert max(gaps) - min(gaps) <= 1


def test_downsample_short_history_is_unchanged() -> None:
    history = points(5)
    assert downsample(history, 5) == history
    assert downsample(history, 100) == history
    assert downsample([], 10) == []


def test_downsample_needs_room_for_first_and_last() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        downsample(points(5), 1)


def test_file_store_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "layerlab.db"
    store = Store(str(path))
    store.add_run(RunRecord(id="r1", client="c", token_hash="h", spec=SPEC, status="done"))
    store.update_run("r1", final_metrics={"test_acc": 0.95}, history=points(3))
    store.save_weights("r1", b"state dict bytes")
    store.add_dataset("d1", "a.csv", "x\n1\n", {"rows": 1}, 1.0)
    store.close()

    reopened = Store(str(path))
    run = reopened.get_run("r1")
    assert run is not None
    assert (run.status, run.final_metrics, run.history) == ("done", {"test_acc": 0.95}, points(3))
    assert run.has_weights and reopened.load_weights("r1") == b"state dict bytes"
    assert reopened.get_dataset("d1") is not None
    journal = reopened._conn.execute("PRAGMA journal_mode").fetchone()[0]
    version = reopened._conn.execute("PRAGMA user_version").fetchone()[0]
    reopened.close()
    assert (journal, version) == ("wal", 1)


def test_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "layerlab.db"
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA user_version = 2")
    connection.close()
    with pytest.raises(RuntimeError, match="schema version 2"):
        Store(str(path))


def test_concurrent_updates_from_threads(store: Store, add: Callable[..., RunRecord]) -> None:
    n_threads, n_updates = 4, 50
    for index in range(n_threads):
        add(f"r{index}")
    errors: list[BaseException] = []
    start = threading.Barrier(n_threads)

    def work(index: int) -> None:
        try:
            start.wait()
            history: list[dict[str, Any]] = []
            for step in range(n_updates):
                history.append({"step": step})
                store.update_run(f"r{index}", status="running", history=history)
                store.save_weights(f"r{index}", bytes([step]))
                store.list_runs()
            store.update_run(f"r{index}", status="done", finished_at=float(index))
        except BaseException as error:  # surfaced by the assert below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert store.count_runs(status="done") == n_threads
    for index in range(n_threads):
        run = store.get_run(f"r{index}")
        assert run is not None
        assert run.history[-1] == {"step": n_updates - 1}
        assert len(run.history) == store.max_history_points
        assert store.load_weights(f"r{index}") == bytes([n_updates - 1])


def test_a_database_is_claimed_by_one_server_at_a_time(tmp_path: Path) -> None:
    path = str(tmp_path / "runs.db")
    first = claim_database(path)
    assert first is not None
    with pytest.raises(DatabaseInUse, match=rf"\(pid {os.getpid()}\) is using the database"):
        claim_database(path)
    first.close()
    again = claim_database(path)
    assert again is not None
    again.close()
    assert claim_database(":memory:") is None


def test_damage_found_on_a_read_or_by_a_check_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    store = Store(str(path))
    for k in range(30):
        store.add_dataset(f"d{k}", "t.csv", "a,b,c\n" + "1,2,3\n" * 2000, {}, float(k))
    store.check()  # sound
    store.close()
    with path.open("r+b") as file:  # pages of the uploads, not of the schema
        for page in range(20, 40):
            file.seek(page * 4096)
            file.write(b"\xde\xad" * 2048)
    damaged = Store(str(path))  # the schema's pages still read
    with pytest.raises(DatabaseDamaged, match=r"runs\.db \(LAYERLAB_DATABASE\) is damaged"):
        damaged.list_datasets()
    # quick_check's own words, which depend on which pages the garbage hit
    with pytest.raises(DatabaseDamaged, match=r"(On tree page|Page) \d+") as found:
        damaged.check()
    assert "\n" not in str(found.value)


def test_a_file_that_is_no_database_is_named_at_open(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"not a database" * 500)
    with pytest.raises(DatabaseDamaged, match="file is not a database"):
        Store(str(path))
