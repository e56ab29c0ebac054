// Colour-blind-safe colours (Okabe–Ito): orange and blue for the two signs and the two classes,
// and a blue–white–orange diverging scale; the centre follows the theme (white or dark).

export const ORANGE = "#E69F00";
export const BLUE = "#0072B2";
/** Okabe–Ito, in the order classes take them (class 0 orange, class 1 blue, ...). */
export const CLASS_COLORS = ["#E69F00", "#0072B2", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442"];

const CENTRE = { light: [247, 247, 244], dark: [30, 34, 44] };

export function hexToRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function mix(a, b, t) {
  return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * t));
}

const css = ([r, g, b]) => `rgb(${r},${g},${b})`;

/** How strongly the heatmap shows its colours: soft enough that the points stand out. */
const TINT = { light: 0.62, dark: 0.6 };

/** Plotly colorscale from orange (0) through the theme's centre (0.5) to blue (1). */
export function divergingScale(theme, tint = TINT[theme]) {
  const centre = CENTRE[theme];
  const low = mix(centre, hexToRgb(ORANGE), tint);
  const high = mix(centre, hexToRgb(BLUE), tint);
  return [
    [0, css(low)],
    [0.25, css(mix(centre, low, 0.6))],
    [0.5, css(centre)],
    [0.75, css(mix(centre, high, 0.6))],
    [1, css(high)],
  ];
}

/**
 * Plotly colorscale for k classes over z in [0, k]: band c goes from the centre colour
 * (confidence 1/k) to class c's tint (confidence 1), so z = c + confidence.
 */
export function classBandScale(k, theme) {
  const centre = CENTRE[theme];
  const stops = [];
  for (let c = 0; c < k; c++) {
    const full = mix(centre, hexToRgb(CLASS_COLORS[c % CLASS_COLORS.length]), TINT[theme]);
    stops.push([c / k, css(mix(centre, full, 0.25))]);
    stops.push([(c + 1) / k - 1e-6, css(full)]);
  }
  stops[stops.length - 1][0] = 1;
  return stops;
}

/** [r, g, b] for t in [-1, 1]: orange below 0, blue above, the theme's centre at 0. */
export function divergingRgb(t, theme) {
  const centre = CENTRE[theme];
  const clamped = Math.max(-1, Math.min(1, t));
  return clamped < 0
    ? mix(centre, hexToRgb(ORANGE), -clamped)
    : mix(centre, hexToRgb(BLUE), clamped);
}

/** [r, g, b] of class c at a confidence in [0, 1]. */
export function classRgb(c, confidence, theme) {
  return mix(CENTRE[theme], hexToRgb(CLASS_COLORS[c % CLASS_COLORS.length]), confidence);
}

/** WCAG's contrast ratio of two [r, g, b] colours (1 to 21). */
function contrast(a, b) {
  const linear = (c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  const luminance = ([r, g, b]) => 0.2126 * linear(r / 255) + 0.7152 * linear(g / 255) + 0.0722 * linear(b / 255);
  const [high, low] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (high + 0.05) / (low + 0.05);
}

/** `hex` at `strength` over the theme's surface, and the text colour (ink or surface) that reads best on it. */
export function tintOnSurface(hex, strength) {
  const surface = hexToRgb(cssVar("--surface"));
  const ink = hexToRgb(cssVar("--ink"));
  const background = mix(surface, hexToRgb(hex), strength);
  const text = contrast(ink, background) >= contrast(surface, background) ? ink : surface;
  return { background: css(background), text: css(text) };
}

/** The page's CSS custom property, e.g. cssVar("--ink"). */
export function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}
