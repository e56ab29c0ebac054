"""Rooms: a teacher's class on one server, built on the scheduler and its store.

A room is a record in the store (its code, setup, challenge, frozen or not), with its learners
and a record of each learner's run (its spec, parameters and latest metrics, so that the
leaderboard and the results outlive the run's own retention and a restart). The runs themselves
are ordinary runs, owned by the learner's token. What a room shows is read in room_reads.py; the
pure rules (codes, names, locks, ranking) are in core/room_rules.py.
"""

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import replace
from typing import Any

from layerlab.core.room_rules import (
    NameRefused,
    display_name,
    lock_problem,
    name_key,
    new_code,
    rates_problem,
)
from layerlab.core.spec import RunSpec
from layerlab.core.training import FINAL_STATUSES
from layerlab.engine.admission import Refused
from layerlab.engine.reads import ControlError, LiveRun
from layerlab.engine.room_reads import RoomReads
from layerlab.engine.scheduler import Scheduler
from layerlab.engine.store import LearnerRecord, RoomRecord, RoomRunRecord
from layerlab.engine.tokens import new_token

logger = logging.getLogger("layerlab.rooms")

FROZEN = "the teacher has frozen the room; wait for them to resume it"
TEND_S = 2.0  # how often open rooms are looked at without a wall: metrics kept, TTL enforced


class RoomRefused(Refused):
    """What a room may not do now: the status code and the sentence to say why."""


class Rooms(RoomReads):
    """Opens, changes and closes rooms; joins learners and creates their runs; its reads
    (RoomReads) are what the routes answer from."""

    def __init__(self, scheduler: Scheduler) -> None:
        super().__init__(scheduler)
        self._freeze_paused: dict[str, set[str]] = {}  # room → runs its freeze paused
        self._tending: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._tending = asyncio.create_task(self._tend_forever())

    async def stop(self) -> None:
        if self._tending is not None:
            self._tending.cancel()

    # --- rooms --------------------------------------------------------------------------------

    def create(
        self,
        title: str | None,
        setup: dict[str, Any],
        challenge: dict[str, Any] | None,
        task: str,
    ) -> tuple[RoomRecord, str]:
        """Open a room; its record and the teacher token."""
        open_rooms, limit = len(self.store.list_rooms()), self.settings.max_rooms
        if open_rooms >= limit:
            raise RoomRefused(
                409,
                f"this server has {open_rooms} open rooms (LAYERLAB_MAX_ROOMS is {limit}); "
                "close one, or wait for one to end",
            )
        code = new_code()
        while self.store.get_room(code) is not None:  # 32⁶ codes: a clash is rare
            code = new_code()
        token, token_hash = new_token()
        now = time.time()
        record = RoomRecord(
            code=code,
            title=title,
            token_hash=token_hash,
            setup=setup,
            challenge=challenge,
            task=task,
            created_at=now,
            expires_at=now + self.settings.room_ttl_s,
        )
        self.store.add_room(record)
        return record, token

    async def update(self, record: RoomRecord, changes: dict[str, Any]) -> RoomRecord:
        """Change the title, setup (with its task), challenge or frozen; what learners' pages
        follow bumps the version."""
        if "challenge" in changes:  # met under the old challenge says nothing of the new one
            for run in self.store.room_runs(record.code):
                if run.met_at is not None:
                    self.store.update_room_run(run.run_id, met_at=None)
        freezing = changes.get("frozen") is True and not record.frozen
        thawing = changes.get("frozen") is False and record.frozen
        if changes:  # stored first: a learner's resume meanwhile meets the room as it will be
            followed = {"setup", "challenge", "frozen"} & set(changes)
            version = record.version + (1 if followed else 0)
            self.store.update_room(record.code, **changes, version=version)
        if freezing:
            await self._freeze(record)
        elif thawing:
            await self._unfreeze(record)
        self._walls.pop(record.code, None)
        updated = self.store.get_room(record.code)
        if updated is None:  # closed while its runs were paused or resumed
            return replace(record, **changes)
        return updated

    async def _freeze(self, record: RoomRecord) -> None:
        """Pause every run of the room that trains or waits to; remember which, for resume."""
        moving = [
            run.id
            for run in self._live_runs(record)
            # start_paused is how a queued run will start; once it runs, its status says it
            if run.status == "running" or (run.status == "queued" and not run.start_paused)
        ]
        self._freeze_paused[record.code] = set(moving)
        await self._control(moving, "pause")

    async def _unfreeze(self, record: RoomRecord) -> None:
        paused = self._freeze_paused.pop(record.code, set())
        live = self.scheduler.live
        await self._control([run_id for run_id in paused if run_id in live], "resume")

    async def _control(self, run_ids: list[str], action: str) -> None:
        async def one(run_id: str) -> None:
            with contextlib.suppress(ControlError):  # it ended meanwhile
                await self.scheduler.control(run_id, action, wait_s=2.0)

        await asyncio.gather(*(one(run_id) for run_id in run_ids))

    def _live_runs(self, record: RoomRecord) -> list[LiveRun]:
        live = self.scheduler.live
        return [live[r.run_id] for r in self.store.room_runs(record.code) if r.run_id in live]

    def close(self, record: RoomRecord, reason: str = "the teacher closed the room") -> None:
        """Stop the learners' runs and forget the room (the runs stay, as ordinary runs)."""
        for live in self._live_runs(record):
            self.scheduler.stop_run(live, reason)
        for run in self.store.room_runs(record.code):
            for cache in (self._written, self._grids, self._ended):
                cache.pop(run.run_id, None)
        for learner in self.store.room_learners(record.code):
            self.seen.pop(learner.id, None)
        self._freeze_paused.pop(record.code, None)
        self._walls.pop(record.code, None)
        self.store.delete_room(record.code)

    # --- learners and their runs --------------------------------------------------------------

    def join(self, record: RoomRecord, raw_name: str) -> tuple[LearnerRecord, str]:
        """A new learner of the room; their record and token. RoomRefused: 422 for a name that
        cannot be one, 409 for a name taken or a full room."""
        try:
            name = display_name(raw_name, self.settings.max_name_chars)
        except NameRefused as refusal:
            raise RoomRefused(422, str(refusal)) from None
        present = [lr for lr in self.store.room_learners(record.code) if lr.left_at is None]
        key = name_key(name)
        if any(learner.name_key == key for learner in present):
            raise RoomRefused(409, f"the name {name!r} is taken in this room; choose another")
        limit = self.settings.max_learners_per_room
        if len(present) >= limit:
            raise RoomRefused(
                409,
                f"the room is full: it has {len(present)} learners "
                f"(LAYERLAB_MAX_LEARNERS_PER_ROOM is {limit})",
            )
        token, token_hash = new_token()
        learner = LearnerRecord(
            id=secrets.token_hex(6),
            room=record.code,
            name=name,
            name_key=key,
            token_hash=token_hash,
            joined_at=time.time(),
        )
        self.store.add_learner(learner)
        self.seen[learner.id] = learner.joined_at
        return learner, token

    def leave(self, record: RoomRecord, learner: LearnerRecord) -> None:
        """The learner leaves: their runs stop; their row stays, for the results."""
        for run in self.store.room_runs(record.code):
            live = self.scheduler.live.get(run.run_id)
            if run.learner_id == learner.id and live is not None:
                self.scheduler.stop_run(live, "its learner left the room")
        self.store.learner_left(learner.id, time.time())
        self.seen.pop(learner.id, None)

    def create_run(
        self,
        record: RoomRecord,
        learner: LearnerRecord,
        spec: RunSpec,
        parameters: int | None,
        csv_text: str | None,
        paused: bool,
    ) -> dict[str, Any]:
        """A learner's run in the room, owned by their token; its public view. RoomRefused
        (404 closed, 409 frozen, 422 a lock broken); AdmissionError as for any run."""
        current = self.store.get_room(record.code)  # the teacher may have acted meanwhile
        if current is None:
            raise RoomRefused(404, f"no open room with code {record.code!r}")
        dumped = self.check_run(current, spec)
        client = f"room:{record.code}:{learner.id}"  # a class behind one address: each its own
        view = self.scheduler.create_owned_run(spec, client, learner.token_hash, csv_text, paused)
        self.store.add_room_run(
            RoomRunRecord(
                run_id=view["id"],
                room=record.code,
                learner_id=learner.id,
                spec=dumped,
                parameters=parameters,
                status=view["status"],
                created_at=view["created_at"],
            )
        )
        self._walls.pop(record.code, None)
        return view

    def check_run(self, record: RoomRecord, spec: RunSpec) -> dict[str, Any]:
        """The spec as the room records it; RoomRefused while frozen (409) or when it breaks a
        lock (422)."""
        if record.frozen:
            raise RoomRefused(409, FROZEN)
        dumped: dict[str, Any] = spec.model_dump(mode="json")
        problem = lock_problem(record.setup["spec"], dumped, record.setup["locked"])
        if problem:
            raise RoomRefused(422, problem)
        return dumped

    def check_control(self, run_id: str, action: str) -> None:
        """RoomRefused (409) for a room's run asked to resume or take a step while its room is
        frozen; any other run, or action, passes."""
        run = self.store.room_run(run_id)
        if run is None or action not in ("resume", "step"):
            return
        record = self.store.get_room(run.room)
        if record is not None and record.frozen:
            raise RoomRefused(409, FROZEN)

    def check_rates(self, run_id: str, changes: dict[str, float | None]) -> None:
        """RoomRefused (422) for rates a room's run may not take: its room locks them."""
        run = self.store.room_run(run_id)
        record = self.store.get_room(run.room) if run is not None else None
        if record is None:
            return
        problem = rates_problem(record.setup["spec"], changes, record.setup["locked"])
        if problem:
            raise RoomRefused(422, problem)

    # --- tending: metrics kept without a wall, rooms past their TTL closed ---------------------

    async def _tend_forever(self) -> None:
        while True:
            await asyncio.sleep(TEND_S)
            try:
                self.tend()
            except Exception:  # the tending must outlive any one bad record
                logger.exception("tending the rooms failed")

    def tend(self, now: float | None = None) -> None:
        """Close the rooms past their TTL; bring the others' records of runs that move up to
        date, unless a wall has just done so."""
        now = time.time() if now is None else now
        for record in self.store.list_rooms():
            if record.expires_at <= now:
                ttl_s = self.settings.room_ttl_s
                self.close(
                    record, f"the room ended {ttl_s:g} s after it opened (LAYERLAB_ROOM_TTL_S)"
                )
                continue
            wall = self._walls.get(record.code)
            if wall is not None and time.monotonic() - wall[0] <= TEND_S:
                continue
            runs = self.store.room_runs(record.code)
            if any(run.status not in FINAL_STATUSES for run in runs):
                self.states(record)
