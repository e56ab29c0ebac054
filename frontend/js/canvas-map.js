// Small maps of a function over the plane, painted pixel by pixel on a canvas: the neurons'
// thumbnails, the input features' pictures and the neuron detail's larger view.

import { classRgb, divergingRgb } from "./colors.js";

/** Paint ny×nx cells (row 0 at the bottom) with colorAt(index) → [r, g, b]. */
export function paintCells(canvas, nx, ny, colorAt) {
  if (canvas.width !== nx || canvas.height !== ny) {
    canvas.width = nx;
    canvas.height = ny;
  }
  const context = canvas.getContext("2d");
  const image = context.createImageData(nx, ny);
  for (let i = 0; i < ny; i++) {
    const row = ny - 1 - i; // the canvas's top row is the plane's highest y
    for (let j = 0; j < nx; j++) {
      const [r, g, b] = colorAt(i * nx + j);
      const at = (row * nx + j) * 4;
      image.data[at] = r;
      image.data[at + 1] = g;
      image.data[at + 2] = b;
      image.data[at + 3] = 255;
    }
  }
  context.putImageData(image, 0, 0);
}

/** Signed values around 0, scaled by `range` (|value| = range is full colour). */
export function paintSigned(canvas, values, nx, ny, range, theme) {
  const scale = range > 0 ? 1 / range : 0;
  paintCells(canvas, nx, ny, (k) => divergingRgb(values[k] * scale, theme));
}

/** The run's output grid: probability of class 1, winning class, or predicted value. */
export function paintOutput(canvas, grid, task, theme, { onlyClass = null, valueRange = null } = {}) {
  const { values, classes, nx, ny } = grid;
  if (task === "multiclass" && classes) {
    paintCells(canvas, nx, ny, (k) => {
      if (onlyClass !== null && classes[k] !== onlyClass) return classRgb(onlyClass, 0, theme);
      return classRgb(classes[k], 0.25 + 0.75 * values[k], theme);
    });
  } else if (task === "regression") {
    const [low, high] = valueRange ?? [grid.min, grid.max];
    const range = Math.max(Math.abs(low), Math.abs(high)) || 1;
    paintSigned(canvas, values, nx, ny, range, theme);
  } else {
    paintCells(canvas, nx, ny, (k) => divergingRgb(2 * values[k] - 1, theme));
  }
}

/** A feature (x1, x1², sin x2, ...) over the data's plane, computed here: it has no weights. */
export const FEATURE_FUNCTIONS = {
  x1: (x1) => x1,
  x2: (x1, x2) => x2,
  x1_sq: (x1) => x1 * x1,
  x2_sq: (x1, x2) => x2 * x2,
  x1_x2: (x1, x2) => x1 * x2,
  sin_x1: (x1) => Math.sin(x1),
  sin_x2: (x1, x2) => Math.sin(x2),
};

export function paintFeature(canvas, feature, extent, theme, size = 20) {
  const [x0, x1, y0, y1] = extent;
  const fn = FEATURE_FUNCTIONS[feature];
  const values = new Float32Array(size * size);
  let range = 0;
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      const value = fn(x0 + ((x1 - x0) * j) / (size - 1), y0 + ((y1 - y0) * i) / (size - 1));
      values[i * size + j] = value;
      range = Math.max(range, Math.abs(value));
    }
  }
  paintSigned(canvas, values, size, size, range, theme);
}
