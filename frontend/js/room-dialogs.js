// The room's two questions on the playground page, each a modal <dialog>: a learner's code and
// display name (the server's refusal shown beside the field it is about: no such room, a name
// taken or too long, a full room) and, on a server that asks for it, the admin token that opens
// a room. Each resolves with what was accepted, or null when the person closes it.

import { api } from "./api.js";
import { t } from "./i18n.js";

const $ = (id) => document.getElementById(id);

/**
 * Join a room: `code` known (the QR link) or asked for. Resolves with {room, learner:
 * {id, name, token}} once the server has taken the name, or null when closed.
 */
export function askToJoin(code = null) {
  const dialog = $("room-join-dialog");
  const form = $("room-join-form");
  const codeInput = $("room-join-code");
  const nameInput = $("room-join-name");
  const codeError = $("room-join-code-error");
  const nameError = $("room-join-name-error");
  $("room-join-code-field").hidden = Boolean(code);
  $("room-join-room").textContent = code ? t("room.join.into", { code }) : "";
  codeInput.value = code ?? "";
  codeError.textContent = "";
  nameError.textContent = "";
  return new Promise((resolve) => {
    let busy = false;
    const finish = (result) => {
      form.removeEventListener("submit", submit);
      dialog.removeEventListener("close", closed);
      if (dialog.open) dialog.close();
      resolve(result);
    };
    const closed = () => finish(null);
    async function submit(event) {
      event.preventDefault();
      if (busy) return;
      const typed = codeInput.value.trim().toUpperCase();
      const name = nameInput.value;
      codeError.textContent = typed ? "" : t("room.join.code_missing");
      nameError.textContent = name.trim() ? "" : t("room.join.name_missing");
      if (!typed || !name.trim()) return;
      busy = true;
      try {
        const room = await api.room(typed).catch((error) => {
          codeError.textContent = error.status === 404 ? t("room.join.no_room", { code: typed }) : error.message;
          return null;
        });
        if (!room) return;
        try {
          const learner = await api.join(room.code, name);
          finish({ room, learner });
        } catch (error) {
          nameError.textContent = error.message; // taken, too long, a full room: the server's sentence
          nameInput.focus();
        }
      } finally {
        busy = false;
      }
    }
    form.addEventListener("submit", submit);
    dialog.addEventListener("close", closed);
    dialog.showModal();
    (code ? nameInput : codeInput).focus();
  });
}

/**
 * The admin token, asked for after the server refused without one (`refusal`: its sentence);
 * `attempt(token)` tries it and throws the server's refusal, shown beside the field, to ask again.
 * Resolves with what attempt returned, or null when closed.
 */
export function askAdminToken(refusal, attempt) {
  const dialog = $("room-admin-dialog");
  const form = $("room-admin-form");
  const input = $("room-admin-token");
  const error = $("room-admin-error");
  $("room-admin-why").textContent = refusal;
  error.textContent = "";
  input.value = "";
  return new Promise((resolve) => {
    const finish = (result) => {
      form.removeEventListener("submit", submit);
      dialog.removeEventListener("close", closed);
      if (dialog.open) dialog.close();
      resolve(result);
    };
    const closed = () => finish(null);
    async function submit(event) {
      event.preventDefault();
      if (!input.value.trim()) {
        error.textContent = t("room.admin.missing");
        return;
      }
      try {
        finish(await attempt(input.value.trim()));
      } catch (refused) {
        error.textContent = refused.message;
        input.select();
      }
    }
    form.addEventListener("submit", submit);
    dialog.addEventListener("close", closed);
    dialog.showModal();
    input.focus();
  });
}
