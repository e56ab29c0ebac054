// One neuron up close: the weights coming into it and its bias, the formula it computes
// (ReLU(0.42·x₁ − 1.3·x₂ + 0.1), σ(w·h + b) for the output) and its output over the plane. On a
// paused run each weight and the bias is a number field: a value typed in is set in the run
// (PATCH /weights), and everything drawn from the weights follows.

import { paintOutput, paintSigned } from "./canvas-map.js";
import { BLUE, ORANGE } from "./colors.js";
import { escapeHtml } from "./html.js";
import { formatFixed } from "./format.js";
import { t } from "./i18n.js";
import { applyActivation, featureLabel, hiddenLabel, inputLabel, linearTerm, subscript } from "./notation.js";
import { canSetWeights, FINAL_STATUSES } from "./run.js";

/** setWeight({layer, row, column, value}): sets it in the run; throws the server's refusal. */
export function createNeuronDetail(store, { setWeight }) {
  const box = document.getElementById("neuron-detail");
  let refusal = null; // the server's last word on a value typed here, until the next one

  function render(state) {
    const selected = state.selected;
    const run = state.run;
    const depth = state.config.hidden.length;
    if (!selected || selected.layer > depth + 1) {
      box.classList.remove("open");
      box.innerHTML = `<p class="hint">${t("neuron.hint")}</p>`;
      return;
    }
    box.classList.add("open");
    const isOutput = selected.layer === depth + 1;
    const task = run?.modelInfo?.task ?? state.preview?.task ?? "binary";
    const layerWeights = state.model?.weights?.[selected.layer - 1];
    const row = layerWeights?.weight?.[selected.index];
    const bias = layerWeights?.bias?.[selected.index];
    const title = isOutput
      ? task === "multiclass"
        ? t("neuron.output_class", { name: state.preview?.class_names?.[selected.index] ?? selected.index })
        : t("neuron.output")
      : t("neuron.title", { layer: selected.layer, index: selected.index + 1 });

    const columns = state.preview?.input_names ?? [];
    const inputs = selected.layer === 1
      ? run?.spec?.features && state.preview?.extent
        ? run.spec.features.map((feature) => featureLabel(feature, columns))
        : columns.map(inputLabel)
      : Array.from({ length: row?.length ?? 0 }, (_, k) => hiddenLabel(selected.layer - 1, k + 1));

    let formula = t("neuron.no_weights");
    if (row && bias !== undefined && inputs.length === row.length) {
      const sum = linearTerm(row, inputs, bias);
      if (!isOutput) formula = `${hiddenLabel(selected.layer, selected.index + 1)} = ${applyActivation(run.spec.activation, sum, state.info.choices.activation_symbols)}`;
      else if (task === "binary") formula = `p = σ(${sum})`;
      else if (task === "multiclass") formula = `z${subscript(selected.index + 1)} = ${sum}\np = softmax(z)${subscript(selected.index + 1)}`;
      else formula = `ŷ = ${sum}`;
    }

    const known = Boolean(row) && inputs.length === row.length;
    const editable = known && canSetWeights(run);
    const largest = Math.max(1e-6, ...(row ?? []).map(Math.abs), Math.abs(bias ?? 0));
    const bar = (label, value, column) => {
      const width = (Math.abs(value) / largest) * 50;
      const number = editable
        ? `<input type="number" step="any" class="weight-input" data-column="${column}" value="${Number(value.toFixed(3))}" aria-label="${escapeHtml(t("neuron.set_weight", { name: label }))}">`
        : `<span class="weight-value">${formatFixed(value, 3)}</span>`;
      return `<div class="weight-row"><span class="weight-name" title="${escapeHtml(label)}">${escapeHtml(label)}</span>
        <span class="weight-bar"><span data-left="${value < 0 ? 50 - width : 50}" data-width="${width}" data-sign="${value < 0 ? "negative" : "positive"}"></span></span>
        ${number}</div>`;
    };
    const weightRows = known ? row.map((w, k) => bar(inputs[k], w, k)).join("") + bar(t("neuron.bias"), bias, "bias") : "";

    // Built once per opening, then filled in: re-rendered while the run trains, the detail keeps
    // the keyboard's focus (on its close button) and the weights' scroll.
    if (!box.querySelector(".detail-head")) {
      box.innerHTML = `
        <div class="detail-head">
          <h3></h3>
          <button type="button" class="detail-close">×</button>
        </div>
        <div class="detail-body">
          <figure class="detail-map"><canvas width="24" height="24"></canvas><figcaption></figcaption></figure>
          <div class="detail-numbers">
            <pre class="formula"></pre>
            <div class="weights" role="group"></div>
            <p class="field-error weight-error" role="alert"></p>
            <p class="hint weight-hint"></p>
          </div>
        </div>`;
      box.querySelector(".detail-close").addEventListener("click", () => store.set({ selected: null }));
    }
    const close = box.querySelector(".detail-close");
    close.title = t("control.close");
    close.setAttribute("aria-label", close.title);
    box.querySelector("h3").textContent = title;
    box.querySelector("figcaption").textContent = t(isOutput ? "neuron.map_output" : "neuron.map");
    box.querySelector(".formula").textContent = formula;
    const weights = box.querySelector(".weights");
    weights.setAttribute("aria-label", t("neuron.weights"));
    // Not while the learner types in one of this neuron's fields: the value would go from under them.
    const shown = `${selected.layer}:${selected.index}:${editable}:${row?.length}`;
    if (!weights.contains(document.activeElement) || weights.dataset.shown !== shown) {
      weights.dataset.shown = shown;
      weights.innerHTML = weightRows;
      for (const fill of weights.querySelectorAll(".weight-bar span")) {
        fill.style.left = `${fill.dataset.left}%`;
        fill.style.width = `${fill.dataset.width}%`;
        fill.style.background = fill.dataset.sign === "negative" ? ORANGE : BLUE;
      }
    }
    weights.tabIndex = !editable && weights.scrollHeight > weights.clientHeight ? 0 : -1; // a long list scrolls by keyboard too
    box.querySelector(".weight-error").textContent = refusal ?? "";
    const hint = !known ? "" : editable ? "neuron.edit_hint" : run && !FINAL_STATUSES.has(run.status) ? "neuron.pause_to_edit" : "";
    box.querySelector(".weight-hint").textContent = hint ? t(hint) : "";
    paintMap(state, box.querySelector("canvas"), selected, isOutput, task);
  }

  function paintMap(state, canvas, selected, isOutput, task) {
    const theme = state.view.theme;
    canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height); // another neuron's map is not this one's
    if (isOutput) {
      if (state.grid) paintOutput(canvas, state.grid, task, theme, { onlyClass: task === "multiclass" ? selected.index : null });
      return;
    }
    const grids = state.neurons?.layers?.[selected.layer - 1]?.neurons;
    const grid = grids?.[selected.index];
    if (!grid) return;
    const range = Math.max(1e-6, ...grids.map((g) => Math.max(Math.abs(g.min), Math.abs(g.max))));
    paintSigned(canvas, grid.values, grid.nx, grid.ny, range, theme);
  }

  // A value typed in (Enter, or leaving the field) goes to the run.
  box.addEventListener("change", async (event) => {
    const input = event.target.closest(".weight-input");
    const selected = store.state.selected;
    if (!input || !selected) return;
    const value = Number(input.value);
    if (input.value.trim() === "" || !Number.isFinite(value)) return;
    const column = input.dataset.column === "bias" ? null : Number(input.dataset.column);
    try {
      await setWeight({ layer: selected.layer, row: selected.index, column, value });
      refusal = null;
    } catch (error) {
      refusal = error.message;
    }
    render(store.state);
  });
  // A link clicked in the drawing: its weight's field, ready to type in.
  store.listen("edit-weight", ({ column }) => {
    const input = box.querySelector(`.weight-input[data-column="${column ?? "bias"}"]`);
    input?.focus();
    input?.select();
  });
  store.on(["selected"], () => {
    refusal = null;
  });

  store.on(["selected", "model", "neurons", "view", "config", "run"], render);
  render(store.state);
  // A neuron chosen (by click or keyboard) brings its detail into view: below the fold on a laptop.
  store.on(["selected"], (state) => {
    if (!state.selected) return;
    const still = matchMedia("(prefers-reduced-motion: reduce)").matches;
    box.scrollIntoView({ block: "nearest", behavior: still ? "auto" : "smooth" });
  });
  store.on(["grid"], (state) => {
    if (state.selected && state.selected.layer === state.config.hidden.length + 1) render(state);
  });
}
