"""Where the pool places a new run: beside its stack's runs, within a bound on imbalance."""

from typing import Any

from layerlab.engine.workers import AFFINITY_SLACK, WorkerConfig, WorkerPool, _Worker, affinity


class Pipe:
    """The server's end of a worker's pipe, keeping what was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []

    def send(self, command: tuple[Any, ...]) -> None:
        self.sent.append(command)


def pool_of(workers: int, runs_per_worker: int = 64) -> WorkerPool:
    pool = WorkerPool(["cpu"] * workers, runs_per_worker, WorkerConfig(), lambda *event: None)
    pool._workers = [
        _Worker(i, "cpu", None, Pipe(), {}, 0.0)  # type: ignore[arg-type]
        for i in range(workers)
    ]
    return pool


def spec(activation: str = "relu", widths: list[int] | None = None) -> dict[str, Any]:
    return {
        "dataset": {"name": "moons"},
        "hidden_widths": widths or [8, 8],
        "activation": activation,
    }


def test_runs_of_one_stack_gather_and_other_stacks_go_to_the_least_busy() -> None:
    pool = pool_of(2)
    placed = [pool.submit(f"relu-{i}", spec(), None, False) for i in range(4)]
    assert placed == [0, 0, 0, 0]
    assert pool.submit("tanh", spec("tanh"), None, False) == 1
    assert pool.submit("wide", spec(widths=[32]), None, False) == 1  # width class 32: another
    assert pool._workers[0].conn.sent[0][:2] == ("start", "relu-0")  # type: ignore[attr-defined]


def test_a_stack_spills_over_once_its_worker_is_too_far_ahead() -> None:
    pool = pool_of(2)
    placed = [pool.submit(f"r{i}", spec(), None, False) for i in range(40)]
    assert placed[: AFFINITY_SLACK + 2] == [0] * (AFFINITY_SLACK + 1) + [1]
    loads = [len(worker.runs) for worker in pool._workers]
    assert max(loads) - min(loads) <= AFFINITY_SLACK + 1


def test_a_full_worker_takes_no_more_runs() -> None:
    pool = pool_of(2, runs_per_worker=3)
    placed = [pool.submit(f"r{i}", spec(), None, False) for i in range(6)]
    assert sorted(placed) == [0, 0, 0, 1, 1, 1]


def test_affinity_follows_the_stack_key_as_far_as_the_spec_tells() -> None:
    assert affinity(spec(widths=[5, 16])) == affinity(spec(widths=[8]))  # both width class 16
    assert affinity(spec(widths=[17])) != affinity(spec(widths=[16]))
    assert affinity(spec("tanh")) != affinity(spec())
    blobs = {"dataset": {"name": "blobs", "classes": 3}, "hidden_widths": [8]}
    assert affinity(blobs) != affinity({**blobs, "dataset": {"name": "blobs", "classes": 4}})
    assert affinity({"hidden_widths": []}) == affinity({"hidden_widths": [], "activation": "tanh"})
    assert affinity({**spec(), "batch_size": 10}) != affinity({**spec(), "batch_size": 32})
    assert affinity({**spec(), "features": ["x1", "x2", "x1_x2"]}) != affinity(spec())
