// A small picture of the data next to its controls: train points filled, test points ringed.

import { CLASS_COLORS, cssVar, divergingScale } from "./colors.js";
import { plotlySeparators } from "./format.js";
import { t } from "./i18n.js";

export function createDataPreview(store) {
  const div = document.getElementById("data-preview");

  function draw(state) {
    const preview = state.preview;
    if (!preview) return;
    const regression = preview.task === "regression";
    const all = [...preview.train.y, ...preview.test.y];
    const low = regression ? Math.min(...all) : 0;
    const high = regression ? Math.max(...all) : 1;
    const trace = (split, outline, width, symbol) => {
      const { x, y } = preview[split];
      const marker = { size: 4.5, symbol, line: { color: outline, width } };
      if (regression) Object.assign(marker, { color: y, cmin: low, cmax: high, colorscale: divergingScale(state.view.theme, 1) });
      else marker.color = y.map((label) => CLASS_COLORS[label % CLASS_COLORS.length]);
      return {
        type: "scatter",
        mode: "markers",
        x: x.map((p) => p[0]),
        y: x.map((p) => p[1] ?? 0),
        marker,
        hoverinfo: "skip",
        name: t(`metric.${split}`),
      };
    };
    const axis = { visible: false, zeroline: false, showgrid: false };
    const extent = preview.extent;
    Plotly.react(
      div,
      [trace("train", cssVar("--surface"), 0.5, "circle"), trace("test", cssVar("--ink"), 1.2, "circle")],
      {
        margin: { l: 2, r: 2, t: 2, b: 2 },
        paper_bgcolor: "rgba(0,0,0,0)",
        plot_bgcolor: "rgba(0,0,0,0)",
        separators: plotlySeparators(),
        xaxis: { ...axis, range: extent ? [extent[0], extent[1]] : undefined },
        yaxis: { ...axis, range: extent ? [extent[2], extent[3]] : undefined },
        showlegend: false,
      },
      { displayModeBar: false, staticPlot: true, responsive: true },
    );
    div.setAttribute("aria-label", t("preview.label", { train: preview.train.y.length, test: preview.test.y.length }));
  }

  store.on(["preview", "view"], draw);
}
