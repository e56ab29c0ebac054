"""The Ray executor: the workers as actors on a Ray cluster, for a school that outgrows one machine.

Each worker is a Ray actor (`RayWorker`) placed on a node of the cluster (a GPU of its own on a
GPU node). It runs the same worker loop as a local worker process (worker_loop.py) in a thread of
its own and holds many runs, stacked as on one machine; `WorkerSlots` keeps, as for local
workers, which runs each holds and where a new one goes.

- Commands go to the actor numbered: a threaded actor may run calls out of order, and the loop
  takes them in the order they were sent.
- Events come back when the server asks: it keeps one `events` call waiting on each actor and
  sends the next once it has the answer. The actor's outbox is bounded, so a server that falls
  behind slows that actor's training instead of filling its memory.
- An actor that dies (its process killed, its node lost, out of memory) fails only its own runs,
  each with a sentence, and a new actor takes its place, on the same node while the node lives.

Ray is an optional extra (`pip install 'layerlab[ray]'`). Without LAYERLAB_RAY_ADDRESS the server
starts a Ray of its own on this machine, on 127.0.0.1 only and without a dashboard unless asked.
The module (about 400 lines) is the actor and the executor that drives it: they share the
commands' numbering and the events' protocol, and Ray is imported here alone.
"""

import contextlib
import logging
import os
import queue
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from layerlab.engine.executor import EventHandler, NodeState, WorkerConfig
from layerlab.engine.worker_slots import Slot, WorkerSlots
from layerlab.usage import UsageError

if TYPE_CHECKING:
    from layerlab.config import Settings
    from layerlab.engine.worker_loop import Message

logger = logging.getLogger("layerlab.workers")

RAY_MISSING = (
    "LAYERLAB_EXECUTOR=ray needs Ray, which is not installed: pip install 'layerlab[ray]' "
    "(in a clone of the repository: make run EXTRAS=ray, or .venv/bin/pip install -e '.[ray]'; "
    "or set LAYERLAB_EXECUTOR=local to train in processes of this machine)"
)
OUTBOX_MESSAGES = 16  # what an actor may have ready for the server before its loop waits
EVENTS_WAIT_S = 0.5  # how long one `events` call waits for something to send
CALLS_AT_ONCE = 4  # the loop, the events call waiting, and commands arriving meanwhile
UNPLACED_AFTER_S = 60  # a worker not started by then waits for room on the cluster: say so
REACH_TIMEOUT_S = 10.0  # to open a connection to a cluster's head before Ray is asked to join
NODE_ID_CHARS = 12  # of Ray's 56: enough to tell a cluster's nodes apart on a page


def import_ray() -> Any:
    """Ray, or a UsageError saying what to install."""
    # Ray 2.60 replaces 127.0.0.1 with the machine's other address, and listens there, unless
    # told that this is a single-machine cluster; a Ray the server starts stays on loopback.
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise UsageError(RAY_MISSING) from None
    return ray


def unreachable(address: str, timeout_s: float = REACH_TIMEOUT_S) -> str | None:
    """Why the cluster at `address` (HOST:PORT of its head) cannot be reached, or None. Ray
    itself would retry for minutes, printing only its own warnings."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return None  # "auto", or Ray Client's ray://…: Ray says what is wrong with it
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as error:
        return (
            f"LAYERLAB_RAY_ADDRESS: cannot reach the Ray cluster at {address} "
            f"({error.strerror or error}); check the address and that its head runs and is "
            "reachable from here, or leave it empty for a Ray of this server's own"
        )
    return None


def connect_ray(address: str | None, dashboard: bool = False) -> None:
    """Join the cluster at `address`, or start a Ray of our own on this machine: on loopback
    only, so that nothing of it is reachable from the network, and without a dashboard unless
    asked. Workers' own output stays in Ray's logs (the server's log stays one format)."""
    ray = import_ray()
    main_thread = threading.current_thread() is threading.main_thread()
    server_handler = signal.getsignal(signal.SIGTERM) if main_thread else None
    common = {"logging_level": logging.WARNING, "log_to_driver": False}
    if address:
        problem = unreachable(address)
        if problem:
            raise UsageError(problem)
        ray.init(address=address, **common)
    else:
        ray.init(
            address="local",  # a new one, even if another Ray runs on this machine
            _node_ip_address="127.0.0.1",
            include_dashboard=dashboard,
            dashboard_host="127.0.0.1",
            **common,
        )
    if server_handler is not None:  # Ray's own exits at once: the server's stops its workers,
        signal.signal(signal.SIGTERM, server_handler)  # keeping each run's last checkpoint


class RayWorker:
    """A worker as a Ray actor: the worker loop in one of its threads, commands in, events out."""

    def __init__(self, device: str, config: WorkerConfig) -> None:
        self._device = device
        self._config = config
        self._commands: dict[int, tuple[Any, ...]] = {}  # arrived, by number, not yet taken
        self._next = 0  # the number of the command the loop takes next
        self._arrived = threading.Condition()
        self._outbox: queue.Queue[Message] = queue.Queue(maxsize=OUTBOX_MESSAGES)

    def serve(self) -> None:
        """The worker loop, until the server says stop: one long call, answered when it ends."""
        import ray

        from layerlab.engine.worker_loop import run_worker
        from layerlab.logs import configure_logging

        configure_logging(self._config.log_format)  # type: ignore[arg-type]
        device = self._device
        if device == "auto":
            device = "cuda" if ray.get_gpu_ids() else "cpu"  # Ray hides the other GPUs
        node = ray.get_runtime_context().get_node_id()[:NODE_ID_CHARS]
        run_worker(device, self._config, self._receive, self._outbox.put, {"node": node})

    def command(self, number: int, command: tuple[Any, ...]) -> None:
        with self._arrived:
            self._commands[number] = command
            self._arrived.notify_all()

    def events(self, wait_s: float) -> "list[Message]":
        """What the loop has sent since the last call, waiting up to `wait_s` for something."""
        try:
            messages = [self._outbox.get(timeout=wait_s)]
        except queue.Empty:
            return []
        with contextlib.suppress(queue.Empty):
            while len(messages) < OUTBOX_MESSAGES:
                messages.append(self._outbox.get_nowait())
        return messages

    def _receive(self, timeout_s: float) -> tuple[Any, ...] | None:
        with self._arrived:
            if not self._arrived.wait_for(lambda: self._next in self._commands, timeout_s):
                return None
            self._next += 1
            return self._commands.pop(self._next - 1)


@dataclass(eq=False, kw_only=True)
class _Actor(Slot):
    handle: Any  # the actor
    target: str  # the node it was placed on (Ray's full id): its replacement goes there too
    resources: dict[str, float]  # num_cpus or num_gpus, asked of Ray
    serving: Any  # the `serve` call: it answers when the loop ends, or fails when the actor dies
    waiting: Any  # the `events` call the server waits on
    sent: int = 0  # commands numbered so far
    since: float = field(default_factory=time.monotonic)  # when it was asked for
    warned: bool = False  # that it has not started yet


class RayExecutor(WorkerSlots[_Actor]):
    """Actors on a Ray cluster behind the executor protocol (executor.py): events come from one
    reader thread, in the order each actor sent them."""

    kind = "ray"

    def __init__(
        self,
        runs_per_worker: int,
        config: WorkerConfig,
        *,
        address: str | None = None,
        device: str = "auto",
        workers_per_node: int = 0,
        cpus_per_worker: float = 1.0,
        gpus_per_worker: float = 1.0,
        dashboard: bool = False,
    ) -> None:
        super().__init__(runs_per_worker)
        self.config = config
        self.address = address
        self.device = device
        self.workers_per_node = workers_per_node
        self.cpus_per_worker = cpus_per_worker
        self.gpus_per_worker = gpus_per_worker
        self.dashboard = dashboard
        self._ray = import_ray()
        self._started_ray = False  # a Ray of our own, stopped with us
        self._actor_class: Any = None
        self._stopping = threading.Event()
        self._reader: threading.Thread | None = None

    @classmethod
    def from_settings(cls, settings: "Settings") -> "RayExecutor":
        return cls(
            settings.runs_per_worker,
            WorkerConfig.from_settings(settings),
            address=settings.ray_address,
            device=settings.device,
            workers_per_node=settings.ray_workers_per_node,
            cpus_per_worker=settings.ray_cpus_per_worker,
            gpus_per_worker=settings.ray_gpus_per_worker,
            dashboard=settings.ray_dashboard,
        )

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self, on_event: EventHandler) -> None:
        ray = self._ray
        self.on_event = on_event
        if not ray.is_initialized():  # else a caller's Ray (the benchmark's, say), kept
            connect_ray(self.address, self.dashboard)
            self._started_ray = True
        self._actor_class = ray.remote(RayWorker)
        plan = self._plan([node for node in ray.nodes() if node["Alive"]])
        if not plan:
            raise RuntimeError("the Ray cluster has no node with CPUs or GPUs for a worker")
        self._workers = [self._spawn(i, node, res) for i, (node, res) in enumerate(plan)]
        logger.info("Ray workers: %d, on nodes: %d", len(plan), len({n for n, _ in plan}))
        self._reader = threading.Thread(target=self._read_events, name="ray-events", daemon=True)
        self._reader.start()

    def _plan(self, nodes: list[dict[str, Any]]) -> list[tuple[str, dict[str, float]]]:
        """(node, resources) of each worker: on a GPU node one per GPU (or per share of one),
        elsewhere half the node's CPUs, unless LAYERLAB_RAY_WORKERS_PER_NODE says how many."""
        plan = []
        for node in sorted(nodes, key=lambda node: (node["NodeManagerAddress"], node["NodeID"])):
            cpus = node["Resources"].get("CPU", 0.0)
            gpus = node["Resources"].get("GPU", 0.0)
            if gpus and self.gpus_per_worker:
                count = self.workers_per_node or max(1, int(gpus / self.gpus_per_worker))
                resources = {"num_gpus": self.gpus_per_worker, "num_cpus": 0.0}
            elif cpus:
                count = self.workers_per_node or max(1, int(cpus // 2))
                resources = {"num_cpus": self.cpus_per_worker}
            else:
                continue  # a head node kept free of work (ray start --head --num-cpus=0)
            plan += [(node["NodeID"], resources)] * count
        return plan

    def _spawn(self, index: int, node: str, resources: dict[str, float]) -> _Actor:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        handle = self._actor_class.options(
            name=None,
            max_restarts=0,  # a dead worker's runs are reported lost and a new one starts
            max_concurrency=CALLS_AT_ONCE,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=True),
            **resources,
        ).remote(self.device, self.config)
        planned = "cuda" if resources.get("num_gpus") and self.device == "auto" else self.device
        logger.info("worker %d placed on Ray node %s", index, node[:NODE_ID_CHARS])
        return _Actor(
            index=index,
            device="cpu" if planned == "auto" else planned,
            node=node[:NODE_ID_CHARS],
            handle=handle,
            target=node,
            resources=resources,
            serving=handle.serve.remote(),
            waiting=handle.events.remote(EVENTS_WAIT_S),
        )

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ask every actor to stop, take what each sent as it stopped, and end them."""
        ray = self._ray
        self._stopping.set()
        if self._reader is not None:
            self._reader.join(2.0)
        with self._lock:
            for worker in self._workers:
                self._send(worker, ("stop", None))
        deadline = time.monotonic() + timeout_s
        for worker in self._workers:
            if worker.ready:  # a worker still starting has nothing of a run to send
                self._drain(worker, deadline)
            with contextlib.suppress(Exception):
                ray.kill(worker.handle, no_restart=True)
        self._cancel_calls()
        if self._started_ray:
            ray.shutdown()

    def _drain(self, worker: _Actor, deadline: float) -> None:
        """What a stopping actor sends (its runs' last checkpoints), until its loop has ended and
        nothing is left; taken as it comes, since a full outbox holds the loop back."""
        ray = self._ray
        while time.monotonic() < deadline:
            try:
                messages = ray.get(worker.waiting, timeout=max(0.1, deadline - time.monotonic()))
            except Exception:  # dead, or too slow to answer: what it had is lost with it
                return
            for message in messages:
                self._dispatch(worker, *message)
            ended = bool(ray.wait([worker.serving], timeout=0)[0])
            if ended and not messages:
                return
            worker.waiting = worker.handle.events.remote(0.1)

    # --- the executor interface ---------------------------------------------------------------

    def _send(self, worker: _Actor, command: tuple[Any, ...]) -> None:
        worker.handle.command.remote(worker.sent, command)  # a dead actor: the reader sees it
        worker.sent += 1

    def nodes(self) -> tuple[NodeState, ...]:
        if not self._ray.is_initialized():
            return ()
        return tuple(
            NodeState(
                node["NodeID"][:NODE_ID_CHARS],
                node["NodeManagerAddress"],
                node["Resources"].get("CPU", 0.0),
                node["Resources"].get("GPU", 0.0),
                node["Alive"],
            )
            for node in self._ray.nodes()
        )

    # --- the reader thread --------------------------------------------------------------------

    def _read_events(self) -> None:
        while not self._stopping.is_set():
            try:
                self._read_some_events()
            except Exception:  # Ray itself failing (its head lost, say): keep trying until stop
                if self._stopping.is_set():
                    return
                logger.exception("reading the Ray workers' events failed")
                time.sleep(1.0)

    def _read_some_events(self) -> None:
        calls: dict[Any, tuple[str, _Actor]] = {}
        for worker in list(self._workers):
            calls[worker.waiting] = ("events", worker)
            calls[worker.serving] = ("exit", worker)
            self._warn_if_unplaced(worker)
        ready, _ = self._ray.wait(list(calls), num_returns=1, timeout=0.2)
        for call in ready:
            kind, worker = calls[call]
            if worker not in self._workers or self._stopping.is_set():
                continue  # replaced already (both its calls answer when an actor dies)
            if kind == "events":
                self._receive(worker)
            else:
                self._replace(worker, _ended(self._ray, worker.serving))

    def _warn_if_unplaced(self, worker: _Actor) -> None:
        """Once, for a worker that has not started after a minute: Ray has no node with room
        for it, and the runs placed on it wait (new runs go to ready workers)."""
        if worker.ready or worker.warned or time.monotonic() - worker.since < UNPLACED_AFTER_S:
            return
        worker.warned = True
        logger.warning(
            "worker %d has not started after %d s: no Ray node has %s free for it; add a node "
            "or lower LAYERLAB_RAY_WORKERS_PER_NODE",
            worker.index,
            UNPLACED_AFTER_S,
            " and ".join(
                f"{amount:g} {name[4:].upper()}"
                for name, amount in worker.resources.items()
                if amount
            ),
        )

    def _receive(self, worker: _Actor) -> None:
        try:
            messages = self._ray.get(worker.waiting)
        except Exception as error:  # the actor died: RayActorError, ActorDiedError, …
            self._replace(worker, error)
            return
        worker.waiting = worker.handle.events.remote(EVENTS_WAIT_S)  # while these are handled
        for message in messages:
            self._dispatch(worker, *message)

    def _replace(self, worker: _Actor, error: BaseException | None) -> None:
        """An actor died (or its loop ended unasked): its runs are lost; a new actor takes its
        place, on the same node if that node still lives."""
        with contextlib.suppress(Exception):
            self._ray.kill(worker.handle, no_restart=True)
        replacement = self._spawn(worker.index, worker.target, worker.resources)
        self._replaced(worker, replacement, _why(error, worker.node))


def _ended(ray: Any, call: Any) -> BaseException | None:
    """Why a `serve` call answered: the error it raised, or None if the loop simply ended."""
    try:
        ray.get(call, timeout=0)
    except Exception as error:
        return error
    return None


def _why(error: BaseException | None, node: str) -> str:
    """The part of a learner's sentence that says what happened to the worker."""
    text = str(error or "")
    if "node has died" in text or "node is dead" in text:
        return f"the cluster lost its node, {node}"
    if "worker process has died" in text or "killed" in text:
        return f"its Ray actor's process on node {node} was killed or ran out of memory"
    if error is None:
        return f"its Ray actor on node {node} stopped"
    return f"its Ray actor on node {node} failed: {type(error).__name__}"
