// One point walked through the network with the run's real numbers (POST /forward): the input
// features, then each layer's W·h + b as a matrix–vector product (whole up to 8×8; a larger one
// summarised by the row that matters, the others a click away), the activation applied element
// by element, and the output: a probability (σ, softmax) or a value, and the predicted class.
// Hovering (or focusing) a number lights its neuron in the network drawing and its row here.

import { formatFixed } from "./format.js";
import { element } from "./html.js";
import { t } from "./i18n.js";
import { featureLabel, inputLabel, subscript, superscript } from "./notation.js";

const WHOLE = 8; // matrices up to 8×8 are shown whole
const TERMS = 8; // a summarised row shows its largest terms w·h

export function createForwardPass(store) {
  const box = document.getElementById("forward-steps");
  const chosenRows = new Map(); // layer → the row a learner picked in a summarised layer
  let chosenFor = null;

  /** The forward pass of the run on the page, the last one asked (even for an older point). */
  function current(state) {
    const forward = state.forward;
    return forward && forward.runId === state.run?.id ? forward : null;
  }

  function render(state) {
    const forward = current(state);
    box.classList.toggle("stale", Boolean(forward && forward.probe !== state.probe));
    if (!state.probe || !forward) {
      box.replaceChildren(element("p", { class: "placeholder" }, t(state.probe ? "forward.waiting" : "forward.hint")));
      delete box.dataset.probability;
      return;
    }
    if (forward.error) {
      box.replaceChildren(element("p", { class: "field-error", role: "alert" }, forward.error));
      return;
    }
    if (chosenFor !== forward.runId) {
      chosenRows.clear();
      chosenFor = forward.runId;
    }
    // On a plane the inputs are the run's features, written as the network drawing writes them.
    const columns = state.preview?.input_names ?? [];
    const features = state.run?.spec?.features ?? [];
    const names = forward.point && features.length === forward.input.values.length
      ? features.map((feature) => featureLabel(feature, columns))
      : forward.input.names.map(inputLabel);
    const parts = [inputSection(forward, names)];
    forward.layers.forEach((layer, k) => parts.push(layerSection(state, forward, layer, k)));
    parts.push(outputSection(state, forward));
    box.replaceChildren(...parts);
    const last = forward.layers[forward.layers.length - 1];
    if (forward.task === "binary") box.dataset.probability = String(last.output[0]);
    else delete box.dataset.probability;
  }

  // --- the pieces -------------------------------------------------------------------------------

  function inputSection(forward, names) {
    const section = element("div", { class: "fw-input" });
    section.append(element("h4", {}, t("forward.input")));
    const list = element("div", { class: "fw-chips" });
    forward.input.values.forEach((value, j) => {
      const chip = element("span", { class: "fw-chip" });
      chip.append(element("span", { class: "fw-chip-name" }, names[j]), " = ", number(value, { layer: 0, index: j }));
      list.append(chip);
    });
    section.append(list);
    return section;
  }

  function layerSection(state, forward, layer, k) {
    const l = k + 1;
    const isOutput = layer.kind === "output";
    const section = element("div", { class: `fw-layer${isOutput ? " output" : ""}`, "data-layer": l });
    const symbol = activationSymbol(state, layer.activation);
    const title = isOutput
      ? t("forward.output_layer", { activation: symbol || t("forward.identity") })
      : t("forward.hidden_layer", { layer: l, activation: symbol || t("forward.identity") });
    section.append(element("h4", {}, title));
    const inName = l === 1 ? "x" : `h${superscript(l - 1)}`;
    const outName = isOutput ? outputName(forward.task) : `h${superscript(l)}`;
    const rows = layer.weight.length;
    const cols = layer.input.length;
    if (rows <= WHOLE && cols <= WHOLE) section.append(wholeProduct(layer, l, inName, outName, symbol));
    else section.append(summarised(forward, layer, l, outName, symbol));
    return section;
  }

  /** W·h + b = z, then f(z), each a bracketed block of numbers side by side. */
  function wholeProduct(layer, l, inName, outName, symbol) {
    const row = element("div", { class: "fw-product" });
    const matrix = element("div", { class: "fw-matrix" });
    matrix.style.setProperty("--cols", String(layer.input.length));
    layer.weight.forEach((weights, i) => weights.forEach((w, j) => matrix.append(number(w, { layer: l, index: i, from: j }))));
    row.append(
      block(`W${superscript(l)}`, matrix),
      operator("·"),
      block(inName, vector(layer.input, l - 1)),
      operator("+"),
      block(`b${superscript(l)}`, vector(layer.bias, l)),
      operator("="),
      block(`z${superscript(l)}`, vector(layer.pre_activation, l)),
      operator(symbol ? `${symbol} →` : "→"),
      block(outName, vector(layer.output, l)),
    );
    return row;
  }

  /** A large layer: the row that matters written out, z and the output as lists to pick from. */
  function summarised(forward, layer, l, outName, symbol) {
    const wrap = element("div", { class: "fw-summary" });
    const picked = chosenRows.get(l);
    const row = picked !== undefined && picked < layer.weight.length ? picked : rowThatMatters(forward, layer);
    const weights = layer.weight[row];
    const shape = `${layer.weight.length}×${layer.input.length}`;
    const neuron = layer.kind === "output" ? outputNeuronName(forward, row) : `h${superscript(l)}${subscript(row + 1)}`;
    wrap.append(element("p", { class: "hint" }, t("forward.summary", { name: `W${superscript(l)}`, shape, neuron })));
    // z_i = Σ w_ij·h_j + b_i, its largest terms first.
    const order = weights.map((_, j) => j).sort((a, b) => Math.abs(weights[b] * layer.input[b]) - Math.abs(weights[a] * layer.input[a]));
    const shown = order.slice(0, TERMS).sort((a, b) => a - b);
    const sum = element("div", { class: "fw-sum" });
    sum.append(element("span", { class: "fw-name" }, `z${superscript(l)}${subscript(row + 1)} =`));
    shown.forEach((j, n) => {
      if (n > 0) sum.append(operator("+"));
      const term = element("span", { class: "fw-term" });
      term.append(number(weights[j], { layer: l, index: row, from: j }), "·", number(layer.input[j], { layer: l - 1, index: j }));
      sum.append(term);
    });
    if (shown.length < weights.length) sum.append(operator("+"), element("span", { class: "fw-more" }, t("forward.more_terms", { count: weights.length - shown.length })));
    sum.append(operator("+"), number(layer.bias[row], { layer: l, index: row }), operator("="), number(layer.pre_activation[row], { layer: l, index: row }));
    sum.append(operator(symbol ? `${symbol} →` : "→"), number(layer.output[row], { layer: l, index: row }));
    wrap.append(sum);
    // Every neuron's z and output, each a button that writes out its own row.
    for (const [name, values] of [[`z${superscript(l)}`, layer.pre_activation], [outName, layer.output]]) {
      const list = element("div", { class: "fw-pick", role: "group", "aria-label": name });
      list.append(element("span", { class: "fw-name" }, name));
      values.forEach((value, i) => {
        const button = number(value, { layer: l, index: i }, "button");
        button.type = "button";
        button.classList.toggle("chosen", i === row);
        button.setAttribute("aria-pressed", String(i === row));
        button.addEventListener("click", () => {
          chosenRows.set(l, i);
          render(store.state);
          box.querySelector(`.fw-pick button[data-layer="${l}"][data-index="${i}"]`)?.focus(); // drawn anew
        });
        list.append(button);
      });
      wrap.append(list);
    }
    return wrap;
  }

  function outputSection(state, forward) {
    const section = element("div", { class: "fw-result" });
    const last = forward.layers[forward.layers.length - 1];
    const classes = forward.class_names ?? [];
    if (forward.task === "binary") {
      const p = last.output[0];
      const predicted = p >= state.threshold ? 1 : 0;
      const line = element("p", { class: "fw-answer" });
      line.append(t("forward.probability", { name: classes[1] ?? 1 }), " = σ(z) = ", strong(formatFixed(p, 4), "forward-probability", p));
      section.append(line, element("p", { class: "fw-class" }, t("forward.predicted_binary", { name: classes[predicted] ?? predicted, threshold: formatFixed(state.threshold, 2) })));
    } else if (forward.task === "multiclass") {
      const list = element("div", { class: "fw-chips" });
      last.output.forEach((p, c) => {
        const chip = element("span", { class: `fw-chip${c === forward.predicted_class ? " chosen" : ""}` });
        chip.append(element("span", { class: "fw-chip-name" }, `p(${classes[c] ?? c})`), " = ", number(p, { layer: forward.layers.length, index: c }, "span", 3));
        list.append(chip);
      });
      section.append(list, element("p", { class: "fw-class" }, t("forward.predicted", { name: classes[forward.predicted_class] ?? forward.predicted_class })));
    } else {
      const line = element("p", { class: "fw-answer" });
      line.append("ŷ = ", strong(formatFixed(last.output[0], 4), "forward-value", last.output[0]));
      section.append(line);
    }
    return section;
  }

  // --- small builders ----------------------------------------------------------------------------

  function number(value, target, tag = "span", digits = 2) {
    const cell = element(tag, { class: "fw-num", "data-layer": target.layer, "data-index": target.index, title: String(value) }, formatFixed(value, digits));
    if (target.from !== undefined) cell.dataset.from = String(target.from);
    if (value < 0) cell.classList.add("negative");
    return cell;
  }

  function vector(values, layer) {
    const column = element("div", { class: "fw-vector" });
    values.forEach((value, i) => column.append(number(value, { layer, index: i })));
    return column;
  }

  function block(name, body) {
    const wrap = element("div", { class: "fw-block" });
    wrap.append(element("span", { class: "fw-name" }, name), body);
    return wrap;
  }

  function operator(text) {
    return element("span", { class: "fw-op", "aria-hidden": "true" }, text);
  }

  /** The answer, with its full value for whoever reads it exactly (a test, a screen reader's title). */
  function strong(text, id, value) {
    return element("strong", { id, "data-value": String(value), title: String(value) }, text);
  }

  function activationSymbol(state, activation) {
    const output = { sigmoid: "σ", softmax: "softmax", identity: "" };
    if (activation in (state.info.choices.activation_symbols ?? {})) return state.info.choices.activation_symbols[activation];
    return output[activation] ?? activation;
  }

  function outputName(task) {
    return task === "regression" ? "ŷ" : "p";
  }

  function outputNeuronName(forward, row) {
    return forward.task === "multiclass" ? `z(${forward.class_names?.[row] ?? row})` : "z";
  }

  /** The row that decides: the predicted class's at the output, else the most active neuron's. */
  function rowThatMatters(forward, layer) {
    if (layer.kind === "output" && forward.predicted_class !== null && forward.predicted_class !== undefined) {
      return forward.task === "multiclass" ? forward.predicted_class : 0;
    }
    let best = 0;
    layer.output.forEach((value, i) => {
      if (Math.abs(value) > Math.abs(layer.output[best])) best = i;
    });
    return best;
  }

  // --- hovering a number ------------------------------------------------------------------------

  function light(cell) {
    for (const lit of box.querySelectorAll(".fw-num.lit")) lit.classList.remove("lit");
    if (!cell) {
      store.emit("highlight", null);
      return;
    }
    const { layer, index, from } = cell.dataset;
    const target = { layer: Number(layer), index: Number(index) };
    if (from !== undefined) target.from = Number(from);
    // The neuron's row through the panel: its weights, bias, sum and output, and where it feeds on.
    for (const other of box.querySelectorAll(`.fw-num[data-layer="${layer}"][data-index="${index}"]`)) other.classList.add("lit");
    if (from !== undefined) {
      for (const other of box.querySelectorAll(`.fw-num[data-layer="${target.layer - 1}"][data-index="${from}"]`)) other.classList.add("lit");
    }
    store.emit("highlight", target);
  }
  box.addEventListener("mouseover", (event) => light(event.target.closest(".fw-num")));
  box.addEventListener("mouseleave", () => light(null));
  box.addEventListener("focusin", (event) => light(event.target.closest(".fw-num")));
  box.addEventListener("focusout", () => light(null));

  store.on(["forward", "probe", "threshold", "view", "run"], render);
  render(store.state);
}
