// Inside the model: the layer summary (shapes and parameter counts, as PyTorch builds them)
// and a tensor inspector (each parameter tensor's shape, dtype, device, statistics and
// gradient norm), refreshed while the run trains.

import { BLUE, ORANGE } from "./colors.js";
import { formatFixed, formatInteger } from "./format.js";
import { t } from "./i18n.js";

export function createInspector(store) {
  const summaryTable = document.getElementById("summary-table");
  const tensorTable = document.getElementById("tensor-table");

  function renderSummary(state) {
    const summary = state.model?.run_id === state.run?.id && state.model?.summary ? state.model.summary : state.run?.modelInfo?.summary;
    if (!summary) {
      summaryTable.dataset.totalParameters = "";
      summaryTable.innerHTML = `<caption class="placeholder">${t("summary.waiting")}</caption>`;
      return;
    }
    const shape = (dims) => (dims ? `(${dims.join(", ")})` : "–");
    const rows = summary.layers.map((layer) => `
      <tr class="${layer.parameters ? "" : "muted-row"}">
        <td class="num">${layer.index}</td>
        <td><code>${layer.type}</code></td>
        <td class="num">${layer.in} → ${layer.out}</td>
        <td class="mono">${shape(layer.weight_shape)}</td>
        <td class="mono">${shape(layer.bias_shape)}</td>
        <td class="num">${formatInteger(layer.parameters)}</td>
      </tr>`).join("");
    summaryTable.dataset.totalParameters = String(summary.total_parameters);
    summaryTable.dataset.layers = String(summary.layers.filter((layer) => layer.type === "Linear").length);
    summaryTable.innerHTML = `
      <thead><tr>
        <th class="num">#</th><th>${t("summary.layer")}</th><th class="num">${t("summary.in_out")}</th>
        <th>${t("summary.weight_shape")}</th><th>${t("summary.bias_shape")}</th><th class="num">${t("summary.parameters")}</th>
      </tr></thead>
      <tbody>${rows}</tbody>
      <tfoot><tr><th colspan="5">${t("summary.total")}</th><td class="num total">${formatInteger(summary.total_parameters)}</td></tr></tfoot>`;
  }

  function renderTensors(state) {
    const model = state.model?.run_id === state.run?.id ? state.model : null;
    if (!model) {
      tensorTable.innerHTML = `<caption class="placeholder">${t("summary.waiting")}</caption>`;
      return;
    }
    const rows = model.tensors.map((tensor) => `
      <tr>
        <td class="mono">${tensor.name}</td>
        <td class="mono">(${tensor.shape.join(", ")})</td>
        <td class="mono">${String(tensor.dtype).replace("torch.", "")}</td>
        <td class="mono">${tensor.device}</td>
        <td class="num">${formatFixed(tensor.mean, 3)}</td>
        <td class="num">${formatFixed(tensor.std, 3)}</td>
        <td class="num">${formatFixed(tensor.min, 3)}</td>
        <td class="num">${formatFixed(tensor.max, 3)}</td>
        <td class="spread">${spread(tensor)}</td>
        <td class="num">${tensor.grad_norm === null || tensor.grad_norm === undefined ? "–" : formatFixed(tensor.grad_norm, 3)}</td>
      </tr>`).join("");
    const step = model.step === null || model.step === undefined ? "" : t("tensors.step", { step: formatInteger(model.step) });
    tensorTable.innerHTML = `
      <caption>${step}</caption>
      <thead><tr>
        <th>${t("tensors.name")}</th><th>${t("tensors.shape")}</th><th>dtype</th><th>${t("tensors.device")}</th>
        <th class="num">${t("tensors.mean")}</th><th class="num">${t("tensors.std")}</th>
        <th class="num">${t("tensors.min")}</th><th class="num">${t("tensors.max")}</th>
        <th>${t("tensors.spread")}</th><th class="num">${t("tensors.grad_norm")}</th>
      </tr></thead>
      <tbody>${rows}</tbody>`;
  }

  const render = (state) => {
    renderSummary(state);
    renderTensors(state);
  };
  store.on(["run", "model", "view"], render);
  render(store.state);
}

/** min…max as a bar around 0, the mean as a tick: where the values of a tensor sit. */
function spread(tensor) {
  const reach = Math.max(Math.abs(tensor.min), Math.abs(tensor.max), 1e-9);
  const x = (v) => (40 + (38 * v) / reach).toFixed(1);
  return `<svg viewBox="0 0 80 12" class="spread-bar" aria-hidden="true">
    <line x1="40" y1="1" x2="40" y2="11" class="axis" />
    ${tensor.min < 0 ? `<line x1="${x(tensor.min)}" y1="6" x2="${x(Math.min(tensor.max, 0))}" y2="6" stroke="${ORANGE}" stroke-width="4" />` : ""}
    ${tensor.max > 0 ? `<line x1="${x(Math.max(tensor.min, 0))}" y1="6" x2="${x(tensor.max)}" y2="6" stroke="${BLUE}" stroke-width="4" />` : ""}
    <line x1="${x(tensor.mean)}" y1="1" x2="${x(tensor.mean)}" y2="11" class="mean" />
  </svg>`;
}
