"""One run being trained: its Trainer, its controls, and the events it owes whoever watches.

A worker trains its running sessions together, in stacks (`stacking.py`), and hands each its
frames to `publish`. A session can also train alone (`advance`): its single steps while paused,
`layerlab train`, and wherever no stack is wanted. Either way frames leave at most at the rates
in settings, so a fast run costs its viewers no more than a slow one.
"""

import io
import math
import time
from collections.abc import Callable
from typing import Any

import torch

from layerlab.core.datasets import Dataset
from layerlab.core.grids import Grid
from layerlab.core.spec import RunSpec
from layerlab.core.summary import learned_vs_true, model_summary, truth_formula
from layerlab.core.training import MetricPoint, RunStatus, Trainer, divergence_message
from layerlab.core.weight_edit import set_weight
from layerlab.engine.pace import Pace

Emit = Callable[[str, dict[str, Any]], None]

# What a learner reads when LayerLab itself failed on their run (the details go to the log).
INTERNAL_ERROR = "LayerLab hit an internal error on this run; it has been logged. Start it again."

STEPS_PER_CHUNK = 4  # steps between two looks at the clock (a look costs well under 1%)


class TrainingSession:
    """A run being trained: pause, resume, step, cancel and new rates apply between turns.

    Its owner calls everything from one thread (a worker's loop, the command's); a control that
    arrives elsewhere, such as Ctrl-C, waits for the owner's next look. Metrics frames leave
    every `metrics_interval_s`; when `metrics_every_steps` is set they also fall due at each
    multiple of that many steps, where a turn alone stops: a history that is the same on every
    machine. `grid_interval_s=None` sends no grids.
    """

    def __init__(
        self,
        spec: RunSpec,
        emit: Emit,
        *,
        dataset: Dataset | None = None,
        device: torch.device | None = None,
        dtype: torch.dtype = torch.float32,
        metrics_interval_s: float = 0.05,
        grid_interval_s: float | None = 0.1,
        paused: bool = False,
        checkpoint: bytes | None = None,
    ) -> None:
        self.emit = emit
        self.trainer = Trainer(spec, dataset, device, dtype)
        if checkpoint is not None:  # a run that left a worker, or a server, goes on
            self.trainer.restore(checkpoint)
        self.metrics_interval_s = metrics_interval_s
        self.grid_interval_s = grid_interval_s
        self.metrics_every_steps: int | None = None  # set once the Trainer's numbers are known
        self.status = RunStatus.PAUSED if paused else RunStatus.RUNNING
        self.steps_requested = 0
        self.pace: Pace | None = None
        self.set_pace(spec.epochs_per_s)
        self.reported_step, self.reported_at = -1, time.monotonic()  # its last metrics frame
        self._timed_steps, self._timed_s = 0, 0.0
        self._next_metrics = self._next_grid = 0.0
        emit("status", {"status": self.status.value, "model_info": self.model_info()})
        self._report(force_grid=True)

    # --- controls ---------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.status.is_final

    @property
    def runnable(self) -> bool:
        """Whether the session wants a turn: running, or paused with single steps to take."""
        return self.status is RunStatus.RUNNING or (
            self.status is RunStatus.PAUSED and self.steps_requested > 0
        )

    def pause(self) -> None:
        if self.status is RunStatus.RUNNING:
            self.status = RunStatus.PAUSED
            self._report(force_grid=True)  # the frozen picture is the last one drawn
            self.emit("status", {"status": self.status.value})

    def resume(self) -> None:
        if self.status is RunStatus.PAUSED:
            self.status = RunStatus.RUNNING
            if self.pace is not None:  # a pause owes no steps
                self.pace.restart(time.monotonic(), self.trainer.step)
            self.emit("status", {"status": self.status.value})

    def step(self) -> None:
        """While paused: one step at the next turn, reported, and still paused."""
        if self.status is RunStatus.PAUSED:
            self.steps_requested += 1

    def cancel(self) -> None:
        if not self.finished:
            self._finish(RunStatus.CANCELLED, None)

    def set_rates(
        self, learning_rate: float | None = None, regularization_rate: float | None = None
    ) -> None:
        if learning_rate is not None:
            self.trainer.set_learning_rate(learning_rate)
        if regularization_rate is not None:
            self.trainer.set_regularization_rate(regularization_rate)

    def set_pace(self, epochs_per_s: float | None) -> None:
        """At most `epochs_per_s` epochs per second from now on; None: as fast as it goes."""
        trainer = self.trainer
        self.pace = (
            None
            if epochs_per_s is None
            else Pace(epochs_per_s, trainer.steps_per_epoch, time.monotonic(), trainer.step)
        )

    def steps_allowed(self, now: float) -> int | None:
        """Steps a running session may take now: its pace's allowance, or None for no limit."""
        return None if self.pace is None else self.pace.allowance(now, self.trainer.step)

    def paced_samples_per_s(self, now: float) -> float:
        """Samples per second of the wall clock since the last metrics frame: a paced run's
        speed is its pace, not what the machine could do."""
        elapsed = now - self.reported_at
        moved = self.trainer.step - self.reported_step
        return moved * self.trainer.batch_size / elapsed if elapsed > 0 else 0.0

    def due_in_s(self, now: float) -> float:
        """Seconds until the session has a step to take: 0 now, inf while it waits for a
        command (paused, or ended)."""
        if not self.runnable:
            return math.inf
        if self.status is RunStatus.PAUSED or self.pace is None:
            return 0.0
        return 0.0 if self.steps_allowed(now) else self.pace.due_in_s(now)

    def set_weight(self, layer: int, row: int, column: int | None, value: float) -> None:
        """While paused: one weight (or with `column` None, a bias) set by hand. The run goes on
        from it, its optimizer state as it was; viewers see its new picture at once."""
        if self.status is not RunStatus.PAUSED:
            raise ValueError(f"a weight is set on a paused run; this one is {self.status.value}")
        set_weight(self.trainer.model.state_dict(), layer, row, column, value)
        self._report(force_grid=True)

    def fail(self, error: str) -> None:
        if not self.finished:
            self.status = RunStatus.FAILED
            self.emit("status", {"status": self.status.value, "error": error})

    # --- training ---------------------------------------------------------------------------

    def advance(self, budget_s: float) -> None:
        """Train for about `budget_s` seconds (or the requested single steps), then report.

        The turn ends early when a metrics frame falls due, so that frames leave on time.
        """
        trainer = self.trainer
        if self.status is RunStatus.PAUSED:
            trainer.train_steps(self.steps_requested)
            self.steps_requested = 0
            self._report(force_grid=True)
            return
        start = time.perf_counter()
        deadline = min(start + budget_s, max(self._next_metrics, start + 0.001))
        report_step = self._next_report_step()
        allowed = self.steps_allowed(time.monotonic())
        last_step = report_step if allowed is None else min(report_step, trainer.step + allowed)
        step_before = trainer.step
        now = start
        while trainer.step < last_step and now < deadline:
            trainer.train_steps(min(STEPS_PER_CHUNK, last_step - trainer.step))
            now = time.perf_counter()
        self._timed_steps += trainer.step - step_before
        self._timed_s += now - start
        moved = trainer.step != self.reported_step
        if trainer.step >= report_step or (now >= self._next_metrics and moved):
            self._report(force_grid=trainer.finished)

    def _next_report_step(self) -> int:
        """The step whose metrics are due whatever the clock says: the next multiple of
        `metrics_every_steps`, or the last step."""
        every, trainer = self.metrics_every_steps, self.trainer
        if every is None:
            return trainer.total_steps
        return min((trainer.step // every + 1) * every, trainer.total_steps)

    def _report(self, force_grid: bool = False) -> None:
        """Evaluate the run alone and publish it (a stack evaluates its runs together)."""
        trainer = self.trainer
        rate = self._timed_steps * trainer.batch_size / self._timed_s if self._timed_s else 0.0
        if self.pace is not None:
            rate = self.paced_samples_per_s(time.monotonic())
        self._timed_steps, self._timed_s = 0, 0.0
        now = time.perf_counter()
        grid_due = (
            self.grid_interval_s is not None
            and trainer.dataset.is_2d
            and (force_grid or now >= self._next_grid)
        )
        self.publish(trainer.evaluate(rate), trainer.grid() if grid_due else None)

    def publish(self, point: MetricPoint, grid: Grid | None) -> None:
        """Send a metrics frame (and a grid); a loss gone NaN or the last step ends the run."""
        now = time.perf_counter()
        self._next_metrics = now + self.metrics_interval_s
        self.reported_step, self.reported_at = point.step, time.monotonic()
        self.emit("metrics", point.to_dict())
        error = divergence_message(self.trainer, point)
        if error is None and grid is not None and self.grid_interval_s is not None:
            self._next_grid = now + self.grid_interval_s
            self.emit("grid", grid.encode())
        if error is not None:
            self._finish(RunStatus.DIVERGED, error, point.to_dict())
        elif self.trainer.finished:
            self._finish(RunStatus.DONE, None)

    def _finish(
        self, status: RunStatus, error: str | None, metrics: dict[str, Any] | None = None
    ) -> None:
        """The last event: final metrics and, unless the weights blew up, the weights. The
        status changes once the event is made, so a run whose end raised can still `fail`."""
        final: dict[str, Any] = {"status": status.value, "error": error}
        final["final_metrics"] = metrics if metrics is not None else self.trainer.final_metrics()
        if status is not RunStatus.DIVERGED:
            final["weights"] = self.weights_bytes()
            final["learned"] = self._learned()
        self.status = status
        self.emit("status", final)

    # --- what the run is made of --------------------------------------------------------------

    def weights_bytes(self) -> bytes:
        """`torch.save` of the state dict on the CPU: what `load_state_dict` takes back."""
        buffer = io.BytesIO()
        state = {name: tensor.cpu() for name, tensor in self.trainer.model.state_dict().items()}
        torch.save(state, buffer)
        return buffer.getvalue()

    def gradient_norms(self) -> dict[str, float | None]:
        return {
            name: None if param.grad is None else float(param.grad.norm())
            for name, param in self.trainer.model.named_parameters()
        }

    def model_info(self) -> dict[str, Any]:
        """What a viewer or a predict request needs to know about the data and the network."""
        trainer, dataset = self.trainer, self.trainer.dataset
        info: dict[str, Any] = {
            "task": dataset.task,
            "input_names": list(dataset.input_names),
            "class_names": list(dataset.class_names),
            "n_classes": dataset.n_classes,
            "n_inputs": trainer.n_inputs,
            "n_outputs": dataset.n_outputs,
            "extent": list(dataset.extent) if dataset.extent else None,
            "train_points": trainer.n_train,
            "test_points": len(dataset.y_test),
            "batch_size": trainer.batch_size,
            "steps_per_epoch": trainer.steps_per_epoch,
            "total_steps": trainer.total_steps,
            "device": str(trainer.device),
            "summary": model_summary(trainer.model, trainer.n_inputs),
        }
        if dataset.truth is not None:
            info["truth"] = {
                "weights": list(dataset.truth.weights),
                "bias": dataset.truth.bias,
                "formula": truth_formula(dataset.truth, dataset.input_names),
            }
        return info

    def _learned(self) -> list[dict[str, Any]] | None:
        """Learned against true weights, when the data has a known rule and the net is affine."""
        dataset = self.trainer.dataset
        if dataset.truth is None:
            return None
        rows = learned_vs_true(
            self.trainer.model, dataset.truth, dataset.input_names, self.trainer.spec.features
        )
        if rows is None:
            return None
        return [{"parameter": name, "learned": lv, "true": tv} for name, lv, tv in rows]
