// Side by side's one chart: loss (below) and accuracy (above; not for regression) of both runs
// over the epochs. Colour says the run, the line's style the split (train solid, test dotted).
// A snapshot or a new run redraws (Plotly.react, once per animation frame); metric points extend
// their run's traces (Plotly.extendTraces).

import { cssVar } from "./colors.js";
import { formatLoss, formatPercent, plotlySeparators } from "./format.js";
import { element } from "./html.js";
import { t } from "./i18n.js";

const PLOT_CONFIG = { displayModeBar: false, responsive: true };
const MAX_POINTS = 5000;
const TAGS = ["A", "B"];

/** stores: [A's, B's]; each emits "run-started", "history" and "points" as RunController does. */
export function createCompareChart(stores) {
  const div = document.getElementById("compare-chart");
  const legend = document.getElementById("compare-legend");
  const curves = stores.map(() => []); // each run's points so far
  let pending = false;

  const regression = () => (stores[0].state.run?.modelInfo?.task ?? stores[0].state.preview?.task) === "regression";

  /** A run's traces in order (measure, then split), each with its columns for these points. */
  function series(points) {
    const measures = regression() ? [["loss", "y"]] : [["loss", "y"], ["acc", "y2"]];
    const x = points.map((p) => p.epoch ?? p.step);
    const out = [];
    for (const [measure, axis] of measures) {
      for (const split of ["train", "test"]) {
        const y = points.map((p) => p[`${split}_${measure}`]);
        out.push({ measure, axis, split, x, y, text: y.map(measure === "acc" ? formatPercent : formatLoss) });
      }
    }
    return out;
  }

  function traces() {
    const colors = [cssVar("--run-a"), cssVar("--run-b")]; // the theme's, as the tags on the page
    const data = [];
    curves.forEach((points, run) => {
      for (const { measure, axis, split, x, y, text } of series(points)) {
        data.push({
          type: "scatter",
          mode: "lines",
          name: `${TAGS[run]} · ${t(`metric.${split}`)} · ${t(measure === "acc" ? "metric.accuracy" : "metric.loss")}`,
          meta: { run: TAGS[run], split, measure },
          x,
          y,
          text,
          yaxis: axis,
          line: { color: colors[run], width: split === "train" ? 2.4 : 2.2, dash: split === "train" ? "solid" : "dot" },
          hovertemplate: `${TAGS[run]} %{text}<extra></extra>`,
        });
      }
    });
    return data;
  }

  function layout() {
    const muted = cssVar("--muted");
    const line = cssVar("--line");
    const axis = { tickfont: { size: 11, color: muted }, gridcolor: line, zeroline: false, linecolor: line };
    const title = (key) => ({ text: t(key), font: { size: 12, color: muted }, standoff: 4 });
    const both = !regression();
    return {
      margin: { l: 52, r: 10, t: 6, b: 36 },
      width: div.clientWidth, // redrawn by the observer when it changes
      height: both ? 300 : 220,
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { family: cssVar("--font"), color: cssVar("--ink"), size: 12 },
      separators: plotlySeparators(),
      showlegend: false,
      hovermode: "x",
      xaxis: { ...axis, title: title("compare.epoch"), rangemode: "tozero", nticks: 6 },
      yaxis: { ...axis, title: title("metric.loss"), rangemode: "tozero", domain: both ? [0, 0.46] : [0, 1] },
      ...(both ? { yaxis2: { ...axis, title: title("metric.accuracy"), tickformat: ".0%", domain: [0.54, 1], anchor: "x" } } : {}),
    };
  }

  const shown = () => div.getClientRects().length > 0;

  function draw() {
    pending = false;
    if (!shown()) return; // drawn when the view is (the observer below)
    Plotly.react(div, traces(), layout(), PLOT_CONFIG);
    renderLegend();
  }

  function schedule() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(draw);
  }

  function renderLegend() {
    const item = (className, label) => {
      const span = element("span");
      span.append(element("i", { class: className }), label);
      return span;
    };
    legend.replaceChildren(
      ...TAGS.map((tag) => item(`chip run-${tag.toLowerCase()}`, tag)),
      item("line solid", t("metric.train")),
      item("line dotted", t("metric.test")),
    );
  }

  stores.forEach((store, run) => {
    store.listen("run-started", () => {
      curves[run] = [];
      schedule();
    });
    store.listen("history", (points) => {
      curves[run] = [...points];
      schedule();
    });
    store.listen("points", (points) => {
      curves[run] = [...curves[run], ...points].slice(-MAX_POINTS);
      const columns = series(points);
      if (pending || !shown() || div.data?.length !== TAGS.length * columns.length) return schedule();
      const first = run * columns.length;
      Plotly.extendTraces(
        div,
        { x: columns.map((c) => c.x), y: columns.map((c) => c.y), text: columns.map((c) => c.text) },
        columns.map((_, k) => first + k),
        MAX_POINTS,
      );
    });
    store.on(["run"], (state) => {
      if (!state.run) {
        curves[run] = [];
        schedule();
      }
    });
  });
  stores[0].on(["view", "preview"], schedule);
  new ResizeObserver(schedule).observe(div);
  return { redraw: schedule };
}
