// The wall's tiles, one per learner, kept in place and updated from each room frame: the name
// (as text), a small live boundary painted from the tile's grid on a canvas, the loss sparkline
// as an SVG polyline, the metric, the parameter count, the status and a "met" badge. No Plotly
// here: sixty tiles redrawn every second must stay light.

import { paintOutput } from "./canvas-map.js";
import { formatInteger } from "./format.js";
import { decodeGrid } from "./grid-codec.js";
import { element } from "./html.js";
import { t } from "./i18n.js";
import { formatMetric } from "./room-setup.js";

const SVG = "http://www.w3.org/2000/svg";
const SPARK_W = 120;
const SPARK_H = 32;

/** The task a learner's run has, from what the frame says about it. */
function taskOf(learner, grid) {
  if (learner.metrics && "test_rmse" in learner.metrics) return "regression";
  return grid?.classes ? "multiclass" : "binary";
}

/** The metric a tile shows: the challenge's, else test accuracy (or RMSE for regression). */
export function tileMetric(challenge, learner) {
  if (challenge) return challenge.metric;
  return learner.metrics && "test_rmse" in learner.metrics ? "test_rmse" : "test_acc";
}

/** Points of a polyline through `values` (train loss), scaled to the sparkline's box. */
export function sparkPoints(values) {
  const finite = values.filter(Number.isFinite);
  if (finite.length < 2) return "";
  const low = Math.min(...finite);
  const high = Math.max(...finite);
  const span = high - low || 1;
  const step = SPARK_W / (values.length - 1);
  return values
    .map((value, i) => (Number.isFinite(value) ? `${(i * step).toFixed(1)},${(SPARK_H - 2 - ((value - low) / span) * (SPARK_H - 4)).toFixed(1)}` : null))
    .filter(Boolean)
    .join(" ");
}

export function createTiles(list, { onOpen }) {
  const tiles = new Map(); // learner id → {root, parts, drawnGrid}

  function build(learner) {
    const root = element("li", { class: "tile", "data-learner": learner.id });
    const button = element("button", { type: "button", class: "tile-button" });
    const canvas = element("canvas", { class: "tile-boundary", width: 1, height: 1, "aria-hidden": "true" });
    const spark = document.createElementNS(SVG, "svg");
    spark.setAttribute("class", "tile-spark");
    spark.setAttribute("viewBox", `0 0 ${SPARK_W} ${SPARK_H}`);
    spark.setAttribute("preserveAspectRatio", "none");
    spark.setAttribute("aria-hidden", "true");
    const line = document.createElementNS(SVG, "polyline");
    spark.append(line);
    const parts = {
      button,
      canvas,
      line,
      name: element("span", { class: "tile-name" }),
      status: element("span", { class: "tile-status" }),
      met: element("span", { class: "tile-met" }),
      metric: element("span", { class: "tile-metric" }),
      metricName: element("span", { class: "tile-metric-name" }),
      parameters: element("span", { class: "tile-parameters" }),
    };
    const head = element("span", { class: "tile-head" });
    head.append(parts.name, parts.met);
    const figures = element("span", { class: "tile-figures" });
    const metricBox = element("span", { class: "tile-metric-box" });
    metricBox.append(parts.metric, parts.metricName);
    figures.append(metricBox, parts.parameters, parts.status);
    const pictures = element("span", { class: "tile-pictures" });
    pictures.append(canvas, spark);
    button.append(head, pictures, figures);
    button.addEventListener("click", () => {
      const learner = tiles.get(root.dataset.learner)?.learner;
      if (learner?.run_id) onOpen(learner);
    });
    root.append(button);
    return { root, parts, drawnGrid: null, updates: 0, learner };
  }

  function update(tile, learner, { challenge, theme }) {
    const { parts, root } = tile;
    const changed = JSON.stringify([learner.epoch, learner.metrics, learner.status, learner.grid?.step]) !== tile.signature;
    tile.signature = JSON.stringify([learner.epoch, learner.metrics, learner.status, learner.grid?.step]);
    tile.learner = learner;
    if (changed) tile.updates += 1;
    root.dataset.updates = String(tile.updates);
    root.dataset.epoch = String(learner.epoch ?? 0);
    root.dataset.status = learner.status;
    root.dataset.runId = learner.run_id ?? "";
    root.classList.toggle("met", Boolean(learner.met));
    root.classList.toggle("away", !learner.present || learner.left);
    parts.name.textContent = learner.name;
    parts.met.textContent = learner.met ? t("room.met_badge") : "";
    parts.status.textContent = t(`wall.status.${learner.status}`);
    const metric = tileMetric(challenge, learner);
    parts.metric.textContent = formatMetric(metric, learner.metrics?.[metric]);
    parts.metricName.textContent = t(`room.metric.${metric}`);
    parts.parameters.textContent = learner.parameters === null || learner.parameters === undefined
      ? ""
      : t("wall.parameters", { count: formatInteger(learner.parameters) });
    parts.line.setAttribute("points", sparkPoints(learner.loss ?? []));
    parts.button.disabled = !learner.run_id;
    parts.button.setAttribute("aria-label", t("wall.tile_label", {
      name: learner.name,
      status: parts.status.textContent,
      metric: `${parts.metricName.textContent} ${parts.metric.textContent}`,
    }));
    const gridKey = learner.grid ? `${learner.run_id}:${learner.grid.step}:${theme}` : null;
    if (gridKey !== tile.drawnGrid) {
      tile.drawnGrid = gridKey;
      if (learner.grid) {
        const grid = decodeGrid(learner.grid);
        paintOutput(parts.canvas, grid, taskOf(learner, grid), theme);
      } else {
        parts.canvas.getContext("2d").clearRect(0, 0, parts.canvas.width, parts.canvas.height);
      }
    }
  }

  /** The room's learners, in the order they joined; tiles of those gone from the frame go too. */
  function render(learners, context) {
    const seen = new Set();
    for (const learner of learners) {
      seen.add(learner.id);
      let tile = tiles.get(learner.id);
      if (!tile) {
        tile = build(learner);
        tiles.set(learner.id, tile);
        list.append(tile.root);
      }
      update(tile, learner, context);
    }
    for (const [id, tile] of tiles) {
      if (!seen.has(id)) {
        tile.root.remove();
        tiles.delete(id);
      }
    }
  }

  /** Drawn again in a new language or theme: forget what each tile had painted. */
  function invalidate() {
    for (const tile of tiles.values()) {
      tile.drawnGrid = null;
      tile.signature = null;
    }
  }

  return { render, invalidate, learner: (id) => tiles.get(id)?.learner ?? null };
}
