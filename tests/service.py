"""The service under test: quick specs, creating runs and waiting for them, a real-port server.

Test modules import these by name (`from service import create`; pytest puts tests/ on the
path); the conftest.py files hold the fixtures.
"""

import asyncio
import contextlib
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from layerlab.api.app import create_app
from layerlab.api.serve import uvicorn_options
from layerlab.config import get_settings
from layerlab.engine.scheduler import Scheduler

# Small, quick runs: a few hundred steps on a few hundred points.
QUICK_SPEC: dict[str, Any] = {
    "dataset": {"name": "moons", "samples": 200, "noise": 0.1},
    "hidden_widths": [8, 8],
    "learning_rate": 0.03,
    "epochs": 60,
    "grid_resolution": 16,
}
# A run long enough to be caught running: pause, resume and cancel act on it.
LONG_SPEC: dict[str, Any] = {**QUICK_SPEC, "epochs": 1000, "batch_size": 1}

# A linear regression at learning rate 10: its loss becomes NaN within a few steps.
DIVERGING_SPEC: dict[str, Any] = {
    "dataset": {"name": "plane", "samples": 100},
    "hidden_widths": [],
    "optimizer": "sgd",
    "learning_rate": 10,
    "epochs": 50,
    "grid_resolution": 8,
}

TEST_SETTINGS = {
    "database": ":memory:",
    "workers": 2,
    "admin_token": "admin-token-for-tests-only",
    "max_active_runs_per_client": 50,
    "max_runs_per_minute": 1000,
}


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
    client: httpx.Client, run_id: str, *statuses: str, timeout_s: float = 30
) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        run: dict[str, Any] = client.get(f"/api/runs/{run_id}").json()
        return run if run["status"] in statuses else None

    return wait_for(reached, timeout_s, f"run {run_id} to be {' or '.join(statuses)}")


def last_step(http: httpx.Client, run_id: str) -> int:
    points = http.get(f"/api/runs/{run_id}/metrics").json()["points"]
    return int(points[-1]["step"]) if points else -1


def owner(run: dict[str, Any]) -> dict[str, str]:
    """The headers that control `run`: its owner token, as `create` returned it."""
    return {"X-Run-Token": run["token"]}


def create(
    client: httpx.Client, spec: dict[str, Any] | None = None, **params: Any
) -> dict[str, Any]:
    response = client.post("/api/runs", json=QUICK_SPEC if spec is None else spec, params=params)
    assert response.status_code == 201, response.text
    run: dict[str, Any] = response.json()
    return run


# --- the same app on a real port: uvicorn in a thread of the test process ---------------------

T = TypeVar("T")


@dataclass
class LiveServer:
    """A server on 127.0.0.1: talk to it over sockets, look inside it through `app`."""

    app: FastAPI
    url: str  # http://127.0.0.1:PORT
    ws_url: str  # ws://127.0.0.1:PORT
    port: int
    loop: asyncio.AbstractEventLoop

    @property
    def scheduler(self) -> Scheduler:
        scheduler: Scheduler = self.app.state.scheduler
        return scheduler

    def on_loop(self, function: Callable[[], T]) -> T:
        """`function()` called on the server's event loop, where run state changes."""

        async def call() -> T:
            return function()

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(timeout=10)

    def worker_pid(self, run_id: str) -> int | None:
        """The process id of the worker holding the run (None when none holds it)."""
        workers = self.scheduler.executor_info().workers
        return next((worker.pid for worker in workers if run_id in worker.runs), None)

    def worker_pids(self) -> list[int | None]:
        return [worker.pid for worker in self.scheduler.executor_info().workers]

    def workers_idle(self) -> bool:
        return not any(worker.runs for worker in self.scheduler.executor_info().workers)


@contextlib.contextmanager
def serve_in_thread(settings: dict[str, Any]) -> Iterator[LiveServer]:
    """`create_app()` with these LAYERLAB_* values, served as `layerlab serve` does."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in settings.items():
            patch.setenv(f"LAYERLAB_{name.upper()}", str(value))
        get_settings.cache_clear()
        app = create_app()
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))  # bound here: no race for the port
        # accepted connections inherit it: without it each keep-alive answer waits ~40 ms for
        # the client's delayed ACK (uvicorn sets it on sockets it makes, not on sockets given)
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        port = listener.getsockname()[1]
        config = uvicorn.Config(
            app,
            **{**uvicorn_options(app.state.settings), "log_level": "warning"},
            loop="asyncio",
        )
        server = uvicorn.Server(config)
        loops: list[asyncio.AbstractEventLoop] = []

        async def serve() -> None:
            loops.append(asyncio.get_running_loop())
            await server.serve(sockets=[listener])

        thread = threading.Thread(target=asyncio.run, args=(serve(),), name="uvicorn")
        thread.start()
        try:
            wait_for(lambda: server.started or not thread.is_alive(), 60, "uvicorn to start")
            assert server.started, "uvicorn stopped before it started serving"
            yield LiveServer(
                app, f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", port, loops[0]
            )
        finally:
            server.should_exit = True
            thread.join(30)
            listener.close()
    get_settings.cache_clear()


# --- `layerlab serve` as a process of its own ---------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def child_pids(parent: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # it exited while we looked
        if int(fields[1]) == parent:
            children.append(int(stat.parent.name))
    return children


def is_running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie lingers where nothing reaps it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_until_gone(pids: list[int], timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while (alive := [pid for pid in pids if is_running(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive, f"processes {alive} outlived their server"


@dataclass
class ServerProcess:
    process: "subprocess.Popen[bytes]"
    url: str
    children: list[int] = field(default_factory=list)  # its workers' pids, once it is up
