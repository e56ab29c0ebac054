"""Measure what paused runs cost a running LayerLab server: places, memory, a newcomer's wait.

    LAYERLAB_MAX_ACTIVE_RUNS_PER_CLIENT=20 layerlab serve &
    python tests/load/probe_paused.py --url http://127.0.0.1:8000 --pid SERVER_PID

`--clients` learners (each from its own loopback address, 127.0.0.N, so per-client limits
count them apart) create `--runs-each` runs and pause them. Then a newcomer creates one run:
the probe prints how long it waited to train, and the memory of the server and its workers
(PSS from /proc with --pid, and resident memory added up from /metrics) before, with the
paused runs, and after every run was deleted.
"""

import argparse
import time
from typing import Any

import httpx
from probe_service import pss_mib

# the page's own run (frontend/js/state.js), which it creates paused at step 0
SPEC: dict[str, Any] = {
    "dataset": {"samples": 500}, "hidden_widths": [4, 4], "batch_size": 10, "epochs": 500,
    "grid_resolution": 64,
}  # fmt: skip
QUEUED = {"status": "queued", "limit": 1}


def wait_for_status(http: httpx.Client, run_id: str, status: str, timeout_s: float) -> str:
    """How long the run took to reach `status`, in words."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if http.get(f"/api/runs/{run_id}").json()["status"] == status:
            return f"after {time.monotonic() - start:.2f} s"
        time.sleep(0.02)
    return f"not within {timeout_s:g} s"


def resident_mib(http: httpx.Client) -> str:
    """The resident memory of the server and its workers added up, as /metrics reports it."""
    lines = http.get("/metrics").text.splitlines()
    rss = [float(line.split()[-1]) for line in lines if line.startswith("process_resident_memory")]
    return f"{sum(rss) / 2**20:,.0f} MiB"


def learner(url: str, number: int) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=f"127.0.0.{number + 2}")
    return httpx.Client(base_url=url, transport=transport, timeout=60, trust_env=False)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--pid", type=int, help="the server's process id, for its memory")
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--runs-each", type=int, default=10)
    args = parser.parse_args()

    def memory() -> str:
        return f"{pss_mib(args.pid):,.0f} MiB" if args.pid else "(no --pid)"

    before = f"{memory()}, RSS {resident_mib(learner(args.url, 0))}"
    learners = [learner(args.url, n) for n in range(args.clients)]
    runs: list[tuple[httpx.Client, dict[str, Any]]] = []
    started = time.monotonic()
    for http in learners:
        for seed in range(args.runs_each):
            response = http.post("/api/runs", json={**SPEC, "seed": seed}, params={"paused": True})
            response.raise_for_status()
            runs.append((http, response.json()))
    probe = learners[0]
    settle_by = time.monotonic() + 30  # every run built by a worker (and the surplus parked)
    while time.monotonic() < settle_by and probe.get("/api/runs", params=QUEUED).json()["total"]:
        time.sleep(0.1)
    queued = probe.get("/api/runs", params=QUEUED).json()["total"]
    print(f"{len(runs)} paused runs in {time.monotonic() - started:.1f} s, {queued} still queued")
    peak = f"{memory()}, RSS {resident_mib(probe)}"

    newcomer = learner(args.url, args.clients)
    created = newcomer.post("/api/runs", json=SPEC)
    created.raise_for_status()
    waited = wait_for_status(newcomer, created.json()["id"], "running", 60)
    info = newcomer.get("/api/info").json()
    capacity = info["workers"] * info["runs_per_worker"]
    print(f"a newcomer's run trains {waited} (worker places: {capacity})")

    for http, run in [*runs, (newcomer, created.json())]:
        http.delete(f"/api/runs/{run['id']}", headers={"X-Run-Token": run["token"]})
    time.sleep(5)  # the workers notice their last run has gone, and give memory back
    after = f"{memory()}, RSS {resident_mib(probe)}"
    print(
        f"memory (PSS): before {before}, with the paused runs {peak}, after deleting them {after}"
    )


if __name__ == "__main__":
    main()
