// A lesson step's live goal, checked on the learner's run: each condition names a metric the
// page computes from what its run reports (the latest metric point, the history so far, the
// spec, the model's weights), an op and a value; "b." names the second run side by side.
// Pure functions over a store's state, and one small listener that keeps a run's best values.

import { LIVE_KEYS, specFromState } from "./state.js";

/** Metrics read off the run's latest metric point. */
const POINT_METRICS = ["train_loss", "test_loss", "train_acc", "test_acc", "train_rmse", "test_rmse", "epoch"];

/**
 * Follow a store's run as it streams: the highest test accuracy and the lowest test loss so far
 * (what over-fitting is measured against). Returns a function giving {runId, bestTestAcc,
 * lowestTestLoss} for the run now in the store.
 */
export function trackHistory(store) {
  let seen = { runId: null, bestTestAcc: null, lowestTestLoss: null };
  const forRun = (state) => {
    const runId = state.run?.id ?? null;
    if (seen.runId !== runId) seen = { runId, bestTestAcc: null, lowestTestLoss: null };
    return seen;
  };
  const add = (points, state) => {
    const best = forRun(state);
    for (const point of points) {
      if (Number.isFinite(point.test_acc)) best.bestTestAcc = Math.max(best.bestTestAcc ?? -Infinity, point.test_acc);
      if (Number.isFinite(point.test_loss)) best.lowestTestLoss = Math.min(best.lowestTestLoss ?? Infinity, point.test_loss);
    }
  };
  // A snapshot carries the whole history so far (a new run, or a stream opened again).
  store.listen("history", (points, state) => {
    seen = { runId: state.run?.id ?? null, bestTestAcc: null, lowestTestLoss: null };
    add(points, state);
  });
  store.listen("points", add);
  return () => forRun(store.state);
}

/**
 * Whether the store's run is the one its configuration describes: right after a change (a
 * lesson's step, a control moved) the old run is still shown until the new one starts, and a
 * goal must not be reached on it. Rates and the pace change a run as it trains: they don't count.
 */
export function isCurrentRun(state) {
  const spec = state.run?.spec;
  if (!spec) return false;
  const wanted = specFromState(state);
  const live = new Set(Object.values(LIVE_KEYS));
  return Object.entries(wanted).every(([key, value]) => live.has(key) || sameValue(value, spec[key]));
}

function sameValue(wanted, actual) {
  if (Array.isArray(wanted)) {
    return Array.isArray(actual) && wanted.length === actual.length && wanted.every((item, i) => sameValue(item, actual[i]));
  }
  if (wanted !== null && typeof wanted === "object") {
    return actual !== null && typeof actual === "object" && Object.entries(wanted).every(([key, value]) => sameValue(value, actual[key]));
  }
  return wanted === actual;
}

/** What a goal reads of one run: its state in a store, and its best values so far. */
export function runFacts(state, history) {
  const current = isCurrentRun(state);
  return {
    run: current ? state.run : null,
    point: current ? state.metrics : null,
    model: current && state.model?.run_id === state.run.id ? state.model : null,
    history: current ? history : null,
  };
}

/** A metric's value on a run (see the lessons' contract); undefined while the run has none. */
export function metricValue(metric, { run, point, model, history }) {
  if (!run) return undefined;
  if (POINT_METRICS.includes(metric)) return point?.[metric] ?? undefined;
  switch (metric) {
    case "best_test_acc":
      return history?.bestTestAcc ?? undefined;
    case "test_acc_drop":
      return history?.bestTestAcc != null && Number.isFinite(point?.test_acc) ? history.bestTestAcc - point.test_acc : undefined;
    case "test_loss_rise":
      return history?.lowestTestLoss != null && Number.isFinite(point?.test_loss) ? point.test_loss - history.lowestTestLoss : undefined;
    case "hidden_layers":
      return run.spec.hidden_widths.length;
    case "parameters":
      return run.modelInfo?.summary?.total_parameters ?? model?.summary?.total_parameters ?? undefined;
    case "features":
      return run.spec.features;
    case "status":
      return run.status;
    case "bias":
      return affineWeights(run, model)?.bias[0];
    default:
      if (metric.startsWith("weight:")) {
        const column = run.spec.features.indexOf(metric.slice("weight:".length));
        return column < 0 ? undefined : affineWeights(run, model)?.weight[0][column];
      }
      return undefined;
  }
}

/** The output layer's weights of a network with no hidden layer (one row per output). */
function affineWeights(run, model) {
  if (run.spec.hidden_widths.length !== 0 || !model?.weights?.length) return undefined;
  return model.weights[0];
}

/** Whether `now` satisfies one condition {metric, op, value, within}. */
export function conditionHolds({ op, value, within }, now) {
  if (now === undefined || now === null) return false;
  switch (op) {
    case ">=":
      return Number.isFinite(now) && now >= value;
    case "<=":
      return Number.isFinite(now) && now <= value;
    case "==":
      return now === value;
    case "near":
      return Number.isFinite(now) && Math.abs(now - value) <= within;
    case "has":
      return Array.isArray(now) && [].concat(value).every((item) => now.includes(item));
    default:
      return false;
  }
}

/**
 * Each condition of `goal` with its value now and whether it holds, and whether all hold at once
 * (reached); `facts`: {a, b} as runFacts gives them for the page's run and the second run.
 */
export function checkGoal(goal, facts) {
  const conditions = (goal?.all ?? []).map((condition) => {
    const second = condition.metric.startsWith("b.");
    const metric = second ? condition.metric.slice(2) : condition.metric;
    const now = metricValue(metric, second ? facts.b : facts.a);
    return { ...condition, now, met: conditionHolds(condition, now) };
  });
  return { conditions, reached: conditions.length > 0 && conditions.every((condition) => condition.met) };
}
