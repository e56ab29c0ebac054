"""The real network path: uvicorn on a port, httpx for REST, a websockets client for streams."""

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from layerlab.core.grids import decode_grid, grid_points
from layerlab.core.training import FINAL_STATUSES
from service import LONG_SPEC, QUICK_SPEC, LiveServer, create, owner, wait_for

pytestmark = pytest.mark.usefixtures("cancel_leftovers")

RESOLUTION = 32


@pytest.fixture(scope="module")
def app_settings(app_settings: dict[str, Any]) -> dict[str, Any]:
    return {**app_settings, "workers": 1}  # one worker starts in half the time on 2 cores


@pytest.fixture
def spec() -> dict[str, Any]:
    """Moons that a small network learns well in well under a second."""
    return {**QUICK_SPEC, "epochs": 100, "grid_resolution": RESOLUTION}


@pytest.fixture
def open_stream(live_server: LiveServer) -> Iterator[Callable[[str], ClientConnection]]:
    """A viewer of a run's websocket; closed at the end of the test."""
    with contextlib.ExitStack() as opened:

        def open_(run_id: str) -> ClientConnection:
            # max_queue=None: frames wait in the client, so the test may read them late.
            url = f"{live_server.ws_url}/ws/runs/{run_id}"
            return opened.enter_context(connect(url, proxy=None, max_queue=None))

        yield open_


def receive(websocket: ClientConnection, timeout_s: float = 10) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(websocket.recv(timeout=timeout_s))
    return frame


def receive_until(
    websocket: ClientConnection, ends: Callable[[dict[str, Any]], bool], timeout_s: float = 30
) -> list[dict[str, Any]]:
    """Frames up to and including the first for which `ends(frame)` is true."""
    deadline = time.monotonic() + timeout_s
    frames = [receive(websocket, deadline - time.monotonic())]
    while not ends(frames[-1]):
        frames.append(receive(websocket, deadline - time.monotonic()))
    return frames


def is_final(frame: dict[str, Any]) -> bool:
    return frame["type"] == "status" and frame["status"] in FINAL_STATUSES


def metric_points(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [point for frame in frames if frame["type"] == "metrics" for point in frame["points"]]


def test_a_stream_shows_the_network_learning(
    http: httpx.Client,
    spec: dict[str, Any],
    open_stream: Callable[[str], ClientConnection],
) -> None:
    run = create(http, spec, paused=True)  # paused: the viewer is there from step 0
    websocket = open_stream(run["id"])
    snapshot = receive(websocket)
    assert snapshot["type"] == "snapshot"
    assert snapshot["run"]["id"] == run["id"]
    assert http.post(f"/api/runs/{run['id']}/resume", headers=owner(run)).status_code == 200

    frames = receive_until(websocket, is_final)
    points = snapshot["history"] + metric_points(frames)
    assert points[0]["step"] == 0
    assert points[-1]["test_acc"] >= 0.85
    assert points[-1]["test_acc"] > points[0]["test_acc"]
    grids = [frame for frame in frames if frame["type"] == "grid"]
    assert grids
    for grid in grids:
        values, classes = decode_grid(grid)
        assert values.shape == (RESOLUTION, RESOLUTION)
        assert classes is None  # binary: one probability per cell
        assert values.min() >= 0.0 and values.max() <= 1.0
    assert frames[-1]["status"] == "done"
    assert frames[-1]["final_metrics"]["test_acc"] == points[-1]["test_acc"]
    with pytest.raises(ConnectionClosed):  # the server closes the stream after the end
        receive(websocket, 5)


def test_a_late_and_a_reconnecting_viewer_see_the_whole_history(
    http: httpx.Client,
    spec: dict[str, Any],
    open_stream: Callable[[str], ClientConnection],
) -> None:
    run = create(http, {**spec, "epochs": 1000}, paused=True)
    url = f"/api/runs/{run['id']}"
    first = open_stream(run["id"])
    first_frames = [receive(first)]

    def train_a_little() -> None:
        """Resume until the first viewer sees a few more points, then pause: a run mid-way."""
        assert http.post(f"{url}/resume", headers=owner(run)).status_code == 200
        frames: list[dict[str, Any]] = []
        while len(metric_points(frames)) < 4:
            frames.append(receive(first))
        first_frames.extend(frames)
        assert http.post(f"{url}/pause", headers=owner(run)).json()["status"] == "paused"

    train_a_little()
    late = open_stream(run["id"])
    late_frames = [receive(late)]
    reconnecting = open_stream(run["id"])
    assert receive(reconnecting)["type"] == "snapshot"
    reconnecting.close()
    train_a_little()
    reconnected = open_stream(run["id"])
    reconnected_frames = [receive(reconnected)]
    assert http.post(f"{url}/resume", headers=owner(run)).status_code == 200

    history = wait_for(
        lambda: (page := http.get(f"{url}/metrics").json())["status"] == "done" and page["points"],
        30,
        "the run to finish",
    )
    assert history[0]["step"] == 0
    assert len(history) < 500, "the stored history is thinned past 500 points: compare fewer"
    for viewer, frames in [
        (first, first_frames),
        (late, late_frames),
        (reconnected, reconnected_frames),
    ]:
        frames.extend(receive_until(viewer, is_final))
        assert frames[0]["type"] == "snapshot"
        assert frames[0]["history"] + metric_points(frames) == history  # from step 0 to the end
    assert late_frames[0]["run"]["status"] == "paused"  # it did join mid-way
    assert len(late_frames[0]["history"]) < len(history)
    assert len(reconnected_frames[0]["history"]) > len(late_frames[0]["history"])


def test_controls_take_effect_and_answer_within_a_second(
    http: httpx.Client,
    open_stream: Callable[[str], ClientConnection],
) -> None:
    run = create(http, LONG_SPEC)
    url = f"/api/runs/{run['id']}"
    websocket = open_stream(run["id"])
    receive_until(websocket, lambda frame: bool(metric_points([frame])))

    def control(action: str) -> dict[str, Any]:
        started = time.monotonic()
        response = http.post(f"{url}/{action}", headers=owner(run))
        elapsed_s = time.monotonic() - started
        assert response.status_code == 200, response.text
        assert elapsed_s < 1.0, f"{action} took {elapsed_s:.2f} s"
        answer: dict[str, Any] = response.json()
        return answer

    def last_step() -> int:
        return int(http.get(f"{url}/metrics").json()["points"][-1]["step"])

    def status_frame(status: str) -> Callable[[dict[str, Any]], bool]:
        return lambda frame: frame["type"] == "status" and frame["status"] == status

    assert control("pause")["status"] == "paused"
    receive_until(websocket, status_frame("paused"), timeout_s=1)
    paused_at = last_step()
    time.sleep(0.5)  # nothing to await: the point is that nothing happens
    assert last_step() == paused_at

    control("step")
    wait_for(lambda: last_step() == paused_at + 1, 5, "one step while paused")
    assert http.get(url).json()["status"] == "paused"

    assert control("resume")["status"] == "running"
    receive_until(websocket, status_frame("running"), timeout_s=1)
    wait_for(lambda: last_step() > paused_at + 100, 5, "training to go on")

    assert control("cancel")["status"] == "cancelled"
    assert receive_until(websocket, is_final, timeout_s=1)[-1]["status"] == "cancelled"


def test_wait_answers_with_final_metrics_and_predict_agrees_with_the_grid(
    http: httpx.Client, spec: dict[str, Any]
) -> None:
    run = create(http, spec, wait=True)
    assert run["status"] == "done"
    assert run["final_metrics"]["test_acc"] >= 0.85
    assert run["final_metrics"]["step"] == run["model_info"]["total_steps"]

    grid = http.get(f"/api/runs/{run['id']}/grid").json()
    values, _ = decode_grid(grid)
    centres = grid_points(tuple(grid["extent"]), RESOLUTION)
    response = http.post(f"/api/runs/{run['id']}/predict", json={"points": centres.tolist()})
    assert response.status_code == 200, response.text
    predicted = np.array(response.json()["probabilities"]).reshape(RESOLUTION, RESOLUTION)
    assert np.abs(predicted - values).max() <= 1 / 255 + 1e-4


def test_the_page_its_javascript_and_the_api_docs_are_served(http: httpx.Client) -> None:
    page = http.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<html" in page.text.lower()
    plotly = http.get("/plotly.min.js")
    assert plotly.status_code == 200
    assert plotly.headers["content-type"].startswith("text/javascript")
    assert len(plotly.content) > 1_000_000
    docs = http.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    schema = http.get("/openapi.json").json()
    assert "/api/runs" in schema["paths"]
    assert "/api/runs/{run_id}/predict" in schema["paths"]


def test_frames_go_uncompressed_to_a_viewer_that_offers_compression(
    http: httpx.Client, live_server: LiveServer, spec: dict[str, Any]
) -> None:
    """A browser offers permessage-deflate; compressing each frame for each viewer anew cost
    the server a quarter of its time under 200 viewers, so the server declines it."""
    run = create(http, spec)
    url = f"{live_server.ws_url}/ws/runs/{run['id']}"
    with connect(url, proxy=None, compression="deflate") as websocket:
        assert websocket.response is not None
        assert "Sec-WebSocket-Extensions" not in websocket.response.headers
        assert receive(websocket)["type"] == "snapshot"
