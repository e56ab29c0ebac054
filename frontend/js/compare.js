// Side by side: a second run (B) on the playground's data, data seed and initial seed, with its
// own network and any training setting the learner unlinks. B has a store and a RunController of
// its own, so that its run, stream and boundary work as the first's (A) do; its configuration is
// A's with B's own keys over it (state.compare). One chart and one table show both.

import { createBoundaryChart } from "./boundary-chart.js";
import { createCompareChart } from "./compare-chart.js";
import { formatInteger, formatLoss, formatNumber, formatPercent } from "./format.js";
import { element } from "./html.js";
import { t } from "./i18n.js";
import { displayStatus, followConfig, RunController } from "./run.js";
import { compareConfig, createStore, defaultCompare, isPlaneData } from "./state.js";

const LEARNING_RATES = [0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3];

/** "[8, 8] ReLU", or "no hidden layer": a run's network in a few words. */
export function networkName(config) {
  if (!config.hidden.length) return t("compare.linear");
  return `[${config.hidden.join(", ")}] ${t(`activation.${config.activation}`)}`;
}

/** Trainable parameters of a dense network: (inputs + 1) × outputs per layer. */
export function parameterCount(inputs, hidden, outputs) {
  const sizes = [inputs, ...hidden, outputs];
  let total = 0;
  for (let k = 1; k < sizes.length; k++) total += (sizes[k - 1] + 1) * sizes[k];
  return total;
}

/** Inputs and outputs of the networks on this data (features, or a table's columns). */
export function networkEnds(state) {
  const preview = state.preview;
  const inputs = isPlaneData(state) ? state.config.features.length : (preview?.input_names.length ?? 2);
  const outputs = preview?.task === "multiclass" ? preview.class_names.length : 1;
  return { inputs, outputs };
}

/** first: A's RunController (the playground's run), which the transport drives with B's. */
export function createComparison(store, first, { reportError, clearErrors }) {
  const active = () => store.state.view.mode === "compare";
  const own = () => store.state.compare ?? defaultCompare();
  const second = createStore({
    info: store.state.info,
    datasets: store.state.datasets,
    uploads: store.state.uploads,
    config: compareConfig(store.state.config, own()),
    view: store.state.view,
    preview: store.state.preview,
    threshold: store.state.threshold,
    run: null,
    metrics: null,
    grid: null,
    model: null,
    probe: null,
    connection: null,
  });
  const run = new RunController(second, { reportError, clearErrors });
  followConfig(second, run, { active });

  // B follows A's data, view and configuration (its own keys over A's).
  store.on(["view", "preview", "threshold", "uploads", "datasets"], (state) =>
    second.set({ view: state.view, preview: state.preview, threshold: state.threshold, uploads: state.uploads, datasets: state.datasets }),
  );
  store.on(["config", "compare"], (state) => second.set({ config: compareConfig(state.config, own()) }));

  createBoundaryChart(store, { plot: "boundary-a", points: "boundary-a-points", legend: "boundary-a-legend" });
  createBoundaryChart(second, { plot: "boundary-b", points: "boundary-b-points", legend: "boundary-b-legend" });
  createCompareChart([store, second]);

  const $ = (id) => document.getElementById(id);
  const card = $("compare-card");

  // --- B's own settings ------------------------------------------------------------------------

  /** B's key set (unlinked) or removed (linked again to A's value). */
  function setOwn(key, value) {
    const next = { ...own() };
    if (value === undefined) delete next[key];
    else next[key] = value;
    store.set({ compare: next });
  }

  function fill(select, options, chosen) {
    select.replaceChildren(...options.map(([value, label]) => {
      const option = element("option", { value }, label);
      option.selected = value === chosen;
      return option;
    }));
  }

  function renderControls(state) {
    const mine = own();
    const config = state.config;
    const hiddenInput = $("b-hidden");
    if (document.activeElement !== hiddenInput) hiddenInput.value = mine.hidden?.join(", ") ?? "";
    const choices = state.info.choices;
    fill($("b-activation"), choices.activations.map((name) => [name, t(`activation.${name}`)]), mine.activation ?? config.activation);
    const linked = (value) => t("compare.linked", { value });
    const rates = LEARNING_RATES.filter((rate) => rate <= state.info.limits.max_learning_rate);
    if ("learningRate" in mine && !rates.includes(mine.learningRate)) rates.push(mine.learningRate); // a link's own value
    rates.sort((x, y) => x - y);
    fill($("b-learning-rate"), [["", linked(formatNumber(config.learningRate, 5))], ...rates.map((rate) => [String(rate), formatNumber(rate, 5)])],
      "learningRate" in mine ? String(mine.learningRate) : "");
    fill($("b-optimizer"), [["", linked(t(`optimizer.${config.optimizer}`))], ...choices.optimizers.map((name) => [name, t(`optimizer.${name}`)])],
      mine.optimizer ?? "");
  }

  $("b-hidden").addEventListener("change", (event) => {
    const text = event.target.value.trim();
    const widths = text ? text.split(/[\s,;]+/).filter(Boolean).map(Number) : [];
    const limits = store.state.info.limits;
    const valid = widths.every((w) => Number.isInteger(w) && w >= 1 && w <= limits.max_width) && widths.length <= limits.max_hidden_layers;
    $("b-error").textContent = valid ? "" : t("compare.hidden_invalid", { layers: limits.max_hidden_layers, width: limits.max_width });
    $("b-hidden").setAttribute("aria-invalid", String(!valid));
    if (valid) setOwn("hidden", widths);
  });
  $("b-activation").addEventListener("change", (event) => setOwn("activation", event.target.value));
  $("b-learning-rate").addEventListener("change", (event) => setOwn("learningRate", event.target.value === "" ? undefined : Number(event.target.value)));
  $("b-optimizer").addEventListener("change", (event) => setOwn("optimizer", event.target.value || undefined));

  // --- names and the table of both runs --------------------------------------------------------

  function renderNames() {
    $("compare-a-name").textContent = networkName(store.state.config);
    $("compare-b-name").textContent = networkName(second.state.config);
  }

  /** Both runs' final (or latest) numbers: a row per measure, a column per run. */
  function renderTable() {
    const table = $("compare-table");
    const regression = (store.state.run?.modelInfo?.task ?? store.state.preview?.task) === "regression";
    const [key, name, format] = regression ? ["rmse", "RMSE", formatLoss] : ["acc", t("metric.accuracy"), formatPercent];
    const runs = [["a", store.state], ["b", second.state]];
    const head = element("thead");
    const headRow = element("tr");
    headRow.append(element("td"));
    for (const [tag, state] of runs) {
      const th = element("th", { scope: "col" });
      th.append(element("span", { class: `run-tag run-${tag}` }, tag.toUpperCase()), ` ${networkName(state.config)}`);
      headRow.append(th);
    }
    head.append(headRow);
    const metrics = (state) => state.run?.finalMetrics ?? state.metrics ?? {};
    const rows = [
      ["parameters", t("compare.parameters"), (state) => {
        const { inputs, outputs } = networkEnds(state);
        return formatInteger(parameterCount(inputs, state.config.hidden, outputs));
      }],
      ["train_loss", `${t("metric.loss")} · ${t("metric.train")}`, (state) => formatLoss(metrics(state).train_loss)],
      ["test_loss", `${t("metric.loss")} · ${t("metric.test")}`, (state) => formatLoss(metrics(state).test_loss)],
      [`train_${key}`, `${name} · ${t("metric.train")}`, (state) => format(metrics(state)[`train_${key}`])],
      [`test_${key}`, `${name} · ${t("metric.test")}`, (state) => format(metrics(state)[`test_${key}`])],
      ["status", t("compare.status"), (state) => t(`status.${displayStatus(state.run)}`)],
    ];
    const body = element("tbody");
    for (const [metric, label, show] of rows) {
      const row = element("tr");
      row.append(element("th", { scope: "row" }, label));
      for (const [tag, state] of runs) {
        row.append(element("td", { class: metric === "status" ? "" : "number", "data-run": tag, "data-metric": metric }, show(state)));
      }
      body.append(row);
    }
    table.replaceChildren(head, body);
  }

  let tablePending = false;
  const scheduleTable = () => {
    if (tablePending) return;
    tablePending = true;
    requestAnimationFrame(() => {
      tablePending = false;
      if (active()) renderTable();
    });
  };

  function render() {
    card.hidden = !active();
    if (!active()) return;
    renderControls(store.state);
    renderNames();
    renderTable();
  }
  store.on(["view", "config", "compare", "info"], render);
  for (const runStore of [store, second]) runStore.on(["run", "metrics", "preview"], scheduleTable);
  second.on(["config"], renderNames);

  // Into the view: both start afresh (primed), so that they train in step; out of it: B goes.
  let wasActive = false;
  store.on(["view"], (state) => {
    const now = state.view.mode === "compare";
    if (now && !wasActive) {
      if (!state.compare) store.set({ compare: own() });
      first.reset();
      run.reset();
    } else if (!now && wasActive) run.release();
    wasActive = now;
  });

  /** Play or pause, side by side both: B toggles only where it is as A is (a B that has ended
   * stays so when A pauses). */
  function togglePlay() {
    if (active() && run.isPlaying() === first.isPlaying()) run.togglePlay();
    first.togglePlay();
  }

  /** "step" or "reset": A's, and B's side by side. */
  function drive(action) {
    first[action]();
    if (active()) run[action]();
  }

  /** Start B when the page opens in this view. */
  function start() {
    wasActive = active();
    if (wasActive) return run.reset();
    return null;
  }

  return { store: second, run, active, start, render, togglePlay, drive };
}
