// How well the network does, beyond the curves: a confusion matrix for classes (rows = true
// class; for two classes at the page's decision threshold, from /roc's test scores), and for
// regression the predictions against the targets and the learned weights beside the true ones
// (when the network is affine and the data has a known rule).

import { CLASS_COLORS, BLUE, ORANGE, cssVar, tintOnSurface } from "./colors.js";
import { escapeHtml } from "./html.js";
import { formatFixed, formatInteger, formatPercent, plotlySeparators } from "./format.js";
import { t } from "./i18n.js";
import { featureLabel, inputLabel, linearTerm } from "./notation.js";
import { FINAL_STATUSES } from "./run.js";
import { confusionAt } from "./threshold-metrics.js";

export function createResults(store) {
  const matrixBox = document.getElementById("confusion-matrix");
  const scatter = document.getElementById("regression-scatter");
  const learnedBox = document.getElementById("learned-weights");

  // --- classification ---------------------------------------------------------------------------

  /** The test scores of the run on the page, for two classes; null until they come. */
  function rocOf(state) {
    return state.roc && state.roc.runId === state.run?.id ? state.roc : null;
  }

  function confusion(state) {
    const run = state.run;
    const roc = rocOf(state);
    if (roc) return confusionAt(roc.labels, roc.scores, state.threshold);
    const final = run && FINAL_STATUSES.has(run.status) ? run.finalMetrics?.confusion_matrix : null;
    if (final) return final;
    const predictions = state.predictions;
    const names = state.preview?.class_names;
    if (!predictions || predictions.task === "regression" || !names) return null;
    const k = names.length;
    const matrix = Array.from({ length: k }, () => new Array(k).fill(0));
    predictions.truth.forEach((label, i) => {
      const guess = predictions.predicted[i];
      if (matrix[label] && guess < k) matrix[label][guess] += 1;
    });
    return matrix;
  }

  function renderConfusion(state) {
    const matrix = confusion(state);
    const names = state.preview?.class_names ?? state.run?.modelInfo?.class_names ?? [];
    if (!matrix) {
      matrixBox.innerHTML = `<p class="placeholder">${t("results.waiting")}</p>`;
      return;
    }
    const total = matrix.flat().reduce((a, b) => a + b, 0);
    const correct = matrix.reduce((sum, row, i) => sum + (row[i] ?? 0), 0);
    // A long class name wraps and then ends in "…" (its title has it whole): the table stays in its card.
    const label = (c) => `<span class="class-name" title="${escapeHtml(names[c] ?? c)}"><span class="swatch" data-class="${c}"></span>${escapeHtml(names[c] ?? c)}</span>`;
    const head = names.map((name, c) => `<th scope="col">${label(c)}</th>`).join("");
    const tints = [];
    const rows = matrix.map((row, i) => {
      const rowTotal = row.reduce((a, b) => a + b, 0) || 1;
      const cells = row.map((count, j) => {
        const share = count / rowTotal;
        tints.push(tintOnSurface(i === j ? BLUE : ORANGE, Math.min(1, share) * (i === j ? 0.55 : 0.8)));
        return `<td title="${formatPercent(share)}">${formatInteger(count)}</td>`;
      }).join("");
      return `<tr><th scope="row">${label(i)}</th>${cells}</tr>`;
    }).join("");
    const caption = t("results.confusion_caption", { correct: formatInteger(correct), total: formatInteger(total), accuracy: formatPercent(total ? correct / total : 0) });
    const at = rocOf(state) ? ` ${t("results.at_threshold", { threshold: formatFixed(state.threshold, 2) })}` : "";
    matrixBox.innerHTML = `
      <table class="confusion-table" data-total="${total}">
        <thead>
          <tr><td></td><th colspan="${names.length}" class="axis-title">${t("results.predicted")}</th></tr>
          <tr><th class="axis-title">${t("results.true")}</th>${head}</tr>
        </thead>
        <tbody>${rows}</tbody>
      </table>
      <p class="hint">${caption}${at}</p>`;
    // Colours set as properties, not as markup: the page's style policy need not allow inline styles.
    matrixBox.querySelectorAll("tbody td").forEach((cell, k) => {
      cell.style.background = tints[k].background;
      cell.style.color = tints[k].text;
    });
    for (const swatch of matrixBox.querySelectorAll(".swatch[data-class]")) {
      swatch.style.background = CLASS_COLORS[Number(swatch.dataset.class) % CLASS_COLORS.length];
    }
  }

  // --- regression -------------------------------------------------------------------------------

  function renderScatter(state) {
    const predictions = state.predictions;
    if (!predictions || predictions.task !== "regression") {
      Plotly.purge(scatter);
      scatter.innerHTML = `<p class="placeholder">${t("results.waiting")}</p>`;
      return;
    }
    scatter.querySelector(".placeholder")?.remove();
    const targets = predictions.truth;
    const lowest = Math.min(...targets, ...predictions.predicted.filter(Number.isFinite));
    const highest = Math.max(...targets, ...predictions.predicted.filter(Number.isFinite));
    const pad = 0.05 * (highest - lowest || 1);
    const [low, high] = [lowest - pad, highest + pad];
    const muted = cssVar("--muted");
    const line = cssVar("--line");
    const axis = (title) => ({ title: { text: title, font: { size: 11, color: muted }, standoff: 4 }, tickfont: { size: 10, color: muted }, gridcolor: line, zeroline: false, range: [low, high] });
    Plotly.react(
      scatter,
      [
        { type: "scatter", mode: "lines", x: [low, high], y: [low, high], line: { color: muted, dash: "dot", width: 1 }, hoverinfo: "skip", name: "y = ŷ" },
        {
          type: "scatter",
          mode: "markers",
          x: targets,
          y: predictions.predicted,
          marker: { size: 5, color: BLUE, opacity: 0.7, line: { width: 0 } },
          name: t("metric.test"),
          hovertemplate: `${t("results.target")} %{x:.2f}<br>${t("results.prediction")} %{y:.2f}<extra></extra>`,
        },
      ],
      {
        margin: { l: 46, r: 8, t: 6, b: 36 },
        paper_bgcolor: "rgba(0,0,0,0)",
        plot_bgcolor: "rgba(0,0,0,0)",
        font: { family: cssVar("--font"), color: cssVar("--ink") },
        separators: plotlySeparators(),
        xaxis: axis(t("results.target")),
        yaxis: axis(t("results.prediction")),
        showlegend: false,
      },
      { displayModeBar: false, responsive: true },
    );
  }

  /** [{parameter, learned, true}] now: from the final metrics, or multiplied out of the weights. */
  function learnedRows(state) {
    const run = state.run;
    const truth = run?.modelInfo?.truth;
    if (!truth) return { rows: null, why: "results.no_truth" };
    if (run.finalMetrics?.learned) return { rows: run.finalMetrics.learned };
    const layers = run.modelInfo.summary?.layers ?? [];
    if (layers.some((layer) => layer.type !== "Linear")) return { rows: null, why: "results.not_affine" };
    const weights = state.model?.weights;
    if (!weights) return { rows: null, why: "results.waiting" };
    // y = W_L(…(W_1 x + b_1)…) + b_L multiplies out to one weight per input and one bias.
    let matrix = weights[0].weight.map((row) => [...row]);
    let bias = [...weights[0].bias];
    for (const layer of weights.slice(1)) {
      matrix = layer.weight.map((row) => matrix[0].map((_, j) => row.reduce((sum, w, k) => sum + w * matrix[k][j], 0)));
      bias = layer.weight.map((row, i) => row.reduce((sum, w, k) => sum + w * bias[k], layer.bias[i]));
    }
    const names = run.modelInfo.input_names;
    const features = run.spec.features;
    const rows = features.map((feature, j) => ({
      parameter: `w(${featureLabel(feature, names)})`,
      learned: matrix[0][j],
      true: names.includes(feature) ? truth.weights[names.indexOf(feature)] : 0,
    }));
    rows.push({ parameter: "bias", learned: bias[0], true: truth.bias });
    return { rows };
  }

  function renderLearned(state) {
    const info = state.run?.modelInfo;
    const { rows, why } = learnedRows(state);
    const formula = info?.truth ? `<p class="formula">${escapeHtml(truthFormula(info.truth, info.input_names))}</p>` : "";
    if (!rows) {
      learnedBox.innerHTML = `${formula}<p class="placeholder">${t(why)}</p>`;
      return;
    }
    const body = rows.map((row) => {
      const gap = row.learned - row.true;
      return `<tr><th scope="row">${escapeHtml(row.parameter === "bias" ? t("results.bias") : row.parameter)}</th><td>${formatFixed(row.learned, 3)}</td><td>${formatFixed(row.true, 3)}</td><td class="${Math.abs(gap) < 0.05 * Math.max(1, Math.abs(row.true)) ? "close" : ""}">${formatFixed(gap, 3)}</td></tr>`;
    }).join("");
    learnedBox.innerHTML = `${formula}
      <table class="data-table compact">
        <thead><tr><th>${t("results.parameter")}</th><th>${t("results.learned_value")}</th><th>${t("results.true_value")}</th><th>${t("results.difference")}</th></tr></thead>
        <tbody>${body}</tbody>
      </table>`;
  }

  function render(state) {
    const task = state.run?.modelInfo?.task ?? state.preview?.task ?? "binary";
    if (task === "regression") {
      renderScatter(state);
      renderLearned(state);
    } else {
      renderConfusion(state);
    }
  }

  store.on(["predictions", "roc", "threshold", "run", "model", "view", "preview"], render);
  render(store.state);
}

/** The data's rule in the page's language: y = 2·x₁ − 3·x₂ + 5 + noise. */
function truthFormula(truth, inputNames) {
  return `y = ${linearTerm(truth.weights, inputNames.map(inputLabel), truth.bias)} + ${t("results.noise")}`;
}
