"""A run's pace: at most so many epochs per second of the wall clock, a speed a learner follows.

A paced run never sleeps: at each turn it is told how many steps it may take now (its allowance),
and a run with none sits the turn out while the others train. Steps fall due on ticks of one
clock shared by every run (`floor(now · steps_per_s)`), so runs of one pace get their steps at
the same moments and a stack of them moves together. A worker too busy to keep up does not owe a
paced run more than MAX_LAG_S of steps: it goes on at its pace from where it is.
"""

import math

MAX_LAG_S = 0.25  # steps owed beyond this much time are forgiven, not caught up in a burst


class Pace:
    """`epochs_per_s` epochs per second for a run of `steps_per_epoch` steps per epoch."""

    def __init__(self, epochs_per_s: float, steps_per_epoch: int, now: float, step: int) -> None:
        self.epochs_per_s = epochs_per_s
        self.steps_per_s = epochs_per_s * steps_per_epoch
        self.max_lag = max(1, math.ceil(self.steps_per_s * MAX_LAG_S))
        self.restart(now, step)

    def restart(self, now: float, step: int) -> None:
        """Count from here: nothing owed for the time before (a pause, a new pace)."""
        self._first_tick = self._tick(now)
        self._first_step = step

    def _tick(self, now: float) -> int:
        return math.floor(now * self.steps_per_s)

    def allowance(self, now: float, step: int) -> int:
        """Steps the run may take now, at `step`; never more than MAX_LAG_S worth."""
        owed = self._first_step + self._tick(now) - self._first_tick - step
        if owed > self.max_lag:  # fallen behind: go on at the pace from here
            self._first_step -= owed - self.max_lag
            owed = self.max_lag
        return max(0, owed)

    def due_in_s(self, now: float) -> float:
        """Seconds until the next step falls due (a hair past its tick, for rounding's sake)."""
        return max(0.0, (self._tick(now) + 1) / self.steps_per_s - now) + 1e-6
