// A sweep's two pictures: the depth × width heatmap of test accuracy (or test RMSE), a table
// whose cells fill as runs report and open their network when clicked; and train and test
// accuracy (or RMSE) against the number of parameters (log axis; train solid, test dotted;
// one point per cell), where the gap between them shows learning by heart.

import { cssVar, tintOnSurface } from "./colors.js";
import { formatInteger, formatLoss, formatPercent, plotlySeparators } from "./format.js";
import { element } from "./html.js";
import { t } from "./i18n.js";

const PLOT_CONFIG = { displayModeBar: false, responsive: true };

/** The measure a sweep shows: accuracy for classes, RMSE for regression. */
export function sweepMeasure(sweep) {
  return sweep?.task === "regression"
    ? { key: "rmse", format: formatLoss, better: "lower", name: "RMSE" }
    : { key: "acc", format: formatPercent, better: "higher", name: t("metric.accuracy") };
}

/** The cells in a heatmap's shade, 0 (worst shown) to 1 (best shown). */
function shades(values, better) {
  const known = values.filter(Number.isFinite);
  if (!known.length) return () => 0;
  const low = Math.min(...known);
  const high = Math.max(...known);
  return (value) => {
    if (high === low) return 1;
    const share = (value - low) / (high - low);
    return better === "higher" ? share : 1 - share;
  };
}

export function createSweepCharts(store, { openCell }) {
  const table = document.getElementById("sweep-heatmap");
  const chart = document.getElementById("sweep-chart");
  const legend = document.getElementById("sweep-chart-legend");
  let pending = false;

  function renderHeatmap(sweep) {
    const measure = sweepMeasure(sweep);
    document.getElementById("sweep-heat-title").textContent = t("sweep.heat_title", { measure: `${measure.name} (${t("metric.test")})` });
    if (!sweep) {
      table.replaceChildren();
      return;
    }
    const value = (cell) => cell.metrics?.[`test_${measure.key}`];
    const shade = shades(sweep.cells.map(value), measure.better);
    const byKey = new Map(sweep.cells.map((cell) => [`${cell.depth}×${cell.width}`, cell]));
    const accent = cssVar("--accuracy");
    const head = element("thead");
    const headRow = element("tr");
    headRow.append(element("th", { scope: "col", class: "corner" }, t("sweep.corner")));
    for (const width of sweep.widths) headRow.append(element("th", { scope: "col" }, formatInteger(width)));
    head.append(headRow);
    const body = element("tbody");
    for (const depth of sweep.depths) {
      const row = element("tr");
      row.append(element("th", { scope: "row" }, formatInteger(depth)));
      for (const width of sweep.widths) {
        const cell = byKey.get(`${depth}×${width}`);
        const v = cell ? value(cell) : undefined;
        const reported = Number.isFinite(v);
        const text = reported ? measure.format(v) : "…";
        const button = element("button", {
          type: "button",
          class: "sweep-cell",
          "data-depth": depth,
          "data-width": width,
          "data-status": cell?.status ?? "queued",
          "data-filled": reported ? "true" : "false",
          "aria-label": t("sweep.cell_label", { depth, width, measure: measure.name, value: text }),
        }, text);
        if (reported) {
          const { background, text: ink } = tintOnSurface(accent, 0.1 + 0.75 * shade(v));
          button.style.background = background;
          button.style.color = ink;
        }
        button.addEventListener("click", () => openCell(depth, width));
        const td = element("td");
        td.append(button);
        row.append(td);
      }
      body.append(row);
    }
    table.replaceChildren(head, body);
  }

  function renderChart(sweep) {
    const measure = sweepMeasure(sweep);
    document.getElementById("sweep-chart-title").textContent = t(`sweep.chart_title_${measure.key}`);
    const cells = (sweep?.cells ?? []).filter((cell) => cell.metrics).sort((a, b) => a.parameters - b.parameters);
    const color = cssVar("--accuracy");
    const trace = (split) => {
      const y = cells.map((cell) => cell.metrics[`${split}_${measure.key}`]);
      return {
        type: "scatter",
        mode: "lines+markers",
        name: t(`metric.${split}`),
        meta: { split },
        x: cells.map((cell) => cell.parameters),
        y,
        customdata: cells.map((cell) => [cell.depth, cell.width]),
        text: cells.map((cell, k) => t("sweep.point", { depth: cell.depth, width: cell.width, parameters: formatInteger(cell.parameters), value: measure.format(y[k]) })),
        hovertemplate: `%{text}<extra>${t(`metric.${split}`)}</extra>`,
        line: { color: split === "train" ? cssVar("--ink") : color, width: 2, dash: split === "train" ? "solid" : "dot" },
        marker: { size: 8, color: split === "train" ? cssVar("--ink") : color },
      };
    };
    const muted = cssVar("--muted");
    const line = cssVar("--line");
    const axis = { tickfont: { size: 12, color: muted }, gridcolor: line, zeroline: false, linecolor: line };
    const layout = {
      margin: { l: 58, r: 12, t: 8, b: 44 },
      width: chart.clientWidth, // redrawn by the observer when it changes
      height: 320,
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { family: cssVar("--font"), color: cssVar("--ink"), size: 12 },
      separators: plotlySeparators(),
      showlegend: false,
      hovermode: "closest",
      xaxis: { ...axis, type: "log", dtick: "D2", title: { text: t("sweep.parameters"), font: { size: 13, color: muted } } },
      yaxis: { ...axis, title: { text: measure.name, font: { size: 13, color: muted } }, ...(measure.key === "acc" ? { tickformat: ".0%" } : { rangemode: "tozero" }) },
    };
    Plotly.react(chart, [trace("train"), trace("test")], layout, PLOT_CONFIG);
    const item = (style, label) => {
      const span = element("span");
      span.append(element("i", { class: `line ${style}` }), label);
      return span;
    };
    legend.replaceChildren(item("solid", t("metric.train")), item("dotted", t("metric.test")));
  }

  let clickBound = false; // Plotly's own events, once the chart exists

  function draw() {
    pending = false;
    if (store.state.view.mode !== "sweep") return;
    const sweep = store.state.sweep;
    renderHeatmap(sweep);
    renderChart(sweep);
    if (!clickBound && chart.on) {
      clickBound = true;
      chart.on("plotly_click", (event) => {
        const [depth, width] = event.points?.[0]?.customdata ?? [];
        if (Number.isInteger(depth)) openCell(depth, width);
      });
    }
  }

  function schedule() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(draw);
  }

  store.on(["sweep", "view"], schedule);
  new ResizeObserver(schedule).observe(chart);
  return { redraw: schedule };
}
