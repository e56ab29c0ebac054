// Loss (and accuracy) over the training steps, train and test: the snapshot draws the whole
// curve with Plotly.react, each metrics frame appends with Plotly.extendTraces.

import { cssVar } from "./colors.js";
import { formatLoss, formatPercent, plotlySeparators } from "./format.js";
import { t } from "./i18n.js";

const PLOT_CONFIG = { displayModeBar: false, responsive: true };
const MAX_POINTS = 5000;

export function createLossChart(store) {
  const div = document.getElementById("loss-chart");
  const legend = document.getElementById("loss-legend");
  let task = "binary";
  let drawnTask = null;
  let drawnRun = null;

  // The hover shows each value as the readout does (formatLoss, formatPercent), as text.
  function columns(points) {
    const steps = points.map((p) => p.step);
    const series = [
      points.map((p) => p.train_loss),
      points.map((p) => p.test_loss),
    ];
    if (task !== "regression") {
      series.push(points.map((p) => p.train_acc), points.map((p) => p.test_acc));
    }
    const text = series.map((values, i) => values.map(i >= 2 ? formatPercent : formatLoss));
    return { x: series.map(() => steps), y: series, text };
  }

  function traces(points) {
    const { x, y, text } = columns(points);
    const ink = cssVar("--ink");
    const accent = cssVar("--accuracy");
    const names = [t("chart.train_loss"), t("chart.test_loss"), t("chart.train_accuracy"), t("chart.test_accuracy")];
    const styles = [
      { color: ink, width: 2 },
      { color: ink, width: 2, dash: "dot" },
      { color: accent, width: 2 },
      { color: accent, width: 2, dash: "dot" },
    ];
    return y.map((values, i) => ({
      type: "scatter",
      mode: "lines",
      name: names[i],
      x: x[i],
      y: values,
      text: text[i],
      line: { ...styles[i], shape: "linear" },
      yaxis: i >= 2 ? "y2" : "y",
      hovertemplate: "%{text}",
    }));
  }

  function layout() {
    const muted = cssVar("--muted");
    const line = cssVar("--line");
    const axis = { tickfont: { size: 10, color: muted }, gridcolor: line, zeroline: false, linecolor: line };
    return {
      margin: { l: 44, r: task === "regression" ? 10 : 40, t: 4, b: 30 },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { family: cssVar("--font"), color: cssVar("--ink"), size: 11 },
      separators: plotlySeparators(),
      showlegend: false,
      xaxis: { ...axis, title: { text: t("chart.step"), font: { size: 10.5, color: muted }, standoff: 0 }, rangemode: "tozero", nticks: 6 },
      yaxis: { ...axis, title: { text: t("metric.loss"), font: { size: 10.5, color: muted }, standoff: 2 }, rangemode: "tozero", ...(task === "regression" ? { type: "log", dtick: decadeStep, exponentformat: "power" } : { type: "linear" }) },
      yaxis2: { ...axis, overlaying: "y", side: "right", range: [0, 1.02], tickvals: [0, 0.25, 0.5, 0.75, 1], tickformat: ".0%", showgrid: false, visible: task !== "regression" },
      hovermode: "x unified",
      uirevision: drawnRun ?? "none",
    };
  }

  function redraw(points) {
    lossRange = [Infinity, -Infinity];
    decadeStep = stepFor(points);
    // Another task moves the right margin, and Plotly.react would then draw the overlaid
    // accuracy axis's line with NaN coordinates: that chart starts afresh instead.
    if (task !== drawnTask) Plotly.purge(div);
    drawnTask = task;
    Plotly.react(div, traces(points), layout(), PLOT_CONFIG);
    renderLegend();
  }

  // A log axis labels whole decades only, a few of them however far the loss falls (or blows up).
  let lossRange = [Infinity, -Infinity];
  let decadeStep = 1;
  function stepFor(points) {
    for (const p of points) {
      for (const loss of [p.train_loss, p.test_loss]) {
        if (Number.isFinite(loss) && loss > 0) {
          lossRange = [Math.min(lossRange[0], loss), Math.max(lossRange[1], loss)];
        }
      }
    }
    const decades = lossRange[1] > lossRange[0] ? Math.log10(lossRange[1] / lossRange[0]) : 1;
    return Math.max(1, Math.ceil(decades / 4));
  }

  // One line instead of Plotly's legend: line style says the split, colour the measure.
  function renderLegend() {
    const items = [
      `<span><i class="line solid"></i>${t("metric.train")}</span>`,
      `<span><i class="line dotted"></i>${t("metric.test")}</span>`,
      `<span><i class="chip loss"></i>${t("metric.loss")}</span>`,
    ];
    if (task !== "regression") items.push(`<span><i class="chip accuracy"></i>${t("metric.accuracy")}</span>`);
    legend.innerHTML = items.join("");
  }

  /** The curve drawn so far, as points again (for a redraw in another theme or language). */
  function currentPoints() {
    const data = div.data;
    if (!data?.length) return [];
    return data[0].x.map((step, i) => ({
      step,
      train_loss: data[0].y[i],
      test_loss: data[1]?.y[i],
      train_acc: data[2]?.y[i],
      test_acc: data[3]?.y[i],
    }));
  }

  store.listen("run-started", () => {
    drawnRun = store.state.run?.id ?? null;
    redraw([]);
  });
  store.listen("history", (points, state) => {
    task = state.run?.modelInfo?.task ?? state.preview?.task ?? task;
    drawnRun = state.run?.id ?? null;
    redraw(points);
  });
  store.listen("points", (points) => {
    if (!div.data?.length) return redraw(points);
    const { x, y, text } = columns(points);
    if (div.data.length !== y.length) return redraw([...currentPoints(), ...points]);
    Plotly.extendTraces(div, { x, y, text }, y.map((_, i) => i), MAX_POINTS);
    if (task === "regression") {
      const step = stepFor(points);
      if (step !== decadeStep) {
        decadeStep = step;
        Plotly.relayout(div, { "yaxis.dtick": step });
      }
    }
  });
  store.on(["view"], () => redraw(currentPoints()));
  store.on(["run"], (state) => {
    const next = state.run?.modelInfo?.task;
    if (next && next !== task) {
      task = next;
      redraw(currentPoints());
    }
  });
  redraw([]);
}
