"""The websocket of a run, in-process: snapshot, metrics, grids, the final status."""

import json
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from layerlab.core.grids import decode_grid
from service import DIVERGING_SPEC, LONG_SPEC, QUICK_SPEC, create, owner, wait_for_status


def read_to_the_end(socket: WebSocketTestSession) -> list[dict[str, Any]]:
    """Every frame until the final status frame."""
    frames = []
    while True:
        frame: dict[str, Any] = socket.receive_json()
        frames.append(frame)
        if frame["type"] == "status" and frame["status"] not in ("queued", "running", "paused"):
            return frames


def points_of(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    points = list(frames[0]["history"])
    for frame in frames[1:]:
        if frame["type"] == "metrics":
            points.extend(frame["points"])
    return points


def test_a_stream_goes_from_snapshot_to_done(client: TestClient) -> None:
    run = create(client, {**QUICK_SPEC, "epochs": 60})
    with client.websocket_connect(run["links"]["stream"]) as socket:
        frames = read_to_the_end(socket)
    assert frames[0]["type"] == "snapshot"
    assert frames[0]["run"]["id"] == run["id"]
    points = points_of(frames)
    steps = [point["step"] for point in points]
    assert steps[0] == 0 and steps == sorted(steps)
    assert points[-1]["test_acc"] > points[0]["test_acc"]
    assert points[-1]["test_acc"] >= 0.85
    grids = [frame for frame in frames if frame["type"] == "grid"]
    if frames[0]["grid"] is not None:
        grids.insert(0, frames[0]["grid"])
    assert grids
    values, classes = decode_grid(grids[-1])
    assert values.shape == (16, 16) and classes is None
    assert values.min() >= 0.0 and values.max() <= 1.0
    final = frames[-1]
    assert final["status"] == "done"
    assert final["final_metrics"]["test_acc"] == pytest.approx(points[-1]["test_acc"])


def test_a_finished_run_streams_its_record_and_ends(client: TestClient) -> None:
    run = create(client, QUICK_SPEC, wait="true")
    with client.websocket_connect(run["links"]["stream"]) as socket:
        snapshot = socket.receive_json()
        final = socket.receive_json()
    assert snapshot["type"] == "snapshot"
    assert snapshot["history"][-1]["step"] == run["model_info"]["total_steps"]
    assert np.array(decode_grid(snapshot["grid"])[0]).shape == (16, 16)
    assert final == {
        "type": "status",
        "status": "done",
        "error": None,
        "finished_at": run["finished_at"],
        "final_metrics": run["final_metrics"],
    }


def test_late_and_second_viewers_see_the_whole_history(client: TestClient) -> None:
    run = create(client, {**LONG_SPEC, "epochs": 3})  # 480 single-point steps
    wait_for_status(client, run["id"], "running")
    with client.websocket_connect(run["links"]["stream"]) as first:
        snapshot = first.receive_json()
        with client.websocket_connect(run["links"]["stream"]) as second:
            second_frames = read_to_the_end(second)
        first_frames = [snapshot, *read_to_the_end(first)]
    for frames in (first_frames, second_frames):
        steps = [point["step"] for point in points_of(frames)]
        assert steps[0] == 0
        assert steps[-1] == 480
    assert points_of(first_frames)[-1] == points_of(second_frames)[-1]


def next_of_type(socket: WebSocketTestSession, kind: str, within: int = 20) -> dict[str, Any]:
    """The next frame of this type, passing over at most `within` run frames before it."""
    for _ in range(within):
        frame: dict[str, Any] = socket.receive_json()
        if frame["type"] == kind:
            return frame
    raise AssertionError(f"no {kind!r} frame among the next {within}")


def test_a_ping_gets_a_pong_and_anything_else_an_error(client: TestClient) -> None:
    run = create(client, LONG_SPEC, paused="true")
    with client.websocket_connect(run["links"]["stream"]) as socket:
        assert socket.receive_json()["type"] == "snapshot"
        socket.send_json({"type": "ping"})
        assert next_of_type(socket, "pong") == {"type": "pong"}
        socket.send_text("hello")
        assert next_of_type(socket, "error")["error"] == (
            'expected {"type": "ping"}; got \'hello\''
        )
    client.delete(f"/api/runs/{run['id']}", headers=owner(run))


def test_an_unknown_run_closes_the_socket(client: TestClient) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect("/ws/runs/nope") as socket,
    ):
        socket.receive_json()
    assert closed.value.code == 1008
    assert closed.value.reason == "no such run"


def test_a_diverged_run_streams_strict_json_with_nulls(client: TestClient) -> None:
    run = create(client, DIVERGING_SPEC, wait="true")

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON: browsers' JSON.parse rejects it")

    with client.websocket_connect(run["links"]["stream"]) as socket:
        snapshot = json.loads(socket.receive_text(), parse_constant=refuse)
        final = json.loads(socket.receive_text(), parse_constant=refuse)
    assert final["status"] == "diverged"
    assert snapshot["history"][-1]["train_loss"] is None
