// The controls: built from the server's limits and choices (/api/info), written to the store's
// configuration as the user moves them, and rendered back from it (so a shared link, a
// language switch or a hidden control all go through the same place).

import { formatInteger, formatNumber } from "./format.js";
import { t } from "./i18n.js";

const LEARNING_RATES = [0.00001, 0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const REGULARIZATION_RATES = [0, 0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1];
const BATCH_SIZES = [1, 2, 4, 8, 10, 16, 32, 64, 128, 256, 512, 1024];
const MAX_WIDTH_SLIDER = 32;
const PACES = [1, 5, 20]; // epochs a second a learner can follow; "max" is as fast as it goes

/** Every control name a teacher can hide with hide= or keep alone with only=. */
export const CONTROL_NAMES = [
  "dataset", "noise", "samples", "train-fraction", "data-seed", "classes", "csv", "regenerate",
  "depth", "width", "layers", "activation", "features", "play", "step", "reset", "learning-rate",
  "optimizer", "batch-size", "regularization", "regularization-rate", "pace", "epochs",
  "until-paused", "show-test", "discretize", "threshold", "forward", "lang", "theme", "modes",
  "rooms", "lessons",
];

const $ = (id) => document.getElementById(id);

/** Whether a teacher's link hides this control (hide=a,b or only=c). */
export function isControlHidden(view, name) {
  // The per-layer −/+ buttons change widths too: hiding the width slider hides them.
  if (name === "layers" && isControlHidden(view, "width")) return true;
  return view.only.length ? CONTROL_NAMES.includes(name) && !view.only.includes(name) : view.hide.includes(name);
}

export function createControls(store, { onUpload }) {
  const { info } = store.state;
  const limits = info.limits;

  // --- bounds from the server ------------------------------------------------------------------
  $("samples").max = limits.max_samples;
  $("depth").max = limits.max_hidden_layers;
  $("width").max = Math.min(limits.max_width, MAX_WIDTH_SLIDER);
  $("epochs").max = limits.max_epochs;

  function setConfig(patch) {
    store.set({ config: { ...store.state.config, ...patch } });
  }
  function setView(patch) {
    store.set({ view: { ...store.state.view, ...patch } });
  }

  // --- user → configuration ----------------------------------------------------------------------
  const numberInputs = {
    noise: "noise", samples: "samples", "train-fraction": "trainFraction", "data-seed": "dataSeed",
    classes: "classes", "learning-rate": "learningRate", "batch-size": "batchSize", epochs: "epochs",
    "regularization-rate": "regularizationRate",
  };
  for (const [id, key] of Object.entries(numberInputs)) {
    $(id).addEventListener("input", (event) => {
      const number = Number(event.target.value);
      if (event.target.value.trim() === "" || !Number.isFinite(number)) return; // still typing
      setConfig({ [key]: number });
    });
  }
  for (const [id, key] of Object.entries({ activation: "activation", optimizer: "optimizer", regularization: "regularization" })) {
    $(id).addEventListener("change", (event) => setConfig({ [key]: event.target.value }));
  }
  $("dataset").addEventListener("change", (event) => {
    const option = event.target.selectedOptions[0];
    if (option?.dataset.upload) setConfig({ dataset: "csv", source: option.value, features: ["x1", "x2"] });
    else setConfig({ dataset: event.target.value, source: null });
  });
  $("depth").addEventListener("input", (event) => {
    const depth = Number(event.target.value);
    const { hidden, width } = store.state.config;
    const widths = hidden.slice(0, depth);
    while (widths.length < depth) widths.push(width);
    setConfig({ hidden: widths });
  });
  $("width").addEventListener("input", (event) => {
    const width = Number(event.target.value);
    setConfig({ width, hidden: store.state.config.hidden.map(() => width) });
  });
  $("pace").addEventListener("change", (event) => {
    setConfig({ epochsPerS: event.target.value === "max" ? null : Number(event.target.value) });
  });
  $("until-paused").addEventListener("change", (event) => setConfig({ untilPaused: event.target.checked }));
  $("regenerate").addEventListener("click", () => {
    // New points from the same generator; the network stays as it is.
    setConfig({ dataSeed: (store.state.config.dataSeed + 1) % 2147483647 });
  });
  // Feature checkboxes live in the network's input column; they are drawn again with it.
  $("network").addEventListener("change", (event) => {
    if (event.target.name !== "feature") return;
    const checked = [...document.querySelectorAll('input[name="feature"]:checked')].map((box) => box.value);
    const order = info.choices.features;
    setConfig({ features: order.filter((name) => checked.includes(name)) });
  });
  $("network").addEventListener("click", (event) => {
    const button = event.target.closest(".layer-plus, .layer-minus");
    if (!button) return;
    const index = Number(button.dataset.layer);
    const hidden = [...store.state.config.hidden];
    const delta = button.classList.contains("layer-plus") ? 1 : -1;
    hidden[index] = Math.max(1, Math.min(limits.max_width, hidden[index] + delta));
    setConfig({ hidden });
  });
  $("csv-file").addEventListener("change", (event) => {
    const file = event.target.files?.[0];
    if (file) onUpload(file);
    event.target.value = "";
  });

  // --- the view's switches ------------------------------------------------------------------------
  $("show-test").addEventListener("change", (event) => setView({ showTest: event.target.checked }));
  $("discretize").addEventListener("change", (event) => setView({ discretize: event.target.checked }));
  $("lang").addEventListener("change", (event) => setView({ lang: event.target.value }));
  $("theme").addEventListener("click", () => setView({ theme: store.state.view.theme === "dark" ? "light" : "dark" }));

  // --- configuration → controls ------------------------------------------------------------------
  function renderOptions(state) {
    const { config } = state;
    fillSelect($("dataset"), datasetOptions(state), config.dataset === "csv" ? config.source : config.dataset);
    fillSelect($("activation"), info.choices.activations.map((name) => [name, t(`activation.${name}`)]), config.activation);
    fillSelect($("optimizer"), info.choices.optimizers.map((name) => [name, t(`optimizer.${name}`)]), config.optimizer);
    fillSelect($("regularization"), info.choices.regularizations.map((name) => [name, t(`regularization.${name}`)]), config.regularization);
    const rates = withValue(LEARNING_RATES.filter((rate) => rate <= limits.max_learning_rate), config.learningRate);
    fillSelect($("learning-rate"), rates.map((rate) => [String(rate), formatNumber(rate, 5)]), String(config.learningRate));
    const regRates = withValue(REGULARIZATION_RATES, config.regularizationRate);
    fillSelect($("regularization-rate"), regRates.map((rate) => [String(rate), formatNumber(rate, 5)]), String(config.regularizationRate));
    const batches = withValue(BATCH_SIZES.filter((size) => size <= limits.max_samples), config.batchSize);
    fillSelect($("batch-size"), batches.map((size) => [String(size), formatInteger(size)]), String(config.batchSize));
    const paces = withValue(PACES, config.epochsPerS ?? NaN).map((pace) => [String(pace), t("control.pace_value", { count: formatNumber(pace, 2) })]);
    fillSelect($("pace"), [...paces, ["max", t("control.pace_max")]], config.epochsPerS === null ? "max" : String(config.epochsPerS));
  }

  function render(state) {
    const { config } = state;
    renderOptions(state);
    setValue($("noise"), config.noise);
    setValue($("samples"), config.samples);
    setValue($("train-fraction"), config.trainFraction);
    setValue($("data-seed"), config.dataSeed);
    setValue($("classes"), config.classes);
    setValue($("epochs"), config.epochs);
    $("until-paused").checked = config.untilPaused;
    // Trained until paused, the run has no epoch count to reach.
    $("epochs").disabled = config.untilPaused;
    setValue($("depth"), config.hidden.length);
    setValue($("width"), config.width);
    $("noise-value").textContent = formatNumber(config.noise, 2);
    $("samples-value").textContent = formatInteger(config.samples);
    const trainShare = Math.round(config.trainFraction * 100);
    $("train-fraction-value").textContent = `${trainShare} / ${100 - trainShare}`;
    $("classes-value").textContent = String(config.classes);
    $("depth-value").textContent = String(config.hidden.length);
    $("width-value").textContent = String(config.width);
    const isBlobs = config.dataset === "blobs";
    $("classes").disabled = !isBlobs;
    $("classes").closest(".field").classList.toggle("not-applicable", !isBlobs);
    // With no hidden layer there is no activation to choose: the model is linear (or logistic).
    for (const id of ["width", "activation"]) {
      $(id).closest(".field").classList.toggle("inactive", config.hidden.length === 0);
    }
    const noRegularization = config.regularization === "none";
    $("regularization-rate").closest(".field").classList.toggle("inactive", noRegularization);
    const description = datasetInfo(state)?.description;
    $("dataset-description").textContent = description ?? "";
    const isTable = config.dataset === "csv"; // a file's rows are what they are
    $("regenerate").disabled = isTable;
    for (const id of ["noise", "samples"]) {
      $(id).disabled = isTable;
      $(id).closest(".field").classList.toggle("inactive", isTable);
    }
  }

  function renderView(state) {
    const { view } = state;
    $("show-test").checked = view.showTest;
    $("discretize").checked = view.discretize;
    $("lang").value = view.lang;
    document.documentElement.dataset.theme = view.theme;
    $("theme").setAttribute("aria-pressed", String(view.theme === "dark"));
    for (const wrapper of document.querySelectorAll("[data-control]")) {
      wrapper.hidden = isControlHidden(view, wrapper.dataset.control);
    }
  }

  function datasetInfo(state) {
    const { config } = state;
    if (config.dataset === "csv") {
      const upload = state.uploads.find((item) => item.id === config.source);
      return upload && { description: t("dataset.csv.loaded", { name: upload.name, rows: formatInteger(upload.rows), task: t(`task.${upload.task}`) }) };
    }
    const key = `dataset.${config.dataset}.description`;
    const known = state.datasets.find((item) => item.name === config.dataset);
    return { description: t(key) === key ? known?.description : t(key) };
  }

  function datasetOptions(state) {
    const options = state.datasets
      .filter((item) => item.name !== "csv")
      .map((item) => [item.name, t(`dataset.${item.name}.title`) === `dataset.${item.name}.title` ? item.title : t(`dataset.${item.name}.title`)]);
    for (const upload of state.uploads) options.push([upload.id, `${upload.name} (CSV)`, true]);
    if (state.config.dataset === "csv" && !state.uploads.some((item) => item.id === state.config.source)) {
      options.push([state.config.source ?? "", t("dataset.csv.missing"), true]);
    }
    return options;
  }

  store.on(["config", "datasets", "uploads", "view"], render); // the view: options in its language
  store.on(["view"], renderView);
  return { render: () => (render(store.state), renderView(store.state)) };
}

/** Replace a select's options when they differ, and select `value`. */
function fillSelect(select, options, value) {
  const signature = JSON.stringify(options);
  if (select.dataset.signature !== signature) {
    select.replaceChildren(
      ...options.map(([optionValue, label, isUpload]) => {
        const option = new Option(label, optionValue);
        if (isUpload) option.dataset.upload = "1";
        return option;
      }),
    );
    select.dataset.signature = signature;
  }
  if (select.value !== String(value)) select.value = String(value);
}

/** A list of preset values with the current one added in order when it is not among them. */
function withValue(values, value) {
  return values.includes(value) || !Number.isFinite(value) ? values : [...values, value].sort((a, b) => a - b);
}

function setValue(input, value) {
  // Leave a field alone while the user types in it (an empty or partial number).
  if (document.activeElement === input && input.type === "number") return;
  if (input.value !== String(value)) input.value = String(value);
}
