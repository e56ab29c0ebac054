// Text that came from a person (column names, class labels, file names) on its way into HTML:
// every string built into markup goes through escapeHtml, so that markup in a name stays text.

const ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ENTITIES[c]);
}
