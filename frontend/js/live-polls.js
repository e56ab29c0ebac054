// What the stream does not carry, asked for while a run trains: the model (weights, tensor
// statistics) about once a second, each hidden neuron's map about twice a second, and the
// predictions on the test points (confusion matrix, predicted vs target) once a second.
// Paused or ended: once after each change. Never two of a kind in flight; never for a hidden tab.

import { api } from "./api.js";
import { decodeGrid } from "./grid-codec.js";
import { FINAL_STATUSES } from "./run.js";

const NEURON_RESOLUTION = 24;
const EVERY_MS = { model: 1000, neurons: 500, predictions: 1000 };

export function startLivePolls(store) {
  const inFlight = {};
  const lastAt = {};
  const lastStep = {};
  let neuronsMissingUntil = 0;

  const fetchers = {
    async model(run) {
      return { model: await api.model(run.id) };
    },
    async neurons(run) {
      if (performance.now() < neuronsMissingUntil || !run.modelInfo?.extent || run.spec.hidden_widths.length === 0) {
        return null;
      }
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
    async predictions(run) {
      const preview = store.state.preview;
      if (!preview || !preview.test?.x?.length) return null;
      // Just after the data changed, the preview is the new data's and the run still the old one's.
      if (JSON.stringify(preview.input_names) !== JSON.stringify(run.modelInfo.input_names)) return null;
      const reply = await api.predict(run.id, preview.test.x);
      const predicted = reply.task === "regression" ? reply.values : reply.classes;
      return { predictions: { task: reply.task, predicted, truth: preview.test.y, step: reply.step } };
    },
  };

  async function poll(kind, run) {
    inFlight[kind] = true;
    lastAt[kind] = performance.now();
    lastStep[kind] = store.state.metrics?.step ?? -1;
    try {
      const patch = await fetchers[kind](run);
      if (patch && store.state.run?.id === run.id) store.set(patch);
    } catch {
      // The next tick asks again; a run that went away ends the polling through its status.
    } finally {
      inFlight[kind] = false;
    }
  }

  function tick() {
    const run = store.state.run;
    if (!run || !run.modelInfo || document.visibilityState === "hidden") return;
    if (run.status === "queued" || run.status === "diverged") return; // no weights to ask about
    const running = run.status === "running";
    const step = store.state.metrics?.step ?? -1;
    const now = performance.now();
    for (const kind of Object.keys(fetchers)) {
      if (inFlight[kind]) continue;
      const due = running
        ? now - (lastAt[kind] ?? 0) >= EVERY_MS[kind]
        : lastStep[kind] !== step || lastAt[kind] === undefined || settledSince(run, kind);
      if (due) poll(kind, run);
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
      for (const kind of Object.keys(fetchers)) {
        lastAt[kind] = undefined;
        lastStep[kind] = undefined;
      }
    }
  });
  store.on(["preview"], () => {
    lastStep.predictions = undefined;
  });
  setInterval(tick, 100);
}
