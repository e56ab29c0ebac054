"""The access log: one structured line per HTTP request and per websocket session, when it ends.

Each line goes to the `layerlab.access` logger with its fields in `record.fields` (time, method,
path, route template, status, duration_ms, client, run_id...), which the JSON formatter writes
as one JSON object; the same request is counted for `GET /metrics`.
"""

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from layerlab.api.metrics import RequestCounts

logger = logging.getLogger("layerlab.access")


def route_of(scope: Scope, status: int) -> str:
    """The route template that answered ('/api/runs/{run_id}'), never the raw path: few labels.

    'static' for a file of the page, 'unrouted' for a path that nothing serves (or a request
    refused before routing, such as a body over LAYERLAB_MAX_REQUEST_BYTES).
    """
    template = getattr(scope.get("route"), "path", None)
    if isinstance(template, str):
        return template
    served_by_mount = scope.get("endpoint") is not None and status != 404
    return "static" if served_by_mount else "unrouted"


class AccessLog:
    """ASGI middleware: watches what the app sends, then logs and counts the exchange."""

    def __init__(self, app: ASGIApp, counts: RequestCounts) -> None:
        self.app = app
        self.counts = counts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        seen: dict[str, Any] = {"status": None, "close_code": None, "closed_by": None}

        async def watched_send(message: Message) -> None:
            kind = message["type"]
            if kind in ("http.response.start", "websocket.http.response.start"):
                seen["status"] = message["status"]
            elif kind == "websocket.accept":
                seen["status"] = 101
            elif kind == "websocket.close" and seen["close_code"] is None:
                seen["close_code"], seen["closed_by"] = message.get("code", 1000), "server"
                seen["status"] = seen["status"] or 403  # closed before accepting: a refusal
            await send(message)

        async def watched_receive() -> Message:
            message = await receive()
            if message["type"] == "websocket.disconnect" and seen["close_code"] is None:
                seen["close_code"], seen["closed_by"] = message.get("code", 1005), "client"
            return message

        try:
            await self.app(scope, watched_receive, watched_send)
        except Exception:
            seen["status"] = seen["status"] or 500  # the error middleware outside answers 500
            raise
        finally:
            self._record(scope, seen, time.perf_counter() - started)

    def _record(self, scope: Scope, seen: dict[str, Any], duration_s: float) -> None:
        websocket = scope["type"] == "websocket"
        method = "GET" if websocket else scope["method"]
        status = seen["status"] or (101 if websocket else 500)
        route = route_of(scope, status)
        if not websocket:
            self.counts.add(method, route, status, duration_s)
        fields: dict[str, Any] = {
            "type": scope["type"],
            "method": method,
            "path": scope["path"],
            "route": route,
            "status": status,
            "duration_ms": round(duration_s * 1000, 2),
            "client": scope["client"][0] if scope.get("client") else None,
        }
        query = scope.get("query_string", b"").decode("latin-1")
        if query:
            fields["query"] = query
        run_id = scope.get("path_params", {}).get("run_id")
        if run_id is not None:
            fields["run_id"] = run_id
        if websocket:
            fields["close_code"] = seen["close_code"]
            fields["closed_by"] = seen["closed_by"]
        message = (
            f'{fields["client"]} "{method} {scope["path"]}" {status} {fields["duration_ms"]} ms'
        )
        logger.info(message, extra={"fields": fields})
