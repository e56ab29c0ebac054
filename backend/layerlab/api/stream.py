"""The websocket of a run: a snapshot, then its events as they come, paced by the viewer."""

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Coroutine
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status
from starlette.websockets import WebSocketState

from layerlab.config import Settings
from layerlab.engine.hub import Mailbox, frame_text
from layerlab.engine.scheduler import Scheduler

router = APIRouter()

MESSAGES_PER_S = 10  # a viewer pings every few seconds; more is a client gone wrong


@router.websocket("/ws/runs/{run_id}")
async def stream_run(websocket: WebSocket, run_id: str) -> None:
    """Frames: `snapshot` first, then `status`, `metrics` and `grid`, ending with a final status.

    The browser may send `{"type": "ping"}` (answered with `pong`); nothing else is expected.
    """
    scheduler: Scheduler = websocket.app.state.scheduler
    settings: Settings = websocket.app.state.settings
    await websocket.accept()
    scheduler.touch(run_id)
    try:
        async with scheduler.subscribe(run_id) as (snapshot, mailbox):
            await send(websocket, snapshot, settings)
            await pump(websocket, _send_frames(websocket, mailbox, settings), settings)
    except KeyError:  # not live: a finished run from the store, or none at all
        stored = scheduler.snapshot(run_id)
        if stored is None:
            await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="no such run")
            return
        view = stored["run"]
        with contextlib.suppress(WebSocketDisconnect, asyncio.TimeoutError):
            await send(websocket, stored, settings)
            final = {k: view[k] for k in ("status", "error", "finished_at", "final_metrics")}
            await send(websocket, {"type": "status", **final}, settings)
            await websocket.close(code=status.WS_1000_NORMAL_CLOSURE, reason="run ended")


async def pump(
    websocket: WebSocket,
    sending: Coroutine[Any, Any, None],
    settings: Settings,
    ended: str = "run ended",
) -> None:
    """Send frames as the viewer takes them (`sending`), and read what it sends, until one side
    ends; when `sending` has sent the last, close with 1000 and the reason `ended`."""
    sender = asyncio.create_task(sending)
    reader = asyncio.create_task(read_messages(websocket, settings))
    done, pending = await asyncio.wait({sender, reader}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    for task in pending:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    if sender in done and sender.exception() is None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                websocket.close(code=status.WS_1000_NORMAL_CLOSURE, reason=ended), 1.0
            )


async def _send_frames(websocket: WebSocket, mailbox: Mailbox, settings: Settings) -> None:
    while frames := await mailbox.next_frames():
        for frame in frames:
            try:
                await send(websocket, frame, settings)
            except asyncio.TimeoutError:
                await close_slow(websocket, settings)
                raise


async def close_slow(websocket: WebSocket, settings: Settings) -> None:
    websocket.app.state.scheduler.count_slow_viewer()
    reason = f"too slow: no frame accepted for {settings.slow_viewer_timeout_s:g} s"
    with contextlib.suppress(Exception):
        await asyncio.wait_for(
            websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason=reason), 1.0
        )


async def send(websocket: WebSocket, frame: dict[str, Any], settings: Settings) -> None:
    """One frame, or TimeoutError when the viewer has not taken it in time."""
    text, limit_s = frame_text(frame), settings.slow_viewer_timeout_s
    if sys.version_info >= (3, 11):  # no task per frame and viewer, as wait_for makes one
        async with asyncio.timeout(limit_s):
            await websocket.send_text(text)
    else:  # pragma: no cover
        await asyncio.wait_for(websocket.send_text(text), limit_s)
    websocket.app.state.scheduler.count_sent(frame["type"])


async def read_messages(websocket: WebSocket, settings: Settings) -> None:
    """Answer pings; anything else gets an `error` frame. A binary frame closes with 1003, an
    oversized message with 1009, more than MESSAGES_PER_S messages a second with 1008: a
    viewer's messages cost its run's worker nothing, and the server little."""
    limit = settings.max_ws_message_bytes
    window_start, in_window = time.monotonic(), 0
    while websocket.client_state is WebSocketState.CONNECTED:
        try:
            received = await websocket.receive()
        except (WebSocketDisconnect, RuntimeError):
            return  # the viewer left
        if received["type"] == "websocket.disconnect":
            return
        message = received.get("text")
        if message is None:
            await websocket.close(
                code=status.WS_1003_UNSUPPORTED_DATA,
                reason='binary frames are not taken: send JSON text, {"type": "ping"}',
            )
            return
        now = time.monotonic()
        if now - window_start >= 1.0:
            window_start, in_window = now, 0
        in_window += 1
        if in_window > MESSAGES_PER_S:
            await websocket.close(
                code=status.WS_1008_POLICY_VIOLATION,
                reason=f"at most {MESSAGES_PER_S} messages a second (a ping every few is enough)",
            )
            return
        if len(message.encode()) > limit:
            await websocket.close(
                code=status.WS_1009_MESSAGE_TOO_BIG,
                reason=f"messages are at most {limit} bytes (LAYERLAB_MAX_WS_MESSAGE_BYTES)",
            )
            return
        try:
            kind = json.loads(message).get("type")
        except (ValueError, AttributeError):
            kind = None
        reply = (
            {"type": "pong"}
            if kind == "ping"
            else {"type": "error", "error": f'expected {{"type": "ping"}}; got {message[:80]!r}'}
        )
        await websocket.send_text(json.dumps(reply))
