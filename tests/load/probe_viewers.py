"""Measure what many viewers of one run cost: its training speed and the server's answers.

    python tests/load/probe_viewers.py --url http://127.0.0.1:8000 --viewers 0,200

For each number of viewers: one long run, watched by that many websocket viewers (all in this
process, each reading every frame as it comes); over `--seconds` it prints the run's steps per
second (from its metric frames) and the median and 95th percentile of /api/health's answer time.
"""

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import httpx
from websockets.asyncio.client import connect

SPEC: dict[str, Any] = {
    "dataset": {"name": "moons", "samples": 1000},
    "hidden_widths": [8, 8],
    "epochs": 100_000,
    "grid_resolution": 48,
}


async def watch(url: str, steps: list[tuple[float, int]], record: bool) -> int:
    """Read every frame until cancelled; the first viewer records (time, step) of each point."""
    frames = 0
    async with connect(url, max_size=None) as socket:
        async for message in socket:
            frames += 1
            if record:
                frame = json.loads(message)
                for point in frame.get("points", []) if frame["type"] == "metrics" else []:
                    steps.append((time.monotonic(), point["step"]))
    return frames


async def measure(base: str, viewers: int, seconds: float) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        created = (await http.post("/api/runs", json=SPEC)).json()
        ws = base.replace("http", "ws", 1) + f"/ws/runs/{created['id']}"
        steps: list[tuple[float, int]] = []
        tasks = [asyncio.create_task(watch(ws, steps, k == 0)) for k in range(max(viewers, 1))]
        await asyncio.sleep(3)  # the run starts and every viewer connects
        latencies = []
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            asked = time.perf_counter()
            await http.get("/api/health")
            latencies.append(time.perf_counter() - asked)
            await asyncio.sleep(0.2)
        window = [(t, s) for t, s in steps if t >= start]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await http.delete(f"/api/runs/{created['id']}", headers={"X-Run-Token": created["token"]})
    rate = (window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0]) if window else 0.0
    return {
        "viewers": viewers,
        "steps_per_s": round(rate),
        "health_median_ms": round(1000 * statistics.median(latencies), 1),
        "health_p95_ms": round(1000 * statistics.quantiles(latencies, n=20)[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--viewers", default="0,200", help="Comma-separated counts to measure.")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    for count in (int(n) for n in args.viewers.split(",")):
        print(json.dumps(asyncio.run(measure(args.url, count, args.seconds))), flush=True)


if __name__ == "__main__":
    main()
