"""Fairness on a shared server: a full queue answers 503, a greedy client 429, both with
Retry-After and a sentence naming the LAYERLAB_ setting; places free up as runs end.

Each learner is a client on its own loopback address (the `learner` fixture), as each pupil's
computer has its own: per-client limits are counted by address.
"""

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from service import LONG_SPEC, QUICK_SPEC, create, owner, wait_for_status

pytestmark = pytest.mark.usefixtures("cancel_leftovers")


@pytest.fixture(scope="module")
def app_settings(app_settings: dict[str, Any]) -> dict[str, Any]:
    return {
        **app_settings,
        "workers": 1,
        "runs_per_worker": 2,
        "max_queued_runs": 1,
        "max_active_runs_per_client": 3,
        "max_runs_per_minute": 5,
    }


def refused(response: httpx.Response, status: int, setting: str) -> str:
    """The refusal's sentence, after checking its status, Retry-After and the setting it names."""
    assert response.status_code == status, response.text
    assert int(response.headers["Retry-After"]) >= 1
    error: str = response.json()["error"]
    assert setting in error
    return error


def test_a_full_queue_answers_503_until_a_place_frees(learner: Callable[[], httpx.Client]) -> None:
    alice, bob = learner(), learner()
    for _ in range(2):  # the worker's two places
        wait_for_status(alice, create(alice, LONG_SPEC)["id"], "running")
    waiting = create(bob, LONG_SPEC)
    assert waiting["status"] == "queued"
    assert waiting["queue_position"] == 1

    error = refused(bob.post("/api/runs", json=QUICK_SPEC), 503, "LAYERLAB_MAX_QUEUED_RUNS=1")
    assert "1 runs are already waiting" in error
    cancelled = bob.post(f"/api/runs/{waiting['id']}/cancel", headers=owner(waiting))
    assert cancelled.json()["status"] == "cancelled"
    assert bob.post("/api/runs", json=QUICK_SPEC).status_code == 201


def test_a_client_with_3_active_runs_gets_429_until_one_ends(
    learner: Callable[[], httpx.Client],
) -> None:
    carol = learner()
    runs = [create(carol, LONG_SPEC) for _ in range(3)]  # two train, one waits

    error = refused(
        carol.post("/api/runs", json=QUICK_SPEC), 429, "LAYERLAB_MAX_ACTIVE_RUNS_PER_CLIENT=3"
    )
    assert "3 active runs" in error
    first = runs[0]
    cancelled = carol.post(f"/api/runs/{first['id']}/cancel", headers=owner(first))
    assert cancelled.json()["status"] == "cancelled"
    assert carol.post("/api/runs", json=QUICK_SPEC).status_code == 201


def test_a_client_creating_more_than_5_runs_a_minute_gets_429(
    learner: Callable[[], httpx.Client],
) -> None:
    dave, erin = learner(), learner()
    for _ in range(5):
        assert create(dave, QUICK_SPEC, wait=True)["status"] == "done"

    response = dave.post("/api/runs", json=QUICK_SPEC)
    error = refused(response, 429, "LAYERLAB_MAX_RUNS_PER_MINUTE=5")
    assert "5 runs in the last minute" in error
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert erin.post("/api/runs", json=QUICK_SPEC).status_code == 201  # per client
