"""`layerlab load`: a classroom of simulated learners against a running LayerLab server.

Each learner does what a pupil at the playground page does, through the public API only: it
creates a run (moons, circles, XOR or a spiral; 1–3 hidden layers of 4–16 neurons), watches its
stream, and every few seconds moves a slider, which cancels the run and starts another;
sometimes it pauses and resumes, or changes the learning rate while the run trains. Meanwhile it
reads what the page reads and the stream does not carry (frontend/js/live-polls.js): the model,
each hidden neuron's map, and the predictions on the test points of the dataset's preview.

All learners share this machine's address, and the server counts its per-client limits by
address: start the server with LAYERLAB_MAX_ACTIVE_RUNS_PER_CLIENT and
LAYERLAB_MAX_RUNS_PER_MINUTE raised (the test checks them first and names the values needed).
With --room they play in a teacher's room instead, whose limits are per learner
(measure/room_load.py).
"""

import argparse
import asyncio
import contextlib
import json
import math
import os
import ssl
import time
from typing import Any

import httpx

from layerlab.measure.learner import SLIDER_S, Learner
from layerlab.measure.loadreport import (
    LoadReport,
    RoomStats,
    ServerMemory,
    memory_from_metrics,
    memory_from_proc,
)
from layerlab.measure.room_load import Teacher, check_room_limits

MAX_CLIENTS, MAX_SECONDS = 1000, 3600.0
MEMORY_EVERY_S = 5.0


class LoadTestError(Exception):
    """The load test cannot run as asked; the message says what to change."""


def needed_limits(clients: int) -> dict[str, int]:
    """Per-client limits that N learners sharing one address need, with a margin."""
    return {
        "max_active_runs_per_client": 2 * clients,  # a cancelled run may linger a moment
        "max_runs_per_minute": clients * math.ceil(60 / SLIDER_S[0]) + 10,
    }


def check_limits(info: dict[str, Any], clients: int, room: bool = False) -> None:
    """LoadTestError unless the server's limits let `clients` learners on one address play
    (in a room, per-client limits count per learner: the room must hold them instead)."""
    limits = info["limits"]
    if room and (why := check_room_limits(info, clients)):
        raise LoadTestError(why)
    short = (
        {}
        if room
        else {
            name: needed for name, needed in needed_limits(clients).items() if limits[name] < needed
        }
    )
    if short:
        has = ", ".join(f"LAYERLAB_{name.upper()}={limits[name]}" for name in short)
        wants = " ".join(f"LAYERLAB_{name.upper()}={needed}" for name, needed in short.items())
        raise LoadTestError(
            f"the server allows {has} per client address, and all {clients} learners share "
            f"this machine's: start it with {wants} (e.g. `{wants} layerlab serve`)"
        )
    places = info["workers"] * info["runs_per_worker"] + limits["max_queued_runs"]
    if places < clients:
        raise LoadTestError(
            f"the server holds {places} runs at most (LAYERLAB_WORKERS={info['workers']} x "
            f"LAYERLAB_RUNS_PER_WORKER={info['runs_per_worker']} + LAYERLAB_MAX_QUEUED_RUNS="
            f"{limits['max_queued_runs']}), fewer than {clients} learners: raise one of them"
        )


async def _look(
    http: httpx.AsyncClient, pid: int | None, report: LoadReport
) -> ServerMemory | None:
    """The server's memory now (from /proc with a pid, else /metrics); notes its step rate."""
    text = (await http.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith("layerlab_steps_per_second "):
            report.steps_per_s_peak = max(float(line.split()[1]), report.steps_per_s_peak or 0.0)
    return memory_from_proc(pid) if pid is not None else memory_from_metrics(text)


async def run_load_async(
    url: str,
    clients: int,
    seconds: float,
    pid: int | None = None,
    room: bool = False,
    admin_token: str | None = None,
) -> LoadReport:
    """`clients` learners for `seconds` against the server at `url` (http://host:port); with
    `room`, in a teacher's room with its wall open (opened with `admin_token` where needed)."""
    url = url.rstrip("/")
    report = LoadReport(url=url, clients=clients, seconds=seconds)
    async with httpx.AsyncClient(base_url=url, timeout=30, trust_env=False) as http:
        try:
            info = (await http.get("/api/info")).raise_for_status().json()
        except httpx.HTTPError as error:
            raise LoadTestError(f"cannot reach a LayerLab server at {url}: {error}") from None
        check_limits(info, clients, room)
        teacher = None
        if room:
            report.room = RoomStats()
            teacher = Teacher(url, report, report.room, admin_token)
            try:
                await teacher.open(http)
            except RuntimeError as refused:
                raise LoadTestError(str(refused)) from None
        report.memory_before = report.memory_peak = await _look(http, pid, report)
        deadline = time.monotonic() + seconds
        tls = ssl.create_default_context()  # one for all: each costs milliseconds to make
        learners = [Learner(index, url, report, deadline, report.room) for index in range(clients)]
        playing = asyncio.gather(
            *(learner.play(tls) for learner in learners),
            *((teacher.watch_wall(deadline), teacher.read_leaderboard(http, deadline - 1.0))
              if teacher else ()),
        )  # fmt: skip
        while not playing.done():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(playing), MEMORY_EVERY_S)
            memory = await _look(http, pid, report)
            peak = report.memory_peak
            if memory and (peak is None or memory.total_bytes > peak.total_bytes):
                report.memory_peak = memory
        await playing
        if teacher is not None:
            await teacher.close(http)
        report.memory_after = await _look(http, pid, report)
    return report


def run_load(
    url: str,
    clients: int,
    seconds: float,
    pid: int | None = None,
    room: bool = False,
    admin_token: str | None = None,
) -> LoadReport:
    """`run_load_async` for callers without an event loop."""
    return asyncio.run(run_load_async(url, clients, seconds, pid, room, admin_token))


# --- the command line -------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", default="http://127.0.0.1:8000", help="The server (default: %(default)s)."
    )
    parser.add_argument(
        "--clients", type=int, default=20, help="Simulated learners (default: %(default)s)."
    )
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="How long they play (default: %(default)s)."
    )
    parser.add_argument(
        "--pid", type=int, help="The server's process id: read memory from /proc, not /metrics."
    )
    parser.add_argument(
        "--room",
        action="store_true",
        help="Play as a class in a teacher's room, with its wall open: also reports the "
        "wall's frame rate, each tile's updates and how soon a new run reaches its tile.",
    )
    parser.add_argument(
        "--admin-token",
        default=os.environ.get("LAYERLAB_ADMIN_TOKEN"),
        help="With --room on a server that sets LAYERLAB_ADMIN_TOKEN: opening a room needs "
        "it (default: that variable here).",
    )
    parser.add_argument("--json", action="store_true", help="Print the report as JSON.")


def command(args: argparse.Namespace) -> int:
    from layerlab.measure.loadreport import format_report
    from layerlab.usage import UsageError

    if not 1 <= args.clients <= MAX_CLIENTS:
        raise UsageError(f"--clients: from 1 to {MAX_CLIENTS} learners; got {args.clients}")
    if not 1 <= args.seconds <= MAX_SECONDS:
        raise UsageError(f"--seconds: from 1 to {MAX_SECONDS:g}; got {args.seconds:g}")
    if not args.url.startswith(("http://", "https://")):
        raise UsageError(f"--url: expected http://HOST:PORT; got {args.url!r}")
    try:
        report = run_load(
            args.url, args.clients, args.seconds, args.pid, args.room, args.admin_token
        )
    except LoadTestError as error:
        raise UsageError(str(error)) from None
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(format_report(report))
    return 1 if report.server_errors else 0
