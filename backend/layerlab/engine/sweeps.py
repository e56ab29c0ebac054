"""Sweeps: one base spec trained at every (depth, width) of two axes, as ordinary runs.

A sweep is a record in the store (its axes, and for each cell the run that trains it) over runs
the scheduler admits together, all or none. Its status follows from its runs': running until
every one has ended, then done, or cancelled when its owner cancelled it.
"""

import asyncio
import contextlib
import secrets
import time
from typing import Any

from layerlab.core.models import parameter_count
from layerlab.core.spec import RunSpec
from layerlab.core.sweep import cell_metrics, run_count, sweep_runs
from layerlab.core.training import FINAL_STATUSES
from layerlab.engine.admission import Refused
from layerlab.engine.reads import CALL_TIMEOUT_S
from layerlab.engine.scheduler import Scheduler
from layerlab.engine.store import SweepRecord
from layerlab.engine.tokens import new_token, token_matches

ENDED = FINAL_STATUSES | {"deleted"}  # a run deleted on its own has ended too


class SweepRefused(Refused):
    """A sweep that may not be created: 422 (too many runs) or 409 (one is already active)."""


class Sweeps:
    """Creates, reads, cancels and deletes sweeps through the scheduler and its store."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.store = scheduler.store

    def create(
        self,
        base: RunSpec,
        depths: list[int],
        widths: list[int],
        client: str,
        data_shape: tuple[str, int, int],
        csv_text: str | None = None,
    ) -> tuple[dict[str, Any], str]:
        """Admit and queue a sweep's runs; its document and its token. `data_shape` is the
        data's (task, inputs, outputs), for each cell's parameter count."""
        count, limit = run_count(depths, widths), self.scheduler.settings.max_sweep_runs
        if count > limit:
            raise SweepRefused(
                422,
                f"depths × widths makes {count} runs; at most {limit} per sweep "
                "(LAYERLAB_MAX_SWEEP_RUNS)",
            )
        active = self.active_sweep(client)
        if active is not None:
            raise SweepRefused(
                409,
                f"this client already has sweep {active!r} training; cancel it or wait for it "
                "to end (one sweep at a time)",
            )
        runs = sweep_runs(base, depths, widths)
        token, token_hash = new_token()
        run_ids = self.scheduler.create_sweep_runs(
            [run.spec for run in runs], client, token_hash, csv_text
        )
        task, n_inputs, n_outputs = data_shape
        cells: list[dict[str, Any]] = [
            {
                "depth": cell.depth,
                "width": cell.width,
                "hidden_widths": cell.hidden_widths,
                "run_id": run_id,
                "parameters": parameter_count(n_inputs, cell.hidden_widths, n_outputs),
            }
            for run, run_id in zip(runs, run_ids, strict=True)
            for cell in run.cells
        ]
        cells.sort(key=lambda cell: (depths.index(cell["depth"]), widths.index(cell["width"])))
        record = SweepRecord(
            id=secrets.token_hex(8),
            client=client,
            token_hash=token_hash,
            base=base.model_dump(mode="json"),
            task=task,
            depths=list(depths),
            widths=list(widths),
            cells=cells,
            created_at=time.time(),
        )
        self.store.add_sweep(record)
        document = self.describe(record.id)
        assert document is not None
        return document, token

    def active_sweep(self, client: str) -> str | None:
        """The id of the client's sweep that still has a run training, if any."""
        for record in self.store.running_sweeps(client):
            if any(cell["run_id"] in self.scheduler.live for cell in record.cells):
                return record.id
            self.store.end_sweep(record.id, "done", time.time())
        return None

    def describe(self, sweep_id: str) -> dict[str, Any] | None:
        """The sweep's document, its cells as their runs are now (None for an unknown id)."""
        record = self.store.get_sweep(sweep_id)
        if record is None:
            return None
        states = self.run_states(record)
        status = record.status
        if status == "running" and all(s["status"] in ENDED for s in states.values()):
            status = "done"
            self.store.end_sweep(record.id, status, time.time())
        cells: list[dict[str, Any]] = [
            {**cell, **{k: v for k, v in states[cell["run_id"]].items() if k != "run_id"}}
            for cell in record.cells
        ]
        return {
            "id": record.id,
            "status": status,
            "task": record.task,
            "base": record.base,
            "depths": record.depths,
            "widths": record.widths,
            "cells": cells,
            "created_at": record.created_at,
            "links": {"self": f"/api/sweeps/{record.id}", "stream": f"/ws/sweeps/{record.id}"},
        }

    def record(self, sweep_id: str) -> SweepRecord | None:
        return self.store.get_sweep(sweep_id)

    def run_states(
        self, record: SweepRecord, skip: set[str] | frozenset[str] = frozenset()
    ) -> dict[str, dict[str, Any]]:
        """{run_id: {"run_id", "status", "epoch", "metrics"}} of each of its runs not in
        `skip`: the latest point while it trains, its final metrics once it has them."""
        states: dict[str, dict[str, Any]] = {}
        for run_id in self._run_ids(record):
            if run_id in skip:
                continue
            found = self.scheduler.latest(run_id)
            if found is None:  # deleted on its own
                gone = {"run_id": run_id, "status": "deleted", "epoch": None, "metrics": None}
                states[run_id] = gone
                continue
            view, point = found
            source = view.get("final_metrics") or point
            states[run_id] = {
                "run_id": run_id,
                "status": view["status"],
                "epoch": source.get("epoch") if source else None,
                "metrics": cell_metrics(record.task, source),
            }
        return states

    def touch(self, record: SweepRecord) -> None:
        """Someone looks at the sweep: none of its runs is abandoned."""
        for run_id in self._run_ids(record):
            self.scheduler.touch(run_id)

    def owner_matches(self, record: SweepRecord, token: str) -> bool:
        """Whether `token` is the sweep's token or the server's admin token."""
        return token_matches(token, record.token_hash, self.scheduler.settings.admin_token)

    async def cancel(self, record: SweepRecord) -> None:
        """Stop its runs that have not ended; returns once they have (or after a while)."""
        live = [
            run
            for run_id in self._run_ids(record)
            if (run := self.scheduler.live.get(run_id)) is not None
        ]
        for run in live:
            self.scheduler.stop_run(run, "the sweep was cancelled")
        if live and record.status == "running":  # one that has ended stays done
            self.store.end_sweep(record.id, "cancelled", time.time())
        waits = [asyncio.wait_for(run.ended.wait(), CALL_TIMEOUT_S) for run in live]
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.gather(*waits)

    def delete(self, record: SweepRecord) -> None:
        """Forget the sweep and its runs at once (those still training are cancelled)."""
        for run_id in self._run_ids(record):
            self.scheduler.delete(run_id)
        self.store.delete_sweep(record.id)

    @staticmethod
    def _run_ids(record: SweepRecord) -> list[str]:
        return list(dict.fromkeys(cell["run_id"] for cell in record.cells))
