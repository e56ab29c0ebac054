"""The engine's activity counters: steps from metric reports, the recent rate, run outcomes."""

import pytest

from layerlab.engine.activity import Activity


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_steps_are_counted_once_from_each_runs_reported_step() -> None:
    activity = Activity(clock=Clock())
    for step in (0, 10, 25):
        activity.trained("a", step)
    activity.trained("b", 7)
    activity.trained("a", 25)  # the same point again: nothing new
    assert activity.steps_total == 25 + 7


def test_a_finished_run_is_counted_by_outcome_and_forgotten() -> None:
    activity = Activity(clock=Clock())
    activity.run_created()
    activity.run_created()
    activity.trained("a", 40)
    activity.run_finished("a", "done")
    activity.run_finished("b", "cancelled")
    assert activity.runs_created == 2
    assert activity.runs_finished == {"done": 1, "cancelled": 1}
    activity.trained("a", 5)  # an id seen again starts from 0
    assert activity.steps_total == 45


def test_the_rate_covers_the_last_window_only() -> None:
    clock = Clock()
    activity = Activity(window_s=10.0, clock=clock)
    clock.now += 2.0
    activity.trained("a", 100)
    assert activity.steps_per_s() == pytest.approx(100 / 2.0)  # less than a window since start
    clock.now += 8.0
    activity.trained("a", 300)
    assert activity.steps_per_s() == pytest.approx(300 / 10.0)
    clock.now += 5.0  # the first 100 steps are now more than 10 s old
    assert activity.steps_per_s() == pytest.approx(200 / 10.0)
    clock.now += 20.0
    assert activity.steps_per_s() == 0.0
    assert activity.steps_total == 300
