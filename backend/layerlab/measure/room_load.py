"""`layerlab load --room`: the load test played as a class in a teacher's room.

A teacher opens a room (two moons, the data locked, a challenge on test accuracy with a budget
of parameters) and keeps its wall open; the learners join it by its code with a name each, then
play as in the plain load test, their runs created in the room (`POST /api/rooms/{code}/runs`,
the data as the teacher set it; depth, width, activation and learning rate their own). Each
learner's page polls the room every 2 s as the page does, and the teacher reads the leaderboard
every 5 s.

Besides what the plain test reports, it measures the wall: its frames per second, how often each
training learner's tile changed, and how long after a learner created a run its tile showed it.
Per-client limits are the room's per learner, so the server's defaults suffice here.
"""

import asyncio
import contextlib
import json
import random
import time
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError, InvalidHandshake

from layerlab.measure.loadreport import LoadReport, ReadStats, RoomStats, Tile

ROOM_POLL_S, LEADERBOARD_S = 2.0, 5.0  # the learner page's and the teacher's cadences
# The teacher's setup: the data and its split locked, the network the learners' to choose.
ROOM_SPEC: dict[str, Any] = {
    "dataset": {"name": "moons", "samples": 1000, "noise": 0.2},
    "hidden_widths": [8],
    "activation": "relu",
    "learning_rate": 0.03,
    "batch_size": 16,
    "epochs": 1000,
}
ROOM_LOCKED = ["dataset", "noise", "samples", "train-fraction", "data-seed", "batch-size"]
ROOM_CHALLENGE = {"metric": "test_acc", "target": 0.97, "max_parameters": 200}


def room_spec(rng: random.Random) -> dict[str, Any]:
    """A run a learner in the room might try: the teacher's data, a network of their own."""
    depth = rng.randint(1, 3)
    return {
        **ROOM_SPEC,
        "hidden_widths": [rng.randint(4, 16) for _ in range(depth)],
        "activation": rng.choice(("relu", "tanh")),
        "learning_rate": rng.choice((0.003, 0.01, 0.03)),
    }


class Teacher:
    """Opens the room, keeps its wall open and reads its leaderboard; closes it at the end."""

    def __init__(
        self, url: str, report: LoadReport, stats: RoomStats, admin_token: str | None
    ) -> None:
        self.url, self.report, self.stats = url, report, stats
        self.admin = {"X-Run-Token": admin_token} if admin_token else {}
        self.token = ""

    async def open(self, http: httpx.AsyncClient) -> str:
        """The new room's code; a LoadTestError-worthy message as RuntimeError when refused."""
        body = {
            "title": "layerlab load",
            "setup": {"spec": ROOM_SPEC, "locked": ROOM_LOCKED},
            "challenge": ROOM_CHALLENGE,
        }
        response = await http.post("/api/rooms", json=body, headers=self.admin)
        self.report.requests += 1
        if response.status_code in (401, 403):  # the server asks for its admin token
            raise RuntimeError(
                f"opening a room: HTTP {response.status_code}: {_detail(response)}; give it with "
                "--admin-token"
            )
        if response.status_code != 201:
            raise RuntimeError(f"opening a room: HTTP {response.status_code}: {_detail(response)}")
        room = response.json()
        self.token, self.stats.code = room["token"], room["code"]
        return str(room["code"])

    async def close(self, http: httpx.AsyncClient) -> None:
        path = f"/api/rooms/{self.stats.code}"
        response = await http.delete(path, headers={"X-Run-Token": self.token})
        self.report.requests += 1
        if response.status_code != 204:
            self.report.errors[f"http {response.status_code} close room"] += 1

    async def read_leaderboard(self, http: httpx.AsyncClient, until: float) -> None:
        stats = self.report.reads.setdefault("leaderboard", ReadStats())
        path = f"/api/rooms/{self.stats.code}/leaderboard"
        while time.monotonic() < until:
            await timed_read(http, self.report, stats, path)
            await asyncio.sleep(LEADERBOARD_S)

    async def watch_wall(self, until: float) -> None:
        """Follow the wall's stream until `until`, noting each tile's changes."""
        url = self.url.replace("http", "ws", 1) + f"/ws/rooms/{self.stats.code}?token={self.token}"
        stats, previous = self.stats, None
        try:
            async with connect(url, proxy=None, max_size=None) as stream:
                opened = time.monotonic()
                while (left := until - time.monotonic()) > 0:
                    try:
                        message = await asyncio.wait_for(stream.recv(), left)
                    except asyncio.TimeoutError:
                        break
                    now = time.monotonic()
                    frame = json.loads(message)
                    if frame.get("type") != "room":
                        continue
                    stats.wall_frames += 1
                    if previous is not None:
                        stats.wall_gaps_s.append(now - previous)
                    self._take(frame["learners"], now - previous if previous else 0.0)
                    previous = now
                stats.wall_seconds = time.monotonic() - opened
        except ConnectionClosedError as closed:
            code = closed.rcvd.code if closed.rcvd is not None else 1006
            self.report.errors[f"ws close {code} wall"] += 1
        except (OSError, InvalidHandshake, TimeoutError) as error:
            self.report.errors[f"connection ws {type(error).__name__} wall"] += 1
        except (ValueError, KeyError):
            self.report.errors["ws frame not understood wall"] += 1

    def _take(self, learners: list[dict[str, Any]], since_last_s: float) -> None:
        shown_at = time.perf_counter()
        for learner in learners:
            tile = self.stats.tiles.setdefault(learner["id"], Tile())
            content = (
                learner.get("run_id"),
                learner.get("epoch"),
                json.dumps(learner.get("metrics")),
            )
            if learner.get("status") == "training":
                tile.training_s += since_last_s
                if tile.last is not None and content != tile.last:
                    tile.changes += 1
            run_id = learner.get("run_id")
            if run_id is not None and (posted := self.stats.run_posted.pop(run_id, None)):
                self.stats.run_shown_s.append(shown_at - posted)
            tile.last = content


async def join(http: httpx.AsyncClient, report: LoadReport, code: str, index: int) -> str | None:
    """A learner joins with a name; their token (None when refused, counted as an error)."""
    response = await http.post(f"/api/rooms/{code}/learners", json={"name": f"Learner {index + 1}"})
    report.requests += 1
    if response.status_code != 201:
        report.errors[f"http {response.status_code} join"] += 1
        return None
    return str(response.json()["token"])


async def poll_room(
    http: httpx.AsyncClient, report: LoadReport, code: str, token: str, until: float
) -> None:
    """The learner page's poll of its room (setup, challenge, freeze) every ROOM_POLL_S."""
    stats = report.reads.setdefault("room", ReadStats())
    while time.monotonic() < until:
        await timed_read(http, report, stats, f"/api/rooms/{code}", {"X-Run-Token": token})
        await asyncio.sleep(ROOM_POLL_S)


async def timed_read(
    http: httpx.AsyncClient,
    report: LoadReport,
    stats: ReadStats,
    path: str,
    headers: dict[str, str] | None = None,
) -> None:
    stats.sent += 1
    report.requests += 1
    sent_at = time.perf_counter()
    try:
        response = await http.get(path, headers=headers)
    except httpx.HTTPError as error:
        stats.errors[f"connection {type(error).__name__}"] += 1
        return
    if response.status_code == 200:
        stats.latency_s.append(time.perf_counter() - sent_at)
    else:
        stats.errors[str(response.status_code)] += 1


def check_room_limits(info: dict[str, Any], clients: int) -> str | None:
    """Why the server cannot hold this room (a sentence naming the setting), or None."""
    limit = info["limits"].get("max_learners_per_room")
    if limit is None:
        return "this server has no rooms (its /api/info names no max_learners_per_room)"
    if limit < clients:
        return (
            f"the server takes {limit} learners per room (LAYERLAB_MAX_LEARNERS_PER_ROOM), "
            f"fewer than {clients}: raise it or ask for fewer --clients"
        )
    return None


def _detail(response: httpx.Response) -> str:
    """The server's sentence: rooms answer {"error": …}, FastAPI's own refusals {"detail": …}."""
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        body = response.json()
        if "error" in body or "detail" in body:
            return str(body.get("error", body.get("detail")))
    return response.text[:200]
