// The REST API: one function per route, JSON in and out, refusals as ApiError.

/** A refusal from the server: its status, its sentence, the fields at fault and when to retry. */
export class ApiError extends Error {
  constructor(status, message, { detail = null, retryAfterS = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
    this.retryAfterS = retryAfterS;
  }
}

async function request(method, path, { json, text, token, keepalive = false } = {}) {
  const headers = {};
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (text !== undefined) {
    headers["Content-Type"] = "text/csv";
    body = text;
  }
  if (token) headers["X-Run-Token"] = token;
  let response;
  try {
    response = await fetch(path, { method, headers, body, keepalive });
  } catch (error) {
    throw new ApiError(0, `the server did not answer (${error.message})`);
  }
  if (response.status === 204) return null;
  const reply = await response.json().catch(() => null);
  if (!response.ok) {
    const retry = Number(response.headers.get("Retry-After"));
    throw new ApiError(response.status, reply?.error ?? `${response.status} ${response.statusText}`, {
      detail: reply?.detail ?? null,
      retryAfterS: Number.isFinite(retry) && retry > 0 ? retry : null,
    });
  }
  return reply;
}

const run = (id) => `/api/runs/${encodeURIComponent(id)}`;

// Reads of a run's weights still on their way, by run: a run is deleted only once they are back,
// since a read that reaches the server after the deletion is refused (404).
const readsInFlight = new Map();

function read(id, method, path, options) {
  const reply = request(method, path, options);
  const reads = readsInFlight.get(id) ?? new Set();
  readsInFlight.set(id, reads);
  reads.add(reply);
  const done = () => {
    reads.delete(reply);
    if (!reads.size) readsInFlight.delete(id);
  };
  reply.then(done, done);
  return reply;
}

/** Settles when the reads of run `id` sent so far have come back (answered or refused). */
export function readsSettled(id) {
  return Promise.allSettled([...(readsInFlight.get(id) ?? [])]);
}

export const api = {
  info: () => request("GET", "/api/info"),
  datasets: () => request("GET", "/api/datasets"),
  uploadInfo: (id) => request("GET", `/api/datasets/${encodeURIComponent(id)}/info`),
  uploadFileUrl: (id) => `/api/datasets/${encodeURIComponent(id)}/file`,
  preview: (name, params) =>
    request("GET", `/api/datasets/${encodeURIComponent(name)}?${new URLSearchParams(params)}`),
  upload: (fileName, csvText) =>
    request("POST", `/api/datasets?${new URLSearchParams({ name: fileName })}`, { text: csvText }),
  run: (id) => request("GET", run(id)),
  createRun: (spec, { paused = false } = {}) =>
    request("POST", `/api/runs${paused ? "?paused=true" : ""}`, { json: spec }),
  control: (id, token, action) => request("POST", `${run(id)}/${action}`, { token }),
  setRates: (id, token, rates) => request("PATCH", run(id), { json: rates, token }),
  deleteRun: (id, token, { keepalive = false } = {}) =>
    request("DELETE", run(id), { token, keepalive }),
  /** A weight (column: an input's index) or a bias (column: null) of a paused run. */
  setWeight: (id, token, { layer, row, column, value }) =>
    request("PATCH", `${run(id)}/weights`, { json: { layer, row, column, value }, token }),
  model: (id) => read(id, "GET", `${run(id)}/model`),
  predict: (id, points) => read(id, "POST", `${run(id)}/predict`, { json: { points } }),
  neurons: (id, resolution) => read(id, "GET", `${run(id)}/neurons?resolution=${resolution}`),
  /** One input through every layer: {point: [x1, x2]} or {features: [...]}. */
  forward: (id, input) => read(id, "POST", `${run(id)}/forward`, { json: input }),
  /** A binary run's test labels and scores, and its ROC curve. */
  roc: (id) => read(id, "GET", `${run(id)}/roc`),
  /** A capacity sweep: {base: RunSpec, depths, widths} → the sweep, its token and its cells. */
  createSweep: (body) => request("POST", "/api/sweeps", { json: body }),
  cancelSweep: (id, token) => request("POST", `/api/sweeps/${encodeURIComponent(id)}/cancel`, { token }),
  deleteSweep: (id, token, { keepalive = false } = {}) =>
    request("DELETE", `/api/sweeps/${encodeURIComponent(id)}`, { token, keepalive }),
  code: (spec, lang) => request("POST", `/api/code?${new URLSearchParams({ lang })}`, { json: spec }),
  /** The lessons in `lang`: {lessons: [{id, order, course, title, summary, steps (a count)}]}. */
  lessons: (lang) => request("GET", `/api/lessons?${new URLSearchParams({ lang })}`),
  /** One lesson whole in `lang`: its steps' texts, states, questions (answers too) and goals. */
  lesson: (id, lang) => request("GET", `/api/lessons/${encodeURIComponent(id)}?${new URLSearchParams({ lang })}`),
  // A teacher's room: the teacher's token changes or ends it, a learner's runs their runs.
  /** {title?, setup, challenge?} → the room and its teacher token; `token`: the admin's, if asked. */
  createRoom: (body, token = null) => request("POST", "/api/rooms", { json: body, token }),
  room: (code, token = null) => request("GET", roomPath(code), { token }),
  patchRoom: (code, token, patch) => request("PATCH", roomPath(code), { json: patch, token }),
  deleteRoom: (code, token) => request("DELETE", roomPath(code), { token }),
  join: (code, name) => request("POST", `${roomPath(code)}/learners`, { json: { name } }),
  leave: (code, learnerId, token) =>
    request("DELETE", `${roomPath(code)}/learners/${encodeURIComponent(learnerId)}`, { token }),
  createRoomRun: (code, token, spec, { paused = false } = {}) =>
    request("POST", `${roomPath(code)}/runs${paused ? "?paused=true" : ""}`, { json: spec, token }),
  leaderboard: (code) => request("GET", `${roomPath(code)}/leaderboard`),
  /** The results table as a Blob (a CSV): the teacher's token goes in the header, so no link. */
  async results(code, token) {
    const response = await fetch(`${roomPath(code)}/results.csv`, { headers: { "X-Run-Token": token } });
    if (!response.ok) {
      const reply = await response.json().catch(() => null);
      throw new ApiError(response.status, reply?.error ?? `${response.status} ${response.statusText}`);
    }
    return response.blob();
  },
};

function roomPath(code) {
  return `/api/rooms/${encodeURIComponent(code)}`;
}
