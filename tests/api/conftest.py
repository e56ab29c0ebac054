"""Fixtures of the service: the real app in-process (TestClient) or on a real port (uvicorn)."""

import contextlib
import itertools
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from layerlab.api.app import create_app
from layerlab.config import get_settings
from service import (
    TEST_SETTINGS,
    LiveServer,
    ServerProcess,
    child_pids,
    serve_in_thread,
    wait_for,
)

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


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """`layerlab serve` as a separate process on `database`, with one worker and frequent
    checkpoints unless `settings` (LAYERLAB_* values) say otherwise; every one is stopped at the
    end."""
    started: list[ServerProcess] = []

    def start(database: Path, port: int, settings: dict[str, str] | None = None) -> ServerProcess:
        env = {key: value for key, value in os.environ.items() if not key.startswith("LAYERLAB_")}
        env |= {
            "LAYERLAB_DATABASE": str(database),
            "LAYERLAB_WORKERS": "1",
            "LAYERLAB_CHECKPOINT_INTERVAL_S": "0.3",
        }
        env |= {f"LAYERLAB_{name.upper()}": value for name, value in (settings or {}).items()}
        log = tmp_path / f"server-{len(started)}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "layerlab", "serve", "--port", str(port)],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        server = ServerProcess(process, f"http://127.0.0.1:{port}")
        started.append(server)

        def answers() -> bool:
            assert process.poll() is None, f"the server exited:\n{log.read_text()[-3000:]}"
            try:
                return httpx.get(f"{server.url}/api/health", trust_env=False).is_success
            except httpx.TransportError:
                return False

        wait_for(answers, 60, "the server to answer /api/health")
        server.children = child_pids(process.pid)
        return server

    yield start
    for server in started:  # quick and sure: a test that wanted a clean stop has had it
        leftovers = server.children + child_pids(server.process.pid)
        server.process.kill()
        server.process.wait()
        for pid in leftovers:
            with contextlib.suppress(OSError):
                if b"multiprocessing" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)  # a worker of that server: ours to end
