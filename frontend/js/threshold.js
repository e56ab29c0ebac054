// The decision threshold of a binary run: its slider (under the boundary, which it moves), the
// accuracy, precision, recall and F1 at it, and the ROC curve with its AUC and the threshold's
// point marked. All computed here from /roc's test labels and scores (live-polls.js asks for
// them as the weights change), so that the slider asks nothing of the server.

import { cssVar } from "./colors.js";
import { formatFixed, formatPercent, plotlySeparators } from "./format.js";
import { t } from "./i18n.js";
import { confusionAt, scoresOf } from "./threshold-metrics.js";

const PLOT_CONFIG = { displayModeBar: false, responsive: true };
const $ = (id) => document.getElementById(id);

export function createThreshold(store) {
  const slider = $("threshold");
  const chart = $("roc-chart");

  slider.addEventListener("input", () => {
    const value = Number(slider.value);
    if (Number.isFinite(value)) store.set({ threshold: Math.min(1, Math.max(0, value)) });
  });

  function rocOf(state) {
    return state.roc && state.roc.runId === state.run?.id ? state.roc : null;
  }

  function renderSlider(state) {
    if (Number(slider.value) !== state.threshold) slider.value = String(state.threshold);
    $("threshold-value").textContent = formatFixed(state.threshold, 2);
  }

  function renderScores(state) {
    const roc = rocOf(state);
    const scores = roc ? scoresOf(confusionAt(roc.labels, roc.scores, state.threshold)) : {};
    for (const name of ["accuracy", "precision", "recall", "f1"]) {
      const output = $(`threshold-${name}`);
      const value = scores[name] ?? null;
      output.textContent = value === null ? "–" : formatPercent(value);
      output.dataset.value = value === null ? "" : String(value);
    }
    $("roc-auc").textContent = roc ? formatFixed(roc.auc, 3) : "–";
    drawCurve(state, roc, scores);
  }

  function drawCurve(state, roc, scores) {
    if (!roc) {
      Plotly.purge(chart);
      return;
    }
    const ink = cssVar("--ink");
    const muted = cssVar("--muted");
    const line = cssVar("--line");
    const axis = (title) => ({
      title: { text: title, font: { size: 10.5, color: muted }, standoff: 4 },
      tickfont: { size: 10, color: muted },
      gridcolor: line,
      zeroline: false,
      range: [-0.02, 1.02],
      tickvals: [0, 0.25, 0.5, 0.75, 1],
      fixedrange: true,
    });
    const here = `${t("threshold.title")} ${formatFixed(state.threshold, 2)}`;
    Plotly.react(
      chart,
      [
        { type: "scatter", mode: "lines", x: [0, 1], y: [0, 1], line: { color: muted, dash: "dot", width: 1 }, hoverinfo: "skip" },
        {
          type: "scatter",
          mode: "lines",
          x: roc.roc.fpr,
          y: roc.roc.tpr,
          line: { color: ink, width: 2, shape: "hv" },
          text: roc.roc.thresholds.map((value) => `${t("threshold.title")} ${formatFixed(value, 2)}`),
          hovertemplate: "%{text}<extra></extra>",
        },
        {
          type: "scatter",
          mode: "markers",
          x: [scores.falsePositiveRate ?? 0],
          y: [scores.truePositiveRate ?? 0],
          marker: { size: 11, color: cssVar("--orange"), line: { color: ink, width: 1.5 } },
          text: [here],
          hovertemplate: "%{text}<extra></extra>",
        },
      ],
      {
        margin: { l: 44, r: 8, t: 6, b: 34 },
        paper_bgcolor: "rgba(0,0,0,0)",
        plot_bgcolor: "rgba(0,0,0,0)",
        font: { family: cssVar("--font"), color: ink, size: 11 },
        separators: plotlySeparators(),
        showlegend: false,
        xaxis: axis(t("threshold.fpr")),
        yaxis: { ...axis(t("threshold.tpr")), scaleanchor: "x", scaleratio: 1, constrain: "domain" },
        hovermode: "closest",
      },
      PLOT_CONFIG,
    );
  }

  store.on(["threshold"], renderSlider);
  store.on(["roc", "threshold", "run", "view"], renderScores);
  renderSlider(store.state);
  renderScores(store.state);
}
