"""The service in-process: a real app with real worker processes, driven by Starlette's client."""

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from layerlab.api.app import create_app
from layerlab.config import get_settings

# Small, quick runs: a few hundred steps on a few hundred points.
QUICK_SPEC: dict[str, Any] = {
    "dataset": {"name": "moons", "samples": 200, "noise": 0.1},
    "hidden_widths": [8, 8],
    "learning_rate": 0.03,
    "epochs": 40,
    "grid_resolution": 16,
}
# A run long enough to be caught running: pause, resume and cancel act on it.
LONG_SPEC: dict[str, Any] = {**QUICK_SPEC, "epochs": 1000, "batch_size": 1}

TEST_SETTINGS = {
    "database": ":memory:",
    "workers": 2,
    "admin_token": "admin-token-for-tests-only",
    "max_active_runs_per_client": 50,
    "max_runs_per_minute": 1000,
}


@pytest.fixture(scope="module")
def app_settings() -> dict[str, Any]:
    """LAYERLAB_* values for this module's app; a module overrides the fixture to change them."""
    return TEST_SETTINGS


@pytest.fixture(scope="module")
def client(app_settings: dict[str, Any]) -> Iterator[TestClient]:
    """One app (and its workers) per test module: starting workers costs seconds."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in app_settings.items():
            patch.setenv(f"LAYERLAB_{name.upper()}", str(value))
        get_settings.cache_clear()
        with TestClient(create_app()) as test_client:
            yield test_client
    get_settings.cache_clear()


def wait_for(
    condition: Callable[[], Any], timeout_s: float = 30.0, what: str = "the condition"
) -> Any:
    """Poll `condition` until it returns something truthy; fail the test after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def wait_for_status(
    client: TestClient, run_id: str, *statuses: str, timeout_s: float = 30
) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        run: dict[str, Any] = client.get(f"/api/runs/{run_id}").json()
        return run if run["status"] in statuses else None

    return wait_for(reached, timeout_s, f"run {run_id} to be {' or '.join(statuses)}")


def create(client: TestClient, spec: dict[str, Any] | None = None, **params: Any) -> dict[str, Any]:
    response = client.post("/api/runs", json=QUICK_SPEC if spec is None else spec, params=params)
    assert response.status_code == 201, response.text
    run: dict[str, Any] = response.json()
    return run
