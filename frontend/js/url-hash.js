// The configuration in the URL hash, so that a shared link opens the same setup:
// #dataset=moons&noise=0.2&hidden=8,8&lr=0.03&...&pace=5&until=1&lang=es&threshold=0.3&hide=width
// Side by side, the second run's own keys carry "b.": #mode=compare&hidden=&b.hidden=8,8&b.activation=relu
// (a training key with "b." is one the learner unlinked). A sweep: #mode=sweep&depths=0,1,2&widths=2,4,8
// A teacher's room: #room=ABC234 (a learner in it), #teach=ABC234 (its teacher, sending a setup),
// #watch=RUN_ID (someone's run followed, read-only: the wall's spotlight).
// A lesson open beside the playground: #lesson=beyond-the-line&step=3 (steps count from 1).

import { COMPARE_KEYS, DEFAULT_THRESHOLD, MODES } from "./state.js";

const NUMBER_KEYS = {
  noise: "noise",
  samples: "samples",
  train: "trainFraction",
  dataseed: "dataSeed",
  classes: "classes",
  lr: "learningRate",
  batch: "batchSize",
  epochs: "epochs",
  regrate: "regularizationRate",
  seed: "seed",
};
const TEXT_KEYS = {
  dataset: "dataset",
  source: "source",
  activation: "activation",
  optimizer: "optimizer",
  reg: "regularization",
};

/**
 * {config, view, threshold, compare, sweep, room, teach, watch} found in a hash; anything absent
 * keeps its default (compare: the second run's own keys, null when the hash names none; sweep:
 * {depths, widths} or null; room and teach: a room's code in capitals, watch: a run's id, or null;
 * lesson: {id, step} or null).
 */
export function readHash(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const { config, view, threshold } = readSetup(params);
  if (MODES.includes(params.get("mode"))) view.mode = params.get("mode");
  const second = new URLSearchParams();
  for (const [key, value] of params) if (key.startsWith("b.")) second.set(key.slice(2), value);
  const own = readSetup(second).config;
  const compare = Object.fromEntries(Object.entries(own).filter(([key]) => COMPARE_KEYS.includes(key)));
  const sweep = params.has("depths") || params.has("widths")
    ? { depths: integers(params.get("depths")), widths: integers(params.get("widths")) }
    : null;
  const code = (key) => (params.get(key) ? params.get(key).trim().toUpperCase() : null);
  const room = code("room");
  const teach = code("teach");
  const watch = params.get("watch") || null;
  const step = Number(params.get("step"));
  const lesson = params.get("lesson") ? { id: params.get("lesson"), step: Number.isInteger(step) && step >= 1 ? step : 1 } : null;
  return { config, view, threshold, compare: Object.keys(compare).length ? compare : null, sweep, room, teach, watch, lesson };
}

function readSetup(params) {
  const config = {};
  const view = {};
  for (const [key, field] of Object.entries(NUMBER_KEYS)) {
    if (params.has(key) && params.get(key).trim() !== "" && Number.isFinite(Number(params.get(key)))) {
      config[field] = Number(params.get(key));
    }
  }
  for (const [key, field] of Object.entries(TEXT_KEYS)) {
    if (params.get(key)) config[field] = params.get(key);
  }
  if (params.has("hidden")) {
    const widths = list(params.get("hidden")).map(Number);
    if (widths.every(Number.isFinite)) {
      config.hidden = widths;
      if (widths.length) config.width = widths[widths.length - 1];
    }
  }
  if (params.has("width") && Number.isFinite(Number(params.get("width")))) {
    config.width = Number(params.get("width"));
  }
  if (params.get("features")) config.features = list(params.get("features"));
  // pace=5 trains at 5 epochs a second, pace=max as fast as it goes
  if (params.get("pace") === "max") config.epochsPerS = null;
  else if (Number(params.get("pace")) > 0) config.epochsPerS = Number(params.get("pace"));
  if (params.has("until")) config.untilPaused = params.get("until") === "1";
  if (params.get("lang")) view.lang = params.get("lang");
  if (params.get("theme")) view.theme = params.get("theme") === "dark" ? "dark" : "light";
  if (params.has("test")) view.showTest = params.get("test") !== "0";
  if (params.has("discretize")) view.discretize = params.get("discretize") === "1";
  if (params.has("hide")) view.hide = list(params.get("hide"));
  if (params.has("only")) view.only = list(params.get("only"));
  const threshold = params.has("threshold") ? Number(params.get("threshold")) : NaN;
  return { config, view, threshold: threshold >= 0 && threshold <= 1 ? threshold : undefined };
}

/** The hash for a configuration, view and decision threshold (the whole configuration, so a
 * link is explicit; the view's switches when they differ from their defaults), with the second
 * run's own keys when comparing and the sweep's depths and widths when sweeping. */
export function writeHash(config, view, threshold = DEFAULT_THRESHOLD, { compare = null, sweep = null, room = null, teach = null, watch = null, lesson = null } = {}) {
  const parts = [
    ...(lesson ? [["lesson", lesson.id], ["step", lesson.step]] : []),
    ...(room ? [["room", room]] : []),
    ...(teach ? [["teach", teach]] : []),
    ...(watch ? [["watch", watch]] : []),
    ["dataset", config.dataset],
    ...(config.dataset === "csv" && config.source ? [["source", config.source]] : []),
    ["noise", config.noise],
    ["samples", config.samples],
    ["train", config.trainFraction],
    ["dataseed", config.dataSeed],
    ...(config.dataset === "blobs" ? [["classes", config.classes]] : []),
    ["features", config.features.join(",")],
    ["hidden", config.hidden.join(",")],
    ["activation", config.activation],
    ["lr", config.learningRate],
    ["optimizer", config.optimizer],
    ["batch", config.batchSize],
    ["epochs", config.epochs],
    ["pace", config.epochsPerS ?? "max"],
    ["until", config.untilPaused ? 1 : 0],
    ["reg", config.regularization],
    ["regrate", config.regularizationRate],
    ["seed", config.seed],
    ["lang", view.lang],
  ];
  if (view.theme === "dark") parts.push(["theme", "dark"]);
  if (!view.showTest) parts.push(["test", "0"]);
  if (view.discretize) parts.push(["discretize", "1"]);
  if (threshold !== DEFAULT_THRESHOLD) parts.push(["threshold", threshold]);
  if (view.hide.length) parts.push(["hide", view.hide.join(",")]);
  if (view.only.length) parts.push(["only", view.only.join(",")]);
  if (view.mode && view.mode !== "play") parts.push(["mode", view.mode]);
  if (view.mode === "compare" && compare) parts.push(...secondRunParts(config, compare));
  if (view.mode === "sweep" && sweep) parts.push(["depths", sweep.depths.join(",")], ["widths", sweep.widths.join(",")]);
  // Commas stay readable: a teacher edits these links by hand.
  return "#" + parts.map(([key, value]) => `${key}=${encodeURIComponent(String(value)).replace(/%2C/g, ",")}`).join("&");
}

/** The second run's network always, and a training key only where it differs (unlinked). */
function secondRunParts(config, compare) {
  const names = {
    hidden: ["b.hidden", (v) => v.join(",")],
    activation: ["b.activation"],
    learningRate: ["b.lr"],
    optimizer: ["b.optimizer"],
    batchSize: ["b.batch"],
    epochs: ["b.epochs"],
    regularization: ["b.reg"],
    regularizationRate: ["b.regrate"],
  };
  const parts = [];
  for (const [key, [name, show = String]] of Object.entries(names)) {
    const always = key === "hidden" || key === "activation";
    if (key in compare && (always || JSON.stringify(compare[key]) !== JSON.stringify(config[key]))) {
      parts.push([name, show(compare[key])]);
    }
  }
  return parts;
}

/** Keep the address bar in step without adding history entries. */
export function replaceHash(config, view, threshold, extras) {
  const hash = writeHash(config, view, threshold, extras);
  if (location.hash !== hash) history.replaceState(null, "", hash);
}

function integers(text) {
  const values = list(text).map(Number).filter(Number.isInteger);
  return [...new Set(values)].sort((a, b) => a - b);
}

function list(text) {
  return (text ?? "").split(",").map((item) => item.trim()).filter(Boolean);
}
