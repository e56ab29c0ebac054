"""One simulated learner of `layerlab load`: what a pupil at the playground page does.

It creates a run (moons, circles, XOR or a spiral; 1–3 hidden layers of 4–16 neurons), watches
its stream, and every few seconds moves a slider, which cancels the run and starts another;
sometimes it pauses and resumes, or changes the learning rate while the run trains. Meanwhile it
reads what the page reads and the stream does not carry (frontend/js/live-polls.js): the model,
each hidden neuron's map, and the predictions on the test points of the dataset's preview.
One class (about 380 lines): the learner's actions share its run, its timings and its counters.
"""

import asyncio
import json
import math
import random
import ssl
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError, InvalidHandshake

from layerlab.measure.loadreport import (
    LOST_RUNS,
    LoadReport,
)
from layerlab.measure.room_load import RoomStats, join, poll_room, room_spec

DATASETS = ("moons", "circles", "xor", "spiral")
SLIDER_S = (3.0, 6.0)  # how long a learner watches a run before it changes something
PAUSE_CHANCE, RATE_CHANCE = 0.25, 0.2  # per run: pause and resume it; change its learning rate
FINAL = ("done", "diverged", "failed", "cancelled", "interrupted")
READ_EVERY_S = {"model": 1.0, "neurons": 0.5, "predict": 1.0}  # the page's cadences
READ_TICK_S = 0.1  # how often the page looks whether a read is due
NEURON_RESOLUTION = 24


def learner_spec(rng: random.Random) -> dict[str, Any]:
    """A run a pupil might ask for: long enough that a slider moves before it ends (50,000
    steps: a stacked run alone trains ~10,000 a second, one of a busy class ~1,000)."""
    depth = rng.randint(1, 3)
    return {
        "dataset": {"name": rng.choice(DATASETS), "samples": 1000, "noise": rng.choice((0.1, 0.2))},
        "hidden_widths": [rng.randint(4, 16) for _ in range(depth)],
        "activation": rng.choice(("relu", "tanh")),
        "learning_rate": rng.choice((0.003, 0.01, 0.03)),
        "batch_size": 16,
        "epochs": 1000,
    }


@dataclass
class RunView:
    """What a learner's page knows of its run: the create answer, then what its stream says."""

    id: str
    hidden_layers: int
    status: str
    model_info: dict[str, Any] | None
    step: int = -1
    ended: bool = False  # its stream has ended
    left: bool = False  # the learner moved on (cancelled it): its page reads it no more

    def follow(self, frame: dict[str, Any]) -> None:
        """Take in a frame of the run's stream: its status, its model and its latest step."""
        if frame["type"] == "snapshot":
            self.follow({"type": "status", **frame["run"]})
            if frame["history"]:
                self.step = frame["history"][-1]["step"]
        elif frame["type"] == "status":
            self.status = frame["status"]
            self.model_info = frame.get("model_info") or self.model_info
        elif frame["type"] == "metrics" and frame["points"]:
            self.step = frame["points"][-1]["step"]

    def read_kinds(self, test_points: list[list[float]] | None) -> list[str]:
        """What the page reads of this run now: nothing before it has weights (queued) or once
        they blew up (diverged); neuron maps only of hidden layers over a plane; predictions
        only with the preview's test points."""
        if not self.model_info or self.status in ("queued", "diverged"):
            return []
        has_plane = bool(self.model_info.get("extent"))
        return [
            kind
            for kind, applies in (
                ("model", True),
                ("neurons", self.hidden_layers > 0 and has_plane),
                ("predict", bool(test_points)),
            )
            if applies
        ]


@dataclass
class ReadSchedule:
    """When the page reads each kind: while the run runs, every READ_EVERY_S; paused or ended,
    once after each change of step, and once after the end."""

    asked_at: dict[str, float] = field(default_factory=dict)
    asked_step: dict[str, int] = field(default_factory=dict)
    read_after_end: set[str] = field(default_factory=set)

    def take(self, kind: str, view: RunView) -> bool:
        """Whether `kind` is due now; if it is, it counts as asked."""
        now, ended = time.monotonic(), view.status in FINAL
        if view.status == "running":
            due = now - self.asked_at.get(kind, -math.inf) >= READ_EVERY_S[kind]
        else:
            due = self.asked_step.get(kind) != view.step or (
                ended and kind not in self.read_after_end
            )
        if due:
            self.asked_at[kind], self.asked_step[kind] = now, view.step
            if ended:
                self.read_after_end.add(kind)
        return due


class Learner:
    """One simulated pupil: its own HTTP client, its own runs, its own viewer."""

    def __init__(
        self,
        index: int,
        url: str,
        report: LoadReport,
        deadline: float,
        room: RoomStats | None = None,
    ) -> None:
        self.index, self.url, self.report, self.deadline = index, url, report, deadline
        self.room = room  # in a teacher's room: it joins, and its runs are the room's
        self.room_token: str | None = None
        self.rng = random.Random(index)
        self.metric_frames = self.grid_frames = 0
        self.watched_s = 0.0
        self.previews: dict[str, dict[str, Any] | None] = {}  # by query: the page's data preview

    def left_s(self) -> float:
        return self.deadline - time.monotonic()

    async def play(self, tls: ssl.SSLContext) -> None:
        agent = {"User-Agent": f"layerlab-load/{self.index}"}
        async with httpx.AsyncClient(
            base_url=self.url, headers=agent, timeout=30, verify=tls, trust_env=False
        ) as http:
            await asyncio.sleep(self.rng.uniform(0, min(5.0, self.left_s() / 4)))  # not in step
            poll = None
            if self.room is not None:
                self.room_token = await join(http, self.report, self.room.code, self.index)
                if self.room_token is None:
                    return
                self.room.joined += 1
                until = self.deadline - 1.0
                poll = asyncio.create_task(
                    poll_room(http, self.report, self.room.code, self.room_token, until)
                )
            while self.left_s() > 1.0:
                spec = room_spec(self.rng) if self.room else learner_spec(self.rng)
                preview = await self._preview(http, spec["dataset"])
                run, posted_at = await self._create(http, spec)
                if run is not None:
                    test_points = preview["test"]["x"] if preview else None
                    await self._use(http, run, posted_at, test_points)
            if poll is not None:
                await poll
        if self.watched_s > 0:
            self.report.metrics_frames_per_s.append(self.metric_frames / self.watched_s)
            self.report.grid_frames_per_s.append(self.grid_frames / self.watched_s)

    async def _preview(
        self, http: httpx.AsyncClient, dataset: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The dataset's points as the page shows them (asked again only when the data changes)."""
        query = urllib.parse.urlencode({k: v for k, v in dataset.items() if k != "name"})
        path = f"/api/datasets/{dataset['name']}?{query}"
        if path not in self.previews:
            response = await self._request(http, "GET", path, "preview")
            ok = response is not None and response.status_code == 200
            self.previews[path] = response.json() if response is not None and ok else None
        return self.previews[path]

    async def _create(
        self, http: httpx.AsyncClient, spec: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, float]:
        posted_at = time.perf_counter()
        if self.room is not None and self.room_token is not None:
            path, headers = f"/api/rooms/{self.room.code}/runs", {"X-Run-Token": self.room_token}
        else:
            path, headers = "/api/runs", None
        response = await self._request(http, "POST", path, "create", spec, headers=headers)
        if response is not None and response.status_code == 201:
            self.report.runs_created += 1
            run = response.json()
            if self.room is not None:
                self.room.run_posted[run["id"]] = posted_at
            return run, posted_at
        retry_s = float(response.headers.get("Retry-After", 1)) if response is not None else 1.0
        await asyncio.sleep(max(0.0, min(retry_s, self.left_s() - 1.0)))
        return None, posted_at

    async def _use(
        self,
        http: httpx.AsyncClient,
        run: dict[str, Any],
        posted_at: float,
        test_points: list[list[float]] | None,
    ) -> None:
        """Watch the run and read it as the page does, maybe pause it or change its rate, then
        move on: cancel it."""
        view = RunView(
            run["id"], len(run["spec"]["hidden_widths"]), run["status"], run.get("model_info")
        )
        viewer = asyncio.create_task(self._watch(run, view, posted_at))
        reader = asyncio.create_task(self._read_live(http, view, test_points))
        stay_s = min(self.rng.uniform(*SLIDER_S), max(0.0, self.left_s()))
        await asyncio.wait({viewer}, timeout=stay_s / 2)
        roll = self.rng.random()
        control = f"/api/runs/{run['id']}"
        token = {"X-Run-Token": run["token"]}
        if not viewer.done() and roll < PAUSE_CHANCE:
            # the page stops its live reads as it asks, not when the server has answered
            view.status = "paused" if view.status == "running" else view.status
            await self._request(http, "POST", f"{control}/pause", "pause", headers=token)
            await asyncio.sleep(min(1.0, stay_s / 4))
            view.status = "running" if view.status == "paused" else view.status
            await self._request(http, "POST", f"{control}/resume", "resume", headers=token)
        elif not viewer.done() and roll < PAUSE_CHANCE + RATE_CHANCE:
            rate = {"learning_rate": self.rng.choice((0.001, 0.01, 0.1))}
            await self._request(http, "PATCH", control, "rate", rate, headers=token)
        await asyncio.wait({viewer}, timeout=stay_s / 2)
        view.left = not viewer.done()  # a run that ended by itself gets its last reads
        for _ in range(2):  # a second cancel if the first did not end the stream
            if not viewer.done():
                await self._request(http, "POST", f"{control}/cancel", "cancel", headers=token)
                await asyncio.wait({viewer}, timeout=10.0)
        if not viewer.done():
            viewer.cancel()
            self.report.errors["ws no final status"] += 1
        elif (final := viewer.result()) is not None:
            self.report.runs_ended[final] += 1
        await reader

    async def _read_live(
        self, http: httpx.AsyncClient, view: RunView, test_points: list[list[float]] | None
    ) -> None:
        """The page's reads of its run (frontend/js/live-polls.js), as ReadSchedule times them,
        never two of a kind in flight, until its stream ends or the learner leaves it."""
        schedule = ReadSchedule()
        reads: dict[str, asyncio.Task[None]] = {}
        while not view.left and not (view.ended and view.status not in FINAL):
            due = [
                kind
                for kind in view.read_kinds(test_points)
                if (kind not in reads or reads[kind].done()) and schedule.take(kind, view)
            ]
            for kind in due:
                reads[kind] = asyncio.create_task(self._read(http, view, kind, test_points))
            if view.ended and not due and all(read.done() for read in reads.values()):
                break  # its last reads are answered
            await asyncio.sleep(READ_TICK_S)
        await asyncio.gather(*reads.values())

    async def _read(
        self,
        http: httpx.AsyncClient,
        view: RunView,
        kind: str,
        test_points: list[list[float]] | None,
    ) -> None:
        """One read; a 409 is expected only for a run that had ended or been left meanwhile."""
        stats = self.report.reads[kind]
        stats.sent += 1
        was_live = view.status not in FINAL
        run_path = f"/api/runs/{view.id}"
        method, path, body = {
            "model": ("GET", f"{run_path}/model", None),
            "neurons": ("GET", f"{run_path}/neurons?resolution={NEURON_RESOLUTION}", None),
            "predict": ("POST", f"{run_path}/predict", {"points": test_points}),
        }[kind]
        sent_at = time.perf_counter()
        try:
            response = await self._send(http, method, path, body)
        except httpx.HTTPError as error:
            stats.errors[f"connection {type(error).__name__}"] += 1
            return
        if response.status_code == 200:
            stats.latency_s.append(time.perf_counter() - sent_at)
        elif response.status_code == 409 and (
            not was_live or await self._gone_meanwhile(http, view)
        ):
            stats.refused_after_end += 1
        else:
            stats.errors[str(response.status_code)] += 1

    async def _gone_meanwhile(self, http: httpx.AsyncClient, view: RunView) -> bool:
        """Whether a live run's 409 is expected: it has ended (its last weights may not be
        stored yet) or its learner has cancelled it, and the server did not lose it. Its stream
        says so, else the server says it now."""
        status = view.status
        if status not in FINAL:
            try:
                status = (await self._send(http, "GET", f"/api/runs/{view.id}")).json()["status"]
            except (httpx.HTTPError, ValueError, KeyError):
                return False
        return status not in LOST_RUNS and (status in FINAL or view.left)

    async def _send(
        self,
        http: httpx.AsyncClient,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """The answer; httpx.HTTPError when none came."""
        self.report.requests += 1
        try:
            return await http.request(method, path, json=body, headers=headers)
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            # the server closed this kept-alive connection as the request left: it read
            # nothing, so send it again on a new one, as browsers do
            self.report.retried += 1
            return await http.request(method, path, json=body, headers=headers)

    async def _request(
        self,
        http: httpx.AsyncClient,
        method: str,
        path: str,
        action: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response | None:
        try:
            response = await self._send(http, method, path, body, headers)
        except httpx.HTTPError as error:
            self.report.errors[f"connection {type(error).__name__} {action}"] += 1
            return None
        if response.status_code >= 300:
            self.report.errors[f"http {response.status_code} {action}"] += 1
        return response

    async def _watch(self, run: dict[str, Any], view: RunView, posted_at: float) -> str | None:
        """Read the run's stream until it ends, keeping `view` up to date; its final status
        (None when it broke off)."""
        url = self.url.replace("http", "ws", 1) + run["links"]["stream"]
        opened = time.perf_counter()
        final, progressed = None, False
        try:
            async with connect(
                url, proxy=None, max_size=None, user_agent_header=f"layerlab-load/{self.index}"
            ) as stream:
                async for message in stream:
                    frame = json.loads(message)
                    view.follow(frame)
                    if not progressed and shows_progress(frame):
                        progressed = True
                        self.report.first_frame_s.append(time.perf_counter() - posted_at)
                    if frame["type"] == "metrics":
                        self.metric_frames += 1
                    elif frame["type"] == "grid":
                        self.grid_frames += 1
                    elif frame["type"] == "status" and frame["status"] in FINAL:
                        final = frame["status"]
        except ConnectionClosedError as closed:
            code = closed.rcvd.code if closed.rcvd is not None else 1006
            self.report.errors[f"ws close {code}"] += 1
        except (OSError, InvalidHandshake, TimeoutError) as error:
            self.report.errors[f"connection ws {type(error).__name__}"] += 1
        except (ValueError, KeyError):  # not JSON, or not a frame of the wire
            self.report.errors["ws frame not understood"] += 1
        finally:
            self.watched_s += time.perf_counter() - opened
            view.ended = True
        return final


def shows_progress(frame: dict[str, Any]) -> bool:
    """A frame that shows the network learning: a metric point past step 0, or a grid."""
    if frame["type"] == "metrics":
        return any(point["step"] > 0 for point in frame["points"])
    if frame["type"] == "snapshot":
        return frame["grid"] is not None or any(p["step"] > 0 for p in frame["history"])
    return bool(frame["type"] == "grid")
