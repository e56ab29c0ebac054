"""A Ray that the server starts itself (no LAYERLAB_RAY_ADDRESS) stays on this machine: it
listens on loopback only, without a dashboard, and trains runs as a cluster's Ray does. Its own
module: a process is connected to one Ray at a time."""

import ipaddress
import signal
from collections.abc import Callable
from pathlib import Path

import httpx

from layerlab.engine.store import Store
from service import (
    LONG_SPEC,
    QUICK_SPEC,
    TEST_SETTINGS,
    ServerProcess,
    child_pids,
    create,
    free_port,
    last_step,
    serve_in_thread,
    wait_for,
    wait_for_status,
    wait_until_gone,
)


def listening_addresses() -> set[tuple[str, int]]:
    """(address, port) of every TCP socket listening on this machine, from /proc/net."""
    found = set()
    for table, width in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state != "0A":  # LISTEN
                continue
            address, port = local.split(":")
            packed = bytes.fromhex(address)
            # /proc writes each 32-bit word in the machine's byte order (little-endian here)
            words = b"".join(packed[i : i + 4][::-1] for i in range(0, width, 4))
            found.add((str(ipaddress.ip_address(words)), int(port, 16)))
    return found


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return (getattr(ip, "ipv4_mapped", None) or ip).is_loopback  # ::ffff:127.0.0.1 too


def test_a_ray_of_its_own_listens_on_loopback_only_and_has_no_dashboard() -> None:
    before = listening_addresses()
    settings = {**TEST_SETTINGS, "executor": "ray", "ray_workers_per_node": 1}
    with (
        serve_in_thread(settings) as server,
        httpx.Client(base_url=server.url, timeout=60, trust_env=False) as http,
    ):
        run = create(http, QUICK_SPEC, wait=True)
        assert run["status"] == "done"
        opened = listening_addresses() - before
        executor = http.get("/api/info").json()["executor"]
    assert executor["kind"] == "ray" and [n["address"] for n in executor["nodes"]] == ["127.0.0.1"]
    ray_ports = {port for _, port in opened} - {server.port}
    assert ray_ports, "Ray listens somewhere"
    exposed = {(address, port) for address, port in opened if not is_loopback(address)}
    assert not exposed, f"Ray listens beyond loopback: {sorted(exposed)}"
    assert 8265 not in ray_ports, "no dashboard unless LAYERLAB_RAY_DASHBOARD is set"


def test_a_stopped_server_keeps_its_runs_checkpoints_and_stops_its_ray(
    tmp_path: Path, start_server: Callable[..., ServerProcess]
) -> None:
    """Ray's own SIGTERM handler would exit the server at once; the server's own stop asks each
    actor for its runs' state, marks them interrupted, and ends the Ray it started."""
    database = tmp_path / "runs.db"
    settings = {"executor": "ray", "ray_workers_per_node": "1", "checkpoint_interval_s": "3600"}
    server = start_server(database, free_port(), settings)
    with httpx.Client(base_url=server.url, timeout=60, trust_env=False) as http:
        active = create(http, LONG_SPEC)
        wait_for_status(http, active["id"], "running")
        wait_for(lambda: last_step(http, active["id"]) > 200, 30, "the run to train a while")
    ray_processes = child_pids(server.process.pid)
    assert ray_processes, "the server started a Ray of its own"

    server.process.send_signal(signal.SIGTERM)
    # uvicorn raises the signal again once it has shut down; Ray's handler would exit with 15
    assert server.process.wait(30) == -signal.SIGTERM
    log = (tmp_path / "server-0.log").read_text()
    assert "Application shutdown complete" in log and "Traceback" not in log, log[-3000:]
    wait_until_gone(ray_processes)
    store = Store(str(database))
    stopped, checkpoint = store.get_run(active["id"]), store.checkpoint_step(active["id"])
    store.close()
    assert stopped is not None and stopped.status == "interrupted"
    assert checkpoint is not None and checkpoint > 200, "its state as it stopped, not before"
