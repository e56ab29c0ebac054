// A teacher's room on the playground page. A teacher opens one from the page's setup (the spec,
// and the hidden controls as locks) and goes to its wall; a learner joins by the link
// (#room=CODE) or by typing the code, gets the room's setup with its locked controls hidden,
// trains through the room's runs route, and sees the room bar: the code, their name, the
// challenge, "met!", the leaderboard, leave. The room is read again every 2 s: a new version
// brings a new setup or challenge, or a freeze. With #teach=CODE the room's teacher edits the
// setup here and sends it to the room. A setup may name a lesson step (the one the teacher's page
// has open): the learners' pages open that step beside the room's run.

import { api } from "./api.js";
import { isControlHidden } from "./controls.js";
import { t } from "./i18n.js";
import { openLessonStep } from "./lessons.js";
import { renderLeaderboard } from "./leaderboard.js";
import { askAdminToken, askToJoin } from "./room-dialogs.js";
import { challengeSentence, LOCKABLE, savedToken, saveToken, specToConfig } from "./room-setup.js";
import { defaultConfig, specFromState } from "./state.js";

const POLL_MS = 2000;
const $ = (id) => document.getElementById(id);

/** The controls the page hides now: a room's locks. */
export function hiddenControls(view) {
  return LOCKABLE.filter((name) => isControlHidden(view, name));
}

export function createRoomView(store, run, { reportError }) {
  // {code, role: "learner" | "teacher", token, learner: {id, name} | null, setup, version, frozen}
  let room = null;
  let board = null;
  let pollTimer = null;

  function setView(patch) {
    store.set({ view: { ...store.state.view, ...patch } });
  }

  // --- a learner -----------------------------------------------------------------------------

  /** Into room `code`: with this browser's saved token if the room still knows it, else by name. */
  async function join(code) {
    let doc;
    const token = savedToken(code, "learner");
    try {
      doc = await api.room(code, token);
    } catch (error) {
      if (error.status !== 404) throw error;
      sayAfterNextRun(t("room.gone", { code }));
      return false;
    }
    let learner = doc.you?.role === "learner" ? { id: doc.you.id, name: doc.you.name, token } : null;
    if (!learner) {
      const answer = await askToJoin(doc.code);
      if (!answer) return false;
      learner = answer.learner;
      doc = answer.room;
      saveToken(doc.code, "learner", learner.token);
    }
    await enterAsLearner(doc, learner);
    return true;
  }

  async function enterAsLearner(doc, learner) {
    room = { code: doc.code, role: "learner", token: learner.token, learner: { id: learner.id, name: learner.name }, setup: null, version: null, frozen: false };
    run.room = { code: doc.code, token: learner.token };
    await apply(doc);
    render();
    poll();
  }

  /** The room's document: a new setup becomes the page's configuration and hidden controls. */
  async function apply(doc) {
    if (!room || doc.version === room.version) return;
    const setupChanged = JSON.stringify(doc.setup) !== JSON.stringify(room.setup);
    room = { ...room, version: doc.version, setup: doc.setup, challenge: doc.challenge, frozen: doc.frozen };
    if (setupChanged && room.role === "learner") {
      const source = doc.setup.spec.dataset?.source;
      if (source && !store.state.uploads.some((upload) => upload.id === source)) {
        const upload = await api.uploadInfo(source).catch(() => null);
        if (upload) store.set({ uploads: [...store.state.uploads, upload] });
      }
      // As any new configuration does, the new setup starts a new run.
      store.set({
        config: specToConfig(doc.setup.spec, defaultConfig()),
        view: { ...store.state.view, hide: doc.setup.locked, only: [] },
      });
      const lesson = doc.setup.lesson;
      if (lesson && (store.state.lesson?.id !== lesson.id || store.state.lesson?.step !== lesson.step)) {
        await openLessonStep(lesson.id, lesson.step); // as a link to it would: locks() keeps the room's
        // The room's run, which the teacher may have changed from the step's state.
        store.set({ config: specToConfig(doc.setup.spec, defaultConfig()) });
      }
    }
    render();
  }

  /** A link followed in the room (a lesson's step) shows what the room locks hidden still. */
  function locks() {
    if (room?.role !== "learner") return;
    const hide = [...new Set([...store.state.view.hide, ...room.setup.locked])];
    if (hide.length !== store.state.view.hide.length || store.state.view.only.length) setView({ hide, only: [] });
  }

  function poll() {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(async () => {
      if (!room) return;
      const code = room.code;
      try {
        // The board is a nicety: a refusal of it leaves the room's document to apply.
        const leaderboard = api.leaderboard(code).catch(() => null);
        const doc = await api.room(code, room.token);
        if (room?.code !== code) return;
        if (room.role === "learner" && doc.you?.role !== "learner") {
          leave(t("room.removed", { code }));
          return;
        }
        await apply(doc);
        board = (await leaderboard) ?? board;
        render();
      } catch (error) {
        if (error.status === 404 && room?.code === code) {
          leave(t("room.gone", { code }));
          return;
        }
        // Anything else (the server restarting, a dropped connection): try again next time.
      }
      poll();
    }, POLL_MS);
  }

  /** Back to the plain playground, saying why; a learner's token is forgotten with the room. */
  function leave(message) {
    clearTimeout(pollTimer);
    if (room?.role === "learner") saveToken(room.code, "learner", null);
    room = null;
    board = null;
    run.room = null;
    $("room-board").hidden = true;
    setView({ hide: [], only: [] });
    render();
    sayAfterNextRun(message);
    run.reset();
  }

  async function leaveByChoice() {
    if (!room) return;
    const { code, learner, token } = room;
    try {
      await api.leave(code, learner.id, token);
    } catch (error) {
      if (error.status !== 404) {
        reportError(error);
        return;
      }
    }
    leave(t("room.left", { code }));
  }

  function say(message) {
    reportError(new Error(message));
  }

  // A new run's acceptance clears the page's messages: one about the room waits for it.
  let pendingMessage = null;
  function sayAfterNextRun(message) {
    pendingMessage = message;
  }
  store.listen("run-started", () => {
    if (pendingMessage) say(pendingMessage);
    pendingMessage = null;
  });

  // --- a teacher -----------------------------------------------------------------------------

  /** Open a room with the page's setup, then go to its wall. */
  async function open() {
    const setup = { spec: specFromState(store.state), locked: hiddenControls(store.state.view), lesson: openLesson() };
    const body = { setup, challenge: null };
    let created;
    try {
      created = await api.createRoom(body);
    } catch (error) {
      if (error.status !== 401 && error.status !== 403) {
        reportError(error);
        return;
      }
      created = await askAdminToken(error.message, (token) => api.createRoom(body, token));
      if (!created) return;
    }
    saveToken(created.code, "teacher", created.token);
    const wall = created.links?.wall ?? `/wall.html#room=${encodeURIComponent(created.code)}`;
    location.assign(`${wall}&lang=${store.state.view.lang}`);
  }

  /** #teach=CODE: the room's teacher, here to edit its setup (their token saved by the wall). */
  async function teach(code) {
    const token = savedToken(code, "teacher");
    const doc = token ? await api.room(code, token).catch(() => null) : null;
    if (doc?.you?.role !== "teacher") {
      sayAfterNextRun(t("room.not_teacher", { code }));
      return;
    }
    room = { code: doc.code, role: "teacher", token, learner: null, setup: doc.setup, version: doc.version, challenge: doc.challenge, frozen: doc.frozen };
    render();
  }

  async function sendSetup() {
    // The spec and the lesson step open here: the locks are the wall's to edit.
    const setup = { ...room.setup, spec: specFromState(store.state), lesson: openLesson() };
    try {
      const doc = await api.patchRoom(room.code, room.token, { setup });
      room = { ...room, setup: doc.setup, version: doc.version };
      $("room-bar-sent").textContent = t("room.sent");
    } catch (error) {
      reportError(error);
    }
  }

  /** The lesson step this page has open, for a room's setup; null for none. */
  function openLesson() {
    const lesson = store.state.lesson;
    return lesson ? { id: lesson.id, step: lesson.step } : null;
  }

  // --- the room bar ------------------------------------------------------------------------------

  let frozenShown = false;

  function render() {
    const bar = $("room-bar");
    bar.hidden = !room;
    $("room-buttons").hidden = Boolean(room);
    const frozen = Boolean(room?.frozen && room.role === "learner");
    if (frozen !== frozenShown) {
      $("play").disabled = frozen;
      $("step").disabled = frozen;
      frozenShown = frozen;
    }
    if (!room) return;
    const learner = room.role === "learner";
    $("room-bar-code").textContent = room.code;
    $("room-bar-name").textContent = learner ? room.learner.name : t("room.teacher");
    $("room-bar-challenge").textContent = challengeSentence(room.challenge) ?? t("room.no_challenge");
    const mine = board?.entries.find((entry) => entry.learner_id === room.learner?.id);
    $("room-bar-met").hidden = !mine?.met;
    $("room-bar-frozen").hidden = !frozen;
    $("room-bar-board").hidden = !learner;
    $("room-bar-leave").hidden = !learner;
    $("room-bar-send").hidden = learner;
    if (learner && board) renderLeaderboard($("room-board-table"), board, { mine: room.learner.id });
  }

  $("room-open").addEventListener("click", () => open());
  $("room-join").addEventListener("click", async () => {
    const answer = await askToJoin();
    if (!answer) return;
    saveToken(answer.room.code, "learner", answer.learner.token);
    await enterAsLearner(answer.room, answer.learner);
    run.reset();
  });
  $("room-bar-leave").addEventListener("click", () => leaveByChoice());
  $("room-bar-send").addEventListener("click", () => sendSetup());
  $("room-bar-board").addEventListener("click", (event) => {
    const panel = $("room-board");
    panel.hidden = !panel.hidden;
    event.currentTarget.setAttribute("aria-expanded", String(!panel.hidden));
  });
  for (const button of document.querySelectorAll(".dialog-cancel")) {
    button.addEventListener("click", () => button.closest("dialog").close());
  }
  store.on(["view"], render); // its sentences in the page's language
  store.on(["config", "view"], () => {
    if (room?.role === "teacher") $("room-bar-sent").textContent = "";
  });

  return {
    /** Before the page's first run: join the room or teach it, as the link says. */
    async enter({ room: code, teach: teaching }) {
      if (code) return join(code);
      if (teaching) await teach(teaching);
      return false;
    },
    /** The hash's room keys for the page's current link. */
    hashKeys: () => (room ? { [room.role === "learner" ? "room" : "teach"]: room.code } : {}),
    /** A link with another room pasted into the address bar. */
    async follow(code) {
      if (!code || room?.code === code) return locks(); // still in this room: its locks hold
      if (room?.role === "learner") await leaveByChoice();
      if (await join(code)) run.reset();
    },
  };
}
