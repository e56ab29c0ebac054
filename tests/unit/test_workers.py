"""Where the local executor places a new run: beside its stack's runs, within a bound on how
much more a step costs one worker than another."""

import json
import signal
import time
from types import SimpleNamespace
from typing import Any

import pytest

from layerlab.core.spec import RunSpec
from layerlab.core.stacked.trainer_stack import STACK_STEP_COST, run_step_cost, stack_key
from layerlab.engine.executor import WorkerConfig
from layerlab.engine.local_executor import LocalExecutor, _Worker
from layerlab.engine.worker_slots import step_cost


class Pipe:
    """The server's end of a worker's pipe, keeping what was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []

    def send(self, command: tuple[Any, ...]) -> None:
        self.sent.append(command)


class Pool:
    """A LocalExecutor whose workers are pipes that keep what was sent: no process starts."""

    def __init__(self, workers: int, runs_per_worker: int = 64) -> None:
        self.executor = LocalExecutor(["cpu"] * workers, runs_per_worker, WorkerConfig())
        self.executor._workers = [
            _Worker(index=i, device="cpu", process=SimpleNamespace(), conn=Pipe())  # type: ignore[arg-type]
            for i in range(workers)
        ]

    def submit(self, run_id: str, spec_json: dict[str, Any]) -> int:
        """Place a run; the index of the worker it went to."""
        self.executor.submit(run_id, RunSpec.model_validate(spec_json), None, False)
        (index,) = [w.index for w in self.executor.info().workers if run_id in w.runs]
        return index


def pool_of(workers: int, runs_per_worker: int = 64) -> Pool:
    return Pool(workers, runs_per_worker)


def affinity(spec_json: dict[str, Any]) -> object:
    return stack_key(RunSpec.model_validate(spec_json))


def spec(activation: str = "relu", widths: list[int] | None = None) -> dict[str, Any]:
    return {
        "dataset": {"name": "moons"},
        "hidden_widths": widths or [8, 8],
        "activation": activation,
    }


# a run of another stack than spec()'s that costs a step as much: three classes, not two
BLOBS = {"dataset": {"name": "blobs", "classes": 3}, "hidden_widths": [8, 8]}


def costs(pool: Pool) -> list[float]:
    return [step_cost(worker.runs.values()) for worker in pool.executor._workers]


def test_runs_of_one_stack_gather_and_other_stacks_go_to_the_least_busy() -> None:
    pool = pool_of(2)
    assert pool.submit("blobs", BLOBS) == 0
    placed = [pool.submit(f"relu-{i}", spec()) for i in range(4)]
    assert placed == [1, 1, 1, 1]  # one stack, on the worker that had none
    assert pool.submit("wide", spec(widths=[32])) == 0  # width class 32: another, least busy
    second = pool.executor._workers[1].conn
    assert second.sent[0][:2] == ("start", "relu-0")  # type: ignore[attr-defined]


def test_a_stack_spills_over_once_its_worker_is_a_stack_ahead() -> None:
    pool = pool_of(2)
    pool.submit("blobs", BLOBS)
    placed = [pool.submit(f"r{i}", spec()) for i in range(80)]
    relu = run_step_cost(affinity(spec()))
    assert run_step_cost(affinity(BLOBS)) == relu
    stack = int(STACK_STEP_COST)
    assert (stack, relu) == (STACK_STEP_COST, 1)
    # worker 0's step costs stack + 1 (the blobs stack); worker 1's relu stack stack + n, and it
    # takes runs while that is at most one stack more (a stack of their own would cost more):
    # stack + 2 runs
    assert placed[: stack + 3] == [1] * (stack + 2) + [0]  # then a second relu stack opens
    assert max(costs(pool)) - min(costs(pool)) <= STACK_STEP_COST + relu


def test_a_worker_of_costly_runs_holds_fewer_of_them() -> None:
    """Runs of width class 32 cost a step ~3.7 times what runs of class 16 cost: a worker of
    narrow runs takes more of them, and the two workers' steps cost about the same."""
    pool = pool_of(2)
    for i in range(40):
        pool.submit(f"narrow-{i}", spec())
        pool.submit(f"wide-{i}", spec(widths=[32]))
    narrow_ones = [
        sum(run.startswith("narrow") for run in worker.runs) for worker in pool.executor._workers
    ]
    counts = [len(worker.runs) for worker in pool.executor._workers]
    assert sorted(narrow_ones) == [0, 40]  # each stack whole
    assert counts[narrow_ones.index(40)] > counts[narrow_ones.index(0)]
    assert max(costs(pool)) - min(costs(pool)) <= STACK_STEP_COST + run_step_cost(
        affinity(spec(widths=[32]))
    )


def test_the_servers_places_are_pooled_and_no_worker_takes_more_than_twice_its_share() -> None:
    pool = pool_of(3, runs_per_worker=4)
    for i in range(12):
        pool.submit(f"narrow-{i}", spec(widths=[2]))
        assert pool.executor.free_slots() == 12 - (i + 1)
    counts = [len(worker.runs) for worker in pool.executor._workers]
    assert max(counts) == 8  # 2 x 4: one worker would take more, to keep its stack whole
    assert pool.submit("more", spec(widths=[2])) != counts.index(8)  # the others take the rest


def test_affinity_follows_the_stack_key_as_far_as_the_spec_tells() -> None:
    assert affinity(spec(widths=[5, 16])) == affinity(spec(widths=[8]))  # both width class 16
    assert affinity(spec(widths=[17])) != affinity(spec(widths=[16]))
    assert affinity(spec("tanh")) == affinity(spec())  # any activations share a stack
    blobs = {"dataset": {"name": "blobs", "classes": 3}, "hidden_widths": [8]}
    assert affinity(blobs) != affinity({**blobs, "dataset": {"name": "blobs", "classes": 4}})
    assert affinity({"hidden_widths": []}) == affinity({"hidden_widths": [], "activation": "tanh"})
    assert affinity({**spec(), "batch_size": 10}) == affinity({**spec(), "batch_size": 32})
    assert affinity({**spec(), "batch_size": 33}) != affinity({**spec(), "batch_size": 32})
    assert affinity({**spec(), "features": ["x1", "x2", "x1_x2"]}) != affinity(spec())


def test_a_worker_process_logs_as_the_server_does(capfd: pytest.CaptureFixture[str]) -> None:
    """With LAYERLAB_LOG_FORMAT=json a worker's lines are JSON too: a log collector reads the
    whole server, workers included, one way."""
    events: list[tuple[str | None, str]] = []
    executor = LocalExecutor(["cpu"], 4, WorkerConfig(log_format="json"))
    executor.start(lambda run_id, kind, payload: events.append((run_id, kind)))
    try:
        spec_json = {**spec(), "epochs": 1000, "dataset": {"name": "moons", "samples": 100}}
        executor.submit("r", RunSpec.model_validate(spec_json), None, False)
        executor.control("r", "rates", "not a dict of rates")  # an internal error, logged
        deadline, err = time.monotonic() + 60, ""
        while "internal error on run r" not in err:
            assert time.monotonic() < deadline, f"no log line from the worker: {err!r}"
            time.sleep(0.2)
            err += capfd.readouterr().err
        (line,) = [line for line in err.splitlines() if "internal error on run r" in line]
        entry = json.loads(line)
        assert entry["level"] == "error" and entry["logger"] == "layerlab.workers"
        assert "Traceback" in entry["exception"]
    finally:
        executor.stop()


def test_stopping_does_not_wait_for_a_worker_still_starting() -> None:
    """A worker that has not said it is ready (it imports PyTorch for seconds, e.g. one that
    replaced a worker killed as the machine shuts down) holds nothing trained: stop kills it."""
    executor = LocalExecutor(["cpu"], 4, WorkerConfig())
    executor.start(lambda run_id, kind, payload: None)
    (worker,) = executor._workers
    executor.stop(timeout_s=60)
    assert not worker.ready and worker.process.exitcode == -signal.SIGKILL
