// The capacity sweep: depths × widths on the playground's data, seeds and training settings,
// all trained at once by the server (POST /api/sweeps), followed on /ws/sweeps/{id}; the store
// keeps the chosen lists (sweepChoice) and the sweep's document (sweep), which the charts draw.
// A cell clicked opens its network in the playground.

import { api } from "./api.js";
import { formatInteger } from "./format.js";
import { element } from "./html.js";
import { t } from "./i18n.js";
import { FINAL_STATUSES } from "./run.js";
import { createSweepCharts } from "./sweep-charts.js";
import { defaultSweep, specFromState } from "./state.js";
import { RunStream } from "./stream.js";

const WIDTH_CHOICES = [1, 2, 4, 8, 16, 32, 64, 128, 256];

/** The sweep's cells with a frame's news: every cell of that run (depth 0 rows share one). */
export function withCellFrame(sweep, frame) {
  const cells = sweep.cells.map((cell) =>
    cell.run_id === frame.run_id
      ? { ...cell, status: frame.status ?? cell.status, epoch: frame.epoch ?? cell.epoch, metrics: frame.metrics ?? cell.metrics }
      : cell,
  );
  return { ...sweep, cells };
}

/** Runs a sweep makes: one per cell, but one for the whole depth-0 row. */
export function runCount(depths, widths) {
  const deep = depths.filter((depth) => depth > 0).length;
  return deep * widths.length + (depths.includes(0) ? 1 : 0);
}

export function createSweepView(store, { reportError }) {
  const $ = (id) => document.getElementById(id);
  const card = $("sweep-card");
  const active = () => store.state.view.mode === "sweep";
  let current = null; // {id, token, stream}

  const choice = () => store.state.sweepChoice ?? defaultSweep(store.state.info.limits);

  function chips(container, values, chosen, key, label) {
    container.replaceChildren(...values.map((value) => {
      const input = element("input", { type: "checkbox", value, "data-key": key });
      input.checked = chosen.includes(value);
      const chip = element("label", { class: "chip-choice" });
      chip.append(input, element("span", {}, label(value)));
      return chip;
    }));
  }

  function renderSetup() {
    const limits = store.state.info.limits;
    const { depths, widths } = choice();
    const depthValues = Array.from({ length: limits.max_hidden_layers + 1 }, (_, k) => k);
    chips($("sweep-depths"), depthValues, depths, "depths", String);
    chips($("sweep-widths"), WIDTH_CHOICES.filter((w) => w <= limits.max_width), widths, "widths", String);
    renderStatus();
  }

  function onChoose(event) {
    const input = event.target.closest("input[type=checkbox]");
    if (!input) return;
    const key = input.dataset.key;
    const values = new Set(choice()[key]);
    if (input.checked) values.add(Number(input.value));
    else values.delete(Number(input.value));
    store.set({ sweepChoice: { ...choice(), [key]: [...values].sort((a, b) => a - b) } });
  }
  $("sweep-depths").addEventListener("change", onChoose);
  $("sweep-widths").addEventListener("change", onChoose);

  function renderStatus() {
    const sweep = store.state.sweep;
    const { depths, widths } = choice();
    const runs = runCount(depths, widths);
    const running = sweep?.status === "running";
    $("sweep-start").disabled = !depths.length || !widths.length;
    $("sweep-cancel").disabled = !running || !current;
    const status = $("sweep-status");
    status.dataset.status = sweep?.status ?? "idle";
    if (!sweep) {
      status.textContent = t("sweep.plan", { cells: formatInteger(depths.length * widths.length), runs: formatInteger(runs) });
      return;
    }
    const ended = sweep.cells.filter((cell) => FINAL_STATUSES.has(cell.status)).length;
    status.textContent = t(`sweep.status_${sweep.status}`, { done: formatInteger(ended), cells: formatInteger(sweep.cells.length) });
  }

  async function start() {
    const { depths, widths } = choice();
    const body = { base: specFromState(store.state), depths, widths };
    let created;
    try {
      created = await api.createSweep(body);
    } catch (error) {
      reportError(error);
      return;
    }
    forget();
    current = { id: created.id, token: created.token, stream: null };
    const { token, ...sweep } = created;
    store.set({ sweep });
    current.stream = new RunStream(created.id, handlers(created.id), `/ws/sweeps/${encodeURIComponent(created.id)}`);
  }

  function handlers(id) {
    const mine = () => current?.id === id;
    return {
      snapshot: (frame) => {
        if (mine() && frame.sweep) store.set({ sweep: frame.sweep });
      },
      cell: (frame) => {
        if (mine() && store.state.sweep) store.set({ sweep: withCellFrame(store.state.sweep, frame) });
      },
      status: (frame) => {
        if (mine() && store.state.sweep) store.set({ sweep: { ...store.state.sweep, status: frame.status } });
      },
    };
  }

  async function cancel() {
    if (!current) return;
    try {
      const sweep = await api.cancelSweep(current.id, current.token);
      if (sweep?.cells) store.set({ sweep: { ...sweep, status: sweep.status } });
    } catch (error) {
      if (error.status !== 409) reportError(error);
    }
  }

  /** The previous sweep: the server forgets it (and its runs). */
  function forget({ keepalive = false } = {}) {
    if (!current) return;
    current.stream?.close();
    api.deleteSweep(current.id, current.token, { keepalive }).catch(() => {});
    current = null;
  }

  $("sweep-start").addEventListener("click", start);
  $("sweep-cancel").addEventListener("click", cancel);

  /** A cell's network, opened in the playground (same spec and seeds: the same numbers). */
  function openCell(depth, width) {
    const hidden = Array.from({ length: depth }, () => width);
    store.set({
      config: { ...store.state.config, hidden, width },
      view: { ...store.state.view, mode: "play" },
    });
  }

  createSweepCharts(store, { openCell });

  function render() {
    card.hidden = !active();
    if (active()) renderSetup();
  }
  store.on(["view", "sweepChoice", "info"], render);
  store.on(["sweep"], renderStatus);

  return { render, abandon: () => forget({ keepalive: true }) };
}
