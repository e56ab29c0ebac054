// What the stream does not carry, asked for while a run trains: the model (weights, tensor
// statistics) about once a second, each hidden neuron's map about twice a second, the
// predictions on the test points (confusion matrix, predicted vs target) or, for two classes,
// the test scores behind the decision threshold and the ROC curve, once a second, and the
// forward pass of the point the learner chose. Paused or ended: once after each change (a step,
// a weight set by hand, another point). Only once the run can answer (canRead); never two of a
// kind in flight; never for a hidden tab.

import { api } from "./api.js";
import { decodeGrid } from "./grid-codec.js";
import { canRead, FINAL_STATUSES } from "./run.js";

const NEURON_RESOLUTION = 24;

/**
 * Each read: how often while the run trains (everyMs), whether the run and page want it now, and
 * what else its answer depends on (inputs: asked again when that changes). A weight set by hand
 * comes back on the stream as a new grid and metrics point; these are asked again after it.
 */
const READS = {
  model: { everyMs: 1000 },
  neurons: {
    everyMs: 500,
    wanted: (run) => Boolean(run.modelInfo.extent) && run.spec.hidden_widths.length > 0,
  },
  predictions: {
    everyMs: 1000,
    wanted: (run, state) => run.modelInfo.task !== "binary" && Boolean(state.preview?.test?.x?.length),
    inputs: (state) => state.preview,
  },
  roc: { everyMs: 1000, wanted: (run) => run.modelInfo.task === "binary" },
  forward: {
    everyMs: 1000,
    wanted: (run, state) => fits(state.probe, run.modelInfo),
    inputs: (state) => state.probe,
  },
};

/** Whether a chosen input suits the run: a point needs a plane, features one number per column. */
function fits(probe, modelInfo) {
  if (!probe || !modelInfo) return false;
  if (probe.point) return modelInfo.extent !== null;
  return probe.features?.length === modelInfo.input_names.length;
}

export function startLivePolls(store) {
  const inFlight = {};
  const lastAt = {};
  const lastMark = {};
  const lastInputs = {};
  let edits = 0; // weights set by hand on this run: each is a change the step does not show
  let neuronsMissingUntil = 0;

  const fetchers = {
    async model(run) {
      return { model: await api.model(run.id) };
    },
    async neurons(run) {
      if (performance.now() < neuronsMissingUntil) return null;
      try {
        const reply = await api.neurons(run.id, NEURON_RESOLUTION);
        const layers = reply.layers.map((layer) => ({
          layer: layer.layer,
          neurons: layer.neurons.map(decodeGrid),
        }));
        return { neurons: { step: reply.step, layers } };
      } catch (error) {
        // A server without the route yet (404 "no such route"): ask again later.
        if (error.status === 404 || error.status === 405) neuronsMissingUntil = performance.now() + 15000;
        if (error.status === 404 || error.status === 405 || error.status === 409) return null;
        throw error;
      }
    },
    async predictions(run, state) {
      const preview = state.preview;
      // Just after the data changed, the preview is the new data's and the run still the old one's.
      if (JSON.stringify(preview.input_names) !== JSON.stringify(run.modelInfo.input_names)) return null;
      const reply = await api.predict(run.id, preview.test.x);
      const predicted = reply.task === "regression" ? reply.values : reply.classes;
      return { predictions: { task: reply.task, predicted, truth: preview.test.y, step: reply.step } };
    },
    async roc(run) {
      return { roc: { ...(await api.roc(run.id)), runId: run.id } };
    },
    async forward(run, state) {
      const probe = state.probe;
      const input = probe.point ? { point: probe.point } : { features: probe.features };
      try {
        return { forward: { ...(await api.forward(run.id, input)), runId: run.id, probe } };
      } catch (error) {
        // The learner's numbers refused (too far out, say): said in the panel, next to them.
        if (error.status === 422) return { forward: { error: error.message, runId: run.id, probe } };
        throw error;
      }
    },
  };

  async function poll(kind, run, mark) {
    inFlight[kind] = true;
    lastAt[kind] = performance.now();
    lastMark[kind] = mark;
    lastInputs[kind] = READS[kind].inputs?.(store.state);
    try {
      const patch = await fetchers[kind](run, store.state);
      if (patch && store.state.run?.id === run.id) store.set(patch);
    } catch {
      // The next tick asks again; a run that went away ends the polling through its status.
    } finally {
      inFlight[kind] = false;
    }
  }

  function tick() {
    const run = store.state.run;
    if (!canRead(run) || document.visibilityState === "hidden") return;
    const running = run.status === "running";
    const step = store.state.metrics?.step ?? -1;
    const now = performance.now();
    for (const [kind, read] of Object.entries(READS)) {
      if (inFlight[kind] || (read.wanted && !read.wanted(run, store.state))) continue;
      const mark = `${step}:${edits}`;
      const inputsChanged = read.inputs && read.inputs(store.state) !== lastInputs[kind];
      let due;
      if (inputsChanged) due = true;
      else if (running) due = now - (lastAt[kind] ?? 0) >= read.everyMs;
      else due = lastMark[kind] !== mark || lastAt[kind] === undefined || settledSince(run, kind);
      if (due) poll(kind, run, mark);
    }
  }

  // After a run ends, one more look, so the tables show the final weights.
  const endedSeen = {};
  function settledSince(run, kind) {
    const key = `${run.id}:${kind}`;
    if (FINAL_STATUSES.has(run.status) && !endedSeen[key]) {
      endedSeen[key] = true;
      return true;
    }
    return false;
  }

  let lastRunId = null;
  store.on(["run"], (state) => {
    if (state.run && lastRunId !== state.run.id) {
      lastRunId = state.run.id;
      edits = 0;
      for (const kind of Object.keys(READS)) {
        lastAt[kind] = undefined;
        lastMark[kind] = undefined;
        lastInputs[kind] = undefined;
      }
    }
  });
  store.listen("weights-changed", () => {
    edits += 1;
  });
  setInterval(tick, 100);
}
