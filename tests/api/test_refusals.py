"""Refusals: other people's tokens, unknown runs and every kind of bad input get a 4xx that
names what was wrong, and the server carries on."""

import json
import os
import signal
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from service import LONG_SPEC, QUICK_SPEC, LiveServer, create, owner, wait_for_status

pytestmark = pytest.mark.usefixtures("cancel_leftovers")

MAX_PREDICT_POINTS = 100
MAX_REQUEST_BYTES = 65_536
UNKNOWN_ID = "0123456789abcdef"


@pytest.fixture(scope="module")
def app_settings(app_settings: dict[str, Any]) -> dict[str, Any]:
    return {
        **app_settings,
        "max_predict_points": MAX_PREDICT_POINTS,
        "max_request_bytes": MAX_REQUEST_BYTES,
    }


@pytest.fixture(scope="module")
def admin(app_settings: dict[str, Any]) -> dict[str, str]:
    return {"X-Run-Token": app_settings["admin_token"]}


@pytest.fixture(scope="module")
def done_run(http: httpx.Client) -> dict[str, Any]:
    run: dict[str, Any] = create(http, QUICK_SPEC, wait=True)
    assert run["status"] == "done", run
    return run


# --- tokens -------------------------------------------------------------------------------------

CONTROLS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/pause", None),
    ("POST", "/resume", None),
    ("POST", "/step", None),
    ("POST", "/cancel", None),
    ("DELETE", "", None),
    ("PATCH", "", {"learning_rate": 0.05}),
]


def test_only_the_owner_or_the_admin_controls_a_run(
    http: httpx.Client, admin: dict[str, str]
) -> None:
    mine, theirs = (create(http, LONG_SPEC, paused=True) for _ in range(2))
    wait_for_status(http, mine["id"], "paused")
    for method, suffix, body in CONTROLS:
        url = f"/api/runs/{mine['id']}{suffix}"
        for headers, status, says in [
            ({}, 401, "X-Run-Token"),
            ({"X-Run-Token": "not-the-token"}, 403, "owner token"),
            (owner(theirs), 403, "owner token"),
        ]:
            response = http.request(method, url, json=body, headers=headers)
            assert response.status_code == status, (method, suffix, headers, response.text)
            assert says in response.json()["error"]

    untouched = http.get(f"/api/runs/{mine['id']}").json()
    assert untouched["status"] == "paused"
    assert untouched["rates"] is None
    cancelled = http.post(f"/api/runs/{mine['id']}/cancel", headers=admin)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert http.delete(f"/api/runs/{theirs['id']}", headers=owner(theirs)).status_code == 204
    assert http.get(f"/api/runs/{theirs['id']}").status_code == 404


def test_a_deleted_run_is_gone_at_once_even_while_its_worker_is_busy(
    http: httpx.Client, live_server: LiveServer, paused_run: dict[str, Any]
) -> None:
    worker = live_server.worker_pid(paused_run["id"])
    assert worker is not None
    os.kill(worker, signal.SIGSTOP)  # a worker busy elsewhere: it confirms the cancel late
    try:
        deleted = http.delete(f"/api/runs/{paused_run['id']}", headers=owner(paused_run))
        assert deleted.status_code == 204
        after = http.get(f"/api/runs/{paused_run['id']}")
    finally:
        os.kill(worker, signal.SIGCONT)
    assert after.status_code == 404, after.text


def test_every_run_route_answers_404_for_an_unknown_run(
    http: httpx.Client, live_server: LiveServer, admin: dict[str, str]
) -> None:
    routes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "", None),
        ("GET", "/metrics", None),
        ("GET", "/grid", None),
        ("GET", "/model", None),
        ("GET", "/export", None),
        ("POST", "/predict", {"points": [[0.0, 0.0]]}),
        *CONTROLS,
    ]
    for method, suffix, body in routes:
        response = http.request(method, f"/api/runs/{UNKNOWN_ID}{suffix}", json=body, headers=admin)
        assert response.status_code == 404, (method, suffix, response.text)
        assert UNKNOWN_ID in response.json()["error"]
    url = f"{live_server.ws_url}/ws/runs/{UNKNOWN_ID}"
    with connect(url, proxy=None) as websocket, pytest.raises(ConnectionClosed) as closed:
        websocket.recv(timeout=5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008


# --- bad input ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BadRequest:
    method: str
    path: str  # "{done}" stands for a finished run's id
    status: int
    says: tuple[str, ...]  # what the error sentence must name
    json: Any = None
    content: bytes | None = None
    content_type: str | None = None
    chunked: bool = False  # send the body without a Content-Length

    def send(self, http: httpx.Client, done_id: str) -> httpx.Response:
        content: Any = self.content
        if self.chunked:  # a generator: httpx sends it chunked, without a Content-Length
            body = self.content or b""
            content = iter([body[i : i + 8192] for i in range(0, len(body), 8192)])
        headers = {"Content-Type": self.content_type} if self.content_type else {}
        url = self.path.format(done=done_id)
        return http.request(self.method, url, json=self.json, content=content, headers=headers)


def csv_rows(*rows: str) -> bytes:
    return "\n".join(["x,y,label", *rows]).encode()


GOOD_ROWS = [f"{i / 10},{1 - i / 10},{i % 2}" for i in range(12)]


def bad_spec(says: tuple[str, ...], spec: dict[str, Any]) -> BadRequest:
    return BadRequest("POST", "/api/runs", 422, says, json=spec)


def bad_csv(says: tuple[str, ...], text: bytes) -> BadRequest:
    return BadRequest("POST", "/api/datasets", 422, says, content=text, content_type="text/csv")


def too_large(path: str, content_type: str, chunked: bool) -> BadRequest:
    body = b'{"note": "' + b"x" * MAX_REQUEST_BYTES + b'"}'
    says = ("LAYERLAB_MAX_REQUEST_BYTES",)
    return BadRequest(
        "POST", path, 413, says, content=body, content_type=content_type, chunked=chunked
    )


BAD_REQUESTS = {
    "malformed JSON": BadRequest(
        "POST",
        "/api/runs",
        422,
        ("JSON",),
        content=b'{"dataset": ',
        content_type="application/json",
    ),
    "wrong type": bad_spec(("hidden_widths",), {"hidden_widths": "big"}),
    "zero learning rate": bad_spec(("learning_rate",), {"learning_rate": 0}),
    # Python's JSON reads NaN and Infinity: named as not finite, not as out of range
    "NaN learning rate": BadRequest(
        "POST",
        "/api/runs",
        422,
        ("learning_rate: Input should be a finite number",),
        content=b'{"learning_rate": NaN}',
        content_type="application/json",
    ),
    "infinite pace": BadRequest(
        "POST",
        "/api/runs",
        422,
        ("epochs_per_s: Input should be a finite number",),
        content=b'{"epochs_per_s": Infinity}',
        content_type="application/json",
    ),
    "noise above 1": bad_spec(("dataset.noise",), {"dataset": {"noise": 3}}),
    "9 hidden layers": bad_spec(
        ("hidden_widths", "LAYERLAB_MAX_HIDDEN_LAYERS"), {"hidden_widths": [4] * 9}
    ),
    "unknown key": bad_spec(("colour",), {"colour": "red"}),
    "unknown dataset": bad_spec(("dataset.name", "penguins"), {"dataset": {"name": "penguins"}}),
    "csv without source": bad_spec(("source",), {"dataset": {"name": "csv"}}),
    "csv with an unknown upload": bad_spec(
        ("dataset.source", "csv-000000000000"),
        {"dataset": {"name": "csv", "source": "csv-000000000000"}},
    ),
    "predict with 3 numbers a point": BadRequest(
        "POST",
        "/api/runs/{done}/predict",
        422,
        ("points[1]", "expected 2"),
        json={"points": [[0.0, 0.0], [1.0, 2.0, 3.0]]},
    ),
    "predict too many points": BadRequest(
        "POST",
        "/api/runs/{done}/predict",
        422,
        ("points", "LAYERLAB_MAX_PREDICT_POINTS"),
        json={"points": [[0.0, 0.0]] * (MAX_PREDICT_POINTS + 1)},
    ),
    "body not in UTF-8": BadRequest(
        "POST",
        "/api/runs",
        422,
        ("body", "not valid JSON", "UTF-8"),
        content=b'{"epochs": "\xff"}',
        content_type="application/json",
    ),
    "body cut short": BadRequest(
        "POST",
        "/api/runs",
        422,
        ("body", "not valid JSON", "at character 16"),
        content=b'{"epochs": 10, ',
        content_type="application/json",
    ),
    "body nested too deeply": BadRequest(
        "POST",
        "/api/runs",
        422,
        ("body", "not valid JSON", "nested too deeply"),
        content=b"[" * 10_000 + b"]" * 10_000,
        content_type="application/json",
    ),
    "list offset past its bound": BadRequest(
        "GET", "/api/runs?offset=" + "9" * 30, 422, ("offset", "1000000000", "9" * 30)
    ),
    "predict a point too far out": BadRequest(
        "POST",
        "/api/runs/{done}/predict",
        422,
        ("points[1]", "1e+300", "float32"),
        json={"points": [[0.0, 0.0], [1e300, 0.0]]},
    ),
    "run body too large": too_large("/api/runs", "application/json", chunked=False),
    "run body too large, chunked": too_large("/api/runs", "application/json", chunked=True),
    "upload too large": too_large("/api/datasets", "text/csv", chunked=False),
    "upload too large, chunked": too_large("/api/datasets", "text/csv", chunked=True),
    "empty CSV": bad_csv(("empty",), b""),
    "CSV with a word for a number": bad_csv(
        ("row 5", "column 'y'", "'abc'"), csv_rows(*GOOD_ROWS[:3], "0.3,abc,1", *GOOD_ROWS[4:])
    ),
    "CSV with one class": bad_csv(
        ("label", "single class"), csv_rows(*(row[:-1] + "0" for row in GOOD_ROWS))
    ),
    "CSV with a value past float32": bad_csv(
        ("row 5", "column 'y'", "overflows float32"),
        csv_rows(*GOOD_ROWS[:3], "0.3,1e308,1", *GOOD_ROWS[4:]),
    ),
    "CSV not in UTF-8": bad_csv(
        ("UTF-8",), csv_rows(*GOOD_ROWS).replace(b"label", b"\xe9tiquette")
    ),
}


@pytest.mark.parametrize("case", BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
def test_a_bad_request_gets_a_sentence_naming_the_field(
    http: httpx.Client, done_run: dict[str, Any], case: BadRequest
) -> None:
    response = case.send(http, done_run["id"])
    assert response.status_code == case.status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    for name in case.says:
        assert name in error


def test_the_server_carries_on_after_every_bad_request(
    http: httpx.Client, done_run: dict[str, Any]
) -> None:
    run = create(http, {**QUICK_SPEC, "epochs": 200}, paused=True)
    for case in BAD_REQUESTS.values():
        assert case.send(http, done_run["id"]).status_code == case.status
    assert http.post(f"/api/runs/{run['id']}/resume", headers=owner(run)).status_code == 200
    assert wait_for_status(http, run["id"], "done", "failed")["status"] == "done"
    assert http.get("/api/health").status_code == 200


def test_a_good_csv_upload_is_taken(http: httpx.Client) -> None:
    """The counterpart of the bad uploads: the same rows, well formed, make a dataset."""
    response = http.post(
        "/api/datasets", content=csv_rows(*GOOD_ROWS), headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["rows"] == len(GOOD_ROWS)


# --- websocket messages -------------------------------------------------------------------------


@pytest.fixture
def paused_run(http: httpx.Client) -> dict[str, Any]:
    run: dict[str, Any] = create(http, LONG_SPEC, paused=True)
    wait_for_status(http, run["id"], "paused")
    return run


def test_an_oversized_websocket_message_closes_with_1009(
    live_server: LiveServer, paused_run: dict[str, Any]
) -> None:
    limit = live_server.app.state.settings.max_ws_message_bytes
    with connect(f"{live_server.ws_url}/ws/runs/{paused_run['id']}", proxy=None) as websocket:
        assert json.loads(websocket.recv(timeout=5))["type"] == "snapshot"
        websocket.send(json.dumps({"type": "ping", "pad": "x" * limit}))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                websocket.recv(timeout=5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009
    assert "LAYERLAB_MAX_WS_MESSAGE_BYTES" in closed.value.rcvd.reason


def test_a_websocket_message_other_than_ping_gets_an_error_frame(
    live_server: LiveServer, paused_run: dict[str, Any]
) -> None:
    with connect(f"{live_server.ws_url}/ws/runs/{paused_run['id']}", proxy=None) as websocket:
        assert json.loads(websocket.recv(timeout=5))["type"] == "snapshot"
        websocket.send('{"type": "train faster"}')
        websocket.send('{"type": "ping"}')
        replies: list[dict[str, Any]] = []
        while len(replies) < 2:
            frame = json.loads(websocket.recv(timeout=5))
            if frame["type"] in ("error", "pong"):
                replies.append(frame)
    assert replies[0]["type"] == "error"
    assert "ping" in replies[0]["error"] and "train faster" in replies[0]["error"]
    assert replies[1] == {"type": "pong"}


def test_a_binary_websocket_frame_closes_with_1003_and_a_reason(
    live_server: LiveServer, paused_run: dict[str, Any]
) -> None:
    with connect(f"{live_server.ws_url}/ws/runs/{paused_run['id']}", proxy=None) as websocket:
        assert json.loads(websocket.recv(timeout=5))["type"] == "snapshot"
        websocket.send(b"\x00\x01binary")
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                websocket.recv(timeout=5)
    assert closed.value.rcvd is not None, "closed with a close frame, not dropped"
    assert closed.value.rcvd.code == 1003
    assert "binary" in closed.value.rcvd.reason


def test_a_flood_of_pings_closes_with_1008_and_leaves_the_run_alone(
    http: httpx.Client, live_server: LiveServer, paused_run: dict[str, Any]
) -> None:
    with connect(f"{live_server.ws_url}/ws/runs/{paused_run['id']}", proxy=None) as websocket:
        assert json.loads(websocket.recv(timeout=5))["type"] == "snapshot"
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(1000):
                websocket.send('{"type": "ping"}')
            while True:
                websocket.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert "messages a second" in closed.value.rcvd.reason
    assert http.get(f"/api/runs/{paused_run['id']}").json()["status"] == "paused"
