// The decision boundary: the network's output over the plane as a heatmap (redrawn with
// Plotly.react when a grid arrives, at most once per animation frame) under the train and
// test points; for two classes the line where p equals the decision threshold. A click on the
// plane chooses the point the forward pass walks through the network (a test point when the
// click lands on one), marked with a cross.

import { CLASS_COLORS, classBandScale, cssVar, divergingScale } from "./colors.js";
import { escapeHtml, escapePlotly } from "./html.js";
import { formatFixed, formatNumber, plotlySeparators } from "./format.js";
import { t } from "./i18n.js";
import { inputLabel } from "./notation.js";
import { stats } from "./stream.js";

const PLOT_CONFIG = { displayModeBar: false, responsive: true };

/** ids: the heatmap's, the points' and the legend's elements (side by side has a pair more). */
export function createBoundaryChart(store, ids = { plot: "boundary", points: "boundary-points", legend: "boundary-legend" }) {
  const div = document.getElementById(ids.plot);
  const pointsDiv = document.getElementById(ids.points);
  const stack = div.parentElement;
  const legend = document.getElementById(ids.legend);
  let pending = false;
  let lastGrid = null;
  let pointsCache = { key: null, traces: null };

  function schedule() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      draw(store.state);
    });
  }

  function task(state) {
    return state.run?.modelInfo?.task ?? state.preview?.task ?? "binary";
  }

  /** Targets' range for regression colours (points and heatmap share one scale). */
  function valueRange(state) {
    const ys = [...(state.preview?.train.y ?? []), ...(state.preview?.test.y ?? [])];
    if (!ys.length) return [state.grid?.min ?? 0, state.grid?.max ?? 1];
    let low = Infinity;
    let high = -Infinity;
    for (const y of ys) {
      if (y < low) low = y;
      if (y > high) high = y;
    }
    return low === high ? [low - 1, high + 1] : [low, high];
  }

  function heatmap(state, kind) {
    const grid = state.grid;
    const theme = state.view.theme;
    const discrete = state.view.discretize;
    const { values, classes, nx, ny } = grid;
    const z = new Array(ny);
    const trace = { type: "heatmap", x: grid.xs, y: grid.ys, showscale: false, hoverinfo: "skip", zsmooth: "fast" };
    if (kind === "multiclass") {
      const k = state.preview?.class_names?.length ?? state.run?.modelInfo?.class_names?.length ?? 3;
      for (let i = 0; i < ny; i++) {
        const row = new Array(nx);
        for (let j = 0; j < nx; j++) {
          const at = i * nx + j;
          // confidence in [1/k, 1] → position inside the class's band
          const confidence = discrete ? 1 : (values[at] - 1 / k) / (1 - 1 / k);
          row[j] = classes[at] + Math.min(0.999, Math.max(0, confidence));
        }
        z[i] = row;
      }
      return { ...trace, z, zmin: 0, zmax: k, colorscale: classBandScale(k, theme), zsmooth: false };
    }
    if (kind === "regression") {
      const [low, high] = valueRange(state);
      const bands = 10;
      for (let i = 0; i < ny; i++) {
        const row = new Array(nx);
        for (let j = 0; j < nx; j++) {
          const v = values[i * nx + j];
          row[j] = discrete ? low + (Math.round(((v - low) / (high - low)) * bands) / bands) * (high - low) : v;
        }
        z[i] = row;
      }
      return { ...trace, z, zmin: low, zmax: high, colorscale: divergingScale(theme) };
    }
    for (let i = 0; i < ny; i++) {
      const row = new Array(nx);
      for (let j = 0; j < nx; j++) {
        const p = values[i * nx + j];
        row[j] = discrete ? (p >= state.threshold ? 1 : 0) : p;
      }
      z[i] = row;
    }
    return { ...trace, z, zmin: 0, zmax: 1, colorscale: divergingScale(theme) };
  }

  function boundaryLine(state, heat) {
    return {
      type: "contour",
      x: heat.x,
      y: heat.y,
      z: heat.z,
      contours: { start: state.threshold, end: state.threshold, size: 1, coloring: "none" },
      line: { color: cssVar("--ink"), width: 1.4, smoothing: 1 },
      showscale: false,
      hoverinfo: "skip",
    };
  }

  /** Train and test points: built once per dataset, theme and language (same arrays after). */
  function pointTraces(state, kind) {
    const preview = state.preview;
    const key = JSON.stringify([state.view.theme, state.view.lang, kind]);
    if (pointsCache.key === key && pointsCache.preview === preview) return pointsCache.traces;
    const surface = cssVar("--surface");
    const ink = cssVar("--ink");
    const [low, high] = valueRange(state);
    const names = preview.input_names.map((name) => escapePlotly(inputLabel(name)));
    const make = (split, name, outline, width, size) => {
      const { x, y } = preview[split];
      const marker = { size, line: { color: outline, width } };
      if (kind === "regression") {
        Object.assign(marker, { color: y, cmin: low, cmax: high, colorscale: divergingScale(state.view.theme, 1) });
      } else {
        marker.color = y.map((label) => CLASS_COLORS[label % CLASS_COLORS.length]);
      }
      const labels = kind === "regression" ? y.map((v) => formatNumber(v, 2)) : y.map((label) => escapePlotly(preview.class_names[label] ?? label));
      return {
        type: "scatter",
        mode: "markers",
        name,
        x: x.map((p) => p[0]),
        y: x.map((p) => p[1]),
        text: labels,
        marker,
        hovertemplate: `${names[0]} = %{x:.2f}<br>${names[1]} = %{y:.2f}<br>${kind === "regression" ? "y" : t("boundary.class")} = %{text}<extra>${name}</extra>`,
      };
    };
    const traces = {
      // Regression points wear their target's colour, as the heatmap does: a ring shows them.
      train: make("train", t("metric.train"), kind === "regression" ? cssVar("--muted") : surface, 0.8, 6),
      test: make("test", t("metric.test"), ink, 1.6, 6.5),
    };
    pointsCache = { key, preview, traces };
    return traces;
  }

  /** The chosen point: a cross in the ink's colour, ringed by the surface's, over everything. */
  function probeTrace([x, y]) {
    return {
      type: "scatter",
      mode: "markers",
      x: [x],
      y: [y],
      marker: { symbol: "x-thin-open", size: 15, color: cssVar("--ink"), line: { width: 3, color: cssVar("--ink") } },
      hoverinfo: "skip",
    };
  }

  /** The plane's point under a click, or the shown test point within a few pixels of it. */
  function pointAt(event) {
    const layout = pointsDiv._fullLayout;
    if (!layout?.xaxis || !store.state.preview) return null;
    const { xaxis, yaxis } = layout;
    const box = pointsDiv.getBoundingClientRect();
    const px = event.clientX - box.left - xaxis._offset;
    const py = event.clientY - box.top - yaxis._offset;
    if (px < 0 || py < 0 || px > xaxis._length || py > yaxis._length) return null;
    const test = store.state.view.showTest ? store.state.preview.test.x : [];
    let nearest = null;
    let best = 8 * 8; // px², a marker's reach
    test.forEach(([x, y], k) => {
      const distance = (xaxis.l2p(x) - px) ** 2 + (yaxis.l2p(y) - py) ** 2;
      if (distance < best) {
        best = distance;
        nearest = k;
      }
    });
    if (nearest !== null) return { point: test[nearest].map(Number), test: nearest };
    return { point: [xaxis.p2l(px), yaxis.p2l(py)] };
  }
  pointsDiv.addEventListener("click", (event) => {
    const probe = pointAt(event);
    if (probe) store.set({ probe });
  });

  /** One layout for both layers, so that the points sit exactly over the heatmap's cells. */
  function layoutFor(state, extent, { axes }) {
    const muted = cssVar("--muted");
    const names = state.preview.input_names.map((name) => escapePlotly(inputLabel(name)));
    const axis = (range, title) => ({
      range,
      title: { text: axes ? title : "", font: { size: 12, color: muted }, standoff: 4 },
      tickfont: { size: 10, color: axes ? muted : "rgba(0,0,0,0)" },
      showgrid: false,
      zeroline: false,
      showline: axes,
      linecolor: cssVar("--line"),
      mirror: true,
      ticks: axes ? "outside" : "",
      ticklen: 3,
      tickcolor: cssVar("--line"),
      nticks: 6,
      fixedrange: true,
    });
    const margin = { l: 38, r: 8, t: 6, b: 34 };
    // As tall as the plane's shape asks, so that the points fill the width.
    const width = div.clientWidth || 360;
    const aspect = (extent[3] - extent[2]) / (extent[1] - extent[0]);
    const height = Math.round(Math.min(1.2, Math.max(0.45, aspect)) * (width - margin.l - margin.r) + margin.t + margin.b);
    return {
      margin,
      height,
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: axes ? cssVar("--plot-bg") : "rgba(0,0,0,0)",
      font: { family: cssVar("--font"), color: cssVar("--ink") },
      separators: plotlySeparators(),
      xaxis: axis([extent[0], extent[1]], names[0] ?? "x₁"),
      yaxis: { ...axis([extent[2], extent[3]], names[1] ?? "x₂"), scaleanchor: "x", scaleratio: 1, constrain: "domain" },
      showlegend: false,
      hovermode: axes ? false : "closest",
    };
  }

  // The heatmap below, redrawn for each grid; the points above, redrawn only when they change.
  let pointsDrawn = null;

  function draw(state) {
    // Hidden with its view (side by side has its own pair): drawn when shown, by the observer.
    if (!stack.parentElement.getClientRects().length) return;
    const preview = state.preview;
    const flat = preview && preview.extent === null;
    stack.classList.toggle("no-plane", Boolean(flat));
    if (!preview || flat) {
      if (flat) {
        Plotly.purge(div);
        Plotly.purge(pointsDiv);
        pointsDrawn = null;
      }
      renderLegend(state, null);
      return;
    }
    const kind = task(state);
    const grid = state.grid && state.grid.extent ? state.grid : null;
    const extent = grid?.extent ?? preview.extent; // the run's plane, once it has drawn one
    const below = layoutFor(state, extent, { axes: true });
    const data = [];
    if (grid) {
      const heat = heatmap(state, kind);
      data.push(heat);
      if (kind === "binary" && !state.view.discretize) data.push(boundaryLine(state, heat));
    }
    stack.style.height = `${below.height}px`;
    Plotly.react(div, data, below, PLOT_CONFIG);
    if (grid && grid !== lastGrid) {
      lastGrid = grid;
      stats.gridsDrawn += 1;
    }
    const points = pointTraces(state, kind);
    const wanted = [points, state.view.showTest, below.height, div.clientWidth, extent.join(), state.probe];
    if (!pointsDrawn || wanted.some((item, i) => item !== pointsDrawn[i])) {
      pointsDrawn = wanted;
      const traces = state.view.showTest ? [points.train, points.test] : [points.train];
      if (state.probe?.point) traces.push(probeTrace(state.probe.point));
      Plotly.react(pointsDiv, traces, layoutFor(state, extent, { axes: false }), PLOT_CONFIG);
    }
    renderLegend(state, kind);
  }

  function renderLegend(state, kind) {
    const preview = state.preview;
    if (!preview || !kind) {
      legend.replaceChildren();
      if (preview?.extent === null) legend.textContent = t("boundary.no_plane", { count: preview.input_names.length });
      return;
    }
    const items = [];
    if (kind === "regression") {
      const [low, high] = valueRange(state);
      items.push(`<span class="legend-bar" style="background:linear-gradient(90deg, ${divergingScale(state.view.theme, 1).map(([, c]) => c).join(",")})"></span>`);
      items.push(`<span class="legend-range">${formatNumber(low, 2)} … ${formatNumber(high, 2)}</span>`);
    } else {
      preview.class_names.forEach((name, c) => {
        items.push(`<span class="legend-item"><span class="swatch" style="background:${CLASS_COLORS[c % CLASS_COLORS.length]}"></span>${escapeHtml(t("boundary.class_name", { name }))}</span>`);
      });
    }
    items.push(`<span class="legend-item"><span class="dot train"></span>${t("metric.train")}</span>`);
    if (state.view.showTest) items.push(`<span class="legend-item"><span class="dot test"></span>${t("metric.test")}</span>`);
    if (kind === "binary" && !state.view.discretize) items.push(`<span class="legend-item"><span class="boundary-line"></span>p = ${formatFixed(state.threshold, 2)}</span>`);
    items.push(`<span class="legend-item legend-hint">${t("boundary.click_hint")}</span>`);
    legend.innerHTML = items.join("");
  }

  new ResizeObserver(() => schedule()).observe(stack.parentElement);
  let lastKind = null;
  store.on(["grid", "preview", "view", "threshold", "probe"], schedule);
  store.on(["run"], (state) => {
    if (task(state) !== lastKind) {
      lastKind = task(state);
      schedule();
    }
  });
  return { redraw: schedule };
}
