"""The 5×5 sweep's speed: the stacked engine beside the same runs trained one after another.

The sweep of the page and of `layerlab sweep` (depths 0–4 × widths 2–32 on moons: 21 runs, the
depth-0 row being one) trained twice in one process, alternating: once as the server's stacks
(`train_stacked`), once spec by spec by the plain Trainer's autograd loop.
"""

import statistics
import time
from collections.abc import Callable

import torch

from layerlab.core.limits import Limits
from layerlab.core.spec import RunSpec
from layerlab.core.sweep import sweep_runs, train_stacked
from layerlab.core.training import Trainer

DEPTHS, WIDTHS = [0, 1, 2, 3, 4], [2, 4, 8, 16, 32]
SWEEP_BASE = {"dataset": {"name": "moons", "samples": 500}, "batch_size": 32, "epochs": 100}


def sweep_speed(repeats: int, device: torch.device, limits: Limits) -> dict[str, float]:
    """Median seconds of the whole sweep each way, its run and step counts, and the ratio."""
    base = RunSpec.model_validate(SWEEP_BASE, context={"limits": limits})
    specs = [run.spec for run in sweep_runs(base, DEPTHS, WIDTHS)]

    def stacked() -> None:
        train_stacked([Trainer(spec, device=device) for spec in specs])

    def one_after_another() -> None:
        for spec in specs:
            trainer = Trainer(spec, device=device)
            trainer.train_steps(trainer.total_steps)

    ways: dict[str, Callable[[], None]] = {"stacked_s": stacked, "plain_s": one_after_another}
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(repeats):  # alternating: a noisy moment touches both alike
        for name, train in ways.items():
            seconds[name].append(_seconds(train, device))
    result = {name: statistics.median(values) for name, values in seconds.items()}
    result["runs"] = len(specs)
    result["steps"] = sum(Trainer(spec).total_steps for spec in specs)
    result["ratio"] = result["plain_s"] / result["stacked_s"]
    return result


def _seconds(train: Callable[[], None], device: torch.device) -> float:
    started = time.perf_counter()
    train()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started
