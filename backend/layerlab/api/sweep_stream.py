"""The websocket of a sweep: a snapshot, then a `cell` frame whenever a run's numbers change.

A sweep holds up to LAYERLAB_MAX_SWEEP_RUNS runs, each reporting many points a second; a table
needs a few. So the stream looks at its runs CELL_FRAMES_PER_S times a second and sends each
run's latest state when it has changed, rather than every point. Origins, pings and slow
viewers follow the rules of a run's stream (stream.py).
"""

import asyncio
import contextlib
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status

from layerlab.api.stream import close_slow, pump, send
from layerlab.config import Settings
from layerlab.engine.sweeps import ENDED, Sweeps

router = APIRouter()

CELL_FRAMES_PER_S = 4.0  # per run, at most: a table that fills visibly, and little to send


@router.websocket("/ws/sweeps/{sweep_id}")
async def stream_sweep(websocket: WebSocket, sweep_id: str) -> None:
    """Frames: `snapshot` (the sweep's document) first, then `cell` frames (run_id, status,
    epoch, metrics) as its runs train, ending with `{"type": "status", "status": "done" or
    "cancelled"}`; then the socket closes (1000). Pings are answered as on a run's stream."""
    sweeps: Sweeps = websocket.app.state.sweeps
    settings: Settings = websocket.app.state.settings
    await websocket.accept()
    if sweeps.record(sweep_id) is None:
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="no such sweep")
        return
    with contextlib.suppress(WebSocketDisconnect):
        sending = _send_cells(websocket, sweeps, sweep_id, settings)
        await pump(websocket, sending, settings, ended="sweep ended")


async def _send_cells(
    websocket: WebSocket, sweeps: Sweeps, sweep_id: str, settings: Settings
) -> None:
    try:
        document = sweeps.describe(sweep_id)
        if document is None:  # deleted since the handshake
            return
        await send(websocket, {"type": "snapshot", "sweep": document}, settings)
        sent: dict[str, dict[str, Any]] = {}
        for cell in document["cells"]:
            sent[cell["run_id"]] = {key: cell[key] for key in ("status", "epoch", "metrics")}
        ended = {run_id for run_id, state in sent.items() if state["status"] in ENDED}
        while True:
            record = sweeps.record(sweep_id)
            if record is None:  # deleted while watched
                return
            sweeps.touch(record)
            for run_id, state in sweeps.run_states(record, skip=ended).items():
                now = {key: state[key] for key in ("status", "epoch", "metrics")}
                if now != sent.get(run_id):
                    await send(websocket, {"type": "cell", "run_id": run_id, **now}, settings)
                    sent[run_id] = now
                if now["status"] in ENDED:
                    ended.add(run_id)
            if ended >= set(sent):
                final = sweeps.describe(sweep_id)
                if final is not None:
                    await send(websocket, {"type": "status", "status": final["status"]}, settings)
                return
            await asyncio.sleep(1 / CELL_FRAMES_PER_S)
    except asyncio.TimeoutError:
        await close_slow(websocket, settings)
        raise
