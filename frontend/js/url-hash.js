// The configuration in the URL hash, so that a shared link opens the same setup:
// #dataset=moons&noise=0.2&hidden=8,8&lr=0.03&...&pace=5&until=1&lang=es&threshold=0.3&hide=width

import { DEFAULT_THRESHOLD } from "./state.js";

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

/** {config, view, threshold} found in a hash; anything absent keeps its default. */
export function readHash(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
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
 * link is explicit; the view's switches when they differ from their defaults). */
export function writeHash(config, view, threshold = DEFAULT_THRESHOLD) {
  const parts = [
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
  // Commas stay readable: a teacher edits these links by hand.
  return "#" + parts.map(([key, value]) => `${key}=${encodeURIComponent(String(value)).replace(/%2C/g, ",")}`).join("&");
}

/** Keep the address bar in step without adding history entries. */
export function replaceHash(config, view, threshold) {
  const hash = writeHash(config, view, threshold);
  if (location.hash !== hash) history.replaceState(null, "", hash);
}

function list(text) {
  return (text ?? "").split(",").map((item) => item.trim()).filter(Boolean);
}
