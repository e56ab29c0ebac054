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
};
