// The run at a glance: play button, status, epoch counter, progress bar, queue position,
// and the train/test loss and accuracy (or RMSE) scores.

import { formatInteger, formatLoss, formatPercent } from "./format.js";
import { t } from "./i18n.js";
import { displayStatus } from "./run.js";

const $ = (id) => document.getElementById(id);

export function createRunReadout(store) {
  let shownError = null;

  function renderRun(state) {
    const run = state.run;
    const status = displayStatus(run);
    const pill = $("run-status");
    pill.dataset.status = status;
    pill.textContent = t(`status.${status}`);
    pill.title = run?.error ?? "";

    const playing = Boolean(run?.playing);
    const play = $("play");
    play.setAttribute("aria-pressed", String(playing));
    const label = t(playing ? "control.pause" : "control.play");
    play.title = `${label} (${t("key.space")})`;
    play.setAttribute("aria-label", label);

    const queue = $("queue-position");
    const queued = status === "queued" && run?.queuePosition;
    queue.hidden = !queued;
    queue.textContent = queued ? t("status.queue_position", { position: run.queuePosition }) : "";

    const info = run?.modelInfo;
    const epochs = run?.spec?.epochs ?? state.config.epochs;
    // A run trained until paused has no end to count towards: no total, no progress bar.
    const endless = run?.spec?.until_paused ?? state.config.untilPaused;
    $("epoch-total").textContent = endless ? "/ ∞" : `/ ${formatInteger(epochs)}`;
    $("epoch-total").title = endless ? t("control.until_paused") : "";
    $("progress").classList.toggle("endless", Boolean(endless));
    $("progress").max = info?.total_steps ?? 1;
    document.body.dataset.task = info?.task ?? state.preview?.task ?? "binary";
    // The run's own failure (diverged, failed) is said once, in the banner.
    const error = run?.error ? `${run.id}:${run.error}` : null;
    if (error && error !== shownError) {
      shownError = error;
      store.set({ errors: { ...state.errors, banner: run.error } });
    }
  }

  function renderMetrics(state) {
    const point = state.metrics;
    const info = state.run?.modelInfo;
    const step = point?.step ?? 0;
    const epoch = point ? Math.floor(point.epoch + 1e-9) : 0;
    $("epoch").textContent = formatInteger(epoch);
    $("epoch").dataset.value = String(point?.epoch ?? 0);
    $("progress").value = step;
    $("progress").title = info ? `${formatInteger(step)} / ${formatInteger(info.total_steps)} ${t("chart.steps")}` : "";
    score("train-loss", point?.train_loss, formatLoss);
    score("test-loss", point?.test_loss, formatLoss);
    score("train-accuracy", point?.train_acc, formatPercent);
    score("test-accuracy", point?.test_acc, formatPercent);
    score("train-rmse", point?.train_rmse, formatLoss);
    score("test-rmse", point?.test_rmse, formatLoss);
    // Over-fitting shows as a test loss well above the train loss.
    const gap = point && point.test_loss > 1.5 * point.train_loss + 0.05 && step > 0;
    $("overfit-note").hidden = !gap;
    $("overfit-note").textContent = gap ? t("hint.overfit") : "";
  }

  function renderConnection(state) {
    const note = $("connection-note");
    const lost = state.connection?.state === "reconnecting";
    note.hidden = !lost;
    note.textContent = lost ? t("status.reconnecting", { seconds: state.connection.seconds }) : "";
  }

  store.on(["run", "view", "config", "preview"], renderRun);
  store.on(["metrics", "view", "run"], renderMetrics);
  store.on(["connection", "view"], renderConnection);
  return {
    render: () => {
      renderRun(store.state);
      renderMetrics(store.state);
    },
  };
}

function score(id, value, format) {
  const element = document.getElementById(id);
  const known = value !== undefined && value !== null;
  element.textContent = known ? format(value) : "–";
  element.dataset.value = known ? String(value) : "";
}
