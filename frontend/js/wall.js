// Wiring only, for the wall (/wall.html#room=CODE): the teacher's token saved by the playground
// when the room was opened, the room's stream into the tiles and the leaderboard, a tile's run
// in the spotlight (the playground page watching it, read-only, in a frame), the teacher's
// controls, the language and the theme.

import { api } from "./api.js";
import { loadDictionaries, preferredLanguage, t, translatePage, useLanguage } from "./i18n.js";
import { renderLeaderboard } from "./leaderboard.js";
import { challengeSentence, savedToken } from "./room-setup.js";
import { RoomStream } from "./room-stream.js";
import { element } from "./html.js";
import { createTeacherControls } from "./wall-teacher.js";
import { createTiles } from "./wall-tiles.js";

const $ = (id) => document.getElementById(id);

function readWallHash() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  return {
    code: (params.get("room") ?? "").trim().toUpperCase(),
    lang: params.get("lang"),
    theme: params.get("theme") === "light" ? "light" : "dark", // a projector's wall: dark unless asked
  };
}

async function main() {
  await loadDictionaries();
  const hash = readWallHash();
  const view = { lang: useLanguage(hash.lang ?? preferredLanguage()), theme: hash.theme };
  const { code } = hash;
  const token = code ? savedToken(code, "teacher") : null;
  let room = null;
  let frame = null;

  const applyView = () => {
    useLanguage(view.lang);
    document.documentElement.dataset.theme = view.theme;
    $("wall-lang").value = view.lang;
    $("wall-theme").setAttribute("aria-pressed", String(view.theme === "dark"));
    translatePage();
    document.title = t("wall.title", { code: code || "–" });
    history.replaceState(null, "", `#room=${encodeURIComponent(code)}&lang=${view.lang}${view.theme === "light" ? "&theme=light" : ""}`);
  };
  applyView();

  const fail = (message) => {
    $("wall-message").textContent = message;
    $("wall-message").hidden = false;
  };
  if (!code) return fail(t("wall.no_code"));
  if (!token) return fail(t("wall.no_token", { code }));
  try {
    room = await api.room(code, token);
  } catch (error) {
    return fail(error.status === 404 ? t("room.gone", { code }) : error.message);
  }
  if (room.you?.role !== "teacher") return fail(t("wall.no_token", { code }));

  const tiles = createTiles($("wall-tiles"), { onOpen: (learner) => spotlight(learner) });
  const teacher = createTeacherControls({
    code,
    token,
    onChange: (doc) => {
      room = { ...room, ...doc };
      renderRoom({ forceForms: true });
    },
    onClosed: () => {
      stream.close();
      fail(t("wall.closed", { code }));
      $("wall-main").hidden = true;
    },
  });

  function renderRoom({ forceForms = false } = {}) {
    const joinUrl = new URL(room.links?.join ?? `/#room=${code}`, location.origin).href;
    $("wall-code").textContent = room.code;
    $("wall-url").textContent = joinUrl.replace(/^https?:\/\//, "");
    $("wall-qr").src = room.links?.qr ?? `/api/rooms/${encodeURIComponent(code)}/qr.svg`;
    $("wall-qr").alt = t("wall.qr", { url: joinUrl });
    $("wall-title").textContent = room.title || t("wall.heading");
    $("wall-challenge").textContent = challengeSentence(room.challenge) ?? t("room.no_challenge");
    $("wall-frozen").hidden = !room.frozen;
    $("wall-count").textContent = t("wall.count", { count: room.learners, max: room.max_learners });
    teacher.render(room, { force: forceForms });
  }

  function renderFrame() {
    if (!frame) return;
    const learners = frame.learners ?? [];
    tiles.render(learners, { challenge: room.challenge, theme: view.theme });
    $("wall-empty").hidden = learners.length > 0;
    renderLeaderboard($("wall-board"), { metric: metricOf(room, learners), entries: frame.leaderboard ?? [] });
  }

  function onFrame(next) {
    if (next.type !== "room") return;
    frame = next;
    room = { ...room, ...next.room };
    renderRoom();
    renderFrame();
    document.body.dataset.frames = String(Number(document.body.dataset.frames ?? 0) + 1);
  }

  const stream = new RoomStream(code, token, {
    onFrame,
    onConnection: (state, seconds) => {
      const note = $("wall-connection");
      if (state === "open") note.textContent = "";
      else if (state === "reconnecting") note.textContent = t("status.reconnecting", { seconds });
      else if (state === "gone") fail(t("room.gone", { code }));
      else fail(t("wall.no_token", { code }));
    },
  });

  // --- the spotlight: one learner's run, full size ------------------------------------------------
  const dialog = $("wall-spotlight");
  function spotlight(learner) {
    $("wall-spotlight-title").textContent = learner.name;
    // A new frame each time: a frame whose hash alone changed would not load the run anew.
    const iframe = element("iframe", {
      class: "spotlight-frame",
      title: t("wall.spotlight_frame", { name: learner.name }),
      src: `/#watch=${encodeURIComponent(learner.run_id)}&theme=${view.theme}&lang=${view.lang}`,
    });
    $("wall-spotlight-frame").replaceChildren(iframe);
    dialog.dataset.runId = learner.run_id;
    dialog.showModal();
    $("wall-spotlight-close").focus();
  }
  $("wall-spotlight-close").addEventListener("click", () => dialog.close());
  for (const button of document.querySelectorAll(".dialog-cancel")) {
    button.addEventListener("click", () => button.closest("dialog").close());
  }
  dialog.addEventListener("close", () => $("wall-spotlight-frame").replaceChildren());

  // --- language and theme ----------------------------------------------------------------------
  $("wall-lang").addEventListener("change", (event) => {
    view.lang = event.target.value;
    applyView();
    tiles.invalidate();
    renderRoom({ forceForms: true });
    renderFrame();
  });
  $("wall-theme").addEventListener("click", () => {
    view.theme = view.theme === "dark" ? "light" : "dark";
    applyView();
    tiles.invalidate();
    renderFrame();
  });

  $("wall-main").hidden = false;
  renderRoom({ forceForms: true });
}

/** Without a challenge the board ranks by test accuracy, or by test RMSE for regression. */
function metricOf(room, learners) {
  if (room.challenge) return room.challenge.metric;
  return learners.some((learner) => learner.metrics && "test_rmse" in learner.metrics) ? "test_rmse" : "test_acc";
}

main().catch((error) => {
  console.error(error);
  const message = document.getElementById("wall-message");
  message.hidden = false;
  message.textContent = `LayerLab: ${error.message}`;
});
