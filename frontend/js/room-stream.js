// The wall's websocket (/ws/rooms/{code}?token=…): one frame about every second with the whole
// room, so a frame missed while the connection was down costs nothing; dropped, it reconnects
// with backoff, and it stops for good when the server says the token or the room is wrong.

import { parseFrame } from "./stream.js";

const MAX_BACKOFF_MS = 10_000;
/** Close codes after which trying again cannot help: missing or wrong token, no such room. */
const FINAL_CLOSES = { 4401: "unauthorized", 4403: "forbidden", 4404: "gone" };

export class RoomStream {
  /** onFrame(frame) for each frame; onConnection(state, seconds) with "open", "reconnecting",
   * or a final state ("unauthorized", "forbidden", "gone"). */
  constructor(code, token, { onFrame, onConnection }) {
    this.path = `/ws/rooms/${encodeURIComponent(code)}?${new URLSearchParams({ token })}`;
    this.onFrame = onFrame;
    this.onConnection = onConnection;
    this.closed = false;
    this.attempt = 0;
    this.timer = null;
    this.connect();
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}${this.path}`);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempt = 0;
      this.onConnection("open");
    });
    socket.addEventListener("message", (event) => {
      const frame = parseFrame(event.data);
      if (frame) this.onFrame(frame);
    });
    socket.addEventListener("close", (event) => {
      if (this.closed) return;
      if (event.code in FINAL_CLOSES) {
        this.closed = true;
        this.onConnection(FINAL_CLOSES[event.code]);
        return;
      }
      const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
      this.attempt += 1;
      this.onConnection("reconnecting", Math.round(delay / 1000));
      this.timer = setTimeout(() => {
        if (!this.closed) this.connect();
      }, delay);
    });
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.socket?.close(1000, "wall closed");
  }
}
