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
  model: (id) => request("GET", `${run(id)}/model`),
  predict: (id, points) => request("POST", `${run(id)}/predict`, { json: { points } }),
  neurons: (id, resolution) => request("GET", `${run(id)}/neurons?resolution=${resolution}`),
  code: (spec, lang) => request("POST", `/api/code?${new URLSearchParams({ lang })}`, { json: spec }),
};
