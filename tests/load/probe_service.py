"""Measure a running LayerLab server: POST-to-first-frame time, frames per second, memory.

    python tests/load/probe_service.py --url http://127.0.0.1:8000 --runs 20 --pid SERVER_PID

Starts N runs at once, each watched by its own websocket viewer, for `--seconds`; prints the
time from each POST to its viewer's first metrics frame, the metric and grid frames each viewer
received per second, and (with --pid) the memory of the server and its worker processes.
"""

import argparse
import json
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect

SPEC: dict[str, Any] = {
    "dataset": {"name": "moons", "samples": 1000},
    "hidden_widths": [8, 8],
    "epochs": 1000,
    "grid_resolution": 64,
}


def pss_mib(pid: int) -> float:
    """Memory of a process and all its descendants, in MiB: proportional set size, so that the
    PyTorch libraries they all map are counted once, not once per process."""
    total_kib = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        rollup = Path(f"/proc/{current}/smaps_rollup").read_text()
        total_kib += int(next(x for x in rollup.splitlines() if x.startswith("Pss:")).split()[1])
        for task in Path(f"/proc/{current}/task").iterdir():
            children = (task / "children").read_text().split()
            pending.extend(int(child) for child in children)
    return total_kib / 1024


class Viewer(threading.Thread):
    def __init__(self, http: httpx.Client, url: str, seconds: float) -> None:
        super().__init__(daemon=True)
        self.http, self.url, self.seconds = http, url, seconds
        self.created_at = 0.0
        self.answered_s: float | None = None  # POST sent → 201 received
        self.first_metrics_s: float | None = None
        self.metric_frames = self.grid_frames = 0
        self.created: dict[str, Any] = {}
        self.error: str | None = None

    def run(self) -> None:  # type: ignore[override]
        try:
            self._watch()
        except Exception as error:
            self.error = f"{type(error).__name__}: {error}"

    def _watch(self) -> None:
        self.created_at = time.perf_counter()
        response = self.http.post("/api/runs", json=SPEC)
        response.raise_for_status()
        self.answered_s = time.perf_counter() - self.created_at
        self.created = response.json()
        ws_url = self.url.replace("http", "ws", 1) + self.created["links"]["stream"]
        with connect(ws_url, max_size=None) as socket:
            end = time.perf_counter() + self.seconds
            while (left := end - time.perf_counter()) > 0:
                try:
                    frame = json.loads(socket.recv(timeout=left))
                except TimeoutError:
                    break
                if frame["type"] == "metrics":
                    self.metric_frames += 1
                    if self.first_metrics_s is None:
                        self.first_metrics_s = time.perf_counter() - self.created_at
                elif frame["type"] == "snapshot" and frame["history"]:
                    self.first_metrics_s = self.first_metrics_s or (
                        time.perf_counter() - self.created_at
                    )
                elif frame["type"] == "grid":
                    self.grid_frames += 1
        self.http.post(
            f"/api/runs/{self.created['id']}/cancel",
            headers={"X-Run-Token": self.created["token"]},
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--pid", type=int, help="The server's process id, to measure memory.")
    args = parser.parse_args()
    before = pss_mib(args.pid) if args.pid else None
    # One client for all: a client per request would spend the probe's time making SSL contexts.
    limits = httpx.Limits(max_connections=args.runs)
    http = httpx.Client(base_url=args.url, timeout=30, limits=limits, trust_env=False)
    viewers = [Viewer(http, args.url, args.seconds) for _ in range(args.runs)]
    for viewer in viewers:
        viewer.start()
    time.sleep(args.seconds / 2)
    during = pss_mib(args.pid) if args.pid else None
    for viewer in viewers:
        viewer.join()
    errors = [v.error for v in viewers if v.error]
    firsts = sorted(v.first_metrics_s for v in viewers if v.first_metrics_s is not None)
    metrics_fps = [v.metric_frames / args.seconds for v in viewers]
    grid_fps = [v.grid_frames / args.seconds for v in viewers]
    print(f"runs watched           {args.runs} for {args.seconds:g} s, errors: {len(errors)}")
    for error in errors[:5]:
        print(f"  {error}")
    answers = sorted(v.answered_s for v in viewers if v.answered_s is not None)
    for name, times in (("POST → 201", answers), ("POST → first metrics", firsts)):
        if times:
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            print(
                f"{name:<22} p50 {statistics.median(times) * 1000:.0f} ms, "
                f"p95 {p95 * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms"
            )
    for name, rates in (("metric", metrics_fps), ("grid", grid_fps)):
        print(
            f"{name + ' frames / s':<22} per viewer: min {min(rates):.1f}, "
            f"mean {statistics.mean(rates):.1f}"
        )
    if before is not None and during is not None:
        print(
            f"memory (PSS), server + workers: idle {before:.0f} MiB, "
            f"with {args.runs} runs {during:.0f} MiB"
        )


if __name__ == "__main__":
    main()
