"""Request sizes: a body larger than the limit is refused before it is read into memory."""

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """413 for a body over `max_bytes`, whether Content-Length says so or the bytes do."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"").decode() or "0"
        if not declared.isdigit():
            await self._refuse(send, 400, "Content-Length must be a whole number of bytes")
            return
        if int(declared) > self.max_bytes:
            await self._refuse(send, 413, self._message(int(declared)))
            return
        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not response_started:
                await self._refuse(send, 413, self._message(received))

    def _message(self, size: int) -> str:
        return (
            f"the request body is {size} bytes; the most this server takes is {self.max_bytes} "
            "(LAYERLAB_MAX_REQUEST_BYTES)"
        )

    async def _refuse(self, send: Send, status: int, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
