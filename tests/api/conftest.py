"""Fixtures of the service: the real app in-process (TestClient) or on a real port (uvicorn)."""

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from layerlab.api.app import create_app
from layerlab.config import get_settings
from service import TEST_SETTINGS, LiveServer, serve_in_thread

ADDRESSES = (f"127.0.0.{n}" for n in itertools.count(2))  # one per learner, never reused


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


@pytest.fixture(scope="module")
def live_server(app_settings: dict[str, Any]) -> Iterator[LiveServer]:
    """One real server (and its workers) per test module, from the module's `app_settings`."""
    with serve_in_thread(app_settings) as server:
        yield server


@pytest.fixture(scope="module")
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=30, trust_env=False) as client:
        yield client


@pytest.fixture
def cancel_leftovers(live_server: LiveServer) -> Iterator[None]:
    """After the test, passed or failed, cancel every run still active: long runs must not eat
    the next test's CPU nor its slots."""
    yield
    admin = {"X-Run-Token": live_server.app.state.settings.admin_token or ""}
    with httpx.Client(base_url=live_server.url, timeout=30, trust_env=False) as client:
        for status in ("queued", "running", "paused"):
            listed = client.get("/api/runs", params={"status": status, "limit": 200}).json()
            for run in listed["runs"]:
                client.post(f"/api/runs/{run['id']}/cancel", headers=admin)


@pytest.fixture
def learner(live_server: LiveServer) -> Iterator[Callable[[], httpx.Client]]:
    """A new client, as seen from the server: an HTTP client on a loopback address of its own."""
    clients: list[httpx.Client] = []

    def new_learner() -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=next(ADDRESSES))
        client = httpx.Client(
            base_url=live_server.url, transport=transport, timeout=30, trust_env=False
        )
        clients.append(client)
        return client

    yield new_learner
    for client in clients:
        client.close()
