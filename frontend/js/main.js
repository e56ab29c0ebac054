// Wiring only: load what the server offers, build the store from defaults and the URL hash,
// start each view, and connect the controls to the run.

import { api } from "./api.js";
import { createBoundaryChart } from "./boundary-chart.js";
import { createCodePanel } from "./code-panel.js";
import { CONTROL_NAMES, createControls, isControlHidden } from "./controls.js";
import { createDataPreview } from "./data-preview.js";
import { createDataSource } from "./data-source.js";
import { createErrorView } from "./errors.js";
import { createForwardPass } from "./forward-pass.js";
import { loadDictionaries, preferredLanguage, t, translatePage, useLanguage } from "./i18n.js";
import { createInspector } from "./inspector.js";
import { createLessons } from "./lessons.js";
import { startLivePolls } from "./live-polls.js";
import { createLossChart } from "./loss-chart.js";
import { createNetworkView } from "./network.js";
import { createNeuronDetail } from "./neuron-detail.js";
import { createProbeForm } from "./probe-form.js";
import { createResults } from "./results.js";
import { followConfig, RunController } from "./run.js";
import { createRunReadout } from "./run-readout.js";
import { createRoomView } from "./room.js";
import { specToConfig } from "./room-setup.js";
import { createComparison } from "./compare.js";
import { createModes } from "./modes.js";
import { createStore, DEFAULT_THRESHOLD, defaultConfig, defaultView } from "./state.js";
import { stats } from "./stream.js";
import { createSweepView } from "./sweep.js";
import { createThreshold } from "./threshold.js";
import { createTips } from "./tips.js";
import { readHash, replaceHash } from "./url-hash.js";

window.layerlab = { stats };

/** The upload a link names (its source), by id: null when there is none or it is gone. */
async function chosenUpload(config) {
  if (!config.source) return null;
  try {
    return await api.uploadInfo(config.source);
  } catch (error) {
    if (error.status === 404) return null;
    throw error;
  }
}

async function main() {
  const fromHash = readHash(location.hash);
  // #watch=RUN_ID: someone's run followed read-only (the wall's spotlight), in its own setup.
  const watched = fromHash.watch ? await api.run(fromHash.watch) : null;
  const config = watched ? specToConfig(watched.spec) : { ...defaultConfig(), ...fromHash.config };
  const [info, catalogue, upload] = await Promise.all([
    api.info(),
    api.datasets(),
    chosenUpload(config),
    loadDictionaries(),
  ]);
  const view = { ...defaultView(), ...fromHash.view };
  if (watched) view.hide = CONTROL_NAMES; // nothing to drive
  view.lang = useLanguage(fromHash.view.lang ?? preferredLanguage());
  const store = createStore({
    info,
    datasets: catalogue.datasets,
    uploads: upload ? [upload] : [],
    config,
    view,
    preview: null,
    run: null,
    metrics: null,
    grid: null,
    model: null,
    neurons: null,
    predictions: null,
    roc: null, // a binary run's test labels and scores (/roc)
    threshold: fromHash.threshold ?? DEFAULT_THRESHOLD,
    compare: fromHash.compare, // side by side: the second run's own keys (null: not chosen yet)
    sweepChoice: fromHash.sweep, // the sweep's depths and widths (null: the defaults)
    sweep: null, // the sweep's document, as /ws/sweeps/{id} keeps it
    probe: null, // the point the forward pass walks through the network
    forward: null, // its walk (/forward)
    lesson: fromHash.lesson, // the lesson step open beside the playground: {id, step}, or null
    selected: null,
    connection: null,
    errors: { fields: {}, banner: null },
  });
  window.layerlab.store = store;

  // First of the view's listeners: the language and theme the others then draw in.
  const applyView = (state) => {
    useLanguage(state.view.lang);
    document.documentElement.dataset.theme = state.view.theme;
    translatePage();
    document.getElementById("server-info").textContent = t("footer.server", { version: info.version, device: info.device, workers: info.workers });
  };
  store.on(["view"], applyView);
  applyView(store.state);

  const errors = createErrorView(store);
  // With the play button hidden (a focused exercise), a new network trains at once.
  const run = new RunController(store, {
    reportError: errors.report,
    clearErrors: () => errors.clear(),
    autoplay: () => isControlHidden(store.state.view, "play"),
  });
  const data = createDataSource(store, { reportError: errors.report, clearErrors: errors.clear });
  const controls = createControls(store, { onUpload: data.upload });
  createRunReadout(store).render();
  createNetworkView(store).render();
  createNeuronDetail(store, { setWeight: (edit) => run.setWeight(edit) });
  createBoundaryChart(store);
  createLossChart(store);
  createDataPreview(store);
  createResults(store);
  createInspector(store);
  createThreshold(store);
  createProbeForm(store);
  createForwardPass(store);
  createTips(store).render();
  const code = createCodePanel(store);
  const comparison = createComparison(store, run, { reportError: errors.report, clearErrors: () => errors.clear() });
  const sweep = createSweepView(store, { reportError: errors.report });
  window.layerlab.second = comparison.store; // side by side: run B's store, for tests
  createLessons(store, {
    second: comparison.store,
    pause: () => {
      if (run.isPlaying()) comparison.togglePlay();
    },
  });
  createModes(store).render();
  comparison.render();
  sweep.render();
  startLivePolls(store);
  controls.render();

  // A new configuration: rates go to the run as it trains, anything else starts a new run.
  let followingLink = false;
  followConfig(store, run, { immediately: () => followingLink, active: () => !watched });
  const room = createRoomView(store, run, { reportError: errors.report });
  const writeHash = (state) => {
    if (!watched) replaceHash(state.config, state.view, state.threshold, { compare: state.compare, sweep: state.sweepChoice, lesson: state.lesson, ...room.hashKeys() });
  };
  store.on(["config", "view", "threshold", "compare", "sweepChoice", "lesson"], writeHash);

  // The transport drives the playground's run, and side by side the second run too.
  const togglePlay = () => comparison.togglePlay();
  document.getElementById("play").addEventListener("click", togglePlay);
  document.getElementById("step").addEventListener("click", () => comparison.drive("step"));
  document.getElementById("reset").addEventListener("click", () => comparison.drive("reset"));
  document.addEventListener("keydown", (event) => {
    if (event.code !== "Space" || event.repeat || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input, select, textarea, button, [contenteditable], .neuron")) return;
    event.preventDefault();
    togglePlay();
  });
  addEventListener("pagehide", () => {
    run.abandon();
    comparison.run.abandon();
    sweep.abandon();
  });
  addEventListener("pageshow", (event) => {
    if (event.persisted) comparison.drive("reset"); // back from the cache: its runs were given up on leaving
  });
  // A link pasted into the same tab changes only the hash: take its setup as on a fresh load.
  addEventListener("hashchange", () => {
    const next = readHash(location.hash);
    followingLink = true;
    store.set({
      config: { ...defaultConfig(), ...next.config },
      view: { ...defaultView(), ...next.view, lang: next.view.lang ?? store.state.view.lang },
      threshold: next.threshold ?? DEFAULT_THRESHOLD,
      compare: next.compare,
      sweepChoice: next.sweep,
      lesson: next.lesson,
      selected: null,
    });
    followingLink = false;
    room.follow(next.room);
  });

  if (watched) {
    run.follow(watched);
    await data.load();
    return;
  }
  await room.enter(fromHash); // a room's link: its setup, and its runs, from the first
  writeHash(store.state);
  const primed = run.reset(); // a first network, untrained, ready to play
  const primedB = comparison.start(); // and the second, side by side
  document.getElementById("play").disabled = false; // a press now waits for it
  code.load();
  await Promise.all([data.load(), primed, primedB]);
}

main().catch((error) => {
  console.error(error);
  const banner = document.getElementById("error-banner");
  banner.hidden = false;
  banner.querySelector(".banner-text").textContent = `LayerLab: ${error.message}`;
});
