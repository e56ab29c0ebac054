"""A room outlives its server: after a restart on the same database, the room, its learners,
their tokens and their finished runs' results are all there, and the class goes on."""

import csv
import io
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from service import LONG_SPEC, QUICK_SPEC, ServerProcess, free_port, wait_for_status

SPEC: dict[str, Any] = {**QUICK_SPEC, "hidden_widths": [8]}


def settled(leaderboard: dict[str, Any]) -> list[dict[str, Any]]:
    """The entries of the learners whose runs had ended before the restart, without ranks."""
    entries = leaderboard["entries"]
    return [{**e, "rank": None} for e in entries if e["name"] != "Dee"]


def test_a_room_its_learners_and_their_finished_runs_survive_a_restart(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    database, port = tmp_path / "rooms.db", free_port()
    server = start_server(database, port)
    with httpx.Client(base_url=server.url, timeout=30, trust_env=False) as http:
        # a server without LAYERLAB_ADMIN_TOKEN (a teacher's own machine): anyone opens a room
        body = {"setup": {"spec": SPEC, "locked": ["dataset"]}, "challenge": None}
        opened = http.post("/api/rooms", json=body)
        assert opened.status_code == 201, opened.text
        room = opened.json()
        code, teacher = room["code"], {"X-Run-Token": room["token"]}
        learners = {}
        for name in ("Ana", "Ben", "Cy", "Dee"):
            joined = http.post(f"/api/rooms/{code}/learners", json={"name": name})
            learners[name] = joined.json()
        runs = {}
        for name, widths in (("Ana", [8]), ("Ben", [])):
            headers = {"X-Run-Token": learners[name]["token"]}
            spec = {**SPEC, "hidden_widths": widths}
            runs[name] = http.post(f"/api/rooms/{code}/runs", json=spec, headers=headers).json()
        for run in runs.values():
            wait_for_status(http, run["id"], "done")
        dee = {"X-Run-Token": learners["Dee"]["token"]}
        long_spec = {**LONG_SPEC, "hidden_widths": [4]}
        training = http.post(f"/api/rooms/{code}/runs", json=long_spec, headers=dee).json()
        wait_for_status(http, training["id"], "running")  # when the server stops
        before = settled(http.get(f"/api/rooms/{code}/leaderboard").json())
        results_before = http.get(f"/api/rooms/{code}/results.csv", headers=teacher).text
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(20)

    restarted = start_server(database, port)
    with httpx.Client(base_url=restarted.url, timeout=30, trust_env=False) as http:
        read = http.get(f"/api/rooms/{code}", headers=teacher)
        assert read.status_code == 200, read.text
        document = read.json()
        assert document["you"] == {"role": "teacher"} and document["learners"] == 4
        assert document["setup"]["locked"] == ["dataset"]
        ana = {"X-Run-Token": learners["Ana"]["token"]}
        again = http.get(f"/api/rooms/{code}", headers=ana).json()["you"]
        assert again == {"role": "learner", "id": learners["Ana"]["id"], "name": "Ana"}

        board = http.get(f"/api/rooms/{code}/leaderboard").json()
        assert settled(board) == before  # ended runs: metrics, runs and order as they were
        assert [e["name"] for e in board["entries"]][-1] == "Cy"  # no run: last
        for name, run in runs.items():
            entry = next(e for e in board["entries"] if e["name"] == name)
            assert entry["run_id"] == run["id"] and entry["status"] == "finished"
            assert entry["metric"] is not None and entry["parameters"] is not None
            assert http.get(f"/api/runs/{run['id']}").json()["status"] == "done"
        assert http.get(f"/api/runs/{training['id']}").json()["status"] == "interrupted"
        stopped = next(e for e in board["entries"] if e["name"] == "Dee")
        assert stopped["run_id"] == training["id"] and stopped["status"] == "finished"

        results = http.get(f"/api/rooms/{code}/results.csv", headers=teacher).text
        rows = list(csv.DictReader(io.StringIO(results)))
        assert [row["name"] for row in rows] == ["Ana", "Ben", "Cy", "Dee"]
        assert results.splitlines()[:4] == results_before.splitlines()[:4]  # Dee's moved on
        # the class goes on: a learner's token still creates runs in the room
        more = http.post(f"/api/rooms/{code}/runs", json=SPEC, headers=ana)
        assert more.status_code == 201, more.text
        assert http.delete(f"/api/rooms/{code}", headers=teacher).status_code == 204
