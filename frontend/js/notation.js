// How the maths reads on the page: feature names (x₁², sin x₂, or a CSV's columns), subscripts,
// and a neuron's formula such as ReLU(0.42·x₁ − 1.3·x₂ + 0.1), with the activation's symbol
// (ReLU, σ) as the server's registry writes it.

import { formatNumber } from "./format.js";

/** How each input feature reads, given how the data's two columns read (x₁ and x₂, or a CSV's names). */
const FEATURE_FORMS = {
  x1: (a) => a,
  x2: (a, b) => b,
  x1_sq: (a) => `${a}²`,
  x2_sq: (a, b) => `${b}²`,
  x1_x2: (a, b) => `${a}·${b}`,
  sin_x1: (a) => `sin ${a}`,
  sin_x2: (a, b) => `sin ${b}`,
};

const SUBSCRIPTS = "₀₁₂₃₄₅₆₇₈₉";
const SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹";

export function subscript(n) {
  return String(n).replace(/\d/g, (d) => SUBSCRIPTS[d]);
}

export function superscript(n) {
  return String(n).replace(/\d/g, (d) => SUPERSCRIPTS[d]);
}

/** The label of an input column: its name, with x1 written x₁. */
export function inputLabel(name) {
  return String(name).replace(/^x(\d+)$/, (whole, n) => `x${subscript(n)}`);
}

/** The label of a feature of 2-D data whose columns are `inputNames`: x₁², or height² on a CSV. */
export function featureLabel(feature, inputNames = ["x1", "x2"]) {
  const [a, b] = inputNames.map(inputLabel);
  return FEATURE_FORMS[feature]?.(a, b) ?? inputLabel(feature);
}

/** The output of neuron i (1-based) of hidden layer l: h¹₃. */
export function hiddenLabel(layer, index) {
  return `h${superscript(layer)}${subscript(index)}`;
}

/**
 * "0.42·x₁ − 1.3·x₂ + 0.1" from weights, their inputs' labels and the bias. Long sums keep
 * their largest terms and say how many they leave out.
 */
export function linearTerm(weights, labels, bias, { maxTerms = 10 } = {}) {
  const order = weights.map((w, i) => i);
  let shown = order;
  if (weights.length > maxTerms) {
    shown = [...order].sort((a, b) => Math.abs(weights[b]) - Math.abs(weights[a])).slice(0, maxTerms).sort((a, b) => a - b);
  }
  const parts = [];
  shown.forEach((i, k) => {
    const w = weights[i];
    const magnitude = formatNumber(Math.abs(w), 2);
    const sign = w < 0 ? "−" : "+";
    parts.push(k === 0 ? `${w < 0 ? "−" : ""}${magnitude}·${labels[i]}` : `${sign} ${magnitude}·${labels[i]}`);
  });
  if (shown.length < weights.length) parts.push(`+ … (${weights.length - shown.length})`);
  const b = formatNumber(Math.abs(bias), 2);
  parts.push(parts.length ? `${bias < 0 ? "−" : "+"} ${b}` : `${bias < 0 ? "−" : ""}${b}`);
  return parts.join(" ");
}

/**
 * f(sum): "tanh(…)", or the bare sum for a linear activation. `symbols` is the server's
 * /api/info choices.activation_symbols: how it writes each activation ("" for linear).
 */
export function applyActivation(activation, sum, symbols) {
  const symbol = symbols?.[activation] ?? activation;
  return symbol ? `${symbol}(${sum})` : sum;
}
