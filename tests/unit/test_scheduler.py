"""The scheduler with a real one-slot worker: fair order, queue positions, clean-up."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from layerlab.config import Settings
from layerlab.core.spec import RunSpec
from layerlab.engine.hub import Hub
from layerlab.engine.local_executor import LocalExecutor
from layerlab.engine.scheduler import Scheduler
from layerlab.engine.store import Store

QUICK = RunSpec.model_validate({"dataset": {"samples": 100}, "epochs": 5, "grid_resolution": 8})
LONG = RunSpec.model_validate(
    {"dataset": {"samples": 100}, "epochs": 1000, "batch_size": 1, "grid_resolution": 8}
)


def with_scheduler(test: Callable[[Scheduler], Awaitable[None]], **settings: Any) -> None:
    """Run `test` against a scheduler with one real worker holding two runs at once."""

    async def scenario() -> None:
        config = Settings(workers=1, runs_per_worker=2, database=":memory:", **settings)
        scheduler = Scheduler(config, Store(":memory:"), Hub(), LocalExecutor.from_settings(config))
        await scheduler.start()
        try:
            await test(scheduler)
        finally:
            await scheduler.stop()

    asyncio.run(scenario())


async def until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def status_of(scheduler: Scheduler, run_id: str) -> Any:
    return (scheduler.describe(run_id) or {}).get("status")


def test_a_freed_place_goes_to_the_least_served_client_first() -> None:
    async def test(scheduler: Scheduler) -> None:
        first, _ = scheduler.create_run(LONG, "ana")
        second, _ = scheduler.create_run(LONG, "ana")
        queued_ana, _ = scheduler.create_run(QUICK, "ana")
        # ben's a long one: a quick one could end and give its place to ana's before we look
        queued_ben, _ = scheduler.create_run(LONG, "ben")
        assert scheduler.describe(queued_ana["id"])["queue_position"] == 1  # type: ignore[index]
        assert scheduler.describe(queued_ben["id"])["queue_position"] == 2  # type: ignore[index]
        await until(lambda: status_of(scheduler, first["id"]) == "running")
        await scheduler.control(first["id"], "cancel")
        # ana still trains one run and ben none: ben's run starts although ana's is older
        await until(lambda: status_of(scheduler, queued_ben["id"]) != "queued")
        assert status_of(scheduler, queued_ana["id"]) == "queued"
        assert scheduler.describe(queued_ana["id"])["queue_position"] == 1  # type: ignore[index]
        await scheduler.control(second["id"], "cancel")
        await until(lambda: status_of(scheduler, queued_ana["id"]) == "done")

    with_scheduler(test)


def test_clean_up_stops_abandoned_runs_and_forgets_old_ones() -> None:
    async def test(scheduler: Scheduler) -> None:
        done, _ = scheduler.create_run(QUICK, "ana")
        await until(lambda: status_of(scheduler, done["id"]) == "done")
        abandoned, _ = scheduler.create_run(LONG, "ana")
        await until(lambda: status_of(scheduler, abandoned["id"]) == "running")
        scheduler.clean_up(now=time.time() + 61)
        await until(lambda: status_of(scheduler, abandoned["id"]) == "cancelled")
        error = scheduler.describe(abandoned["id"])["error"]  # type: ignore[index]
        assert error == "stopped after 60 s with nobody watching or polling it"
        assert status_of(scheduler, done["id"]) == "done"  # still within retention
        scheduler.clean_up(now=time.time() + 3601)
        assert scheduler.describe(done["id"]) is None
        assert scheduler.describe(abandoned["id"]) is None

    with_scheduler(test, idle_run_timeout_s=60, retention_s=3600)
