"""The scheduler: admits runs, queues them fairly, hands them to workers and keeps their record.

Everything here runs on the server's event loop: the executor's events are handed over with
`call_soon_threadsafe`, so run state is only ever changed from one thread. Its parts live beside
it: admission (per-client limits), tokens, retention, hand_weights (a weight set by hand on a
parked run) and its reads (reads.py). What stays here, the queue, the controls and the workers'
events, changes one state machine of live runs (each `LiveRun`'s queued → submitted → parked…
flags): one module, a little over 500 lines, rather than one state machine in three files.
"""

import asyncio
import collections
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from layerlab.config import Settings
from layerlab.core.spec import RunSpec, admitted_spec
from layerlab.core.training import FINAL_STATUSES
from layerlab.engine.admission import Admission, AdmissionError
from layerlab.engine.executor import CHECKPOINT, LOST, PARKED, Executor
from layerlab.engine.hand_weights import (
    WeightAddress,
    frames_from,
    rewrite_parked_weight,
    stored_value,
)
from layerlab.engine.hub import Hub
from layerlab.engine.reads import (
    CALL_TIMEOUT_S,
    ControlError,
    LiveRun,
    SchedulerReads,
    public_run,
)
from layerlab.engine.retention import delete_expired
from layerlab.engine.store import DatabaseDamaged, RunRecord, Store
from layerlab.engine.tokens import new_token

logger = logging.getLogger("layerlab.scheduler")

INTERRUPTED_ERROR = (
    "The server stopped while this run was under way (training, paused or waiting its turn). "
    "Resume it to go on from its last checkpoint, or start it again."
)


class Scheduler(SchedulerReads):
    """Admits runs, queues them fairly, hands them to the executor's workers and records what
    the workers report; its reads (SchedulerReads) are what the API answers from."""

    def __init__(self, settings: Settings, store: Store, hub: Hub, executor: Executor) -> None:
        super().__init__(settings, store, hub, executor)
        self.admission = Admission(settings)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._janitor: asyncio.Task[None] | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        interrupted = self.store.mark_interrupted(INTERRUPTED_ERROR, time.time())
        if interrupted:
            logger.warning("%d runs were active when the server last stopped", len(interrupted))
        self.executor.start(self._from_worker_thread)
        self._janitor = asyncio.create_task(self._clean_up_forever())

    async def stop(self) -> None:
        if self._janitor is not None:
            self._janitor.cancel()
        await asyncio.to_thread(self.executor.stop)
        self.store.mark_interrupted(INTERRUPTED_ERROR, time.time())
        for run_id in list(self.live):
            self.hub.publish_status(run_id, {"status": "interrupted", "error": INTERRUPTED_ERROR})
            self.hub.discard(run_id)
        self.live.clear()
        self.queue.clear()

    # --- creating runs ------------------------------------------------------------------------

    def create_run(
        self, spec: RunSpec, client: str, csv_text: str | None = None, paused: bool = False
    ) -> tuple[dict[str, Any], str]:
        """Admit, record and queue a run; returns its public view and its owner token."""
        token, token_hash = new_token()
        return self.create_owned_run(spec, client, token_hash, csv_text, paused), token

    def create_owned_run(
        self,
        spec: RunSpec,
        client: str,
        token_hash: str,
        csv_text: str | None = None,
        paused: bool = False,
    ) -> dict[str, Any]:
        """Admit, record and queue a run whose owner token someone holds already (a room's
        learner: its hash); returns its public view."""
        active = self._active_runs(client)
        self.admission.admit_run(client, active, len(self.queue), self.executor.free_slots())
        run_id = self._add_run(spec, client, token_hash, csv_text, paused)
        self._dispatch()
        view = self.describe(run_id)
        assert view is not None  # just added: live, or ended at once (and stored)
        return view

    def create_sweep_runs(
        self, specs: list[RunSpec], client: str, token_hash: str, csv_text: str | None
    ) -> list[str]:
        """Admit a sweep's runs together (all or none), record and queue them; their ids. They
        share the sweep's token and do not count against the client's active runs."""
        self.admission.admit_runs(client, len(specs), len(self.queue), self.executor.free_slots())
        ids = [self._add_run(spec, client, token_hash, csv_text, in_sweep=True) for spec in specs]
        self._dispatch()
        return ids

    def _add_run(
        self,
        spec: RunSpec,
        client: str,
        token_hash: str,
        csv_text: str | None,
        paused: bool = False,
        in_sweep: bool = False,
    ) -> str:
        now = time.time()
        record = RunRecord(
            id=secrets.token_hex(8),
            client=client,
            token_hash=token_hash,
            spec=spec.model_dump(mode="json"),
            created_at=now,
        )
        self.store.add_run(record)
        run = LiveRun(record.id, client, record.token_hash, spec, csv_text, now, now, paused)
        run.in_sweep = in_sweep
        self.live[run.id] = run
        self.queue.append(run)
        self.hub.open(run.id, public_run(record))
        self.activity.run_created()
        self.admission.created(client)
        return run.id

    def _active_runs(self, client: str) -> int:
        """The client's own runs that have not ended; a sweep's are not among them."""
        return sum(1 for run in self.live.values() if run.client == client and not run.in_sweep)

    def admit_upload(self, client: str, size_bytes: int) -> None:
        """Count an upload against the client's hourly quota; AdmissionError (429) beyond it."""
        self.admission.admit_upload(client, size_bytes)

    def _dispatch(self) -> None:
        """Hand queued runs to free workers, the least-served client first, then oldest first;
        paused runs leave their workers when queued runs need their places."""
        while self.queue and self.executor.free_slots() > 0:
            training = collections.Counter(r.client for r in self.live.values() if r.submitted)
            run = min(self.queue, key=lambda r: (training[r.client], r.created_at))
            self.queue.remove(run)
            self._submit(run)
        parking = sum(run.parking for run in self.live.values())
        paused = sorted(
            (
                r
                for r in self.live.values()
                if r.submitted and r.status == "paused" and not r.parking
            ),
            key=lambda r: r.paused_at or 0.0,
        )
        for run in paused[: max(0, len(self.queue) - self.executor.free_slots() - parking)]:
            self._park(run)
        for position, run in enumerate(self.queue, start=1):
            channel = self.hub.channels.get(run.id)
            if channel is not None and channel.run.get("queue_position") != position:
                self.hub.publish_status(run.id, {"status": "queued", "queue_position": position})

    def _submit(self, run: LiveRun) -> None:
        """To a worker, from its checkpoint if it has one, with what was asked meanwhile."""
        run.submitted, run.parked = True, False
        self.hub.update_run(run.id, queue_position=None)
        saved = self.store.load_checkpoint(run.id)  # a run that has one goes on from it
        checkpoint = saved[1] if saved else None
        self.executor.submit(
            run.id, self._spec_to_train(run), run.csv_text, run.start_paused, checkpoint
        )
        if run.pending_rates:  # a checkpoint holds the rates it had: newer ones follow it
            self.executor.control(run.id, "rates", run.pending_rates)
        for _ in range(run.pending_steps):
            self.executor.control(run.id, "step")
        run.pending_rates, run.pending_steps = {}, 0

    def _spec_to_train(self, run: LiveRun) -> RunSpec:
        """The run's spec as a worker trains it: one that trains until paused has no end of its
        own, so the server's LAYERLAB_MAX_EPOCHS is its end."""
        if run.spec.until_paused:
            return run.spec.model_copy(update={"epochs": self.settings.max_epochs})
        return run.spec

    def _park(self, run: LiveRun) -> None:
        """A paused run leaves its worker; its state comes back in a `parked` event."""
        run.parking = True
        if not self.executor.control(run.id, "park"):
            run.parking = False

    def _requeue(self, run: LiveRun, paused: bool) -> None:
        """A parked run asked to move again: back in the queue, to go on from its checkpoint."""
        if run.parking:  # its state is on its way: act once it has come
            run.resume_when_parked = paused
            return
        run.start_paused = paused
        run.status = "queued"
        self.queue.append(run)
        self.store.update_run(run.id, status="queued")
        self.hub.publish_status(run.id, {"status": "queued"})
        self._dispatch()

    # --- controlling runs ---------------------------------------------------------------------

    async def control(self, run_id: str, action: str, wait_s: float = 2.0) -> None:
        """pause, resume, step or cancel; returns once the worker has acted (or `wait_s`)."""
        run = self.live.get(run_id)
        if run is None and action == "resume":
            run = self._revive(run_id)
        if run is None:
            status = (self.describe(run_id) or {}).get("status", "gone")
            raise ControlError(f"the run has ended ({status}): there is nothing to {action}")
        if action == "cancel":
            self.stop_run(run, None)
        elif run.parked or run.parking:  # paused, its state in the store: back to a worker
            if action == "pause":
                return
            if action == "step":
                run.pending_steps += 1
            self._requeue(run, paused=action == "step")
        elif not run.submitted:  # queued: remember how it should start
            if action == "step":
                raise ControlError("the run is still queued: it can take a step once it starts")
            run.start_paused = action == "pause"
            return
        elif action == "step" and run.status != "paused":
            raise ControlError(f"the run is {run.status}: pause it before stepping")
        else:
            self.executor.control(run_id, action)
        target = {"pause": "paused", "resume": "running"}.get(action)
        if target is not None:
            await self._await(run, lambda: run.status == target, wait_s)
        elif action == "cancel":
            await self._await(run, lambda: run.id not in self.live, wait_s)

    def _revive(self, run_id: str) -> LiveRun | None:
        """An interrupted run back in the queue, to go on from its last checkpoint (or from
        the start, if it had none). None when the run is not interrupted."""
        record = self.store.get_run(run_id)
        if record is None or record.status != "interrupted":
            return None
        try:
            self.admission.check_active(record.client, self._active_runs(record.client))
            self.admission.check_room(len(self.queue), self.executor.free_slots())
        except AdmissionError as error:
            raise ControlError(f"the run cannot resume now: {error.message}") from None
        spec = admitted_spec(record.spec)
        csv_text = None
        if spec.dataset.source:
            dataset = self.store.get_dataset(spec.dataset.source)
            if dataset is None:
                raise ControlError("the run cannot resume: its uploaded data has been deleted")
            csv_text = dataset[1]
        now = time.time()
        run = LiveRun(record.id, record.client, record.token_hash, spec, csv_text, now, now)
        self.live[run.id] = run
        self.queue.append(run)
        self.store.update_run(run.id, status="queued", error=None, finished_at=None)
        view = public_run(record) | {"status": "queued", "error": None, "finished_at": None}
        # the curve goes on from the checkpoint: points past it were lost with the process
        last_step = self.store.checkpoint_step(run.id) or 0
        history = [point for point in record.history if point["step"] <= last_step]
        self.hub.open(run.id, view, history=history, grid=record.grid)
        self._dispatch()
        return run

    async def _await(self, run: LiveRun, done: Callable[[], bool], timeout_s: float) -> None:
        """Wait (at most `timeout_s`) until a status change makes `done()` true."""
        deadline = time.monotonic() + timeout_s
        while not done() and (remaining := deadline - time.monotonic()) > 0:
            run.status_changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(run.status_changed.wait(), remaining)

    def set_rates(self, run_id: str, rates: dict[str, float | None]) -> None:
        """New learning or regularization rates, or a new pace (`epochs_per_s`, None: none)."""
        run = self.live.get(run_id)
        if run is None:
            raise ControlError("the run has ended: its rates can no longer change")
        if run.submitted:
            self.executor.control(run_id, "rates", rates)
        else:  # sent after its start, since a checkpoint holds the rates it had then
            run.spec = run.spec.model_copy(update=rates)
            run.pending_rates.update(rates)
        channel = self.hub.channels[run_id]
        self.hub.update_run(run_id, rates={**channel.run.get("rates", {}), **rates})
        if "epochs_per_s" in rates:  # no checkpoint holds the pace: the spec does, everywhere
            pace = {"epochs_per_s": rates["epochs_per_s"]}
            run.spec = run.spec.model_copy(update=pace)
            spec = {**channel.run["spec"], **pace}
            self.hub.update_run(run_id, spec=spec)
            self.store.update_run(run_id, spec=spec)

    async def set_weight(self, run_id: str, address: WeightAddress, value: float) -> dict[str, Any]:
        """Set one weight of a paused run by hand: its worker sets it, or for a parked run, its
        stored state is rewritten. Returns {'step', 'value'} as the weights now hold it."""
        run = self.live.get(run_id)
        if run is not None and run.parking:  # its state is on its way to the store: wait for it
            await self._await(run, lambda: not run.parking, CALL_TIMEOUT_S)
        if run is None or run.status != "paused" or run.parking:
            status = run.status if run else (self.describe(run_id) or {}).get("status", "gone")
            raise ControlError(f"the run is {status}: weights are set on a paused run")
        if run.submitted:
            self._weights_asked.pop(run_id, None)  # a read on its way has the weights before
            self.executor.control(run_id, "set_weight", *address, value)
            future = self.executor.call(run_id)  # answered after the command: a worker's order
            try:
                reply = await asyncio.wait_for(asyncio.wrap_future(future), CALL_TIMEOUT_S)
            except asyncio.TimeoutError:
                reply = {"error": "it did not answer in time"}
            if "error" in reply:
                raise ControlError(f"the run's worker could not set it ({reply['error']})")
            step, weights = reply["step"], reply["weights"]
        else:
            rewritten = rewrite_parked_weight(self.store, run_id, address, value)
            if rewritten is None:
                raise ControlError("the run has no saved state to set a weight in")
            step, checkpoint = rewritten
            weights = self.store.load_weights(run_id) or b""
            spec = self._spec_to_train(run)
            frames = await asyncio.to_thread(frames_from, spec, run.csv_text, checkpoint)
            if run.parked and self.live.get(run_id) is run:  # else a worker speaks for it now
                for kind, frame in frames:
                    publish = (
                        self.hub.publish_metrics if kind == "metrics" else self.hub.publish_grid
                    )
                    publish(run_id, frame)
        held = stored_value(weights, address)
        if held != float(np.float32(value)):  # resumed before its worker came to it
            raise ControlError("the run was resumed before the weight was set; pause it first")
        return {"step": step, "value": held}

    def stop_run(self, run: LiveRun, reason: str | None) -> None:
        """Cancel a run: at once while queued, through its worker once it trains."""
        run.stop_reason = reason
        # a parking run has no session left to cancel: it ends here, and its state is ignored
        if run.submitted and not run.parking and self.executor.control(run.id, "cancel"):
            return
        self._finish(run, {"status": "cancelled", "error": reason})

    def delete(self, run_id: str) -> bool:
        """Forget a run at once; one that trains is cancelled, and its last words ignored."""
        run = self.live.get(run_id)
        if run is not None:
            run.deleted = True
            if run.submitted:
                self.executor.control(run.id, "cancel")
            self._finish(run, {"status": "cancelled", "error": "deleted by its owner"})
        return self.store.delete_run(run_id) or run is not None

    # --- events from the workers --------------------------------------------------------------

    def _from_worker_thread(self, run_id: str | None, kind: str, payload: dict[str, Any]) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._on_event, run_id, kind, payload)

    def _on_event(self, run_id: str | None, kind: str, payload: dict[str, Any]) -> None:
        try:
            self._handle_event(run_id, kind, payload)
        except DatabaseDamaged as error:  # the runs train on and are watched; none is stored
            logger.error("run %s: its %s event was not stored: %s", run_id, kind, error)

    def _handle_event(self, run_id: str | None, kind: str, payload: dict[str, Any]) -> None:
        run = self.live.get(run_id or "")
        if run is None:  # it ended here first (deleted, or cancelled while queued)
            if kind in (LOST, PARKED) or (kind == "status" and payload["status"] in FINAL_STATUSES):
                self._dispatch()  # its worker has let go of it only now
            return
        if kind == "metrics":
            self.activity.trained(run.id, int(payload.get("step") or 0))
            self.hub.publish_metrics(run.id, payload)
        elif kind == "grid":
            self.hub.publish_grid(run.id, payload)
        elif kind == "status":
            self._on_status(run, payload)
        elif kind == CHECKPOINT:
            self._save_checkpoint(run, payload)
        elif kind == PARKED:
            self._save_checkpoint(run, payload)
            run.submitted, run.parking, run.parked = False, False, True
            run.status_changed.set()  # a weight set by hand waits for its state to be here
            wanted, run.resume_when_parked = run.resume_when_parked, None
            if wanted is not None:
                self._requeue(run, paused=wanted)
            self._dispatch()
        elif kind == LOST:
            self._finish(run, {"status": "interrupted", "error": self._lost_error(run, payload)})

    def _save_checkpoint(self, run: LiveRun, payload: dict[str, Any]) -> None:
        """The run's state, weights and history so far: what a crash can no longer take."""
        if run.deleted:
            return
        self.store.save_checkpoint(run.id, payload["step"], payload["state"], payload["weights"])
        self.hub.update_run(run.id, has_weights=True)
        channel = self.hub.channels.get(run.id)
        if channel is not None:
            self.store.update_run(run.id, history=channel.history, grid=channel.grid)

    def _lost_error(self, run: LiveRun, payload: dict[str, Any]) -> str:
        others = payload.get("runs_lost", 1) - 1
        with_it = f" and with it {others} other run{'s' * (others != 1)}" if others else ""
        step = self.store.checkpoint_step(run.id)
        then = (
            f"resume it to go on from its checkpoint at step {step}"
            if step is not None
            else "resume it to start it again"
        )
        return f"The process training this run stopped ({payload['reason']}){with_it}: {then}."

    def _on_status(self, run: LiveRun, payload: dict[str, Any]) -> None:
        if payload["status"] in FINAL_STATUSES:
            self._finish(run, payload)
            return
        frame: dict[str, Any] = {"status": payload["status"], "queue_position": None}
        stored: dict[str, Any] = {"status": payload["status"]}
        if "model_info" in payload:  # the worker has built the run
            stored["model_info"] = frame["model_info"] = payload["model_info"]
            if self.hub.channels[run.id].run.get("started_at") is None:  # not a resume
                stored["started_at"] = frame["started_at"] = time.time()
        run.status = payload["status"]
        run.paused_at = time.time() if run.status == "paused" else None
        run.status_changed.set()
        self.hub.publish_status(run.id, frame)
        self.store.update_run(run.id, **stored)  # last: a damaged store leaves the rest done

    def _finish(self, run: LiveRun, payload: dict[str, Any]) -> None:
        """Record the run's end, tell its viewers, free its place for the next in the queue."""
        self.live.pop(run.id, None)
        if run in self.queue:
            self.queue.remove(run)
        status = payload["status"]
        error = payload.get("error") or (run.stop_reason if status == "cancelled" else None)
        final_metrics = payload.get("final_metrics")
        if final_metrics is not None and payload.get("learned"):
            final_metrics = {**final_metrics, "learned": payload["learned"]}
        frame = {
            "status": status,
            "error": error,
            "finished_at": time.time(),
            "final_metrics": final_metrics,
        }
        has_weights = False
        if not run.deleted:
            try:
                has_weights = self._store_end(run, frame, payload)
            except DatabaseDamaged as error:  # its viewers still see it end; its place frees
                logger.error("run %s: its end was not stored: %s", run.id, error)
        frame["has_weights"] = has_weights
        run.status = status
        self.activity.run_finished(run.id, status)
        self.hub.publish_status(run.id, frame)
        self.hub.discard(run.id)
        run.status_changed.set()
        run.ended.set()
        self._dispatch()

    def _store_end(self, run: LiveRun, frame: dict[str, Any], payload: dict[str, Any]) -> bool:
        """Write a run's end; whether it has weights to read."""
        channel = self.hub.channels.get(run.id)
        self.store.update_run(
            run.id,
            **frame,
            history=channel.history if channel else [],
            grid=channel.grid if channel else None,
        )
        if payload.get("weights"):
            self.store.save_weights(run.id, payload["weights"])
        if frame["status"] != "interrupted":  # nothing left to go on from
            self.store.delete_checkpoint(run.id)
        return self.store.has_weights(run.id)

    # --- clean-up -----------------------------------------------------------------------------

    async def _clean_up_forever(self) -> None:
        settings = self.settings
        period_s = max(
            0.5, min(30.0, settings.idle_run_timeout_s / 4, settings.park_paused_after_s / 2)
        )
        while True:
            await asyncio.sleep(period_s)
            try:
                self.clean_up()
            except Exception:  # the janitor must outlive any one bad record
                logger.exception("clean-up failed")

    def clean_up(self, now: float | None = None) -> None:
        """Stop runs nobody watches or polls; delete finished runs and uploads past retention."""
        now = time.time() if now is None else now
        idle_s = self.settings.idle_run_timeout_s
        for run in list(self.live.values()):
            if self.hub.viewers(run.id) == 0 and now - run.last_seen > idle_s:
                self.stop_run(run, f"stopped after {idle_s:g} s with nobody watching or polling it")
            elif (
                run.submitted
                and run.status == "paused"
                and not run.parking
                and now - (run.paused_at or now) >= self.settings.park_paused_after_s
            ):
                self._park(run)
        self.admission.forget_quiet_clients()
        if self.settings.retention_s > 0:
            in_use = {run.spec.dataset.source for run in self.live.values()}
            delete_expired(self.store, now - self.settings.retention_s, in_use)
