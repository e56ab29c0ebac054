// The data as the run will see it: the preview of its points (split into train and test as
// the run splits them), fetched again when a data control changes, and CSV uploads.

import { api } from "./api.js";
import { DATA_KEYS } from "./state.js";

export function createDataSource(store, { reportError, clearErrors }) {
  let requested = null;
  let timer = null;

  async function load() {
    const { config } = store.state;
    const name = config.dataset === "csv" ? config.source : config.dataset;
    if (!name) {
      store.set({ preview: null });
      return;
    }
    const params = {
      samples: config.samples,
      noise: config.noise,
      train_fraction: config.trainFraction,
      seed: config.dataSeed,
      classes: config.classes,
    };
    const key = JSON.stringify([name, params]);
    requested = key;
    try {
      const preview = await api.preview(name, params);
      if (requested !== key) return;
      clearErrors(["dataset.name", "dataset.samples", "dataset.noise", "dataset.train_fraction", "dataset.seed", "dataset.classes"]);
      store.set({ preview });
    } catch (error) {
      if (requested === key) reportError(error, () => load(), { aliases: true });
    }
  }

  async function upload(file) {
    let text;
    try {
      text = await file.text();
    } catch (error) {
      reportError(Object.assign(new Error(`dataset.source: ${error.message}`), { status: 0 }));
      return;
    }
    try {
      const uploaded = await api.upload(file.name, text);
      clearErrors(["dataset.source"]);
      store.set({ uploads: [...store.state.uploads.filter((u) => u.id !== uploaded.id), uploaded] });
      const features = ["x1", "x2"]; // a table's columns are used as they are
      store.set({ config: { ...store.state.config, dataset: "csv", source: uploaded.id, features } });
    } catch (error) {
      // The upload's refusals name the body (the file) or a column: both belong to the file.
      reportError(error, null, { aliases: true });
    }
  }

  let previous = null;
  store.on(["config"], (state) => {
    const data = DATA_KEYS.map((key) => state.config[key]);
    const signature = JSON.stringify(data);
    if (signature === previous) return;
    const first = previous === null;
    previous = signature;
    clearTimeout(timer);
    timer = setTimeout(load, first ? 0 : 150);
  });

  return { load, upload };
}
