// The teacher's controls on the wall: freeze and resume every run, the challenge (a metric goal
// and its constraints), the controls learners may not change, the playground at the room's setup
// (to edit it and send it back), the results table, and closing the room. Every change is a
// PATCH with the teacher's token; a refusal is shown beside the form it is about.

import { api } from "./api.js";
import { element } from "./html.js";
import { t } from "./i18n.js";
import { CHALLENGE_METRICS, higherIsBetter, LOCKABLE, specToConfig } from "./room-setup.js";
import { defaultView } from "./state.js";
import { writeHash } from "./url-hash.js";

const $ = (id) => document.getElementById(id);

/** Accuracy targets are typed in percent (95), sent as a share (0.95). */
const toPercent = (metric, value) => (higherIsBetter(metric) ? Math.round(value * 1000) / 10 : value);
const fromPercent = (metric, value) => (higherIsBetter(metric) ? value / 100 : value);

export function createTeacherControls({ code, token, onChange, onClosed }) {
  let room = null;

  async function patch(body, errorId) {
    $(errorId).textContent = "";
    try {
      const doc = await api.patchRoom(code, token, body);
      onChange(doc);
      return true;
    } catch (error) {
      $(errorId).textContent = error.message;
      return false;
    }
  }

  // --- freeze -------------------------------------------------------------------------------
  $("wall-freeze").addEventListener("click", () => patch({ frozen: !room.frozen }, "wall-freeze-error"));

  // --- the challenge ------------------------------------------------------------------------------
  $("challenge-metric").addEventListener("change", () => renderTargetLabel());
  $("challenge-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const metric = $("challenge-metric").value;
    const target = Number($("challenge-target").value);
    if ($("challenge-target").value.trim() === "" || !Number.isFinite(target)) {
      $("challenge-error").textContent = t("wall.challenge.target_missing");
      return;
    }
    const maxParameters = $("challenge-max-parameters").value.trim();
    const challenge = {
      metric,
      target: fromPercent(metric, target),
      max_parameters: maxParameters === "" ? null : Number(maxParameters),
      max_hidden_layers: $("challenge-no-hidden").checked ? 0 : null,
    };
    patch({ challenge }, "challenge-error");
  });
  $("challenge-clear").addEventListener("click", () => patch({ challenge: null }, "challenge-error"));

  function renderTargetLabel() {
    const metric = $("challenge-metric").value;
    $("challenge-target-label").textContent = t(higherIsBetter(metric) ? "wall.challenge.target_percent" : "wall.challenge.target");
  }

  // --- the locks ------------------------------------------------------------------------------
  $("locks-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const locked = [...document.querySelectorAll('input[name="lock"]:checked')].map((box) => box.value);
    patch({ setup: { ...room.setup, locked } }, "locks-error");
  });

  // --- results and closing ------------------------------------------------------------------------
  $("wall-results").addEventListener("click", async () => {
    $("wall-results-error").textContent = "";
    try {
      const blob = await api.results(code, token);
      const link = element("a", { href: URL.createObjectURL(blob), download: `layerlab-room-${code}-results.csv` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    } catch (error) {
      $("wall-results-error").textContent = error.message;
    }
  });
  $("wall-close").addEventListener("click", () => $("wall-close-dialog").showModal());
  $("wall-close-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api.deleteRoom(code, token);
      $("wall-close-dialog").close();
      onClosed();
    } catch (error) {
      $("wall-close-error").textContent = error.message;
    }
  });

  /** Draw the controls from the room's document; the forms only when the room's version moved
   * on, so that a teacher's half-typed challenge is not overwritten by each frame. */
  function render(doc, { force = false } = {}) {
    const fresh = force || !room || doc.version !== room.version;
    room = doc;
    const freeze = $("wall-freeze");
    freeze.setAttribute("aria-pressed", String(doc.frozen));
    freeze.textContent = t(doc.frozen ? "wall.resume" : "wall.freeze");
    if (!fresh) return;
    const metricSelect = $("challenge-metric");
    const chosen = doc.challenge?.metric ?? metricSelect.value ?? "test_acc";
    metricSelect.replaceChildren(...CHALLENGE_METRICS.map((metric) => new Option(t(`room.metric.${metric}`), metric)));
    metricSelect.value = chosen || "test_acc";
    if (doc.challenge) {
      $("challenge-target").value = String(toPercent(doc.challenge.metric, doc.challenge.target));
      $("challenge-max-parameters").value = doc.challenge.max_parameters ?? "";
      $("challenge-no-hidden").checked = doc.challenge.max_hidden_layers === 0;
    }
    renderTargetLabel();
    const boxes = LOCKABLE.map((name) => {
      const label = element("label", { class: "check lock-check" });
      const box = element("input", { type: "checkbox", name: "lock", value: name });
      box.checked = doc.setup.locked.includes(name);
      label.append(box, " ", element("span", {}, t(`wall.lock.${name}`)));
      return label;
    });
    $("locks-boxes").replaceChildren(...boxes);
    const config = specToConfig(doc.setup.spec);
    // Every control shown: the teacher may change what learners may not.
    const view = { ...defaultView(), lang: document.documentElement.lang };
    $("wall-playground").href = `/${writeHash(config, view, undefined, { teach: doc.code, lesson: doc.setup.lesson })}`;
  }

  return { render };
}
