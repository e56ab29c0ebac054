"""The server survives what a classroom does to it: killed workers, stuck viewers, crashes and
restarts; nothing finished is lost and other runs carry on."""

import base64
import io
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import torch

from layerlab.engine.scheduler import INTERRUPTED_ERROR
from layerlab.engine.store import Store
from service import (
    LONG_SPEC,
    QUICK_SPEC,
    LiveServer,
    ServerProcess,
    child_pids,
    create,
    free_port,
    last_step,
    owner,
    wait_for,
    wait_for_status,
    wait_until_gone,
)

pytestmark = pytest.mark.usefixtures("cancel_leftovers")

MAX_PENDING_POINTS = 20  # a small mailbox bound, so that a stuck viewer reaches it in a second
POINTS = [[0.0, 1.0], [1.0, -0.5], [-1.0, 0.2], [2.0, 0.3], [0.5, 0.25]]


@pytest.fixture(scope="module")
def app_settings(app_settings: dict[str, Any]) -> dict[str, Any]:
    return {
        **app_settings,
        "slow_viewer_timeout_s": 1,
        "metrics_frames_per_s": 50,
        "grid_frames_per_s": 50,
        "checkpoint_interval_s": 0.3,
    }


# --- a worker killed mid-run ------------------------------------------------------------------


def test_a_killed_worker_loses_only_its_runs_which_keep_their_checkpoints(
    http: httpx.Client, live_server: LiveServer
) -> None:
    # Runs of one stack gather on one worker; runs of two stacks spread over idle workers.
    wait_for(live_server.workers_idle, 10, "earlier tests' runs to end")
    victim, survivor = create(http, LONG_SPEC), create(http, {**LONG_SPEC, "activation": "tanh"})
    for run in (victim, survivor):
        wait_for_status(http, run["id"], "running")
    victim_pid = live_server.worker_pid(victim["id"])
    survivor_pid = live_server.worker_pid(survivor["id"])
    assert victim_pid is not None and survivor_pid is not None
    assert victim_pid != survivor_pid, "runs of two stacks on an idle pool go to two workers"

    wait_for(lambda: live_server.scheduler.store.load_checkpoint(victim["id"]), 10, "a checkpoint")
    os.kill(victim_pid, signal.SIGKILL)
    lost = wait_for_status(http, victim["id"], "interrupted", timeout_s=10)
    assert "process training this run stopped" in lost["error"]
    assert "signal 9" in lost["error"]
    checkpoint = live_server.scheduler.store.load_checkpoint(victim["id"])
    assert checkpoint is not None
    saved_step = checkpoint[0]
    assert f"resume it to go on from its checkpoint at step {saved_step}" in lost["error"]
    assert "other run" not in lost["error"], "it was the only run on its worker"
    assert lost["has_weights"] is True
    assert last_step(http, victim["id"]) > 0  # its history up to the checkpoint
    assert http.get(f"/api/runs/{victim['id']}/model").status_code == 200

    step_after_kill = last_step(http, survivor["id"])
    wait_for(
        lambda: last_step(http, survivor["id"]) > step_after_kill + 100,
        10,
        "the other worker's run to keep training",
    )
    assert http.get(f"/api/runs/{survivor['id']}").json()["status"] == "running"
    assert live_server.worker_pid(survivor["id"]) == survivor_pid

    wait_for(lambda: victim_pid not in live_server.worker_pids(), 10, "the worker's replacement")
    metrics = http.get("/metrics").text
    assert "\nlayerlab_worker_restarts_total 1\n" in metrics
    assert '\nlayerlab_runs_finished_total{status="interrupted"} 1\n' in metrics
    replacement = create(http, QUICK_SPEC, wait=True)
    assert replacement["status"] == "done", replacement

    # resumed, the lost run goes on from its checkpoint, not from the start
    resumed = http.post(f"/api/runs/{victim['id']}/resume", headers=owner(victim))
    assert resumed.status_code == 200, resumed.text
    wait_for_status(http, victim["id"], "running")
    points = http.get(f"/api/runs/{victim['id']}/metrics").json()["points"]
    steps = [point["step"] for point in points]
    assert steps == sorted(steps) and saved_step in steps, "the curve goes on where it was"
    http.post(f"/api/runs/{victim['id']}/cancel", headers=owner(victim))
    health = http.get("/api/health")
    assert health.status_code == 200
    assert health.json()["workers"] == 2


# --- a viewer that never reads ----------------------------------------------------------------


@pytest.fixture
def stuck_viewer() -> Iterator[Callable[[int, str], socket.socket]]:
    """Open a websocket by hand, read the 101 response's headers and never read again."""
    sockets: list[socket.socket] = []

    def open_and_never_read(port: int, path: str) -> socket.socket:
        sock = socket.socket()
        sockets.append(sock)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window fills fast
        sock.settimeout(10)
        sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while not head.endswith(b"\r\n\r\n"):  # byte by byte: not one byte of a frame
            byte = sock.recv(1)
            assert byte, f"the server hung up during the handshake: {head!r}"
            head += byte
        assert head.startswith(b"HTTP/1.1 101"), head
        return sock

    yield open_and_never_read
    for sock in sockets:
        sock.close()


def test_a_viewer_that_never_reads_is_dropped_and_never_slows_training(
    http: httpx.Client,
    live_server: LiveServer,
    stuck_viewer: Callable[[int, str], socket.socket],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub = live_server.scheduler.hub
    monkeypatch.setattr(hub, "max_pending_points", MAX_PENDING_POINTS)
    run = create(http, {**LONG_SPEC, "grid_resolution": 128})  # ~22 kB per grid frame
    run_id = run["id"]
    wait_for_status(http, run_id, "running")

    def look() -> Sample | None:
        """The run's progress and its viewers' backlogs, read on the server's loop."""
        channel = hub.channels.get(run_id)
        if channel is None:
            return None
        step = channel.history[-1]["step"] if channel.history else 0
        backlogs = [mailbox.pending for mailbox in channel.viewers]
        return Sample(time.monotonic(), step, len(channel.history), backlogs)

    start = live_server.on_loop(look)
    assert start is not None
    baseline = wait_for(
        lambda: (now := live_server.on_loop(look)) and now.points >= start.points + 20 and now,
        10,
        "20 metric points to measure the training rate by",
    )
    stuck_viewer(live_server.port, f"/ws/runs/{run_id}")
    wait_for(lambda: (now := live_server.on_loop(look)) and now.backlogs, 5, "a subscription")
    samples: list[Sample] = []
    while (now := live_server.on_loop(look)) and now.backlogs and len(samples) < 300:
        samples.append(now)
        time.sleep(0.05)

    assert now is not None, "the run ended while its viewer was stuck"
    assert now.backlogs == [], "the stuck viewer is still subscribed after 15 s"
    assert now.time - baseline.time < 12, "the stuck viewer was dropped, but late"
    backlog = [sample.backlogs[0] for sample in samples]
    assert max(backlog) <= MAX_PENDING_POINTS + 2, "a stuck viewer's mailbox grew past its bound"
    assert max(backlog) >= MAX_PENDING_POINTS // 2, "the viewer never fell behind: nothing tested"
    stuck = next(sample for sample in samples if sample.backlogs[0] > 0)
    assert now.step - stuck.step > 1000
    assert stuck.rate_since(now) > 0.3 * start.rate_since(baseline), "training slowed down"
    assert http.get(f"/api/runs/{run_id}").json()["status"] == "running"


@dataclass(frozen=True)
class Sample:
    time: float  # time.monotonic() in the test process
    step: int  # the last step the server heard of
    points: int  # metric points heard so far
    backlogs: list[int]  # each viewer's mailbox.pending

    def rate_since(self, later: "Sample") -> float:
        """Training steps per second from this sample to a later one."""
        return (later.step - self.step) / (later.time - self.time)


# --- a start, a crash, a stop, and a restart on the same database -------------------------------


def test_a_fresh_server_says_starting_until_a_worker_can_train(
    tmp_path: Path,
    start_server: Callable[..., ServerProcess],
) -> None:
    """The server answers as soon as it is up; its worker still imports PyTorch, so health says
    "starting" (a run is taken meanwhile and waits) until the worker can train."""
    server = start_server(tmp_path / "runs.db", free_port())
    with httpx.Client(base_url=server.url, timeout=60, trust_env=False) as http:
        first = http.get("/api/health")
        assert first.status_code == 200
        assert first.json()["status"] == "starting", first.json()
        assert first.json()["workers_ready"] == 0
        waiting = create(http, QUICK_SPEC)

        def ready() -> dict[str, Any] | None:
            health: dict[str, Any] = http.get("/api/health").json()
            return health if health["status"] == "ok" else None

        health = wait_for(ready, 60, "a worker to be ready")
        assert health["workers_ready"] == health["workers"] == 1
        assert wait_for_status(http, waiting["id"], "done")["status"] == "done"


def test_a_crashed_server_restarts_on_its_database(
    tmp_path: Path,
    start_server: Callable[..., ServerProcess],
) -> None:
    database, port = tmp_path / "runs.db", free_port()
    server = start_server(database, port)
    with httpx.Client(base_url=server.url, timeout=60, trust_env=False) as http:
        done = create(http, QUICK_SPEC, wait=True)
        assert done["status"] == "done", done
        predicted = http.post(f"/api/runs/{done['id']}/predict", json={"points": POINTS}).json()
        assert len(predicted["probabilities"]) == len(POINTS), predicted
        active = create(http, LONG_SPEC)
        wait_for_status(http, active["id"], "running")
        wait_for(lambda: last_step(http, active["id"]) > 500, 20, "the run to train a while")
        time.sleep(0.5)  # more than a checkpoint interval: one has been written
    workers = child_pids(server.process.pid)
    assert workers, "the server should have started a worker process"

    server.process.kill()  # a crash: no shutdown, no goodbye to the workers
    server.process.wait(10)
    wait_until_gone(workers)  # each worker ends by itself on its pipe's end of file
    with socket.socket() as probe:  # nothing listens on the port any more
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
        probe.listen()
    store = Store(str(database))
    crashed = store.get_run(active["id"])
    store.close()
    assert crashed is not None and crashed.status == "running"  # nobody marked it: it crashed

    restarted = start_server(database, port)
    with httpx.Client(base_url=restarted.url, timeout=60, trust_env=False) as http:
        listed = {run["id"]: run for run in http.get("/api/runs").json()["runs"]}
        assert listed[done["id"]]["status"] == "done"
        assert listed[done["id"]]["has_weights"] is True
        assert listed[active["id"]]["status"] == "interrupted"
        assert listed[active["id"]]["error"] == INTERRUPTED_ERROR
        # the crash lost at most a checkpoint's interval: history and weights were kept
        kept = http.get(f"/api/runs/{active['id']}/metrics").json()["points"]
        assert kept and kept[-1]["step"] > 0, kept
        assert listed[active["id"]]["has_weights"] is True
        resumed = http.post(f"/api/runs/{active['id']}/resume", headers=owner(active))
        assert resumed.status_code == 200, resumed.text
        wait_for_status(http, active["id"], "running")
        wait_for(lambda: last_step(http, active["id"]) > kept[-1]["step"], 20, "training on")
        steps = [p["step"] for p in http.get(f"/api/runs/{active['id']}/metrics").json()["points"]]
        assert steps == sorted(steps), "it went on from its checkpoint, not from step 0"

        again = http.post(f"/api/runs/{done['id']}/predict", json={"points": POINTS})
        assert again.status_code == 200, again.text
        assert again.json()["probabilities"] == pytest.approx(predicted["probabilities"])
        exported = http.get(f"/api/runs/{done['id']}/export")
        assert exported.status_code == 200
        state = torch.load(io.BytesIO(exported.content), weights_only=True)
        assert state and all(isinstance(tensor, torch.Tensor) for tensor in state.values())


def test_a_stopped_server_marks_its_active_run_interrupted(
    tmp_path: Path,
    start_server: Callable[..., ServerProcess],
) -> None:
    database = tmp_path / "runs.db"
    server = start_server(database, free_port())
    with httpx.Client(base_url=server.url, timeout=60, trust_env=False) as http:
        active = create(http, LONG_SPEC)
        wait_for_status(http, active["id"], "running")
    workers = child_pids(server.process.pid)

    server.process.send_signal(signal.SIGTERM)  # Ctrl+C, or a service manager's stop
    server.process.wait(20)
    wait_until_gone(workers)
    store = Store(str(database))
    stopped = store.get_run(active["id"])
    store.close()
    assert stopped is not None
    assert stopped.status == "interrupted"
    assert stopped.error == INTERRUPTED_ERROR
