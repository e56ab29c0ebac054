// A lesson step's question in the panel: multiple choice (radio buttons) or a number, checked at
// once. The right answer earns its why; a wrong one its own why (the choice's, or too low / too
// high) and another try. The prompt is a fieldset's legend, the verdict a live region's text.

import { element } from "./html.js";
import { t } from "./i18n.js";
import { inlineNodes } from "./lesson-text.js";

/**
 * What an answer earns: {kind: "right" | "wrong" | "empty", lead, why}; `answer` is the chosen
 * choice's index (null: none) or the number as typed (a comma or a point as decimal mark).
 */
export function judge(question, answer) {
  if (question.kind === "choice") {
    if (answer === null) return { kind: "empty", lead: t("lesson.choose") };
    const choice = question.choices[answer];
    return { kind: choice.correct ? "right" : "wrong", lead: t(choice.correct ? "lesson.right" : "lesson.wrong"), why: choice.why };
  }
  const typed = String(answer ?? "").trim().replace(",", ".");
  const given = Number(typed);
  if (typed === "" || !Number.isFinite(given)) return { kind: "empty", lead: t("lesson.enter_number") };
  if (Math.abs(given - question.answer) <= (question.tolerance ?? 0)) return { kind: "right", lead: t("lesson.right"), why: question.why };
  const low = given < question.answer;
  return { kind: "wrong", lead: t(low ? "lesson.too_low" : "lesson.too_high"), why: low ? question.low : question.high };
}

/** The question's form; answered: right once before (said so); onRight(): each right answer. */
export function createQuestion(question, stepId, { answered, onRight }) {
  const form = element("form", { class: "lesson-question", novalidate: "" });
  const fieldset = element("fieldset");
  const legend = element("legend");
  legend.append(element("span", { class: "lesson-label" }, t("lesson.question")), ...inlineNodes(question.prompt));
  fieldset.append(legend);
  if (question.kind === "choice") {
    question.choices.forEach((choice, index) => {
      const label = element("label", { class: "lesson-choice" });
      const text = element("span");
      text.append(...inlineNodes(choice.text));
      label.append(element("input", { type: "radio", name: `answer-${stepId}`, value: index }), text);
      fieldset.append(label);
    });
  } else {
    const id = `lesson-answer-${stepId}`;
    const field = element("div", { class: "lesson-number" });
    // Text, not a number field: a Spanish learner writes 0,5, which a number field may refuse.
    field.append(element("label", { for: id }, t("lesson.your_answer")), element("input", { id, name: "answer", type: "text", inputmode: "decimal", autocomplete: "off" }));
    fieldset.append(field);
  }
  fieldset.append(element("button", { type: "submit", class: "text-button primary lesson-check" }, t("lesson.check")));
  const feedback = element("div", { class: "lesson-feedback", role: "status", "aria-live": "polite" });
  if (answered) feedback.append(element("p", { class: "hint" }, t("lesson.answered")));
  form.append(fieldset, feedback);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const picked = form.querySelector("input[type=radio]:checked");
    const answer = question.kind === "choice" ? (picked ? Number(picked.value) : null) : form.elements.answer.value;
    const verdict = judge(question, answer);
    feedback.dataset.verdict = verdict.kind;
    const line = element("p");
    line.append(element("strong", {}, verdict.lead));
    if (verdict.why) line.append(" ", ...inlineNodes(verdict.why));
    if (verdict.kind === "wrong") line.append(" ", t("lesson.try_again"));
    feedback.replaceChildren(line);
    if (verdict.kind === "right") onRight();
  });
  return form;
}
