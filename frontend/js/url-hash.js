// The configuration in the URL hash, so that a shared link opens the same setup:
// #dataset=moons&noise=0.2&hidden=8,8&lr=0.03&...&lang=es&hide=width,activation

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

/** {config, view} fields found in a hash; anything absent keeps its default. */
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
  if (params.get("lang")) view.lang = params.get("lang");
  if (params.get("theme")) view.theme = params.get("theme") === "dark" ? "dark" : "light";
  if (params.has("test")) view.showTest = params.get("test") !== "0";
  if (params.has("discretize")) view.discretize = params.get("discretize") === "1";
  if (params.has("hide")) view.hide = list(params.get("hide"));
  if (params.has("only")) view.only = list(params.get("only"));
  return { config, view };
}

/** The hash for a configuration and view (the whole configuration, so a link is explicit). */
export function writeHash(config, view) {
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
    ["reg", config.regularization],
    ["regrate", config.regularizationRate],
    ["seed", config.seed],
    ["lang", view.lang],
  ];
  if (view.theme === "dark") parts.push(["theme", "dark"]);
  if (!view.showTest) parts.push(["test", "0"]);
  if (view.discretize) parts.push(["discretize", "1"]);
  if (view.hide.length) parts.push(["hide", view.hide.join(",")]);
  if (view.only.length) parts.push(["only", view.only.join(",")]);
  // Commas stay readable: a teacher edits these links by hand.
  return "#" + parts.map(([key, value]) => `${key}=${encodeURIComponent(String(value)).replace(/%2C/g, ",")}`).join("&");
}

/** Keep the address bar in step without adding history entries. */
export function replaceHash(config, view) {
  const hash = writeHash(config, view);
  if (location.hash !== hash) history.replaceState(null, "", hash);
}

function list(text) {
  return (text ?? "").split(",").map((item) => item.trim()).filter(Boolean);
}
