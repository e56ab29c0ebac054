"""What the engine has done since it started: runs created and finished, steps trained, and the
recent training rate, counted from the events the scheduler receives (whatever trains the runs).
"""

import collections
import time
from collections.abc import Callable


class Activity:
    """Counters the scheduler feeds and `GET /metrics` reads; all calls from the event loop."""

    def __init__(self, window_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self.clock = clock
        self.started_at = clock()
        self.runs_created = 0
        self.runs_finished: collections.Counter[str] = collections.Counter()  # by final status
        self.steps_total = 0
        self._last_step: dict[str, int] = {}  # each active run's latest reported step
        # (whole second of the clock, steps reported in it), oldest first, within the window
        self._recent: collections.deque[list[int]] = collections.deque()

    def run_created(self) -> None:
        self.runs_created += 1

    def trained(self, run_id: str, step: int) -> None:
        """A metric point of `run_id` at training step `step` (its steps so far, from 0)."""
        new_steps = max(0, step - self._last_step.get(run_id, 0))
        self._last_step[run_id] = max(step, self._last_step.get(run_id, 0))
        if not new_steps:
            return
        self.steps_total += new_steps
        second = int(self.clock())
        if self._recent and self._recent[-1][0] == second:
            self._recent[-1][1] += new_steps
        else:
            self._recent.append([second, new_steps])
        self._forget_old(second)

    def run_finished(self, run_id: str, status: str) -> None:
        self._last_step.pop(run_id, None)
        self.runs_finished[status] += 1

    def steps_per_s(self) -> float:
        """Steps trained per second over the last `window_s` (less just after the start)."""
        now = self.clock()
        self._forget_old(int(now))
        span_s = min(self.window_s, now - self.started_at)
        if span_s <= 0:
            return 0.0
        return sum(steps for _, steps in self._recent) / span_s

    def _forget_old(self, second: int) -> None:
        while self._recent and self._recent[0][0] <= second - self.window_s:
            self._recent.popleft()
