"""One run: a Trainer that steps a model on in-memory tensors, and the words for how it went."""

import enum
import io
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from layerlab.core.datasets import Dataset, make_dataset, model_inputs
from layerlab.core.grids import Grid, grid_from_outputs, grid_inputs
from layerlab.core.models import build_model, build_optimizer, linear_layers, penalty
from layerlab.core.spec import RunSpec


class RunStatus(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    DIVERGED = "diverged"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def is_final(self) -> bool:
        return self not in (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED)


# The final statuses as the wire and the store spell them.
FINAL_STATUSES = frozenset(status.value for status in RunStatus if status.is_final)


@dataclass
class MetricPoint:
    """Losses and scores on the whole train and test sets after `step` optimizer steps."""

    step: int
    epoch: float
    train_loss: float  # the data loss alone
    test_loss: float
    regularization_loss: float  # the penalty term added to train_loss while training
    train_acc: float | None = None  # classification
    test_acc: float | None = None
    train_rmse: float | None = None  # regression
    test_rmse: float | None = None
    samples_per_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        # numbers alone: vars, not asdict (which copies deeply, 17x slower: a frame per run and
        # metric point, ~20 a second each)
        return {key: value for key, value in vars(self).items() if value is not None}


@dataclass
class RunResult:
    """How a run ended, with the metric points it reported on the way."""

    status: RunStatus
    error: str | None
    metrics: dict[str, Any]
    history: list[MetricPoint] = field(default_factory=list)
    elapsed_s: float = 0.0


def pick_device(name: str = "auto") -> torch.device:
    """'auto' is CUDA when a GPU is present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class Trainer:
    """A model, its optimizer and its data held as tensors, stepped by whoever owns it.

    Same spec, same data, same initial weights and the same trajectory: the batches come from a
    generator seeded by `spec.seed`, and nothing here touches the global random state.
    `dtype` is float32 for training; float64 checks the stacked engine's maths against this loop.
    """

    def __init__(
        self,
        spec: RunSpec,
        dataset: Dataset | None = None,
        device: torch.device | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.spec = spec
        self.dataset = dataset if dataset is not None else make_dataset(spec.dataset)
        self.device = device or torch.device("cpu")
        self.dtype = dtype
        x_train, x_test = model_inputs(self.dataset, spec)
        self.n_inputs = x_train.shape[1]
        self.x_train = self._tensor(x_train)
        self.y_train = self._tensor(self.dataset.y_train)
        self.x_test = self._tensor(x_test)
        self.y_test = self._tensor(self.dataset.y_test)
        self.n_train = len(self.x_train)
        self.batch_size = min(spec.batch_size, self.n_train)
        self.steps_per_epoch = math.ceil(self.n_train / self.batch_size)
        self.total_steps = spec.epochs * self.steps_per_epoch
        self.learning_rate = spec.learning_rate
        self.regularization_rate = spec.regularization_rate
        self._grid_inputs: torch.Tensor | None = None
        self.reset()

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        """On the device; floats in the trainer's dtype, class labels as they are."""
        tensor = torch.as_tensor(array, device=self.device)
        return tensor.to(self.dtype) if tensor.is_floating_point() else tensor

    def reset(self) -> None:
        """Back to step 0 with the seed's initial weights and batch order."""
        model = build_model(self.spec, self.n_inputs, self.dataset.n_outputs)
        self.model = model.to(self.device, self.dtype)
        self.optimizer = build_optimizer(self.spec, self.model)
        self.set_learning_rate(self.learning_rate)
        self._weights = [layer.weight for layer in linear_layers(self.model)]
        # Each epoch's order of the training points is drawn from `shuffle` at its first step.
        self.shuffle = torch.Generator().manual_seed(self.spec.seed)
        self.epoch_order = torch.empty(0, dtype=torch.long)
        self.step = 0

    def checkpoint(self) -> bytes:
        """Everything the run's path depends on, as `torch.save` bytes: weights, optimizer
        state, batch order, generator, step and rates. `restore` takes it back."""
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "shuffle": self.shuffle.get_state(),
            "epoch_order": self.epoch_order.cpu(),
            "step": self.step,
            "learning_rate": self.learning_rate,
            "regularization_rate": self.regularization_rate,
        }
        buffer = io.BytesIO()
        torch.save(state, buffer)
        return buffer.getvalue()

    def restore(self, checkpoint: bytes) -> None:
        """Back to the state a `checkpoint` of this spec's Trainer saved: it goes on from there
        on the path it was on."""
        # on the CPU first: the optimizer moves its state to the parameters' device itself, and
        # keeps Adam's step count on the CPU, where torch.optim wants it
        state = torch.load(io.BytesIO(checkpoint), map_location="cpu", weights_only=True)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.set_learning_rate(state["learning_rate"])
        self.set_regularization_rate(state["regularization_rate"])
        self.shuffle.set_state(state["shuffle"].cpu())
        self.epoch_order = state["epoch_order"].to(self.device)
        self.step = int(state["step"])

    @property
    def epoch(self) -> float:
        return self.step / self.steps_per_epoch

    @property
    def finished(self) -> bool:
        return self.step >= self.total_steps

    def set_learning_rate(self, learning_rate: float) -> None:
        """Takes effect from the next step; weights and optimizer state are kept."""
        self.learning_rate = learning_rate
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate

    def set_regularization_rate(self, rate: float) -> None:
        self.regularization_rate = rate

    def data_loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        task = self.dataset.task
        if task == "binary":  # one logit; sigmoid + BCE fused for stability
            return F.binary_cross_entropy_with_logits(outputs.squeeze(1), targets)
        if task == "multiclass":
            return F.cross_entropy(outputs, targets)
        return F.mse_loss(outputs.squeeze(1), targets)

    @property
    def penalized(self) -> bool:
        """Whether a regularization term is added to the loss now."""
        return self.spec.regularization != "none" and self.regularization_rate > 0.0

    def regularization_loss(self) -> torch.Tensor | None:
        if not self.penalized:
            return None
        return self.regularization_rate * penalty(self._weights, self.spec.regularization)

    def train_steps(self, count: int) -> None:
        """Take up to `count` minibatch steps (fewer at the end of the last epoch)."""
        model, optimizer = self.model, self.optimizer
        for _ in range(min(count, self.total_steps - self.step)):
            start = (self.step % self.steps_per_epoch) * self.batch_size
            if start == 0:  # a new epoch: a new order of the training points
                self.epoch_order = torch.randperm(self.n_train, generator=self.shuffle).to(
                    self.device
                )
            batch = self.epoch_order[start : start + self.batch_size]
            loss = self.data_loss(model(self.x_train[batch]), self.y_train[batch])
            extra = self.regularization_loss()
            if extra is not None:
                loss = loss + extra
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            self.step += 1

    @torch.no_grad()
    def evaluate(self, samples_per_s: float = 0.0) -> MetricPoint:
        """Metrics on the whole train and test sets (NaN when the weights have diverged)."""
        train_out, test_out = self.model(self.x_train), self.model(self.x_test)
        extra = self.regularization_loss()
        point = MetricPoint(
            step=self.step,
            epoch=round(self.epoch, 4),
            train_loss=float(self.data_loss(train_out, self.y_train)),
            test_loss=float(self.data_loss(test_out, self.y_test)),
            regularization_loss=0.0 if extra is None else float(extra),
            samples_per_s=round(samples_per_s, 1),
        )
        if self.dataset.task == "regression":
            point.train_rmse = math.sqrt(point.train_loss)
            point.test_rmse = math.sqrt(point.test_loss)
        else:
            point.train_acc = float(
                (self.predict_classes(train_out) == self.y_train).float().mean()
            )
            point.test_acc = float((self.predict_classes(test_out) == self.y_test).float().mean())
        return point

    def predict_classes(self, outputs: torch.Tensor) -> torch.Tensor:
        if self.dataset.task == "binary":
            return (outputs.squeeze(1) > 0).to(self.y_train.dtype)
        return outputs.argmax(dim=1)

    @torch.no_grad()
    def final_metrics(self) -> dict[str, Any]:
        """The last point plus a test confusion matrix (classes) or R² (regression)."""
        metrics = self.evaluate().to_dict()
        del metrics["samples_per_s"]  # a rate over an interval, not a property of the model
        if self.dataset.task == "regression":
            metrics["train_r2"] = _r2(self.model(self.x_train).squeeze(1), self.y_train)
            metrics["test_r2"] = _r2(self.model(self.x_test).squeeze(1), self.y_test)
        else:
            predicted = self.predict_classes(self.model(self.x_test)).long()
            k = self.dataset.n_classes
            counts = torch.bincount(self.y_test.long() * k + predicted, minlength=k * k)
            metrics["confusion_matrix"] = counts.reshape(k, k).tolist()  # rows: true class
        return metrics

    def grid_cells(self) -> torch.Tensor:
        """The grid's cells as model inputs, (resolution², n_inputs), made once."""
        if self._grid_inputs is None:
            self._grid_inputs = grid_inputs(self.dataset, self.spec).to(self.device, self.dtype)
        return self._grid_inputs

    @torch.no_grad()
    def grid(self) -> Grid:
        """The model's output over the data's plane, for the decision-boundary heatmap."""
        outputs = self.model(self.grid_cells())
        return grid_from_outputs(outputs, self.dataset, self.spec.grid_resolution, self.step)


def _r2(predicted: torch.Tensor, target: torch.Tensor) -> float:
    residual = float(((target - predicted) ** 2).sum())
    total = float(((target - target.mean()) ** 2).sum())
    return 1.0 - residual / total if total > 0 else 0.0


def divergence_message(trainer: Trainer, point: MetricPoint) -> str | None:
    """A sentence a learner can act on when the loss is no longer a finite number."""
    if all(map(math.isfinite, (point.train_loss, point.test_loss, point.regularization_loss))):
        return None
    return (
        f"The loss became {_non_finite_name(point)} at step {point.step} (epoch "
        f"{point.epoch:g}): the weights blew up because the learning rate "
        f"{trainer.learning_rate:g} is too high for this network. Try it 10 times smaller."
    )


def _non_finite_name(point: MetricPoint) -> str:
    values = (point.train_loss, point.test_loss, point.regularization_loss)
    return "NaN" if any(math.isnan(v) for v in values) else "infinite"
