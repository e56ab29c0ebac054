"""Headers of the page and its files: a Content-Security-Policy that runs no inline script.

Everything the page runs comes from this server (its modules and Plotly), so `script-src 'self'`
costs it nothing, and markup that slipped into a name (a CSV's column, a class label) cannot run:
an `onerror=` or a `<script>` written into the page is refused by the browser. Styles may be
inline (Plotly and the page set them on elements). The API's answers and /docs are left alone.
"""

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",  # the API and the streams (ws: on the same host)
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    )
)
UNTOUCHED = ("/api", "/ws", "/docs", "/redoc", "/openapi.json", "/metrics")


class PageHeaders:
    """ASGI middleware: the policy on every answer of the page and its static files."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNTOUCHED):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
                headers["X-Content-Type-Options"] = "nosniff"
            await send(message)

        await self.app(scope, receive, send_with_headers)
