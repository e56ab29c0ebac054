// The point the forward pass walks through the network: typed in (x₁ and x₂, or one number per
// column of a table without a plane), picked among the test points by number, or clicked on the
// boundary plot (boundary-chart.js sets it). It is the store's `probe`: {point: [x1, x2]} or
// {features: [...]}, with `test` the test point's index when it is one.

import { formatInteger } from "./format.js";
import { element } from "./html.js";
import { t } from "./i18n.js";
import { inputLabel } from "./notation.js";

/** A coordinate as its field shows it: four decimals at most. */
const shown = (value) => String(Number(value.toFixed(4)));

export function createProbeForm(store) {
  const form = document.getElementById("forward-form");
  let builtFor = null;

  function build(state) {
    const preview = state.preview;
    const names = preview?.input_names ?? null;
    const key = JSON.stringify([names, state.view.lang, preview?.test?.x?.length ?? 0]);
    if (key === builtFor) return;
    builtFor = key;
    form.replaceChildren();
    if (!names) return;
    const values = element("div", { class: "probe-values" });
    names.forEach((name, k) => {
      const field = element("div", { class: "probe-field" });
      const input = element("input", { id: `probe-${k}`, type: "number", step: "any", class: "probe-input", "data-index": k });
      input.required = true;
      field.append(element("label", { for: input.id, title: inputLabel(name) }, inputLabel(name)), input);
      values.append(field);
    });
    const count = preview.test?.x?.length ?? 0;
    const picker = element("div", { class: "probe-field probe-test" });
    const number = element("input", { id: "probe-test", type: "number", min: 1, max: Math.max(1, count), step: 1, inputmode: "numeric" });
    number.disabled = count === 0;
    picker.append(element("label", { for: "probe-test" }, t("forward.test_point", { count: formatInteger(count) })), number);
    const go = element("button", { type: "submit", class: "text-button" }, t("forward.go"));
    form.append(values, picker, go);
    render(state);
  }

  /** The chosen point's numbers in the inputs (not in one the learner is typing in). */
  function render(state) {
    const probe = state.probe;
    const numbers = probe?.point ?? probe?.features ?? [];
    for (const input of form.querySelectorAll(".probe-input")) {
      if (document.activeElement === input) continue;
      const value = numbers[Number(input.dataset.index)];
      input.value = value === undefined ? "" : shown(value);
    }
    const picker = form.querySelector("#probe-test");
    if (picker && document.activeElement !== picker) picker.value = probe?.test === undefined ? "" : String(probe.test + 1);
  }

  function choose(numbers, test) {
    const onPlane = store.state.preview?.extent !== null;
    const probe = onPlane ? { point: numbers } : { features: numbers };
    if (test !== undefined) probe.test = test;
    store.set({ probe });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const inputs = [...form.querySelectorAll(".probe-input")];
    const numbers = inputs.map((input) => Number(input.value));
    if (inputs.some((input) => input.value.trim() === "") || !numbers.every(Number.isFinite)) {
      form.reportValidity();
      return;
    }
    // The chosen point's numbers as the fields show them (rounded): that point, unrounded.
    const current = store.state.probe?.point ?? store.state.probe?.features ?? [];
    if (inputs.every((input, k) => current[k] !== undefined && input.value === shown(current[k]))) return;
    choose(numbers);
  });
  form.addEventListener("change", (event) => {
    if (event.target.id !== "probe-test") return;
    const test = store.state.preview?.test;
    const k = Number(event.target.value) - 1;
    if (!test?.x?.[k]) return;
    choose(test.x[k].map(Number), k);
  });

  let columns = null;
  store.on(["preview", "view"], (state) => {
    // Other columns: a point of the old data means nothing to the new network.
    const next = JSON.stringify(state.preview?.input_names ?? null);
    if (columns !== null && next !== columns && state.probe) store.set({ probe: null });
    columns = next;
    build(state);
  });
  store.on(["probe"], render);
  build(store.state);
}
