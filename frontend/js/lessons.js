// The lessons beside the playground: an index (title, summary, steps, the learner's progress)
// and one lesson's step (its text, its question, its live goal), with previous and next.
// Entering a step applies its playground state as a link to that state would; the address keeps
// lesson= and step=, so a teacher can link any step. Progress stays in this browser.

import { api } from "./api.js";
import { element } from "./html.js";
import { t } from "./i18n.js";
import { createGoalView } from "./lesson-goal-view.js";
import { checkGoal, runFacts, trackHistory } from "./lesson-goals.js";
import { createQuestion } from "./lesson-question.js";
import { lessonParagraphs } from "./lesson-text.js";

const PROGRESS_KEY = "layerlab.lessons";
// The address's keys that are the learner's, not the step's: kept when a step is applied.
const KEPT_KEYS = ["room", "teach", "watch"];
// A link naming a lesson step and nothing of its own (a teacher's): the step's state applies.
const BARE_LINK_KEYS = new Set(["lesson", "step", "lang", "theme", ...KEPT_KEYS]);

let openStep = null; // the panel's, once the page has built it
let waiting = null; // a step asked for before that: [id, step]

/** Open lesson `id` at step `step` (from 1), applying the step's state; a room's setup uses it. */
export function openLessonStep(id, step) {
  if (openStep) return openStep(id, step);
  waiting = [id, step];
  return Promise.resolve();
}

/** The learner's progress per lesson: {step, furthest, answered: [step ids], reached: [step ids]}. */
export function readProgress() {
  try {
    return JSON.parse(localStorage.getItem(PROGRESS_KEY)) ?? {};
  } catch {
    return {};
  }
}

function saveProgress(id, change) {
  const all = readProgress();
  const mine = { step: 1, furthest: 1, answered: [], reached: [], ...all[id] };
  change(mine);
  all[id] = mine;
  try {
    localStorage.setItem(PROGRESS_KEY, JSON.stringify(all));
  } catch {
    // Storage full or turned off: the lesson goes on, unremembered.
  }
}

/**
 * second: the store of the run side by side, which goals read as "b."; pause(): stop the runs
 * training, so that a step starts where a link to its state starts (a run not yet trained).
 */
export function createLessons(store, { second, pause }) {
  const panel = document.getElementById("lesson-panel");
  const opener = document.getElementById("lessons-button");
  const histories = { a: trackHistory(store), b: trackHistory(second) };
  const lessons = new Map(); // "lang/id" → the lesson as /api/lessons/{id} gives it (a promise)
  let indexOpen = false;
  let shown = null; // what the panel shows: {id, step, lang} or {index: lang}
  let goal = null; // the live goal on show: {lessonId, stepId, goal, view}

  function load(id, lang) {
    const key = `${lang}/${id}`;
    if (!lessons.has(key)) {
      const reply = api.lesson(id, lang);
      lessons.set(key, reply);
      reply.catch(() => lessons.delete(key)); // asked again next time
    }
    return lessons.get(key);
  }

  openStep = async (id, number) => {
    const { lang, theme } = store.state.view;
    let lesson;
    try {
      lesson = await load(id, lang);
    } catch (error) {
      shown = null;
      showProblem(error, id);
      return;
    }
    const n = stepNumber(lesson, number);
    const params = new URLSearchParams({ lesson: id, step: String(n) });
    for (const [key, value] of new URLSearchParams(lesson.steps[n - 1].state)) params.set(key, value);
    const address = new URLSearchParams(location.hash.slice(1));
    for (const key of KEPT_KEYS) if (address.has(key)) params.set(key, address.get(key));
    params.set("lang", lang);
    if (theme === "dark") params.set("theme", "dark");
    else params.delete("theme");
    indexOpen = false;
    pause();
    // The page's own path for a link: the same hash twice is no change, so it is told anyway.
    // Settled once the page has taken the link (its listener came first), so that a caller's
    // next write of the address keeps the step.
    const hash = `#${params}`;
    const taken = new Promise((resolve) => addEventListener("hashchange", resolve, { once: true }));
    if (location.hash === hash) dispatchEvent(new HashChangeEvent("hashchange"));
    else location.hash = hash;
    return taken;
  };

  // --- the panel ----------------------------------------------------------------------------

  function setOpen(open) {
    panel.hidden = !open;
    document.body.classList.toggle("lesson-open", open);
    opener.setAttribute("aria-expanded", String(open));
    if (open) {
      const bar = document.querySelector(".topbar");
      document.body.style.setProperty("--topbar-height", `${bar.offsetHeight}px`);
    }
  }

  function close() {
    indexOpen = false;
    if (store.state.lesson) store.set({ lesson: null });
    else render();
  }

  async function render() {
    const choice = store.state.lesson;
    const lang = store.state.view.lang;
    if (!choice && !indexOpen) {
      shown = null;
      goal = null;
      setOpen(false);
      return;
    }
    const want = choice ? { id: choice.id, step: choice.step, lang } : { index: lang };
    if (JSON.stringify(want) === JSON.stringify(shown)) return;
    shown = want;
    setOpen(true);
    try {
      if (choice) {
        const lesson = await load(choice.id, lang);
        if (shown === want) showStep(lesson, stepNumber(lesson, choice.step));
      } else {
        const { lessons: list } = await api.lessons(lang);
        if (shown === want) showIndex(list);
      }
    } catch (error) {
      if (shown === want) showProblem(error, choice?.id);
    }
  }

  /** The lesson or the index could not be had: say why, in the panel. */
  function showProblem(error, id) {
    goal = null;
    setOpen(true);
    const text = error.status === 404 ? t("lesson.missing", { id }) : t("lesson.load_failed", { error: error.message });
    panel.replaceChildren(topBar({ back: Boolean(id) }), element("h2", { id: "lesson-heading" }, t("lesson.index_title")), element("p", { class: "field-error" }, text));
  }

  function topBar({ back }) {
    const bar = element("div", { class: "lesson-top" });
    if (back) {
      const all = element("button", { type: "button", class: "text-button lesson-all" }, `← ${t("lesson.all")}`);
      all.addEventListener("click", () => {
        indexOpen = true;
        if (store.state.lesson) store.set({ lesson: null });
      });
      bar.append(all);
    }
    const shut = element("button", { type: "button", class: "round-button small lesson-close", title: t("lesson.close"), "aria-label": t("lesson.close") }, "×");
    shut.addEventListener("click", close);
    bar.append(shut);
    return bar;
  }

  function showIndex(list) {
    goal = null;
    const progress = readProgress();
    const items = [...list].sort((a, b) => a.order - b.order).map((lesson) => {
      const mine = progress[lesson.id];
      const button = element("button", { type: "button", class: "lesson-card", "data-lesson": lesson.id });
      const where = mine ? t("lesson.at_step", { step: mine.step, count: lesson.steps }) : t("lesson.not_started");
      button.append(
        element("strong", { class: "lesson-card-title" }, lesson.title),
        element("span", { class: "lesson-card-summary" }, lesson.summary),
        element("span", { class: "lesson-card-meta" }, `${t("lesson.steps", { count: lesson.steps })} · ${where}`),
      );
      const bar = element("progress", { max: lesson.steps, value: Math.min(mine?.furthest ?? 0, lesson.steps), "aria-label": t("lesson.progress_of", { title: lesson.title }) });
      button.addEventListener("click", () => openStep(lesson.id, mine?.step ?? 1));
      const item = element("li");
      item.append(button, bar);
      return item;
    });
    const index = element("ol", { class: "lesson-index" });
    index.append(...items);
    panel.replaceChildren(topBar({ back: false }), element("h2", { id: "lesson-heading" }, t("lesson.index_title")), element("p", { class: "hint" }, t("lesson.index_hint")), index);
  }

  function showStep(lesson, n) {
    const step = lesson.steps[n - 1];
    const count = lesson.steps.length;
    saveProgress(lesson.id, (mine) => {
      mine.step = n;
      mine.furthest = Math.max(mine.furthest, n);
    });
    const progress = readProgress()[lesson.id];
    const title = element("h3", { class: "lesson-step-title", tabindex: "-1" }, step.title);
    const text = element("div", { class: "lesson-text" });
    text.append(...lessonParagraphs(step.text));
    const parts = [
      topBar({ back: true }),
      element("h2", { id: "lesson-heading" }, lesson.title),
      element("p", { class: "lesson-count" }, t("lesson.step_of", { step: n, count })),
      element("progress", { class: "lesson-progress", max: count, value: n, "aria-label": t("lesson.progress_label") }),
      title,
      text,
    ];
    if (step.question) {
      const answered = progress.answered.includes(step.id);
      const onRight = () => saveProgress(lesson.id, (mine) => {
        if (!mine.answered.includes(step.id)) mine.answered.push(step.id);
      });
      parts.push(createQuestion(step.question, step.id, { answered, onRight }));
    }
    goal = null;
    if (step.goal) {
      const view = createGoalView(step.goal, step.id, { reachedBefore: progress.reached.includes(step.id) });
      goal = { lessonId: lesson.id, stepId: step.id, goal: step.goal, view };
      parts.push(view.section);
    }
    parts.push(stepNav(lesson, n));
    panel.replaceChildren(...parts);
    panel.dataset.lesson = lesson.id;
    panel.dataset.step = String(n);
    if (panel.contains(document.activeElement)) title.focus({ preventScroll: true });
    panel.scrollTop = 0;
    updateGoal();
  }

  function stepNav(lesson, n) {
    const nav = element("nav", { class: "lesson-nav", "aria-label": t("lesson.steps_nav") });
    const previous = element("button", { type: "button", class: "text-button lesson-previous" }, `← ${t("lesson.previous")}`);
    previous.disabled = n === 1;
    previous.addEventListener("click", () => openStep(lesson.id, n - 1));
    const last = n === lesson.steps.length;
    const next = element("button", { type: "button", class: "text-button primary lesson-next" }, last ? t("lesson.finish") : `${t("lesson.next")} →`);
    next.addEventListener("click", () => {
      if (!last) return openStep(lesson.id, n + 1);
      indexOpen = true;
      store.set({ lesson: null });
    });
    nav.append(previous, next);
    return nav;
  }

  // --- the live goal, read as the runs stream ------------------------------------------------

  function updateGoal() {
    if (!goal) return;
    const facts = { a: runFacts(store.state, histories.a()), b: runFacts(second.state, histories.b()) };
    const check = checkGoal(goal.goal, facts);
    const { lessonId, stepId } = goal;
    if (!goal.view.show(check, { a: store.state.run, b: second.state.run })) return;
    saveProgress(lessonId, (mine) => {
      if (!mine.reached.includes(stepId)) mine.reached.push(stepId);
    });
  }

  // --- what changes it ------------------------------------------------------------------------

  opener.addEventListener("click", () => {
    if (indexOpen && !store.state.lesson) return close();
    indexOpen = true;
    if (store.state.lesson) store.set({ lesson: null });
    else render();
  });
  store.on(["lesson", "view"], () => render());
  store.on(["metrics", "run", "model", "config"], updateGoal);
  second.on(["metrics", "run", "model", "config"], updateGoal);
  addEventListener("resize", () => {
    if (!panel.hidden) setOpen(true);
  });

  // A teacher's link names only the step: its state applies. A link the page wrote has it already.
  const address = new URLSearchParams(location.hash.slice(1));
  const lesson = store.state.lesson;
  if (lesson && [...address.keys()].every((key) => BARE_LINK_KEYS.has(key))) openStep(lesson.id, lesson.step);
  else render();
  if (waiting) openStep(...waiting);
  waiting = null;
}

/** A step's number within the lesson: from 1 to its count. */
function stepNumber(lesson, step) {
  return Math.min(Math.max(1, Math.round(Number(step)) || 1), lesson.steps.length);
}
