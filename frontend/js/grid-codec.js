// Grids as the server encodes them (u8 bytes in base64, value = offset + scale·byte,
// row i = y0 + i·dy from bottom to top) decoded into arrays a heatmap or a canvas draws.

export function decodeBytes(base64) {
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

/**
 * {step, kind, nx, ny, extent, xs, ys, values: Float32Array (ny·nx), classes: Uint8Array|null,
 *  min, max}
 */
export function decodeGrid(frame) {
  const [ny, nx] = frame.shape;
  const bytes = decodeBytes(frame.data);
  const values = new Float32Array(bytes.length);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < bytes.length; i++) {
    const value = frame.offset + frame.scale * bytes[i];
    values[i] = value;
    if (value < min) min = value;
    if (value > max) max = value;
  }
  const [x0, x1, y0, y1] = frame.extent;
  return {
    step: frame.step,
    kind: frame.kind,
    nx,
    ny,
    extent: frame.extent,
    xs: linspace(x0, x1, nx),
    ys: linspace(y0, y1, ny),
    values,
    classes: frame.classes ? decodeBytes(frame.classes) : null,
    min,
    max,
  };
}

export function linspace(start, stop, count) {
  if (count === 1) return [start];
  const step = (stop - start) / (count - 1);
  return Array.from({ length: count }, (_, i) => start + i * step);
}
