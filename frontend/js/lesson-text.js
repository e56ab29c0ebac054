// A lesson's light markup turned into DOM nodes, never into HTML: a blank line starts a new
// paragraph, `code` is code, **bold** is strong, and everything else (formulas written in
// Unicode included) is text. Lesson files come from teachers: markup in them stays text.

import { element } from "./html.js";

const INLINE = /`([^`]+)`|\*\*(.+?)\*\*/g;

/** The paragraphs of `text` as <p> elements; a single line break inside one is a space. */
export function lessonParagraphs(text) {
  return String(text ?? "")
    .split(/\n\s*\n/)
    .map((paragraph) => paragraph.trim().replace(/\s*\n\s*/g, " "))
    .filter(Boolean)
    .map((paragraph) => {
      const node = element("p");
      node.append(...inlineNodes(paragraph));
      return node;
    });
}

/** One line of lesson text as text nodes, <code> and <strong> elements. */
export function inlineNodes(text) {
  const line = String(text ?? "");
  const nodes = [];
  let at = 0;
  for (const match of line.matchAll(INLINE)) {
    if (match.index > at) nodes.push(document.createTextNode(line.slice(at, match.index)));
    nodes.push(match[1] !== undefined ? element("code", {}, match[1]) : element("strong", {}, match[2]));
    at = match.index + match[0].length;
  }
  if (at < line.length) nodes.push(document.createTextNode(line.slice(at)));
  return nodes;
}
