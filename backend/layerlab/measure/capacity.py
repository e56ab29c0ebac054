"""How many learners a server holds: K classroom runs through the real engine, side by side.

A classroom mix is what learners move the sliders to: two-moons-like data of a few kinds, depth
1–4, width 2–32, their own learning rates and seeds, mostly Adam and ReLU. `engine_capacity`
trains K such runs in the service's own worker processes, with its frame rates, and counts what
their viewers would receive; `naive_steps_per_s` is the tutorial's loop on the same runs.
"""

import itertools
import random
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from layerlab.config import ExecutorKind, Settings
from layerlab.core.limits import DEFAULT_LIMITS, Limits
from layerlab.core.spec import RunSpec
from layerlab.core.training import FINAL_STATUSES, Trainer
from layerlab.engine.executor import Executor
from layerlab.engine.executors import executor_for
from layerlab.engine.worker_profile import shares

DATASETS = ("moons", "circles", "xor", "spiral")
WIDTHS = (2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32)


def classroom_mix(
    k: int, seed: int = 0, epochs: int = 1000, limits: Limits = DEFAULT_LIMITS
) -> list[RunSpec]:
    """K runs as a class sets them, the same K for the same seed; a server's `limits` may
    refuse them (ValidationError)."""
    rng = random.Random(seed)
    specs = []
    for i in range(k):
        depth = rng.choice((1, 2, 2, 2, 3, 4))
        width = rng.choice(WIDTHS)
        specs.append(
            RunSpec.model_validate(
                {
                    "dataset": {"name": rng.choice(DATASETS), "samples": rng.choice((500, 1000))},
                    "hidden_widths": [width] * depth,
                    "activation": rng.choice(("relu", "relu", "relu", "tanh")),
                    "optimizer": rng.choice(("adam", "adam", "adam", "sgd", "momentum")),
                    "learning_rate": rng.choice((0.003, 0.01, 0.03, 0.1)),
                    "batch_size": rng.choice((32, 32, 32, 32, 10)),
                    "epochs": epochs,
                    "seed": i,
                },
                context={"limits": limits},
            )
        )
    return specs


def naive_steps_per_s(spec: RunSpec, seconds: float) -> float:
    """The tutorial loop: DataLoader batches, a Sigmoid output layer, BCELoss, autograd, optim."""
    trainer = Trainer(spec)  # only for the same data and inputs
    x, y = trainer.x_train.cpu(), trainer.y_train.cpu().unsqueeze(1)
    activation = {"relu": nn.ReLU, "tanh": nn.Tanh}.get(spec.activation, nn.ReLU)
    layers: list[nn.Module] = []
    widths = [x.shape[1], *spec.hidden_widths]
    for fan_in, fan_out in itertools.pairwise(widths):
        layers += [nn.Linear(fan_in, fan_out), activation()]
    model = nn.Sequential(*layers, nn.Linear(widths[-1], 1), nn.Sigmoid())
    loader = DataLoader(TensorDataset(x, y), batch_size=spec.batch_size, shuffle=True)
    loss_fn = nn.BCELoss()
    optimizer: torch.optim.Optimizer
    if spec.optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=spec.learning_rate)
    else:
        momentum = 0.9 if spec.optimizer == "momentum" else 0.0
        optimizer = torch.optim.SGD(model.parameters(), lr=spec.learning_rate, momentum=momentum)
    steps, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for inputs, targets in loader:
            loss = loss_fn(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
    return steps / (time.perf_counter() - started)


def naive_total_steps_per_s(specs: list[RunSpec], seconds_each: float) -> float:
    """Model-steps per second of the naive loop over the mix, one model at a time."""
    rates = [naive_steps_per_s(spec, seconds_each) for spec in specs]
    return statistics.fmean(rates)  # one model at a time: the total is one model's rate


@dataclass
class Capacity:
    executor: str  # where the runs trained: "local" processes or "ray" actors
    runs: int
    workers: int
    total_steps_per_s: float
    steps_per_s_min: float
    steps_per_s_median: float
    grids_per_s_min: float
    grids_per_s_median: float
    memory_mib: float  # resident memory of the worker processes, summed
    epochs_per_s_min: float
    epochs_per_s_median: float
    pace: float | None  # the epochs a second every run was asked for; None: as fast as it goes
    # where the workers' time went while measured: each part's share of their wall-clock time,
    # averaged over the workers, and their rounds per second (worker_profile.py)
    profile: dict[str, float]
    device: str = "cpu"  # what the workers trained on (LAYERLAB_DEVICE)
    cuda_graphs: bool = False  # each stack's step a CUDA graph (LAYERLAB_CUDA_GRAPHS)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Learners:
    """K learners, each training one run after another: when a run ends (a fast one may, while
    it is measured), its learner starts the same run again. Counts what each learner's viewer
    would have received: steps and epochs trained in all its runs, and grid frames."""

    def __init__(self, specs: list[RunSpec]) -> None:
        self.specs = specs
        self.executor: Executor | None = None  # it calls us: it comes after
        self.learner_of: dict[str, int] = {}
        self.finished_steps = [0] * len(specs)  # in the learner's ended runs
        self.current_step = [0] * len(specs)
        self.finished_epochs = [0.0] * len(specs)
        self.current_epoch = [0.0] * len(specs)
        self.grids = [0] * len(specs)
        self.runs = 0

    def start(self, learner: int) -> None:
        run_id = f"run-{self.runs}"
        self.runs += 1
        self.learner_of[run_id] = learner
        self.current_step[learner] = 0
        self.current_epoch[learner] = 0.0
        assert self.executor is not None
        self.executor.submit(run_id, self.specs[learner], None, False)

    def steps(self) -> list[int]:
        return [
            done + now for done, now in zip(self.finished_steps, self.current_step, strict=True)
        ]

    def epochs(self) -> list[float]:
        return [
            done + now for done, now in zip(self.finished_epochs, self.current_epoch, strict=True)
        ]

    def __call__(self, run_id: str | None, kind: str, payload: dict[str, Any]) -> None:
        learner = self.learner_of.get(run_id or "")
        if learner is None:
            return
        if kind == "metrics":
            self.current_step[learner] = payload["step"]
            self.current_epoch[learner] = payload["epoch"]
        elif kind == "grid":
            self.grids[learner] += 1
        elif kind == "status" and payload.get("status") in FINAL_STATUSES:
            self.finished_steps[learner] += self.current_step[learner]
            self.finished_epochs[learner] += self.current_epoch[learner]
            del self.learner_of[run_id or ""]
            self.start(learner)


def engine_capacity(
    specs: list[RunSpec],
    settings: Settings,
    workers: int,
    seconds: float,
    executor_kind: ExecutorKind = "local",
    pace: float | None = None,
) -> Capacity:
    """Train the runs in the service's workers (local processes, or as many Ray actors on the
    Ray this process is connected to) and measure steps, epochs and grid frames per run; with a
    `pace`, each run at that many epochs a second (the page's pace selector)."""
    if pace is not None:
        specs = [spec.model_copy(update={"epochs_per_s": pace}) for spec in specs]
    per_worker = max(settings.runs_per_worker, -(-len(specs) // workers))
    learners = _Learners(specs)
    executor = executor_for(
        settings.model_copy(
            update={"executor": executor_kind, "workers": workers, "ray_workers_per_node": workers,
                    "runs_per_worker": per_worker}
        )
    )  # fmt: skip
    learners.executor = executor
    executor.start(learners)
    try:
        for learner in range(len(specs)):
            learners.start(learner)
        _wait_for(lambda: min(learners.current_step) > 0, 120.0)
        time.sleep(1.0)  # every stack formed and its frame rates settled
        steps_before, grids_before = learners.steps(), list(learners.grids)
        epochs_before = learners.epochs()
        profiles_before = {w.index: w.profile for w in executor.info().workers}
        started = time.perf_counter()
        time.sleep(seconds)
        elapsed = time.perf_counter() - started
        steps_after, grids_after = learners.steps(), list(learners.grids)
        epochs_after = learners.epochs()
        workers_after = executor.info().workers
        memory = sum(_resident_mib(w.pid) for w in workers_after if w.pid)
        profile = _mean_shares(
            [
                shares(before, w.profile)
                for w in workers_after
                if (before := profiles_before.get(w.index)) and w.profile
            ]
        )
    finally:
        executor.stop()
    steps = [(a - b) / elapsed for a, b in zip(steps_after, steps_before, strict=True)]
    grids = [(a - b) / elapsed for a, b in zip(grids_after, grids_before, strict=True)]
    epochs = [(a - b) / elapsed for a, b in zip(epochs_after, epochs_before, strict=True)]
    return Capacity(
        executor=executor_kind,
        runs=len(specs),
        workers=workers,
        total_steps_per_s=sum(steps),
        steps_per_s_min=min(steps),
        steps_per_s_median=statistics.median(steps),
        grids_per_s_min=min(grids),
        grids_per_s_median=statistics.median(grids),
        memory_mib=memory,
        epochs_per_s_min=min(epochs),
        epochs_per_s_median=statistics.median(epochs),
        pace=pace,
        profile=profile,
        device=settings.device,
        cuda_graphs=settings.cuda_graphs,
    )


def _mean_shares(per_worker: list[dict[str, float]]) -> dict[str, float]:
    """Each part's share averaged over the workers that told theirs (a worker replaced while
    measured has no before)."""
    told = [worker for worker in per_worker if worker]
    if not told:
        return {}
    return {part: statistics.fmean(worker[part] for worker in told) for part in told[0]}


def _wait_for(condition: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the engine did not answer within {timeout_s:g} s")
        time.sleep(0.05)


def _resident_mib(pid: int) -> float:
    """VmRSS of a process from /proc, in MiB (0 where /proc is not there)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    line = next((ln for ln in status.splitlines() if ln.startswith("VmRSS:")), "VmRSS: 0 kB")
    return int(line.split()[1]) / 1024
