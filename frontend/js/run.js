// The run's life on the page: create (primed: paused at step 0, shown as idle, so the network
// and its boundary are there before play), play, pause, step, reset, restart on a new
// configuration (cancelling the old run), live rates and pace, weights set by hand; its stream
// feeds the store.

import { api, ApiError, readsSettled } from "./api.js";
import { decodeGrid } from "./grid-codec.js";
import { changedKeys, LIVE_KEYS, specFromState } from "./state.js";
import { RunStream } from "./stream.js";

export const FINAL_STATUSES = new Set(["done", "diverged", "failed", "cancelled", "interrupted"]);

/**
 * Whether the run's weights can be read (/model, /predict, /forward...) without a refusal: its
 * worker has built it (it said so in a frame), and it has not lost them; an ended run, if it
 * kept them.
 */
export function canRead(run) {
  if (!run?.built) return false;
  if (FINAL_STATUSES.has(run.status)) return Boolean(run.hasWeights);
  return run.status === "running" || run.status === "paused";
}

/** Whether a learner may set the run's weights by hand now: paused, with weights to set. */
export function canSetWeights(run) {
  return canRead(run) && run.status === "paused" && !run.playing;
}

/** What the page calls the run's state: a primed run that has not moved is idle. */
export function displayStatus(run) {
  if (!run) return "idle";
  if (run.primed && (run.status === "paused" || run.status === "running")) return "idle";
  return run.status;
}

/**
 * A new configuration in `store`: rates go to the run as it trains, anything else starts a new
 * run (at once when `immediately()`, e.g. following a link); nothing while `active()` is false.
 */
export function followConfig(store, run, { immediately = () => false, active = () => true } = {}) {
  let before = store.state.config;
  store.on(["config"], (state) => {
    const changed = changedKeys(before, state.config).filter((key) => key !== "width");
    before = state.config;
    if (!active()) return;
    if (changed.some((key) => !(key in LIVE_KEYS))) run.restartSoon(immediately() ? 0 : 300);
    else if (changed.length) {
      run.setRates(Object.fromEntries(changed.map((key) => [LIVE_KEYS[key], state.config[key]])));
    }
  });
}

export class RunController {
  /**
   * store: the page's store; reportError(error, retry): shows a refusal (and retries it after
   * Retry-After when there is one); clearErrors(): a new run was accepted.
   */
  constructor(store, { reportError, clearErrors, autoplay = () => false }) {
    this.store = store;
    this.reportError = reportError;
    this.clearErrors = clearErrors;
    this.autoplay = autoplay;
    this.current = null; // {id, token, stream}
    this.room = null; // in a teacher's room: {code, token}, the learner's; runs are created there
    this.chain = Promise.resolve();
    this.restartTimer = null;
  }

  // --- what the buttons do -------------------------------------------------------------------

  togglePlay() {
    // A new configuration waiting to start (restartSoon): the press starts it, playing or paused,
    // rather than acting on the old run (which may even end meanwhile).
    if (this.restartTimer !== null) {
      const run = this.store.state.run;
      this.cancelRestart();
      return this.serial(() => this.create(!(run?.playing && !FINAL_STATUSES.has(run.status))));
    }
    return this.serial(async () => {
      const run = this.store.state.run;
      if (this.current && run?.status === "interrupted" && (await this.resumeInterrupted())) {
        return;
      }
      if (!this.current || !run || FINAL_STATUSES.has(run.status)) {
        await this.create(true);
      } else if (run.playing) {
        this.patchRun({ playing: false, primed: false, status: run.status === "queued" ? "queued" : "paused" });
        await this.control("pause");
      } else {
        this.patchRun({ playing: true, primed: false, status: run.status === "queued" ? "queued" : "running" });
        await this.control("resume");
      }
    });
  }

  step() {
    return this.serial(async () => {
      const run = this.store.state.run;
      if (!this.current || !run || FINAL_STATUSES.has(run.status)) await this.create(false);
      const playing = this.store.state.run?.playing;
      this.patchRun({ playing: false, primed: false });
      if (playing) await this.control("pause");
      await this.control("step");
    });
  }

  /** Back to idle with fresh (untrained) weights: the run is deleted and a new one primed. */
  reset() {
    this.cancelRestart();
    return this.serial(() => this.create(this.autoplay()));
  }

  /** A new configuration: start again on it at once (debounced), as running as before. */
  restartSoon(delayMs = 300) {
    this.cancelRestart();
    const restart = () =>
      this.serial(() => {
        const run = this.store.state.run;
        const running = run?.playing && !FINAL_STATUSES.has(run.status);
        return this.create(running || this.autoplay());
      });
    if (delayMs > 0) {
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        restart();
      }, delayMs);
    } else restart(); // queued now, before anything pressed after it
  }

  cancelRestart() {
    clearTimeout(this.restartTimer);
    this.restartTimer = null;
  }

  /**
   * One weight or bias of the paused run, set by hand: {layer, row, column, value} (column null
   * for the bias). Resolves once the server has it; a refusal is thrown for the caller to show.
   */
  async setWeight(edit) {
    const current = this.current;
    if (!current || !canSetWeights(this.store.state.run)) return;
    await api.setWeight(current.id, current.token, edit);
    if (this.current !== current) return;
    this.showWeight(edit);
    this.store.emit("weights-changed", edit);
  }

  /** The model on the page gets the new value at once; the reads that follow confirm it. */
  showWeight({ layer, row, column, value }) {
    const model = this.store.state.model;
    const weights = model?.weights;
    if (!weights?.[layer - 1]) return;
    const edited = weights.map((item, k) => {
      if (k !== layer - 1) return item;
      if (column === null) return { ...item, bias: item.bias.map((b, i) => (i === row ? value : b)) };
      return { ...item, weight: item.weight.map((r, i) => (i === row ? r.map((w, j) => (j === column ? value : w)) : r)) };
    });
    this.store.set({ model: { ...model, weights: edited } });
  }

  /** Learning or regularization rate, or the pace, taken by the run as it trains. */
  setRates(rates) {
    const current = this.current;
    const run = this.store.state.run;
    if (!current || !run || FINAL_STATUSES.has(run.status)) return;
    api.setRates(current.id, current.token, rates).catch((error) => {
      if (error.status !== 409) this.reportError(error);
    });
  }

  /** Whether the run trains (or will, once queued): what play would pause. */
  isPlaying() {
    const run = this.store.state.run;
    return Boolean(run?.playing && !FINAL_STATUSES.has(run.status));
  }

  /** The run is no longer wanted (its view closed): the server forgets it, the store empties. */
  release() {
    this.cancelRestart();
    return this.serial(async () => {
      this.abandon();
      this.current = null;
      this.store.set({ run: null, metrics: null, grid: null, model: null });
    });
  }

  /** The page is closing: let the server forget the run at once. */
  abandon() {
    if (this.current) {
      // A watched run is someone else's: only its stream is closed.
      if (this.current.token) api.deleteRun(this.current.id, this.current.token, { keepalive: true }).catch(() => {});
      this.current.stream.close();
    }
  }

  // --- the steps behind them -------------------------------------------------------------------

  serial(task) {
    this.chain = this.chain.then(task).catch((error) => this.reportError(error));
    return this.chain;
  }

  async create(running) {
    const spec = specFromState(this.store.state);
    let created;
    try {
      created = this.room
        ? await api.createRoomRun(this.room.code, this.room.token, spec, { paused: !running })
        : await api.createRun(spec, { paused: !running });
    } catch (error) {
      const retry = error instanceof ApiError && error.retryAfterS ? () => this.serial(() => this.create(running)) : null;
      this.reportError(error, retry);
      return;
    }
    this.clearErrors();
    const previous = this.current;
    this.current = { id: created.id, token: created.token, stream: null };
    this.store.set({
      run: {
        id: created.id,
        status: created.status,
        primed: !running,
        playing: running,
        queuePosition: created.queue_position,
        error: null,
        modelInfo: created.model_info,
        finalMetrics: null,
        spec: created.spec,
        built: false, // until its worker says it has built the network
        hasWeights: false,
      },
      metrics: null,
      grid: null,
      model: null,
      neurons: null,
      predictions: null,
      roc: null,
      forward: null,
    });
    this.store.emit("run-started", created);
    this.current.stream = new RunStream(created.id, this.streamHandlers(created.id));
    if (previous) {
      previous.stream?.close();
      readsSettled(previous.id).then(() => api.deleteRun(previous.id, previous.token).catch(() => {}));
    }
  }

  /**
   * Watch someone else's run (`doc`: GET /api/runs/{id}): its stream feeds the store as for a run
   * of this page's own, but with no token nothing here can drive it.
   */
  follow(doc) {
    this.current?.stream?.close();
    this.current = { id: doc.id, token: null, stream: null };
    this.store.set({
      run: {
        id: doc.id,
        status: doc.status,
        primed: false,
        playing: doc.status === "running",
        queuePosition: doc.queue_position ?? null,
        error: doc.error ?? null,
        modelInfo: doc.model_info,
        finalMetrics: doc.final_metrics ?? null,
        spec: doc.spec,
        built: false,
        hasWeights: Boolean(doc.has_weights),
      },
    });
    this.current.stream = new RunStream(doc.id, this.streamHandlers(doc.id));
  }

  /** An interrupted run goes on from its last checkpoint, on a stream opened anew; false when
   * the server would not take it back (the caller starts a new run instead). */
  async resumeInterrupted() {
    const current = this.current;
    try {
      await api.control(current.id, current.token, "resume");
    } catch (error) {
      if (error.status === 409) return false;
      throw error;
    }
    this.patchRun({ playing: true, primed: false, status: "queued", error: null, finalMetrics: null });
    current.stream?.close();
    current.stream = new RunStream(current.id, this.streamHandlers(current.id));
    return true;
  }

  async control(action) {
    const current = this.current;
    if (!current) return;
    try {
      await api.control(current.id, current.token, action);
    } catch (error) {
      // 409: the run ended or is still queued meanwhile; its stream tells the page which.
      if (error.status !== 409) throw error;
    }
  }

  patchRun(fields) {
    const run = this.store.state.run;
    if (run) this.store.set({ run: { ...run, ...fields } });
  }

  // --- the stream ------------------------------------------------------------------------------

  streamHandlers(runId) {
    const mine = () => this.current?.id === runId;
    return {
      snapshot: (frame) => {
        if (!mine()) return;
        const run = frame.run;
        this.applyStatus({
          status: run.status,
          queue_position: run.queue_position,
          model_info: run.model_info,
          final_metrics: run.final_metrics,
          error: run.error,
          has_weights: run.has_weights,
          // a run that has reported a point or a grid has been built by its worker
          built: Boolean(frame.history?.length || frame.grid),
        });
        this.store.emit("history", frame.history ?? []);
        const last = frame.history?.[frame.history.length - 1] ?? null;
        const patch = { metrics: last };
        if (frame.grid) patch.grid = decodeGrid(frame.grid);
        this.store.set(patch);
      },
      status: (frame) => {
        if (mine()) this.applyStatus(frame);
      },
      metrics: (frame) => {
        if (!mine() || !frame.points?.length) return;
        this.markBuilt();
        this.store.emit("points", frame.points);
        this.store.set({ metrics: frame.points[frame.points.length - 1] });
      },
      grid: (frame) => {
        if (!mine()) return;
        this.markBuilt();
        this.store.set({ grid: decodeGrid(frame) });
      },
      connection: (state, seconds) => {
        if (!mine()) return;
        this.store.set({ connection: { state, seconds } });
        // The server forgot the run (deleted, or cleaned up): the next play starts a new one.
        if (state === "gone") this.applyStatus({ status: "cancelled" });
      },
    };
  }

  markBuilt() {
    if (this.store.state.run && !this.store.state.run.built) this.patchRun({ built: true });
  }

  applyStatus(frame) {
    const run = this.store.state.run;
    if (!run) return;
    const next = { ...run, status: frame.status ?? run.status };
    if ("queue_position" in frame) next.queuePosition = frame.queue_position;
    if (frame.model_info) next.modelInfo = frame.model_info;
    // The model's description comes from the worker once it has built the network (in a status
    // frame, or in the run of a later snapshot): from then on its weights can be read.
    if (frame.model_info || frame.built) next.built = true;
    if ("has_weights" in frame) next.hasWeights = Boolean(frame.has_weights);
    if (frame.final_metrics) next.finalMetrics = frame.final_metrics;
    if ("error" in frame) next.error = frame.error;
    if (FINAL_STATUSES.has(next.status)) next.playing = false;
    this.store.set({ run: next });
  }
}
