// The PyTorch script behind the current configuration (POST /api/code), commented in the page's
// language, with a copy button: pasted into a notebook it trains the same network on the same
// data. On an uploaded CSV, a link downloads the file the script opens.

import { api } from "./api.js";
import { escapeHtml } from "./html.js";
import { language, t } from "./i18n.js";
import { specFromState } from "./state.js";

const PYTHON = /(#[^\n]*)|("""[\s\S]*?"""|'''[\s\S]*?'''|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')|\b(import|from|as|def|class|return|for|in|if|elif|else|with|while|not|and|or|None|True|False|lambda|yield|pass|break|continue|raise|try|except|finally)\b|\b(\d+(?:\.\d+)?(?:e[-+]?\d+)?)\b/g;

export function createCodePanel(store) {
  const pre = document.getElementById("code");
  const copy = document.getElementById("copy-code");
  const download = document.getElementById("download-csv");
  const csvNote = document.getElementById("code-csv-note");
  let script = "";
  let timer = null;
  let asked = null;

  async function load() {
    const spec = specFromState(store.state);
    const lang = language();
    const key = JSON.stringify([spec, lang]);
    if (key === asked) return;
    asked = key;
    pre.classList.add("loading");
    try {
      const reply = await api.code(spec, lang);
      if (asked !== key) return;
      script = reply.script;
      pre.innerHTML = highlight(script);
    } catch (error) {
      if (asked !== key) return;
      script = "";
      const missing = error.status === 404 || error.status === 405;
      pre.textContent = missing ? t("code.unavailable") : t("code.refused", { message: error.message });
    } finally {
      pre.classList.remove("loading");
    }
  }

  copy.addEventListener("click", async () => {
    if (!script) return;
    try {
      await navigator.clipboard.writeText(script);
    } catch {
      const range = document.createRange();
      range.selectNodeContents(pre);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      document.execCommand("copy");
    }
    const label = copy.querySelector("span");
    label.textContent = t("control.copied");
    copy.classList.add("done");
    setTimeout(() => {
      label.textContent = t("control.copy");
      copy.classList.remove("done");
    }, 1500);
  });

  store.on(["config"], () => {
    clearTimeout(timer);
    timer = setTimeout(load, 400);
  });
  store.on(["view"], load); // another language: the script's comments follow it

  function renderDownload(state) {
    const { config } = state;
    const upload = config.dataset === "csv" ? state.uploads.find((item) => item.id === config.source) : null;
    download.hidden = !upload;
    csvNote.hidden = !upload;
    if (!upload) return;
    download.href = api.uploadFileUrl(upload.id);
    csvNote.textContent = t("code.csv_note", { name: upload.name });
  }
  store.on(["config", "uploads", "view"], renderDownload);
  renderDownload(store.state);
  return { load };
}

function highlight(code) {
  let html = "";
  let last = 0;
  for (const match of code.matchAll(PYTHON)) {
    html += escapeHtml(code.slice(last, match.index));
    const kind = match[1] ? "comment" : match[2] ? "string" : match[3] ? "keyword" : "number";
    html += `<span class="tok-${kind}">${escapeHtml(match[0])}</span>`;
    last = match.index + match[0].length;
  }
  return html + escapeHtml(code.slice(last));
}
