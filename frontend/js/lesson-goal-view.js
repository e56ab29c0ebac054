// A step's live goal in the lessons panel: what to do, its conditions as a checklist that ticks
// as the run reaches each one (with each value now), and "reached!" once all hold at once.

import { formatNumber, formatPercent } from "./format.js";
import { element } from "./html.js";
import { t } from "./i18n.js";
import { inlineNodes } from "./lesson-text.js";
import { featureLabel, inputLabel } from "./notation.js";
import { displayStatus } from "./run.js";

const OPS = { ">=": "at_least", "<=": "at_most", "==": "equals", near: "near", has: "has" };
const SHARES = new Set(["train_acc", "test_acc", "best_test_acc", "test_acc_drop"]);
const COUNTS = new Set(["epoch", "hidden_layers", "parameters"]);

/**
 * The goal's section; reachedBefore: the learner reached it on an earlier visit. show(check,
 * runs) draws checkGoal's answer ({conditions, reached}; runs: {a, b}, the runs it read) and
 * returns true when the goal has just been reached.
 */
export function createGoalView(goal, stepId, { reachedBefore }) {
  const headingId = `lesson-goal-${stepId}`;
  const section = element("section", { class: "lesson-goal", "aria-labelledby": headingId });
  const text = element("p");
  text.append(...inlineNodes(goal.text));
  const list = element("ul", { class: "lesson-conditions" });
  const items = goal.all.map((condition) => {
    const item = element("li", { "data-met": "false", "data-metric": condition.metric });
    const now = element("span", { class: "lesson-now" });
    const met = element("span", { class: "visually-hidden" });
    item.append(element("span", { class: "lesson-mark", "aria-hidden": "true" }), element("span", { class: "lesson-condition" }, conditionText(condition)), now, met);
    list.append(item);
    return { item, now, met };
  });
  const status = element("p", { class: "lesson-goal-status", role: "status", "aria-live": "polite", "data-reached": "false" });
  section.append(element("h4", { id: headingId }, t("lesson.goal")), text, list, status);
  let reached = null;

  function show(check, runs) {
    check.conditions.forEach((condition, i) => {
      const { item, now, met } = items[i];
      item.dataset.met = String(condition.met);
      // A run primed at step 0 is paused to the server and ready to the learner, as the readout says.
      const value = isStatus(condition.metric) && condition.now !== undefined ? displayStatus(condition.metric.startsWith("b.") ? runs.b : runs.a) : condition.now;
      now.textContent = value === undefined ? t("lesson.no_value") : t("lesson.now", { value: valueText(condition.metric, value) });
      met.textContent = condition.met ? t("lesson.condition_met") : "";
    });
    if (check.reached === reached) return false;
    reached = check.reached;
    reachedBefore ||= reached;
    status.dataset.reached = String(reached);
    status.textContent = t(reached ? "lesson.reached" : reachedBefore ? "lesson.reached_before" : "lesson.not_yet");
    return reached;
  }

  return { section, show };
}

function isStatus(metric) {
  return metric.replace(/^b\./, "") === "status";
}

function metricName(metric) {
  if (metric.startsWith("b.")) return t("lesson.run_b", { metric: metricName(metric.slice(2)) });
  if (metric.startsWith("weight:")) return t("lesson.metric.weight", { input: inputLabel(metric.slice("weight:".length)) });
  return t(`lesson.metric.${metric}`);
}

function valueText(metric, value) {
  const name = metric.replace(/^b\./, "");
  if (isStatus(name)) return t(`status.${value}`);
  if (name === "features") return [].concat(value).map((feature) => featureLabel(feature)).join(", ");
  if (SHARES.has(name)) return formatPercent(value);
  if (COUNTS.has(name)) return formatNumber(value, 0);
  return formatNumber(value, 3);
}

/** "test accuracy ≥ 90.0%": a condition in the page's language. */
function conditionText({ metric, op, value, within }) {
  return t(`lesson.op.${OPS[op] ?? "equals"}`, { metric: metricName(metric), value: valueText(metric, value), within: valueText(metric, within) });
}
