"""Sweeps over a real port: created, streamed to done, each cell the run it would be alone;
their limits, their token, and the input they refuse.

Each test is a learner of its own (the `learner` fixture): per-client limits count by address.
"""

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from service import LONG_SPEC, QUICK_SPEC, LiveServer

pytestmark = pytest.mark.usefixtures("cancel_leftovers")

BASE: dict[str, Any] = {**QUICK_SPEC, "epochs": 20}
LONG_BASE: dict[str, Any] = {**LONG_SPEC, "hidden_widths": [99]}  # ignored: the axes decide


@pytest.fixture(scope="module")
def app_settings(app_settings: dict[str, Any]) -> dict[str, Any]:
    return {
        **app_settings,
        "max_sweep_runs": 6,
        "max_runs_per_minute": 8,
        "max_active_runs_per_client": 1,  # a sweep's runs are not among them
    }


def new_sweep(client: httpx.Client, depths: list[int], widths: list[int], base: Any = None) -> Any:
    body = {"base": BASE if base is None else base, "depths": depths, "widths": widths}
    response = client.post("/api/sweeps", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def frames_to_the_end(websocket: ClientConnection) -> list[dict[str, Any]]:
    """Every frame until the socket closes."""
    frames = []
    try:
        while True:
            frames.append(json.loads(websocket.recv(timeout=60)))
    except ConnectionClosedOK:
        return frames


def test_a_2x2_sweep_streams_to_done_and_each_cell_is_its_run_alone(
    learner: Callable[[], httpx.Client], live_server: LiveServer
) -> None:
    client = learner()
    sweep = new_sweep(client, [0, 1], [4, 8])
    assert sweep["token"] and sweep["task"] == "binary"
    assert sweep["links"] == {
        "self": f"/api/sweeps/{sweep['id']}",
        "stream": f"/ws/sweeps/{sweep['id']}",
    }
    cells = sweep["cells"]
    assert [(c["depth"], c["width"], c["hidden_widths"]) for c in cells] == [
        (0, 4, []),
        (0, 8, []),
        (1, 4, [4]),
        (1, 8, [8]),
    ]
    assert [c["parameters"] for c in cells] == [3, 3, 3 * 4 + 5, 3 * 8 + 9]  # 2 inputs, 1 logit
    assert cells[0]["run_id"] == cells[1]["run_id"]  # depth 0: one run for the row
    runs = list(dict.fromkeys(c["run_id"] for c in cells))
    assert len(runs) == 3

    with connect(f"{live_server.ws_url}{sweep['links']['stream']}", proxy=None) as websocket:
        frames = frames_to_the_end(websocket)
        assert websocket.close_code == 1000
    assert frames[0]["type"] == "snapshot" and frames[0]["sweep"]["id"] == sweep["id"]
    assert "token" not in frames[0]["sweep"]
    assert frames[-1] == {"type": "status", "status": "done"}
    cell_frames = [frame for frame in frames if frame["type"] == "cell"]
    assert {frame["run_id"] for frame in cell_frames if frame["status"] == "done"} == set(runs)

    document = client.get(sweep["links"]["self"]).json()
    assert document["status"] == "done" and "token" not in document
    last = {frame["run_id"]: frame for frame in cell_frames}
    for cell in document["cells"]:
        assert cell["status"] == "done" and cell["epoch"] == 20
        assert set(cell["metrics"]) == {"train_loss", "test_loss", "train_acc", "test_acc"}
        assert last[cell["run_id"]]["metrics"] == cell["metrics"]  # the stream's last word
        assert client.get(f"/api/runs/{cell['run_id']}").json()["status"] == "done"
    for cell in document["cells"][1:]:  # each run once: the same spec, trained alone
        spec = {**BASE, "hidden_widths": cell["hidden_widths"]}
        alone = client.post("/api/runs", json=spec, params={"wait": "true"}).json()
        for name, value in cell["metrics"].items():
            assert value == pytest.approx(alone["final_metrics"][name], rel=1e-5), (cell, name)


def test_a_sweep_of_more_runs_than_the_limit_is_422_naming_it(
    learner: Callable[[], httpx.Client],
) -> None:
    response = learner().post("/api/sweeps", json={"depths": [0, 1, 2, 3], "widths": [1, 2]})
    assert response.status_code == 422
    assert response.json()["error"] == (
        "depths × widths makes 7 runs; at most 6 per sweep (LAYERLAB_MAX_SWEEP_RUNS)"
    )


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"depths": [], "widths": [4]}, "depths", "1 to 10 values"),
        ({"depths": [1, 2, 1], "widths": [4]}, "depths", "repeated: [1]"),
        ({"depths": [9], "widths": [4]}, "depths", "LAYERLAB_MAX_HIDDEN_LAYERS"),
        ({"depths": [1], "widths": [0, 4]}, "widths", "got [0]"),
        ({"depths": [1], "widths": [4, 129]}, "widths", "LAYERLAB_MAX_WIDTH"),
        ({"depths": [1]}, "widths", "required"),
        ({"depths": [1], "widths": [4], "base": {"epochs": 0}}, "base.epochs", "greater than"),
        ({"depths": [1], "widths": [4], "extra": 1}, "extra", "not permitted"),
    ],
)
def test_bad_input_is_422_naming_the_field(
    learner: Callable[[], httpx.Client], body: dict[str, Any], field: str, words: str
) -> None:
    response = learner().post("/api/sweeps", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error.startswith(f"{field}") and words in error, error


def test_nan_in_the_base_is_422_naming_the_field(learner: Callable[[], httpx.Client]) -> None:
    body = b'{"base": {"learning_rate": NaN}, "depths": [1], "widths": [4]}'
    headers = {"Content-Type": "application/json"}
    response = learner().post("/api/sweeps", content=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"].startswith("base.learning_rate")


def test_one_active_sweep_a_client_its_token_cancels_and_deletes_it(
    learner: Callable[[], httpx.Client],
) -> None:
    client = learner()
    sweep = new_sweep(client, [1], [4], base=LONG_BASE)
    run_id = sweep["cells"][0]["run_id"]
    assert sweep["cells"][0]["hidden_widths"] == [4]
    second = client.post("/api/sweeps", json={"depths": [1], "widths": [8]})
    assert second.status_code == 409
    assert sweep["id"] in second.json()["error"]
    # its runs are not among the client's active runs (LAYERLAB_MAX_ACTIVE_RUNS_PER_CLIENT=1)
    own = client.post("/api/runs", json=LONG_SPEC)
    assert own.status_code == 201, own.text

    cancel = f"/api/sweeps/{sweep['id']}/cancel"
    assert client.post(cancel).status_code == 401
    assert client.post(cancel, headers={"X-Run-Token": own.json()["token"]}).status_code == 403
    cancelled = client.post(cancel, headers={"X-Run-Token": sweep["token"]})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cells"][0]["status"] == "cancelled"
    assert client.get(f"/api/runs/{run_id}").json()["status"] == "cancelled"

    again = new_sweep(client, [1], [8], base=LONG_BASE)  # the first has ended
    path = f"/api/sweeps/{again['id']}"
    assert client.delete(path).status_code == 401
    assert client.delete(path, headers={"X-Run-Token": sweep["token"]}).status_code == 403
    assert client.delete(path, headers={"X-Run-Token": again["token"]}).status_code == 204
    assert client.get(path).status_code == 404
    assert client.get(f"/api/runs/{again['cells'][0]['run_id']}").status_code == 404


def test_a_sweeps_runs_count_against_the_runs_per_minute(
    learner: Callable[[], httpx.Client],
) -> None:
    client = learner()
    first = new_sweep(client, [0, 1, 2], [4, 8], base=LONG_BASE)  # 5 runs
    cancel = f"/api/sweeps/{first['id']}/cancel"
    assert client.post(cancel, headers={"X-Run-Token": first["token"]}).status_code == 200
    response = client.post("/api/sweeps", json={"depths": [1, 2], "widths": [4, 8]})  # 4 more
    assert response.status_code == 429, response.text
    assert int(response.headers["Retry-After"]) >= 1
    error = response.json()["error"]
    assert "created 5 runs in the last minute, and these 4 would make 9" in error
    assert "LAYERLAB_MAX_RUNS_PER_MINUTE=8" in error


def test_a_stream_of_a_sweep_refuses_a_page_from_elsewhere_and_an_unknown_id(
    learner: Callable[[], httpx.Client], live_server: LiveServer
) -> None:
    sweep = new_sweep(learner(), [0], [4])
    url = f"{live_server.ws_url}/ws/sweeps/{sweep['id']}"
    with pytest.raises(InvalidStatus) as refused:
        connect(url, origin="https://elsewhere.example", proxy=None)
    assert refused.value.response.status_code == 403
    with connect(f"{live_server.ws_url}/ws/sweeps/nope", proxy=None) as websocket:
        with pytest.raises(ConnectionClosedError):
            websocket.recv(timeout=10)
        assert websocket.close_code == 1008
    assert learner().get("/api/sweeps/nope").status_code == 404
