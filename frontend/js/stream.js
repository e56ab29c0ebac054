// A run's (or a sweep's, or a room's wall's) websocket: frames to handlers, counted in
// window.layerlab.stats, and reconnection with backoff when the connection drops before the run
// has ended (the snapshot that opens each connection redraws everything, so nothing is lost).

const FINAL = new Set(["done", "diverged", "failed", "cancelled", "interrupted"]);
const PING_EVERY_MS = 20_000;
const MAX_BACKOFF_MS = 10_000;

export const stats = { gridsDrawn: 0, framesReceived: 0, bytesReceived: 0, startedAt: Date.now() };

/** The close of a run's or a sweep's stream after which trying again cannot help, or null. */
function finalClose(event) {
  return event.code === 1008 && /^no such (run|sweep)$/.test(event.reason) ? "gone" : null;
}

export class RunStream {
  /**
   * handlers: {snapshot, status, metrics, grid, connection(state)} each called with a frame (by
   * its type); final(closeEvent): the state of a close not to reconnect after, or null.
   */
  constructor(runId, handlers, path = `/ws/runs/${encodeURIComponent(runId)}`, final = finalClose) {
    this.runId = runId;
    this.path = path;
    this.handlers = handlers;
    this.final = final;
    this.closed = false;
    this.ended = false;
    this.attempt = 0;
    this.socket = null;
    this.timer = null;
    this.connect();
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}${this.path}`);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempt = 0;
      this.handlers.connection?.("open");
      this.pinger = setInterval(() => this.send({ type: "ping" }), PING_EVERY_MS);
    });
    socket.addEventListener("message", (event) => this.receive(event.data));
    socket.addEventListener("close", (event) => {
      clearInterval(this.pinger);
      if (this.closed || this.ended) return;
      const final = this.final(event);
      if (final) this.handlers.connection?.(final);
      else this.reconnectLater();
    });
  }

  receive(data) {
    stats.framesReceived += 1;
    stats.bytesReceived += data.length;
    const frame = parseFrame(data);
    if (!frame) return;
    if (frame.type === "status" && FINAL.has(frame.status)) this.ended = true;
    if (frame.type === "snapshot" && FINAL.has(frame.run?.status ?? frame.sweep?.status)) this.ended = true;
    this.handlers[frame.type]?.(frame);
  }

  reconnectLater() {
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
    this.attempt += 1;
    this.handlers.connection?.("reconnecting", Math.round(delay / 1000));
    this.timer = setTimeout(() => {
      if (!this.closed) this.connect();
    }, delay);
  }

  send(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    this.socket?.close(1000, "viewer left");
  }
}

/**
 * JSON.parse, tolerating the bare NaN and Infinity that Python's json writes for a loss that
 * blew up (read as null, as the REST routes write them); strings are left as they are.
 */
export function parseFrame(text) {
  try {
    return JSON.parse(text);
  } catch {
    const fixed = text.replace(/"(?:[^"\\]|\\.)*"|-?\bInfinity\b|\bNaN\b/g, (token) => (token.startsWith('"') ? token : "null"));
    try {
      return JSON.parse(fixed);
    } catch {
      return null;
    }
  }
}
