// Refusals shown where they belong: a field's message next to its control (elements
// .field-error[data-field="dataset.samples"]), anything else in the banner; 429 and 503 say
// when the page tries again (Retry-After) and do so.

import { t } from "./i18n.js";

/** Spec paths the page has a control for; a longer path (hidden_widths.2) maps to its prefix. */
const FIELDS = [
  "dataset.name", "dataset.samples", "dataset.noise", "dataset.train_fraction", "dataset.seed",
  "dataset.classes", "dataset.source", "dataset.label_column", "features", "hidden_widths",
  "activation", "optimizer", "learning_rate", "batch_size", "epochs", "epochs_per_s",
  "until_paused", "regularization", "regularization_rate",
];
/** Names the preview's query parameters use, and what the upload route calls its body. */
const ALIASES = {
  samples: "dataset.samples", noise: "dataset.noise", train_fraction: "dataset.train_fraction",
  seed: "dataset.seed", classes: "dataset.classes", body: "dataset.source",
  label_column: "dataset.label_column", source: "dataset.source",
};

/** The control's field for a path such as "dataset.samples", "query.noise", "hidden_widths.0". */
export function fieldFor(path, { aliases = false } = {}) {
  const parts = path.split(".");
  if (parts.length > 1 && (parts[0] === "body" || parts[0] === "query")) parts.shift(); // where FastAPI looked
  for (let length = parts.length; length > 0; length--) {
    const candidate = parts.slice(0, length).join(".");
    if (FIELDS.includes(candidate)) return candidate;
    if (aliases && length === 1 && ALIASES[candidate]) return ALIASES[candidate];
  }
  return null;
}

/**
 * Split a refusal into {fields: {path: message}, rest: [messages]}. The `error` text reads
 * "field.path: message; other.field: message"; `detail[].loc` names the same fields.
 */
export function splitRefusal(error, { aliases = false } = {}) {
  const fields = {};
  const rest = [];
  const sentences = String(error.message).split(/;\s+(?=[A-Za-z_][\w.\[\]]*:\s)/);
  for (const sentence of sentences) {
    const match = sentence.match(/^([A-Za-z_][\w.\[\]]*):\s+([\s\S]*)$/);
    const field = match ? fieldFor(match[1].replace(/\[(\d+)\]/g, ".$1"), { aliases }) : null;
    if (field) fields[field] = fields[field] ? `${fields[field]}; ${match[2]}` : match[2];
    else rest.push(sentence);
  }
  for (const item of error.detail ?? []) {
    const field = fieldFor((item.loc ?? []).join("."), { aliases });
    if (field && !fields[field]) fields[field] = item.msg;
  }
  return { fields, rest };
}

export function createErrorView(store) {
  let retryTimer = null;
  let countdown = null;

  /** Show a refusal; `retry` runs again after Retry-After when the server gave one. */
  function report(error, retry = null, { aliases = false, only = null } = {}) {
    console.warn("LayerLab:", error);
    const { fields, rest } = splitRefusal(error, { aliases });
    const chosen = only ? Object.fromEntries(Object.entries(fields).filter(([f]) => only.includes(f))) : fields;
    const shown = { ...store.state.errors.fields, ...chosen };
    let banner = rest.length || Object.keys(chosen).length === 0 ? rest.join("; ") || error.message : null;
    clearTimeout(retryTimer);
    clearInterval(countdown);
    if (error.retryAfterS && retry) {
      let seconds = Math.ceil(error.retryAfterS);
      const say = () => t("error.retrying", { message: error.message, seconds });
      banner = say();
      countdown = setInterval(() => {
        seconds -= 1;
        if (seconds > 0) store.set({ errors: { ...store.state.errors, banner: say() } });
      }, 1000);
      retryTimer = setTimeout(() => {
        clearInterval(countdown);
        store.set({ errors: { ...store.state.errors, banner: null } });
        retry();
      }, error.retryAfterS * 1000);
    } else if (error.status === 0) {
      banner = t("error.offline", { message: error.message });
    }
    store.set({ errors: { fields: shown, banner } });
  }

  /** Forget the messages (all, or those of some fields) once the server has accepted. */
  function clear(fields = null) {
    clearTimeout(retryTimer);
    clearInterval(countdown);
    const kept = fields
      ? Object.fromEntries(Object.entries(store.state.errors.fields).filter(([f]) => !fields.includes(f)))
      : {};
    store.set({ errors: { fields: kept, banner: null } });
  }

  function render(state) {
    for (const element of document.querySelectorAll(".field-error")) {
      const message = state.errors.fields[element.dataset.field] ?? "";
      element.textContent = message;
      element.closest("[data-control]")?.classList.toggle("has-error", Boolean(message));
    }
    const banner = document.getElementById("error-banner");
    banner.hidden = !state.errors.banner;
    banner.querySelector(".banner-text").textContent = state.errors.banner ?? "";
  }

  store.on(["errors"], render);
  document.querySelector("#error-banner .banner-close").addEventListener("click", () => {
    store.set({ errors: { ...store.state.errors, banner: null } });
  });
  return { report, clear, render };
}
