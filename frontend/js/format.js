// Numbers as the page shows them, in its language (Spanish writes 0,5 and 96,7 %): one format
// for each kind of number, so that a value reads the same in the readout, the tables and the
// charts' hover.

import { language } from "./i18n.js";

/** Up to `digits` decimals, scientific when tiny or huge: 0.1234 → "0.123" ("0,123" in Spanish). */
export function formatNumber(value, digits = 3) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (!Number.isFinite(value)) return value > 0 ? "∞" : "−∞";
  const abs = Math.abs(value);
  const options =
    abs !== 0 && (abs < 1e-3 || abs >= 1e5)
      ? { notation: "scientific", maximumSignificantDigits: digits }
      : { maximumFractionDigits: digits, minimumFractionDigits: 0 };
  return new Intl.NumberFormat(language(), options).format(value).replace("-", "−");
}

/** Exactly `digits` decimals, so that a column's numbers line up: 2 → "2.000", −0.0001 → "0.000". */
export function formatFixed(value, digits = 3) {
  if (!Number.isFinite(value) || Math.abs(value) >= 1e5) return formatNumber(value, digits);
  const rounded = Math.abs(value) < 0.5 * 10 ** -digits ? 0 : value; // no "−0.000"
  const options = { maximumFractionDigits: digits, minimumFractionDigits: digits };
  return new Intl.NumberFormat(language(), options).format(rounded).replace("-", "−");
}

/** A loss or an error (RMSE): three decimals wherever it is shown. */
export function formatLoss(value) {
  return formatFixed(value, 3);
}

/** A share with one decimal wherever it is shown: 0.96 → "96.0%" ("96,0 %" in Spanish). */
export function formatPercent(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  const options = { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 };
  return new Intl.NumberFormat(language(), options).format(value);
}

export function formatInteger(value) {
  return new Intl.NumberFormat(language()).format(value);
}

/** Plotly's `separators` (decimal mark, then thousands) in the page's language: ",." in Spanish. */
export function plotlySeparators() {
  const parts = new Intl.NumberFormat(language()).formatToParts(12345.6);
  const mark = (type) => parts.find((part) => part.type === type)?.value ?? "";
  return `${mark("decimal")}${mark("group")}`;
}
