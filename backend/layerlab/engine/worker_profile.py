"""Where a worker's time goes: seconds per part of its loop, told to the server now and then.

A worker trains its stacks in rounds; besides the training steps a round evaluates metrics,
draws boundary grids, encodes frames and sends them down its channel, and between rounds it
takes commands, writes checkpoints or waits. `layerlab bench --profile` reads the shares, so a
teacher (and we) can see what a class of K runs costs where.
"""

import contextlib
import time
from collections.abc import Iterator
from typing import Any

# Each part of the worker's loop; "other" is the rest of its wall-clock time.
PARTS = ("train", "metrics", "grids", "frames", "pipe", "checkpoints", "commands", "waiting")
REPORT_EVERY_S = 0.5  # how often a worker sends its totals (a few bytes)


class WorkerProfile:
    """Seconds spent in each part since the worker started, and the wall-clock time."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.seconds = dict.fromkeys(PARTS, 0.0)
        self.rounds = 0
        self._next_report = self.started + REPORT_EVERY_S

    def add(self, part: str, seconds: float) -> None:
        self.seconds[part] += seconds

    @contextlib.contextmanager
    def timing(self, part: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[part] += time.perf_counter() - started

    def due(self) -> bool:
        """Whether its totals should go to the server now."""
        now = time.perf_counter()
        if now < self._next_report:
            return False
        self._next_report = now + REPORT_EVERY_S
        return True

    def totals(self) -> dict[str, Any]:
        """What the worker sends: the seconds per part, the rounds, and the time they are of."""
        return {
            "seconds": dict(self.seconds),
            "rounds": self.rounds,
            "elapsed_s": time.perf_counter() - self.started,
        }


def shares(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
    """Each part's share of the wall-clock time between two totals of one worker, "other" the
    rest; with `rounds_per_s` (empty when no time passed)."""
    elapsed = after["elapsed_s"] - before["elapsed_s"]
    if elapsed <= 0:
        return {}
    spent = {part: (after["seconds"][part] - before["seconds"][part]) / elapsed for part in PARTS}
    spent["other"] = max(0.0, 1.0 - sum(spent.values()))
    spent["rounds_per_s"] = (after["rounds"] - before["rounds"]) / elapsed
    return spent
