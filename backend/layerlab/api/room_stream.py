"""The teacher's wall: `/ws/rooms/{code}?token=TEACHER`, a `room` frame or two a second.

A room holds up to LAYERLAB_MAX_LEARNERS_PER_ROOM learners, each of whose runs reports many
points a second; a wall read from the back of a classroom needs about one picture a second. So
the stream sends the room's whole state (every tile, the leaderboard) LAYERLAB_ROOM_FRAMES_PER_S
times a second, built once for all the walls of a room, rather than every point. The token
travels as a query parameter: a browser cannot set headers on a websocket. Origins, pings and
slow viewers follow the rules of a run's stream (stream.py).
"""

import asyncio
import contextlib
import time

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from layerlab.api.stream import close_slow, pump, send
from layerlab.config import Settings
from layerlab.engine.rooms import Rooms

router = APIRouter()

# Close codes in the 4000s (the application's): a browser reads them, as it cannot read a 401.
MISSING_TOKEN, WRONG_TOKEN, NO_ROOM = 4401, 4403, 4404


@router.websocket("/ws/rooms/{code}")
async def stream_room(websocket: WebSocket, code: str) -> None:
    """Frames: `{"type": "room", "room", "learners", "leaderboard"}`, LAYERLAB_ROOM_FRAMES_PER_S
    times a second until the room closes (1000). Refused with close code 4401 (no token), 4403
    (not the teacher's nor the admin's) or 4404 (no open room)."""
    rooms: Rooms = websocket.app.state.rooms
    settings: Settings = websocket.app.state.settings
    token = websocket.query_params.get("token")
    await websocket.accept()
    record = rooms.room(code)
    if record is None:
        await websocket.close(NO_ROOM, f"no open room with code {code.upper()!r}")
        return
    if not token:
        reason = "the wall needs the room's teacher token as ?token="
        await websocket.close(MISSING_TOKEN, reason)
        return
    if not rooms.is_teacher(record, token):
        await websocket.close(WRONG_TOKEN, "token is not this room's teacher token (nor admin)")
        return
    with contextlib.suppress(WebSocketDisconnect):
        sending = _send_frames(websocket, rooms, record.code, settings)
        await pump(websocket, sending, settings, ended="the room was closed")


async def _send_frames(websocket: WebSocket, rooms: Rooms, code: str, settings: Settings) -> None:
    period_s = 1 / settings.room_frames_per_s
    due = time.monotonic()
    try:
        while (record := rooms.room(code)) is not None:
            await send(websocket, rooms.wall_frame(record), settings)
            due = max(due + period_s, time.monotonic())  # a steady beat, never a burst
            await asyncio.sleep(due - time.monotonic())
    except asyncio.TimeoutError:
        await close_slow(websocket, settings)
        raise
