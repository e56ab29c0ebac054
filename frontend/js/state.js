// The page's one state: the configuration (what a run would be), the run and what it reports,
// and the view's switches. Modules read it with `store.state`, change it with `store.set`,
// and re-render on `store.on(keys, fn)`; one-off events (metric points) go through `emit`.

export function createStore(initial) {
  const state = { ...initial };
  const listeners = [];

  function set(patch) {
    const changed = new Set();
    for (const [key, value] of Object.entries(patch)) {
      if (state[key] !== value) {
        state[key] = value;
        changed.add(key);
      }
    }
    if (changed.size === 0) return;
    for (const { keys, fn } of listeners) {
      if (keys === "*" || keys.some((key) => changed.has(key))) fn(state, changed);
    }
  }

  function on(keys, fn) {
    listeners.push({ keys, fn });
  }

  const handlers = new Map();
  function emit(event, payload) {
    for (const fn of handlers.get(event) ?? []) fn(payload, state);
  }
  function listen(event, fn) {
    if (!handlers.has(event)) handlers.set(event, []);
    handlers.get(event).push(fn);
  }

  return { state, set, on, emit, listen };
}

/** The page's starting configuration: a playground choice, within the server's limits. */
export function defaultConfig() {
  return {
    dataset: "moons",
    source: null, // an uploaded CSV's id when dataset is "csv"
    noise: 0.2,
    samples: 500,
    trainFraction: 0.8,
    dataSeed: 0,
    classes: 3,
    features: ["x1", "x2"],
    hidden: [4, 4],
    width: 4, // the width new layers get, and the width slider's value
    activation: "tanh",
    learningRate: 0.03,
    optimizer: "adam",
    batchSize: 10,
    epochs: 500,
    epochsPerS: null, // the pace: null trains as fast as it goes
    untilPaused: false, // train on past `epochs` until paused
    regularization: "none",
    regularizationRate: 0,
    seed: 0,
  };
}

export function defaultView() {
  return { lang: "en", theme: "light", showTest: true, discretize: false, hide: [], only: [], mode: "play" };
}

/** The page's views: the playground, two runs side by side, a capacity sweep. */
export const MODES = ["play", "compare", "sweep"];

/**
 * Keys the second run of a comparison may set for itself: its network always, and the training
 * settings a learner unlinks; anything else (the data, the seeds) it shares with the first.
 */
export const COMPARE_KEYS = ["hidden", "activation", "learningRate", "optimizer", "batchSize", "epochs", "regularization", "regularizationRate"];

/** The second run's network when a comparison starts: linear against the first's network. */
export function defaultCompare() {
  return { hidden: [], activation: "tanh" };
}

/** The second run's configuration: the first's, with the second's own keys over it. */
export function compareConfig(config, compare) {
  const own = Object.fromEntries(Object.entries(compare ?? {}).filter(([key]) => COMPARE_KEYS.includes(key)));
  const merged = { ...config, ...own };
  if (merged.hidden.length) merged.width = merged.hidden[merged.hidden.length - 1];
  return merged;
}

/** A sweep's starting choice: depths 0–4 and widths 2–32, within the server's limits. */
export function defaultSweep(limits) {
  const depths = [0, 1, 2, 3, 4].filter((depth) => depth <= (limits?.max_hidden_layers ?? 4));
  const widths = [2, 4, 8, 16, 32].filter((width) => width <= (limits?.max_width ?? 32));
  return { depths, widths };
}

/** Whether the data is 2-D points, so that input features apply (not a wider table). */
export function isPlaneData(state) {
  const { config } = state;
  if (config.dataset !== "csv") return hasPlane(state, config.dataset);
  const upload = state.uploads.find((item) => item.id === config.source);
  return upload ? upload.input_names.length === 2 : false;
}

/** Whether a built-in dataset lies on a plane, as /api/datasets says (its extent; null if not). */
export function hasPlane(state, name) {
  const known = state.datasets.find((item) => item.name === name);
  return known ? known.extent !== null : true;
}

/** The RunSpec the server takes for the page's configuration. */
export function specFromState(state) {
  const spec = specFromConfig(state.config);
  if (!isPlaneData(state)) spec.features = ["x1", "x2"]; // a table's columns go in as they are
  return spec;
}

/** The RunSpec for a configuration, as it stands. */
export function specFromConfig(config) {
  const dataset = {
    name: config.dataset,
    samples: config.samples,
    noise: config.noise,
    train_fraction: config.trainFraction,
    seed: config.dataSeed,
    classes: config.classes,
  };
  if (config.dataset === "csv") dataset.source = config.source;
  const spec = {
    dataset,
    features: config.features,
    hidden_widths: config.hidden,
    activation: config.activation,
    optimizer: config.optimizer,
    learning_rate: config.learningRate,
    batch_size: config.batchSize,
    epochs: config.epochs,
    regularization: config.regularization,
    regularization_rate: config.regularizationRate,
    seed: config.seed,
    grid_resolution: 64,
  };
  // Sent when chosen only: a spec with its defaults left out is the same run to any server.
  if (config.epochsPerS !== null) spec.epochs_per_s = config.epochsPerS;
  if (config.untilPaused) spec.until_paused = true;
  return spec;
}

/** Configuration keys that change the data (and so its preview). */
export const DATA_KEYS = ["dataset", "source", "noise", "samples", "trainFraction", "dataSeed", "classes"];
/** Keys a running run takes live (PATCH), without starting again, and their names in the spec. */
export const LIVE_KEYS = { learningRate: "learning_rate", regularizationRate: "regularization_rate", epochsPerS: "epochs_per_s" };

/** The decision threshold a binary run's page starts at (p ≥ 0.5 is class 1). */
export const DEFAULT_THRESHOLD = 0.5;

/** Which configuration keys differ between two configurations. */
export function changedKeys(before, after) {
  return Object.keys(after).filter(
    (key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]),
  );
}
