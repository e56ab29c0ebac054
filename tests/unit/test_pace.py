"""A run's pace on an explicit clock: steps fall due on shared ticks, a pause or a new pace owes
nothing, and a worker that fell behind is not asked to catch up in a burst."""

import pytest

from layerlab.engine.pace import MAX_LAG_S, Pace


def test_steps_fall_due_at_the_pace() -> None:
    pace = Pace(epochs_per_s=5, steps_per_epoch=4, now=100.0, step=0)  # 20 steps a second
    assert pace.allowance(100.0, step=0) == 0
    assert pace.allowance(100.049, step=0) == 0
    assert pace.allowance(100.05, step=0) == 1
    assert pace.allowance(100.2, step=0) == 4
    assert pace.allowance(100.2, step=4) == 0  # taken
    assert pace.due_in_s(100.2) == pytest.approx(0.05, abs=1e-5)


def test_runs_of_one_pace_share_their_ticks_whenever_they_started() -> None:
    early = Pace(2, 5, now=10.01, step=0)
    late = Pace(2, 5, now=10.07, step=30)
    for now in (10.09, 10.1, 10.35, 11.0):
        assert early.allowance(now, 0) == late.allowance(now, 30)


def test_a_restart_owes_nothing_for_the_time_before() -> None:
    pace = Pace(1, 10, now=0.0, step=0)
    pace.restart(now=60.0, step=3)  # resumed after a minute's pause
    assert pace.allowance(60.0, 3) == 0
    assert pace.allowance(60.2, 3) == 2


def test_a_worker_that_fell_behind_owes_at_most_max_lag() -> None:
    pace = Pace(10, 10, now=0.0, step=0)  # 100 steps a second
    cap = round(100 * MAX_LAG_S)
    assert pace.allowance(5.0, 0) == cap  # five seconds without a turn
    assert pace.allowance(5.0, cap) == 0  # and having taken them, it is even
    assert pace.allowance(5.01, cap) == 1  # then goes on at the pace
