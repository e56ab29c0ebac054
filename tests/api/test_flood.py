"""A client that floods the server with creates: it is refused (429 or 503, with Retry-After and a
sentence naming the setting), while other learners' runs train on to the end and /api/health
keeps answering at once. The server runs with the default per-client limits."""

import collections
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from service import LONG_SPEC, QUICK_SPEC, create, wait_for, wait_for_status

pytestmark = pytest.mark.usefixtures("cancel_leftovers")

FLOOD = 200  # creates, sent as fast as 16 connections carry them
ACTIVE_PER_CLIENT = 4  # LAYERLAB_MAX_ACTIVE_RUNS_PER_CLIENT's default
# trains through the flood: 300 epochs at a pace of 50 a second last 6 s, where unpaced they
# could end before the flood began (1,500 steps, a fraction of a second on a fast engine)
STEADY_SPEC: dict[str, Any] = {**QUICK_SPEC, "epochs": 300, "epochs_per_s": 50}


@pytest.fixture(scope="module")
def app_settings(app_settings: dict[str, Any]) -> dict[str, Any]:
    return {
        **app_settings,
        "max_active_runs_per_client": ACTIVE_PER_CLIENT,
        "max_runs_per_minute": 60,
    }


def last_step(http: httpx.Client, run_id: str) -> int:
    points = http.get(f"/api/runs/{run_id}/metrics").json()["points"]
    return int(points[-1]["step"]) if points else 0


def test_a_flood_of_creates_is_refused_while_other_runs_train_and_health_answers(
    learner: Callable[[], httpx.Client],
) -> None:
    alice, bob, flooder, nurse = learner(), learner(), learner(), learner()
    steady = [create(alice, STEADY_SPEC), create(bob, STEADY_SPEC)]
    for run in steady:
        wait_for_status(alice, run["id"], "running")
    steps_before = [last_step(alice, run["id"]) for run in steady]

    health_s: list[float] = []
    flooding = threading.Event()

    def check_health() -> None:
        while flooding.is_set():
            started = time.monotonic()
            assert nurse.get("/api/health").status_code == 200
            health_s.append(time.monotonic() - started)

    def create_once(_: int) -> httpx.Response:
        return flooder.post("/api/runs", json=LONG_SPEC)

    flooding.set()
    with ThreadPoolExecutor(max_workers=1) as health_thread:
        checked = health_thread.submit(check_health)
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(create_once, range(FLOOD)))
        flooding.clear()
        checked.result()

    statuses = collections.Counter(answer.status_code for answer in answers)
    assert statuses[201] == ACTIVE_PER_CLIENT, statuses
    assert set(statuses) <= {201, 429, 503}, statuses
    for answer in answers:
        if answer.status_code != 201:
            assert int(answer.headers["Retry-After"]) >= 1
            assert "LAYERLAB_MAX_" in answer.json()["error"]
    assert len(health_s) >= 3, "the flood ended before health was asked: nothing measured"
    assert max(health_s) < 2.0, f"/api/health took up to {max(health_s):.2f} s in the flood"
    assert statistics.median(health_s) < 0.5

    steps_after = [last_step(alice, run["id"]) for run in steady]
    assert all(after > before for before, after in zip(steps_before, steps_after, strict=True))
    for run in steady:
        finished = wait_for_status(alice, run["id"], "done", "failed", timeout_s=60)
        assert finished["status"] == "done", finished
    assert wait_for(lambda: alice.get("/api/health").status_code == 200, 5, "health")
