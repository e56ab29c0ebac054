"""A worker's life: take commands, give every runnable run a turn, send events.

A worker holds many runs and trains those that can share a stack as one (stacking.py). It talks
to the server through two callables only, `receive(timeout_s)` (the next command, or None when
none came in time) and `send(message)`, which raise EOFError or OSError once the server is gone:
a local process passes its pipe's ends, a cluster's worker its own channel, and the loop is
the same. A command is a tuple `(name, run_id, *args)`; a message is `(run_id, kind, payload)`,
many of them in one BATCH message, so that a stack's frames cost one send, not K.
"""

import contextlib
import functools
import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from layerlab.core.training import RunStatus
from layerlab.engine.executor import (
    BATCH,
    CHECKPOINT,
    PARKED,
    PROFILE,
    READY,
    REPLY,
    WorkerConfig,
)

if TYPE_CHECKING:
    import torch

    from layerlab.engine.session import TrainingSession
    from layerlab.engine.worker_profile import WorkerProfile

logger = logging.getLogger("layerlab.workers")

WORKER_NICENESS = 5  # below the server process, which only waits on sockets and pipes
IDLE_WAIT_S = 0.5  # a wait for commands while no run has a step to take

Message = tuple[str | None, str, dict[str, Any]]
Receive = Callable[[float], "tuple[Any, ...] | None"]
Send = Callable[[Message], None]


def run_worker(
    device_name: str,
    config: WorkerConfig,
    receive: Receive,
    send: Send,
    about: dict[str, Any] | None = None,
) -> None:
    """Serve commands until the server says stop or goes away; `about` joins what the worker
    tells of itself when it is ready (a cluster's worker names its node)."""
    import torch

    torch.set_num_threads(1)  # many small runs: one thread each is fastest, and fair to others
    with contextlib.suppress(OSError):  # where cores are few, the server answers first
        os.nice(WORKER_NICENESS)
    device = torch.device(device_name)
    warm_up(device, config)  # first-call costs, paid once here rather than by a learner
    loop = WorkerLoop(device, config, send)
    loop.post(None, READY, {"pid": os.getpid(), "device": str(device), **(about or {})})
    loop.flush()
    with contextlib.suppress(EOFError, OSError, KeyboardInterrupt):  # the server has gone
        loop.serve(receive)


class WorkerLoop:
    """The runs of one worker, their stacks, and what they have to tell the server."""

    def __init__(self, device: "torch.device", config: WorkerConfig, send: Send) -> None:
        from layerlab.engine.stacking import StackedSessions

        self.device = device
        self.config = config
        self._send = send
        self.sessions: dict[str, TrainingSession] = {}
        self.stacks = StackedSessions(
            config.metrics_interval_s,
            config.grid_interval_s,
            config.time_slice_s,
            cuda_graphs=config.cuda_graphs and device.type == "cuda",
        )
        self.outbox: list[Message] = []
        self.last_checkpoint: dict[str, tuple[float, int]] = {}  # run id -> (when, which step)

    def serve(self, receive: Receive) -> None:
        while self.take_commands(receive, self.wait_s()):
            for run_id, session in list(self.sessions.items()):
                if session.status is RunStatus.PAUSED and session.runnable:  # single steps
                    self.guarded(run_id, functools.partial(session.advance, 0.0))
            self.stacks.sync(self.sessions)
            self.stacks.train_round()
            with self.profile.timing("checkpoints"):
                self.checkpoint_due()
            if self.profile.due():
                self.post(None, PROFILE, self.profile.totals())
            self.flush()
            ended = [r for r, s in self.sessions.items() if s.finished]
            for run_id in ended:
                self.stacks.release(run_id)
                del self.sessions[run_id]  # ended by its last step, a cancel or a failure
                self.last_checkpoint.pop(run_id, None)
            if ended and not self.sessions:
                give_memory_back()

    def wait_s(self) -> float:
        """How long to wait for a command before the next round: not at all while a run has a
        step to take, until the next paced run's step falls due, else IDLE_WAIT_S. Paced runs
        wake the worker at most once a time slice: a round then takes the steps due meanwhile,
        rather than a round for each step of each pace."""
        now = time.monotonic()
        due_s = min((s.due_in_s(now) for s in self.sessions.values()), default=IDLE_WAIT_S)
        if due_s == 0.0:
            return 0.0
        return min(IDLE_WAIT_S, max(due_s, self.config.time_slice_s))

    # --- messages -----------------------------------------------------------------------------

    def post(self, run_id: str | None, kind: str, payload: dict[str, Any]) -> None:
        self.outbox.append((run_id, kind, payload))

    @property
    def profile(self) -> "WorkerProfile":
        return self.stacks.profile

    def flush(self) -> None:
        """What was posted since the last flush, in one message (in the order it was posted)."""
        with self.profile.timing("pipe"):  # pickled and written to the channel
            if len(self.outbox) == 1:
                self._send(self.outbox[0])
            elif self.outbox:
                self._send((None, BATCH, {"events": list(self.outbox)}))
        self.outbox.clear()

    def take_commands(self, receive: Receive, wait_s: float = 0.0) -> bool:
        """Every command waiting (waiting up to `wait_s` for the first); False once the server
        says stop."""
        timeout_s = wait_s
        while True:
            with self.profile.timing("waiting"):
                command = receive(timeout_s)
            if command is None:
                break
            with self.profile.timing("commands"):
                going_on = self.handle(command)
            self.flush()
            if not going_on:
                return False
            timeout_s = 0.0
        return True

    # --- commands -----------------------------------------------------------------------------

    def handle(self, command: tuple[Any, ...]) -> bool:
        name, run_id, *args = command
        if name == "stop":  # the server is stopping: what each run has reached goes with it
            self.checkpoint_due(everything=True)
            return False
        self.guarded(run_id, lambda: self.act(name, run_id, *args))
        return True

    def act(self, name: str, run_id: str, *args: Any) -> None:
        if name == "start":
            self.start(run_id, *args)
            return
        session = self.sessions.get(run_id)
        if name == "park":
            if session is not None and not session.finished:
                self.park(run_id)
        elif name == "call":
            self.answer_call(run_id, args[0])
        elif session is not None:
            if name == "rates":
                self.stacks.set_rates(session, run_id, **args[0])
            elif name == "set_weight":
                self.set_weight(run_id, session, *args)
            else:  # pause, resume, step, cancel; a run that stops moving leaves its stack first
                if name in ("pause", "cancel"):
                    self.stacks.release(run_id)
                getattr(session, name)()

    def start(
        self,
        run_id: str,
        spec_json: dict[str, Any],
        csv_text: str | None,
        paused: bool,
        checkpoint: bytes | None = None,
    ) -> None:
        from layerlab.core.datasets import load_csv
        from layerlab.core.limits import UNLIMITED
        from layerlab.core.spec import admitted_spec
        from layerlab.engine.session import TrainingSession

        spec = admitted_spec(spec_json)
        dataset = load_csv(csv_text, spec.dataset, UNLIMITED) if csv_text is not None else None
        self.sessions[run_id] = session = TrainingSession(
            spec,
            lambda kind, payload: self.post(run_id, kind, payload),
            dataset=dataset,
            device=self.device,
            metrics_interval_s=self.config.metrics_interval_s,
            grid_interval_s=self.config.grid_interval_s,
            paused=paused,
            checkpoint=checkpoint,
        )
        self.last_checkpoint[run_id] = (time.monotonic(), session.trainer.step)

    def set_weight(
        self,
        run_id: str,
        session: "TrainingSession",
        layer: int,
        row: int,
        column: int | None,
        value: float,
    ) -> None:
        """A weight set by hand on a paused run (one that moved on meanwhile keeps its own: the
        server reads the weights back); its checkpoint goes at once, so that no stored copy of
        the run holds the weights from before."""
        if session.status is RunStatus.PAUSED:
            session.set_weight(layer, row, column, value)
            self.send_checkpoint(run_id)

    def answer_call(self, run_id: str, call_id: int) -> None:
        session = self.sessions.get(run_id)
        if session is None:
            self.post(run_id, REPLY, {"call_id": call_id, "error": "the run is not training here"})
            return
        try:
            self.stacks.write_back(run_id)
            reply = {
                "call_id": call_id,
                "weights": session.weights_bytes(),
                "gradient_norms": session.gradient_norms(),
                "step": session.trainer.step,
            }
        except Exception:
            self.post(run_id, REPLY, {"call_id": call_id, "error": "the run failed"})
            raise
        self.post(run_id, REPLY, reply)

    def guarded(self, run_id: str, action: Callable[[], None]) -> None:
        """Run an action of one session; if it raises, that run fails and the others go on."""
        from layerlab.core.datasets import DatasetError
        from layerlab.engine.session import INTERNAL_ERROR

        try:
            action()
        except (EOFError, OSError):
            raise  # the channel to the server broke: the worker ends
        except Exception as error:  # a bad CSV, out of memory, a bug: one run's problem only
            if isinstance(error, DatasetError):
                message = f"The data could not be used: {error}"
            else:
                logger.exception("internal error on run %s", run_id)
                message = INTERNAL_ERROR
            session = self.sessions.get(run_id)
            if session is not None:
                session.fail(message)
            else:
                self.post(run_id, "status", {"status": "failed", "error": message})

    # --- checkpoints and parking --------------------------------------------------------------

    def state_of(self, run_id: str) -> dict[str, Any]:
        """A run's checkpoint: its whole state, its weights alone (for reads) and its step."""
        session = self.sessions[run_id]
        self.stacks.write_back(run_id)
        self.last_checkpoint[run_id] = (time.monotonic(), session.trainer.step)
        return {
            "step": session.trainer.step,
            "state": session.trainer.checkpoint(),
            "weights": session.weights_bytes(),
        }

    def checkpoint_due(self, everything: bool = False) -> None:
        """Every run that moved since its last checkpoint, if that was long enough ago."""
        now = time.monotonic()
        for run_id, session in list(self.sessions.items()):
            when, step = self.last_checkpoint.get(run_id, (now, -1))
            due = everything or now - when >= self.config.checkpoint_interval_s
            if due and not session.finished and session.trainer.step != step:
                self.guarded(run_id, functools.partial(self.send_checkpoint, run_id))

    def send_checkpoint(self, run_id: str) -> None:
        self.post(run_id, CHECKPOINT, self.state_of(run_id))

    def park(self, run_id: str) -> None:
        """The run leaves this worker with its state (the server keeps it until resume)."""
        self.stacks.release(run_id)
        self.post(run_id, PARKED, self.state_of(run_id))
        del self.sessions[run_id], self.last_checkpoint[run_id]


def give_memory_back() -> None:
    """An idle worker hands the memory its runs' freed tensors left in the C heap back to the
    system: glibc keeps freed blocks for reuse, so a busy hour would stay counted forever."""
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc (macOS, musl): nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def warm_up(device: "torch.device", config: WorkerConfig) -> None:
    """Train two tiny runs to the end in a stack and drop them: what the first learner would
    otherwise pay for first calls."""
    from layerlab.core.spec import RunSpec
    from layerlab.engine.session import TrainingSession
    from layerlab.engine.stacking import StackedSessions

    spec = RunSpec.model_validate({"dataset": {"samples": 40}, "epochs": 2, "grid_resolution": 8})
    stacks = StackedSessions(
        0.0, 0.0, config.time_slice_s, cuda_graphs=config.cuda_graphs and device.type == "cuda"
    )
    sessions = {
        f"warm-up-{seed}": TrainingSession(
            spec.model_copy(update={"seed": seed}), lambda kind, payload: None, device=device
        )
        for seed in (1, 2)
    }
    while not all(session.finished for session in sessions.values()):
        stacks.sync(sessions)
        stacks.train_round()
