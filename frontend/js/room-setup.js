// A teacher's room as both its pages read it: the room's spec turned back into the page's
// configuration (the inverse of specFromConfig), the controls a teacher may lock, the challenge
// as a sentence and a metric in the page's formats, and the tokens this browser keeps per room.

import { CONTROL_NAMES } from "./controls.js";
import { formatNumber, formatPercent } from "./format.js";
import { t } from "./i18n.js";
import { defaultConfig } from "./state.js";

/** Control names a room may lock: every control but the room's own buttons. */
export const LOCKABLE = CONTROL_NAMES.filter((name) => name !== "rooms");

/** Metrics a challenge aims at; accuracies go up, errors and losses down. */
export const CHALLENGE_METRICS = ["test_acc", "train_acc", "test_rmse", "train_rmse", "test_loss", "train_loss"];

/** The page's configuration for a RunSpec: what specFromConfig would turn back into it. */
export function specToConfig(spec, base = defaultConfig()) {
  const dataset = spec.dataset ?? {};
  const hidden = spec.hidden_widths ?? base.hidden;
  return {
    ...base,
    dataset: dataset.name ?? base.dataset,
    source: dataset.source ?? null,
    noise: dataset.noise ?? base.noise,
    samples: dataset.samples ?? base.samples,
    trainFraction: dataset.train_fraction ?? base.trainFraction,
    dataSeed: dataset.seed ?? base.dataSeed,
    classes: dataset.classes ?? base.classes,
    features: spec.features ?? base.features,
    hidden,
    width: hidden.length ? hidden[hidden.length - 1] : base.width,
    activation: spec.activation ?? base.activation,
    learningRate: spec.learning_rate ?? base.learningRate,
    optimizer: spec.optimizer ?? base.optimizer,
    batchSize: spec.batch_size ?? base.batchSize,
    epochs: spec.epochs ?? base.epochs,
    epochsPerS: spec.epochs_per_s ?? null,
    untilPaused: Boolean(spec.until_paused),
    regularization: spec.regularization ?? base.regularization,
    regularizationRate: spec.regularization_rate ?? base.regularizationRate,
    seed: spec.seed ?? base.seed,
  };
}

/** Whether a higher value of `metric` is better (accuracy) or a lower one (RMSE, loss). */
export function higherIsBetter(metric) {
  return metric.endsWith("_acc");
}

/** A metric's value as the page writes it: accuracy in percent, errors and losses as numbers. */
export function formatMetric(metric, value) {
  if (value === null || value === undefined) return "–";
  return higherIsBetter(metric) ? formatPercent(value) : formatNumber(value, 3);
}

/** "Reach test accuracy ≥ 95.0% with at most 50 parameters and no hidden layer." (or null). */
export function challengeSentence(challenge) {
  if (!challenge) return null;
  const { metric, target } = challenge;
  const goal = t("room.challenge.goal", {
    metric: t(`room.metric.${metric}`),
    sign: higherIsBetter(metric) ? "≥" : "≤",
    target: formatMetric(metric, target),
  });
  const limits = [];
  if (challenge.max_parameters !== null && challenge.max_parameters !== undefined) {
    limits.push(t("room.challenge.max_parameters", { count: challenge.max_parameters }));
  }
  if (challenge.max_hidden_layers === 0) limits.push(t("room.challenge.no_hidden"));
  else if (challenge.max_hidden_layers) {
    limits.push(t("room.challenge.max_hidden", { count: challenge.max_hidden_layers }));
  }
  return limits.length ? t("room.challenge.with", { goal, limits: limits.join(t("room.challenge.and")) }) : `${goal}.`;
}

// Tokens are kept per room in this browser's storage, so a reload keeps a learner in their room
// and a teacher's wall and playground share the teacher's token.
const storageKey = (code, role) => `layerlab.room.${code}.${role}`;

/** The saved token of `role` ("learner" or "teacher") for room `code`, or null. */
export function savedToken(code, role) {
  try {
    return localStorage.getItem(storageKey(code, role));
  } catch {
    return null; // storage refused (a private window's setting): the token lives as long as the page
  }
}

export function saveToken(code, role, token) {
  try {
    if (token === null) localStorage.removeItem(storageKey(code, role));
    else localStorage.setItem(storageKey(code, role), token);
  } catch {
    // as above: nothing kept, nothing to undo
  }
}
