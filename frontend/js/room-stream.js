// The wall's websocket (/ws/rooms/{code}?token=…): one frame about every second with the whole
// room, so a frame missed while the connection was down costs nothing. A run's stream with
// another address: dropped, it reconnects with backoff; it stops for good when the server says
// the token or the room is wrong.

import { RunStream } from "./stream.js";

/** Close codes after which trying again cannot help: missing or wrong token, no such room. */
const FINAL_CLOSES = { 4401: "unauthorized", 4403: "forbidden", 4404: "gone" };

export class RoomStream extends RunStream {
  /** onFrame(frame) for each `room` frame; onConnection(state, seconds) with "open",
   * "reconnecting", or a final state ("unauthorized", "forbidden", "gone"). */
  constructor(code, token, { onFrame, onConnection }) {
    const path = `/ws/rooms/${encodeURIComponent(code)}?${new URLSearchParams({ token })}`;
    super(code, { room: onFrame, connection: onConnection }, path, (event) => FINAL_CLOSES[event.code] ?? null);
  }
}
