"""A worker's running sessions trained in stacks, with their frames sent at the frame rates.

Running sessions whose runs can share a stack (`stack_key`) train as one `TrainerStack`; a
session that pauses, is cancelled, fails or finishes leaves its stack, and its Trainer holds its
run's exact state again. Every round, each stack trains the same number of steps, so every
running run advances at the same pace whatever stack it sits in (a run with a pace of its own
takes the steps its pace allows, and sits out the rest); a round lasts about `round_s`. Frames
cost time that training then lacks, so when evaluating the runs would take more than its share
of the worker, frames come less often than the caps.
"""

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from layerlab.core.grids import Grid
from layerlab.core.stacked.trainer_stack import StackKey, TrainerStack, stack_key
from layerlab.core.training import RunStatus
from layerlab.engine.session import INTERNAL_ERROR, TrainingSession
from layerlab.engine.worker_profile import WorkerProfile

logger = logging.getLogger("layerlab.workers")

METRICS_SHARE = 0.15  # of the worker's time, at most, for metric frames (when above the cap)
GRID_SHARE = 0.35  # and for decision-boundary grids
SMOOTHING = 0.2  # weight of the newest measurement in the running cost estimates


@dataclass
class _Stack:
    stack: TrainerStack
    owners: dict[int, TrainingSession] = field(default_factory=dict)  # id(trainer) -> session
    step_s: float = 1e-3  # running estimate of one step's duration for the whole stack
    metrics_s: float = 0.0  # and of one evaluation, one grid pass
    grid_s: float = 0.0
    next_metrics: float = 0.0
    next_grid: float = 0.0
    steps: int = 0  # steps since the last metrics frame, and the time they took
    steps_s: float = 0.0


class StackedSessions:
    """Running sessions by stack; the worker calls `sync` and `train_round` in turn."""

    def __init__(
        self,
        metrics_interval_s: float,
        grid_interval_s: float,
        round_s: float,
        cuda_graphs: bool = False,
    ) -> None:
        """`cuda_graphs`: each stack's step a CUDA graph's replay (on a GPU; see graph.py)."""
        self.metrics_interval_s = metrics_interval_s
        self.grid_interval_s = grid_interval_s
        self.round_s = round_s
        self.cuda_graphs = cuda_graphs
        self._stacks: dict[StackKey, _Stack] = {}
        self._where: dict[str, StackKey] = {}  # run id -> its stack
        self._sessions: dict[str, TrainingSession] = {}
        self.profile = WorkerProfile()  # training, metrics, grids and frames: where rounds go

    def __len__(self) -> int:
        return len(self._where)

    @staticmethod
    def _members(entry: _Stack) -> list[TrainingSession]:
        """The stack's sessions, in the order of its runs (and of its metric points)."""
        return [entry.owners[id(trainer)] for trainer in entry.stack.trainers]

    # --- membership ---------------------------------------------------------------------------

    def sync(self, sessions: dict[str, TrainingSession]) -> None:
        """Running sessions join a stack; any other member leaves (its Trainer is written back)."""
        leaving = [
            run_id
            for run_id in self._where
            if sessions.get(run_id) is not self._sessions[run_id]
            or self._sessions[run_id].status is not RunStatus.RUNNING
        ]
        self.release(*leaving)
        joining: dict[StackKey, list[tuple[str, TrainingSession]]] = {}
        for run_id, session in sessions.items():
            if session.status is RunStatus.RUNNING and run_id not in self._where:
                joining.setdefault(stack_key(session.trainer), []).append((run_id, session))
        for key, group in joining.items():
            with self._failing(key, [run_id for run_id, _ in group], "joining a stack"):
                trainers = [session.trainer for _, session in group]
                entry = self._stacks.get(key)
                if entry is None:
                    entry = self._stacks[key] = _Stack(
                        TrainerStack(trainers, graphed=self.cuda_graphs)
                    )
                else:
                    entry.stack.join(trainers)
                for run_id, session in group:
                    self._where[run_id], self._sessions[run_id] = key, session
                    entry.owners[id(session.trainer)] = session

    def release(self, *run_ids: str) -> None:
        """These runs leave their stacks; their Trainers hold their state again."""
        by_stack: dict[StackKey, list[str]] = {}
        for run_id in run_ids:
            if run_id in self._where:
                by_stack.setdefault(self._where[run_id], []).append(run_id)
        for key, ids in by_stack.items():
            with self._failing(key, ids, "leaving a stack"):
                self._stacks[key].stack.leave([self._sessions[run_id].trainer for run_id in ids])
                self._forget(key, ids)

    def _forget(self, key: StackKey, run_ids: list[str]) -> None:
        """No longer track these runs; a stack left empty goes."""
        entry = self._stacks[key]
        for run_id in run_ids:
            del entry.owners[id(self._sessions.pop(run_id).trainer)], self._where[run_id]
        if not entry.owners:
            del self._stacks[key]

    @contextlib.contextmanager
    def _failing(self, key: StackKey, run_ids: list[str], doing: str) -> Iterator[None]:
        """If the block raises, these runs fail with a sentence (the error goes to the log), and
        leave their stack without writing back; the worker and every other run go on. Should
        the stack not let them go, it is dropped whole: a stack that raised may raise again."""
        try:
            yield
        except Exception:
            logger.exception("internal error %s (runs %s)", doing, ", ".join(run_ids))
            for run_id in run_ids:
                if run_id in self._sessions:
                    self._sessions[run_id].fail(INTERNAL_ERROR)
            if key not in self._stacks:
                return
            entry = self._stacks[key]
            stacked = [run_id for run_id in run_ids if self._where.get(run_id) == key]
            try:
                entry.stack.leave([self._sessions[r].trainer for r in stacked], write_back=False)
                self._forget(key, stacked)
            except Exception:
                logger.exception("dropping the whole stack of runs %s", ", ".join(run_ids))
                members = [r for r, k in self._where.items() if k == key]
                for session in self._members(entry):
                    session.fail(INTERNAL_ERROR)
                self._forget(key, members)

    def write_back(self, run_id: str) -> None:
        """A member's Trainer brought up to date (for its weights), the run staying stacked."""
        if run_id in self._where:
            key = self._where[run_id]
            with self._failing(key, [run_id], "reading a stacked run"):
                self._stacks[key].stack.write_back(self._sessions[run_id].trainer)

    def set_rates(self, session: TrainingSession, run_id: str, **rates: float | None) -> None:
        """New rates (learning_rate, regularization_rate) and pace (epochs_per_s, None to lift
        it) from the run's next step; what is not named keeps its value."""
        if "epochs_per_s" in rates:
            session.set_pace(rates["epochs_per_s"])
        learning_rate = rates.get("learning_rate")
        regularization_rate = rates.get("regularization_rate")
        if run_id in self._where:
            key = self._where[run_id]
            with self._failing(key, [run_id], "changing a stacked run's rates"):
                self._stacks[key].stack.set_rates(
                    session.trainer, learning_rate, regularization_rate
                )
        else:
            session.set_rates(learning_rate, regularization_rate)

    # --- training -----------------------------------------------------------------------------

    def train_round(self) -> None:
        """Every stack trains the same number of steps (about `round_s` in all), then reports;
        a paced run takes the steps its pace allows of them, and sits out the rest.

        A stack that raises fails its own runs, which leave it; the other stacks go on.
        """
        if not self._stacks:
            return
        self.profile.rounds += 1
        steps = max(1, int(self.round_s / sum(entry.step_s for entry in self._stacks.values())))
        now = time.monotonic()
        for key, entry in list(self._stacks.items()):
            members = [r for r, k in self._where.items() if k == key]
            with self._failing(key, members, "training a stack"):
                budgets = self._budgets(entry, steps, now)
                if max(budgets) > 0:
                    self._train(entry, budgets)
                self._report(entry)
        self.release(*[run_id for run_id, session in self._sessions.items() if session.finished])

    def _budgets(self, entry: _Stack, steps: int, now: float) -> list[int]:
        """The steps each member takes this round: `steps` (to the end of the first run to end),
        or for a paced run its allowance. A stack of paced runs alone takes no more steps than
        the most any of them may."""
        sessions = self._members(entry)
        allowed = [session.steps_allowed(now) for session in sessions]
        left = [session.trainer.total_steps - session.trainer.step for session in sessions]
        unpaced = [n for n, a in zip(left, allowed, strict=True) if a is None]
        if unpaced:
            steps = min(steps, *unpaced)
        else:
            steps = min(steps, max(min(n, a or 0) for n, a in zip(left, allowed, strict=True)))
        return [
            steps if a is None else min(steps, n, a) for n, a in zip(left, allowed, strict=True)
        ]

    def _train(self, entry: _Stack, budgets: list[int]) -> None:
        steps = max(budgets)
        started = time.perf_counter()
        if min(budgets) == steps:
            entry.stack.train(steps)
        else:  # paced runs among them sit some out
            entry.stack.train(steps, budgets)
        elapsed = time.perf_counter() - started
        self.profile.add("train", elapsed)
        entry.steps += steps
        entry.steps_s += elapsed
        entry.step_s += SMOOTHING * (elapsed / max(1, steps) - entry.step_s)

    def _report(self, entry: _Stack) -> None:
        """Metrics (and grids) of the stack's runs that moved, when due or when one reaches its
        end (a paced run that sat the time out has nothing new to say)."""
        now = time.perf_counter()
        ending = entry.stack.steps_left == 0
        sessions = self._members(entry)
        if (now < entry.next_metrics and not ending) or all(
            session.trainer.step == session.reported_step for session in sessions
        ):
            return
        stack = entry.stack
        wall_clock = time.monotonic()
        rates = [
            session.paced_samples_per_s(wall_clock)
            if session.pace is not None
            else entry.steps * session.trainer.batch_size / entry.steps_s
            if entry.steps_s
            else 0.0
            for session in sessions
        ]
        entry.steps, entry.steps_s = 0, 0.0
        points = stack.evaluate(rates)
        after_metrics = time.perf_counter()
        entry.metrics_s += SMOOTHING * (after_metrics - now - entry.metrics_s)
        self.profile.add("metrics", after_metrics - now)
        grids: list[Grid | None] = [None] * len(stack)
        if after_metrics >= entry.next_grid or ending:
            grids = stack.grids()
            grid_s = time.perf_counter() - after_metrics
            entry.grid_s += SMOOTHING * (grid_s - entry.grid_s)
            self.profile.add("grids", grid_s)
            entry.next_grid = now + self._interval(self.grid_interval_s, "grid_s", GRID_SHARE)
        metrics_interval_s = self._interval(self.metrics_interval_s, "metrics_s", METRICS_SHARE)
        entry.next_metrics = now + metrics_interval_s
        with self.profile.timing("frames"):  # each frame made and a grid encoded
            for session, point, grid in zip(sessions, points, grids, strict=True):
                if session.trainer.step == session.reported_step:
                    continue
                if session.trainer.finished:  # its final status carries its weights: home
                    stack.write_back(session.trainer)
                session.publish(point, grid)

    def _interval(self, cap_s: float, cost: str, share: float) -> float:
        """The cap, or longer where frames of every stack at the cap would pass their share."""
        total_s = sum(getattr(entry, cost) for entry in self._stacks.values())
        return max(cap_s, total_s / share)
