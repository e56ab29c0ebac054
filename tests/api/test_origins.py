"""Pages from other origins, on a real port: CORS on /api, streams refused at the handshake.

The server allows one origin besides its own (LAYERLAB_ALLOWED_ORIGINS); a browser sends the
page's origin in the `Origin` header, which these clients send by hand.
"""

import asyncio
import json
from typing import Any

import httpx
import pytest
from starlette.types import Message, Scope
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from layerlab.api.origins import OriginPolicy
from service import QUICK_SPEC, LiveServer, create

pytestmark = pytest.mark.usefixtures("cancel_leftovers")

ALLOWED = "https://school.example"
ELSEWHERE = "https://elsewhere.example"


@pytest.fixture(scope="module")
def app_settings(app_settings: dict[str, Any]) -> dict[str, Any]:
    # written with a default port and a slash, as a teacher might: it still matches
    return {**app_settings, "workers": 1, "allowed_origins": f"{ALLOWED}:443/"}


def preflight(http: httpx.Client, origin: str) -> httpx.Response:
    """What a browser asks before a page at `origin` sends JSON and the owner token."""
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-run-token",
    }
    return http.options("/api/runs", headers=headers)


def test_a_page_from_an_allowed_origin_may_create_and_read_runs(http: httpx.Client) -> None:
    answer = preflight(http, ALLOWED)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "POST" in answer.headers["Access-Control-Allow-Methods"]
    assert "x-run-token" in answer.headers["Access-Control-Allow-Headers"].lower()

    created = http.post("/api/runs", json=QUICK_SPEC, params={"paused": True})
    assert created.status_code == 201
    read = http.get(f"/api/runs/{created.json()['id']}", headers={"Origin": ALLOWED})
    assert read.status_code == 200
    assert read.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "Retry-After" in read.headers["Access-Control-Expose-Headers"]
    page = http.get("/", headers={"Origin": ALLOWED})  # the page itself is not shared
    assert page.status_code == 200
    assert "Access-Control-Allow-Origin" not in page.headers


def test_a_page_from_elsewhere_gets_no_cors_and_a_sentence(http: httpx.Client) -> None:
    answer = preflight(http, ELSEWHERE)
    assert answer.status_code == 403
    assert "Access-Control-Allow-Origin" not in answer.headers
    error = answer.json()["error"]
    assert f"Origin {ELSEWHERE!r}" in error
    assert f"LAYERLAB_ALLOWED_ORIGINS (now: {ALLOWED})" in error

    # A simple request is answered (a browser sends it anyway) but the page may not read it.
    health = http.get("/api/health", headers={"Origin": ELSEWHERE})
    assert health.status_code == 200
    assert "Access-Control-Allow-Origin" not in health.headers


def test_a_simple_cross_site_write_is_refused_and_changes_nothing(http: httpx.Client) -> None:
    """A form or a text/plain POST needs no preflight: a page elsewhere could plant an upload."""
    before = http.get("/api/datasets").json()
    planted = http.post(
        "/api/datasets?name=planted.csv",
        content=b"a,b,label\n1,2,x\n3,4,y\n",
        headers={"Origin": ELSEWHERE, "Content-Type": "text/plain"},
    )
    assert planted.status_code == 403
    assert f"Origin {ELSEWHERE!r}" in planted.json()["error"]
    assert http.get("/api/datasets").json() == before
    for method, path in [
        ("POST", "/api/runs"),
        ("DELETE", "/api/runs/x"),
        ("PATCH", "/api/runs/x"),
    ]:
        answer = http.request(method, path, content=b"{}", headers={"Origin": ELSEWHERE})
        assert answer.status_code == 403, (method, path)
    own = http.post("/api/runs", json=QUICK_SPEC, headers={"Origin": ALLOWED})
    assert own.status_code == 201, own.text  # an allowed page still may


@pytest.mark.parametrize("origin", [ALLOWED, "own", None], ids=["allowed", "own", "none"])
def test_a_stream_opens_for_allowed_own_and_originless_clients(
    http: httpx.Client, live_server: LiveServer, origin: str | None
) -> None:
    run = create(http, QUICK_SPEC, paused=True)
    page = live_server.url if origin == "own" else origin  # the page this server served
    url = f"{live_server.ws_url}/ws/runs/{run['id']}"
    with connect(url, origin=page, proxy=None) as websocket:
        snapshot = json.loads(websocket.recv(timeout=10))
    assert snapshot["type"] == "snapshot"
    assert snapshot["run"]["id"] == run["id"]


@pytest.mark.parametrize("origin", [ELSEWHERE, "null", "http://127.0.0.1:1"])
def test_a_stream_refuses_a_page_from_elsewhere(
    http: httpx.Client, live_server: LiveServer, origin: str
) -> None:
    run = create(http, QUICK_SPEC, paused=True)
    url = f"{live_server.ws_url}/ws/runs/{run['id']}"
    with pytest.raises(InvalidStatus) as refused:
        connect(url, origin=origin, proxy=None)
    assert refused.value.response.status_code == 403
    error = json.loads(refused.value.response.body or b"{}")["error"]
    assert f"Origin {origin!r}" in error
    assert f"(Host '127.0.0.1:{live_server.port}')" in error


def test_without_denial_responses_a_refused_handshake_is_closed_1008() -> None:
    """A server that cannot answer a handshake with a body still refuses it (uvicorn: 403)."""
    reached: list[Scope] = []
    sent: list[Message] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        reached.append(scope)

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    policy = OriginPolicy(app, allowed_origins=[ALLOWED])
    scope: Scope = {
        "type": "websocket",
        "path": "/ws/runs/x",
        "headers": [(b"host", b"layerlab:8000"), (b"origin", ELSEWHERE.encode())],
        "extensions": {},
    }
    asyncio.run(policy(scope, receive, send))
    assert reached == []
    assert sent == [
        {
            "type": "websocket.close",
            "code": 1008,
            "reason": "Origin not allowed (LAYERLAB_ALLOWED_ORIGINS)",
        }
    ]
    asyncio.run(policy({**scope, "headers": [(b"origin", ALLOWED.encode())]}, receive, send))
    assert len(reached) == 1
