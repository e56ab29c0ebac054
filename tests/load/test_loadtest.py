"""`layerlab load` in short: six learners for eight seconds against a real server and workers.

It checks behaviour, not speed: no server error, every viewer gets metric and grid frames, the
page's reads of a training run (model, neuron maps, predictions) are answered, every run ends,
and the server is left with nothing running. Timing bounds are generous on purpose.
"""

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from layerlab.cli import main
from layerlab.measure.loadreport import (
    LoadReport,
    RoomStats,
    format_report,
    memory_from_metrics,
    percentile,
)
from layerlab.measure.loadtest import LoadTestError, check_limits, needed_limits, run_load
from layerlab.measure.room_load import Teacher
from service import TEST_SETTINGS, LiveServer, create, serve_in_thread, wait_for_status

LEARNERS, SECONDS = 6, 8.0


@pytest.fixture(scope="module")
def live_server() -> Iterator[LiveServer]:
    """Per-client limits raised as a local load test needs: all learners share 127.0.0.1."""
    raised = {"max_active_runs_per_client": 100, "max_runs_per_minute": 1000}
    assert all(raised[name] >= needed for name, needed in needed_limits(LEARNERS).items())
    with serve_in_thread({**TEST_SETTINGS, **raised}) as server:
        # workers take seconds to spawn: a run trained to its end first means the classroom's
        # runs train (and are read) from the start, not sit queued for most of it
        with httpx.Client(base_url=server.url, timeout=60) as client:
            wait_for_status(client, create(client, wait=True)["id"], "done")
        yield server


def test_a_short_classroom_trains_watches_and_leaves_nothing_behind(
    live_server: LiveServer,
) -> None:
    report = run_load(live_server.url, LEARNERS, SECONDS)

    assert report.server_errors == 0, report.errors
    assert not [kind for kind in report.errors if kind.startswith("http 4")], report.errors
    assert report.runs_created >= LEARNERS
    assert sum(report.runs_ended.values()) == report.runs_created, report.runs_ended
    assert report.runs_ended["cancelled"] >= 1  # sliders moved
    assert len(report.metrics_frames_per_s) == LEARNERS
    assert min(report.metrics_frames_per_s) > 0, "a viewer got no metric frame"
    assert min(report.grid_frames_per_s) > 0, "a viewer got no grid"
    assert len(report.first_frame_s) >= LEARNERS
    p95 = percentile(report.first_frame_s, 0.95)
    assert p95 is not None and p95 < 15.0
    assert report.memory_before is not None and report.memory_after is not None
    assert report.memory_before.workers == 2
    assert report.memory_after.server_bytes > 10 * 2**20
    assert live_server.on_loop(lambda: len(live_server.scheduler.live)) == 0
    for kind, read in report.reads.items():  # while the runs trained, as the page reads them
        assert read.latency_s, f"{kind}: {read.sent} sent, none answered with its data"
        assert not read.errors, (kind, read.errors)

    table = format_report(report)
    rows = ("runs", "metrics frames / s", "POST → first frame", "errors", "memory after")
    for row in (*rows, "model reads", "neurons reads", "predict reads"):
        assert row in table


def test_the_command_prints_json_or_names_the_limits_to_raise(
    live_server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = live_server.url
    assert main(["load", "--url", url, "--clients", "2", "--seconds", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["clients"] == 2 and report["server_errors"] == 0
    assert report["runs_created"] >= 2
    assert report["metrics_frames_per_s"]["median"] > 0
    assert report["reads"]["predict"]["count"] > 0 and report["reads"]["predict"]["p95_s"] > 0

    assert main(["load", "--url", url, "--clients", "500", "--seconds", "3"]) == 2
    error = capsys.readouterr().err
    assert "LAYERLAB_MAX_ACTIVE_RUNS_PER_CLIENT=100" in error
    assert "LAYERLAB_MAX_ACTIVE_RUNS_PER_CLIENT=1000" in error  # what 500 learners need


def test_a_room_plays_with_its_wall_open(live_server: LiveServer) -> None:
    """--room: the learners join a teacher's room and train in it while the wall streams."""
    admin = TEST_SETTINGS["admin_token"]
    report = run_load(live_server.url, LEARNERS, 10.0, room=True, admin_token=admin)

    assert report.server_errors == 0, (report.errors, report.to_dict()["reads"])
    assert not [kind for kind in report.errors if kind.startswith("http 4")], report.errors
    room = report.room
    assert room is not None and room.joined == LEARNERS
    assert report.runs_created >= LEARNERS
    assert sum(report.runs_ended.values()) == report.runs_created, report.runs_ended
    assert min(report.grid_frames_per_s) > 0, "a learner's own stream got no grid"
    assert room.wall_frames >= 5, room.wall_frames  # about one a second for ten seconds
    rates = room.tile_rates()
    assert rates and min(rates) > 0, "a training learner's tile never changed"
    assert room.run_shown_s, "no learner's run reached the wall"
    assert report.reads["room"].latency_s and report.reads["leaderboard"].latency_s
    with httpx.Client(base_url=live_server.url) as client:  # the teacher closed it at the end
        assert client.get(f"/api/rooms/{room.code}").status_code == 404
    assert live_server.on_loop(lambda: len(live_server.scheduler.live)) == 0
    table = format_report(report)
    for row in ("room", "wall frames / s", "wall tile updates / s", "run → its tile"):
        assert row in table
    assert report.to_dict()["room"]["joined"] == LEARNERS


def test_a_room_needs_the_admin_token_and_room_enough(
    live_server: LiveServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = live_server.url
    admin = TEST_SETTINGS["admin_token"]
    monkeypatch.delenv("LAYERLAB_ADMIN_TOKEN")  # the server's, set while it runs in this process
    assert main(["load", "--url", url, "--clients", "2", "--seconds", "2", "--room"]) == 2
    assert "opening a room: HTTP 401" in capsys.readouterr().err
    many = ["load", "--url", url, "--clients", "1000", "--seconds", "2", "--room"]
    many += ["--admin-token", admin]
    assert main(many) == 2
    assert "LAYERLAB_MAX_LEARNERS_PER_ROOM" in capsys.readouterr().err


def test_a_failed_read_of_a_live_run_is_a_server_error() -> None:
    report = LoadReport(url="http://127.0.0.1:1", clients=1, seconds=1)
    report.reads["model"].sent, report.reads["neurons"].sent = 1, 1
    report.reads["model"].refused_after_end += 1  # the run had ended: expected
    assert report.server_errors == 0
    report.reads["neurons"].errors["409"] += 1  # its worker lost it while it trained
    assert report.server_errors == 1
    assert report.to_dict()["reads"]["neurons"]["errors"] == {"409": 1}
    assert "failed 409: 1" in format_report(report)
    report.runs_ended["interrupted"] += 1  # its worker died
    assert report.server_errors == 2


def test_a_wall_tile_counts_its_changes_while_its_learner_trains() -> None:
    report = LoadReport(url="http://127.0.0.1:1", clients=2, seconds=10)
    stats = RoomStats(code="ABC234")
    stats.run_posted["r1"] = time.perf_counter()
    teacher = Teacher("http://127.0.0.1:1", report, stats, None)

    def learner(id_: str, status: str, epoch: int | None, run_id: str | None = "r1") -> dict:
        metrics = {"test_acc": 0.5 + (epoch or 0) / 100}
        return {"id": id_, "status": status, "run_id": run_id, "epoch": epoch, "metrics": metrics}

    teacher._take([learner("a", "training", 1), learner("b", "waiting", None, None)], 0.0)
    for epoch in (2, 3, 3, 4):  # one frame a second; the third showed nothing new
        teacher._take([learner("a", "training", epoch), learner("b", "waiting", None, None)], 1.0)
    assert stats.tiles["a"].changes == 3 and stats.tiles["a"].training_s == 4.0
    assert stats.tile_rates() == [0.75]  # b never trained: no rate to tell
    assert len(stats.run_shown_s) == 1 and not stats.run_posted  # r1 reached its tile once
    report.room = stats
    assert "min 0.75" in format_report(report)
    assert report.to_dict()["room"]["tile_updates_per_s"]["tiles"] == 1


def info(active: int, per_minute: int, workers: int = 2, queued: int = 200) -> dict[str, Any]:
    limits = {
        "max_active_runs_per_client": active,
        "max_runs_per_minute": per_minute,
        "max_queued_runs": queued,
    }
    return {"workers": workers, "runs_per_worker": 64, "limits": limits}


def test_the_limits_check_names_each_setting_short_of_what_is_needed() -> None:
    check_limits(info(120, 1210), 60)  # enough
    with pytest.raises(LoadTestError) as short:
        check_limits(info(4, 60), 60)
    assert "LAYERLAB_MAX_ACTIVE_RUNS_PER_CLIENT=4" in str(short.value)
    assert "LAYERLAB_MAX_ACTIVE_RUNS_PER_CLIENT=120 LAYERLAB_MAX_RUNS_PER_MINUTE=1210" in str(
        short.value
    )
    with pytest.raises(LoadTestError, match="LAYERLAB_MAX_QUEUED_RUNS=0"):
        check_limits(info(1000, 10_000, workers=1, queued=0), 100)


def test_memory_is_read_from_the_servers_metrics() -> None:
    text = (
        "# TYPE process_resident_memory_bytes gauge\n"
        'process_resident_memory_bytes{process="server"} 300000000\n'
        'process_resident_memory_bytes{process="worker-0"} 400000000\n'
        'process_resident_memory_bytes{process="worker-1"} 410000000\n'
    )
    memory = memory_from_metrics(text)
    assert memory is not None
    assert (memory.server_bytes, memory.worker_bytes, memory.workers) == (
        300_000_000,
        810_000_000,
        2,
    )
    assert memory_from_metrics("layerlab_workers 2\n") is None
