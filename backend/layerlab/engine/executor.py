"""The executor: where runs train, seen from the scheduler.

The scheduler queues runs and keeps their record; an executor holds the workers that train them.
It takes runs (`submit`), passes controls and reads to the worker holding each (`control`,
`call`), and reports what the workers send through one callback, `on_event(run_id, kind,
payload)`, in the order each worker sent it; a worker that dies reports each of its runs `lost`,
after everything it sent before. `LocalExecutor` (local_executor.py) runs the workers as
processes of this machine; `RayExecutor` (ray_executor.py) runs them as actors on a Ray cluster.
Both run the same worker loop (worker_loop.py) and keep their workers' runs the same way
(worker_slots.py); nothing else in the server knows which one it has.
"""

import concurrent.futures
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from layerlab.config import Settings
    from layerlab.core.spec import RunSpec

# Event kinds a worker sends besides the wire's `status`, `metrics` and `grid`; BATCH carries
# many events in one message (a stack's frames), so the channel and the reader see one, not K.
# CHECKPOINT carries a run's state now and then; PARKED its state as it leaves the worker;
# PROFILE the seconds its loop spent in each part (worker_profile.py), twice a second.
READY, REPLY, LOST, BATCH = "ready", "reply", "lost", "batch"
CHECKPOINT, PARKED, PROFILE = "checkpoint", "parked", "profile"

EventHandler = Callable[[str | None, str, dict[str, Any]], None]


@dataclass(frozen=True)
class WorkerConfig:
    """What every worker needs to know, picklable for a spawned process."""

    metrics_interval_s: float = 0.05
    grid_interval_s: float = 0.1
    time_slice_s: float = 0.02  # one training round of all stacks: how soon a command is heard
    checkpoint_interval_s: float = 10.0  # how often each run's state goes to the server
    log_format: str = "text"  # the server's LAYERLAB_LOG_FORMAT: a worker logs as it does
    cuda_graphs: bool = False  # a stack's step replayed as a CUDA graph, on a GPU worker

    @classmethod
    def from_settings(cls, settings: "Settings") -> "WorkerConfig":
        return cls(
            metrics_interval_s=1.0 / settings.metrics_frames_per_s,
            grid_interval_s=1.0 / settings.grid_frames_per_s,
            time_slice_s=settings.time_slice_s,
            checkpoint_interval_s=settings.checkpoint_interval_s,
            log_format=settings.log_format,
            cuda_graphs=settings.cuda_graphs,
        )


@dataclass(frozen=True)
class WorkerState:
    """One worker as the executor sees it: for /metrics, /api/info and the capacity bench."""

    index: int
    device: str
    pid: int | None  # its process on its node, once it has started
    runs: frozenset[str]  # the runs it holds (training, paused, or on their way to it)
    node: str = "local"  # the node it runs on: "local" for a process of this machine
    ready: bool = False  # it has imported PyTorch, warmed up and said so
    profile: dict[str, Any] | None = None  # the last totals it sent (worker_profile.py)


@dataclass(frozen=True)
class NodeState:
    """A machine the executor trains on: this one, or a node of a cluster."""

    id: str
    address: str
    cpus: float
    gpus: float
    alive: bool = True


@dataclass(frozen=True)
class ExecutorInfo:
    workers: tuple[WorkerState, ...]
    restarts: int  # workers replaced after they died
    kind: str = "local"  # which executor: "local" or "ray"
    nodes: tuple[NodeState, ...] = ()

    @property
    def devices(self) -> list[str]:
        return [worker.device for worker in self.workers]


class Executor(Protocol):
    def start(self, on_event: EventHandler) -> None:
        """Start the workers; from now on their events go to `on_event` (from any thread)."""

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ask every worker to stop, with what each run has reached sent as a checkpoint."""

    def free_slots(self) -> int:
        """How many more runs the workers take now."""

    def submit(
        self,
        run_id: str,
        spec: "RunSpec",
        csv_text: str | None,
        paused: bool,
        checkpoint: bytes | None = None,
    ) -> None:
        """Start a run on a worker (from its checkpoint, if given); the spec is admitted."""

    def control(self, run_id: str, action: str, *args: Any) -> bool:
        """pause, resume, step, cancel, rates (and pace), set_weight or park, passed on as
        named; False when no worker holds the run."""

    def call(self, run_id: str) -> "concurrent.futures.Future[dict[str, Any]]":
        """The run's weights, gradient norms and step now, as its worker answers ({'error'}
        when none holds it or the worker is lost)."""

    def info(self) -> ExecutorInfo: ...
