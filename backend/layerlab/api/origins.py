"""Which web pages may use this server from a browser: its own, and LAYERLAB_ALLOWED_ORIGINS.

Browsers enforce CORS on the REST API: a page elsewhere cannot read an answer, nor send the
X-Run-Token header, unless the server allows its origin. Websockets have no such check (a
browser opens any socket a page asks for), so a stream refuses a foreign `Origin` itself.
Programs that send no `Origin` (curl, notebooks, the CLI) are not browsers and pass.
"""

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

API_PREFIX = "/api"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})  # the methods that change something


class OriginPolicy:
    """ASGI middleware: CORS for `/api`, and a handshake refused (403) for a foreign stream."""

    def __init__(self, app: ASGIApp, allowed_origins: Sequence[str]) -> None:
        self.app = app
        self.allowed_origins = frozenset(allowed_origins)
        self.cors = CORSMiddleware(
            app,
            allow_origins=sorted(self.allowed_origins),
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Content-Type", "X-Run-Token"],
            expose_headers=["Retry-After"],  # a page elsewhere may then wait as told
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        permitted = origin is None or self.permits(origin, headers.get("host"))
        if scope["type"] == "websocket":
            if permitted:
                await self.app(scope, receive, send)
            else:
                await self._refuse_handshake(scope, receive, send, origin or "")
            return
        path: str = scope["path"]
        if path != API_PREFIX and not path.startswith(API_PREFIX + "/"):
            await self.app(scope, receive, send)  # the page and its files: same origin only
        elif not permitted and (_is_preflight(scope, headers) or scope["method"] in WRITES):
            # a "simple" cross-site POST (a form, text/plain) needs no preflight, and a browser
            # would send it and only hide the answer: refused here, it changes nothing
            await self._refusal(origin or "", headers.get("host"))(scope, receive, send)
        else:
            await self.cors(scope, receive, send)

    def permits(self, origin: str, host: str | None) -> bool:
        """Whether a page from `origin` may use this server reached as `host`."""
        if "*" in self.allowed_origins or origin in self.allowed_origins:
            return True
        scheme, separator, authority = origin.partition("://")
        # the page came from this server: its origin's host and port are the ones it asked for
        same_host = host is not None and authority.lower() == host.lower()
        return bool(separator) and scheme in ("http", "https") and same_host

    def _refusal(self, origin: str, host: str | None) -> JSONResponse:
        allowed = ", ".join(sorted(self.allowed_origins)) or "none"
        message = (
            f"Origin {origin!r}: a page there may not use this server; its own pages (Host "
            f"{host!r}) may, and those of LAYERLAB_ALLOWED_ORIGINS (now: {allowed}). Behind a "
            "proxy, pass the browser's Host header on (nginx: proxy_set_header Host $http_host) "
            "or add the page's origin to LAYERLAB_ALLOWED_ORIGINS"
        )
        return JSONResponse({"error": message}, status_code=403)

    async def _refuse_handshake(
        self, scope: Scope, receive: Receive, send: Send, origin: str
    ) -> None:
        websocket = WebSocket(scope, receive, send)
        if "websocket.http.response" in scope.get("extensions", {}):
            response = self._refusal(origin, websocket.headers.get("host"))
            await websocket.send_denial_response(response)  # 403 with the sentence
        else:  # a server without denial responses answers a close before accept with 403
            await websocket.close(code=1008, reason="Origin not allowed (LAYERLAB_ALLOWED_ORIGINS)")


def _is_preflight(scope: Scope, headers: Headers) -> bool:
    return scope["method"] == "OPTIONS" and "access-control-request-method" in headers
