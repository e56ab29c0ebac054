// Text that came from a person (column names, class labels, file names) on its way into HTML:
// every string built into markup goes through escapeHtml, so that markup in a name stays text;
// elements built one by one take their text as text (element()).

const ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/** Text for Plotly, which reads its own tags (<b>, <br>, <a href>) in titles and hover text and
 * decodes &amp;, &lt; and &gt; alone: those three escaped, a name is shown as written. */
export function escapePlotly(text) {
  return String(text).replace(/[&<>]/g, (c) => ENTITIES[c]);
}

/** A new element with these attributes and, as text, `text`. */
export function element(tag, attributes = {}, text = null) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== null) node.textContent = text;
  return node;
}
