"""What a run looks like in a terminal: a progress line while it trains, then text tables."""

import math
import sys
import textwrap
import time
from collections.abc import Sequence
from typing import Any, TextIO

import torch

from layerlab.core.features import feature_label
from layerlab.core.summary import learned_vs_true, model_summary, truth_formula
from layerlab.core.training import MetricPoint, RunResult, RunStatus, Trainer

BAR_WIDTH = 24
REDRAW_EVERY_S = 0.05  # a terminal redrawn more often than 20 times a second only flickers
TEXT_WIDTH = 88
LINEAR_MODELS = {
    "binary": "logistic regression",
    "multiclass": "softmax regression",
    "regression": "linear regression",
}
LOSS_LABELS = {"binary": "loss (BCE)", "multiclass": "loss (CE)", "regression": "loss (MSE)"}
TASK_NAMES = {
    "binary": "binary classification (sigmoid + binary cross-entropy)",
    "multiclass": "{k}-class classification (softmax + cross-entropy)",
    "regression": "regression (mean squared error)",
}


def number(value: float, digits: int = 4) -> str:
    """`value` to `digits` significant digits; NaN and infinities spelt out."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{digits}g}"


def score_text(point: dict[str, Any]) -> str:
    """The test score a learner watches: accuracy for classes, RMSE for regression."""
    if "test_acc" in point:
        return f"test acc {point['test_acc']:6.1%}"
    return f"test RMSE {number(point['test_rmse']):<7}"


class ProgressLine:
    """Progress on a stream: one line redrawn with \\r on a terminal, else a line per 10%."""

    def __init__(self, trainer: Trainer, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.total_steps = trainer.total_steps
        self.epochs = trainer.spec.epochs
        self.batch_size = trainer.batch_size
        self.interactive = self.stream.isatty()
        encoding = getattr(self.stream, "encoding", None) or "ascii"
        self.marks = ("█", "░") if _can_encode("█░", encoding) else ("#", "-")
        self._next_tenth = 1
        self._last_draw_s = -math.inf
        self._drawn = 0  # characters of the line now on screen

    def update(self, point: dict[str, Any]) -> None:
        step = point["step"]
        if self.interactive:
            now = time.monotonic()
            if now - self._last_draw_s < REDRAW_EVERY_S and step < self.total_steps:
                return
            self._last_draw_s = now
            line = self.describe(point, bar=True)
            self.stream.write("\r" + line.ljust(self._drawn))
            self.stream.flush()
            self._drawn = len(line)
        elif step * 10 >= self._next_tenth * self.total_steps:
            print(self.describe(point, bar=False), file=self.stream, flush=True)
            self._next_tenth = step * 10 // self.total_steps + 1

    def describe(self, point: dict[str, Any], bar: bool) -> str:
        done = point["step"] / self.total_steps
        parts = [f"epoch {math.floor(point['epoch']):>{len(str(self.epochs))}}/{self.epochs}"]
        if bar:
            filled = round(done * BAR_WIDTH)
            full, empty = self.marks
            parts.append(f"[{full * filled}{empty * (BAR_WIDTH - filled)}]")
        parts += [f"{done:4.0%}", f"loss {number(point['train_loss'], 3):<8}", score_text(point)]
        if point.get("samples_per_s"):
            parts.append(f"{point['samples_per_s'] / self.batch_size:6,.0f} steps/s")
        return "  ".join(parts)

    def close(self) -> None:
        """End the redrawn line so that what follows starts on a fresh one."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = 0


def _can_encode(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


class TerminalRun:
    """A session's events as a terminal keeps them: its metric points and its last status,
    each point drawn on the progress line once there is one."""

    def __init__(self) -> None:
        self.history: list[MetricPoint] = []
        self.last_status: dict[str, Any] = {}
        self.progress: ProgressLine | None = None

    def __call__(self, kind: str, payload: dict[str, Any]) -> None:
        if kind == "metrics":
            self.history.append(MetricPoint(**payload))
            if self.progress:
                self.progress.update(payload)
        elif kind == "status":
            self.last_status = payload

    def show_progress(self, progress: ProgressLine) -> None:
        """Draw the run on `progress` from here on, after the points it has missed."""
        self.progress = progress
        for point in self.history:
            progress.update(point.to_dict())

    def close_progress(self) -> None:
        if self.progress:
            self.progress.close()

    def result(self, elapsed_s: float) -> RunResult:
        """The run's end, once its session has finished."""
        final = self.last_status
        status = RunStatus(final["status"])
        return RunResult(status, final["error"], final["final_metrics"], self.history, elapsed_s)


# --- the result ----------------------------------------------------------------------------


def format_result(trainer: Trainer, result: RunResult) -> str:
    """What a learner reads after training (run_text comes before it), as plain aligned text."""
    sections = [
        status_text(trainer, result),
        metrics_text(trainer, result.metrics),
        confusion_text(result.metrics, trainer.dataset.class_names),
        "" if result.status is RunStatus.DIVERGED else truth_text(trainer),
        layers_text(model_summary(trainer.model, trainer.n_inputs)),
    ]
    return "\n\n".join(section for section in sections if section)


def run_text(trainer: Trainer, device: torch.device) -> str:
    spec, data = trainer.spec, trainer.dataset
    if data.is_2d:
        inputs = ", ".join(feature_label(name, data.input_names) for name in spec.features)
    else:  # columns used as they are, under their own names
        inputs = ", ".join(data.input_names)
    outputs = f"{data.n_outputs} output{'s' if data.n_outputs > 1 else ''}"
    network = f"{trainer.n_inputs} input{'s' if trainer.n_inputs > 1 else ''} ({inputs}) → "
    if spec.hidden_widths:
        widths = " → ".join(map(str, spec.hidden_widths))
        network += f"{widths} → {outputs}, {spec.activation} after each hidden layer"
    else:
        network += f"{outputs}: no hidden layer, i.e. {LINEAR_MODELS[data.task]}"
    training = f"{spec.optimizer}, learning rate {spec.learning_rate:g}, batch {trainer.batch_size}"
    training += f", {spec.epochs} epochs ({trainer.total_steps:,} steps)"
    if trainer.penalized:
        training += f", {spec.regularization.upper()} penalty × {spec.regularization_rate:g}"
    points = f"{data.name}: {len(data.y_train):,} train + {len(data.y_test):,} test points"
    if data.name != "csv":
        points += f", noise {spec.dataset.noise:g}"
    rows = [
        ["Data", points],
        ["Network", network],
        ["Task", TASK_NAMES[data.task].format(k=data.n_classes)],
        ["Training", f"{training}, on {device}"],
    ]
    return aligned(rows, indent="")


def status_text(trainer: Trainer, result: RunResult) -> str:
    steps = f"{trainer.step:,} of {trainer.total_steps:,} steps (epoch {trainer.epoch:.4g})"
    if result.status is RunStatus.DONE:
        took = f"{result.elapsed_s:.1f} s" if result.elapsed_s >= 0.1 else "under 0.1 s"
        line = f"Status: done, {trainer.step:,} steps in {took}"
    elif result.status is RunStatus.CANCELLED:
        line = f"Status: cancelled after {steps}\n  The numbers below are for the weights so far."
    else:
        line = f"Status: {result.status.value} after {steps}"
    if result.error:
        line += "\n" + textwrap.fill(
            result.error, TEXT_WIDTH, initial_indent="  ", subsequent_indent="  "
        )
    return line


def metrics_text(trainer: Trainer, metrics: dict[str, Any]) -> str:
    loss = LOSS_LABELS[trainer.dataset.task]
    rows = [
        ["", "train", "test"],
        [loss, number(metrics["train_loss"]), number(metrics["test_loss"])],
    ]
    if "test_acc" in metrics:
        rows.append(["accuracy", f"{metrics['train_acc']:.1%}", f"{metrics['test_acc']:.1%}"])
    if "test_rmse" in metrics:
        rows.append(["RMSE", number(metrics["train_rmse"]), number(metrics["test_rmse"])])
    if "test_r2" in metrics:
        rows.append(["R²", f"{metrics['train_r2']:.4f}", f"{metrics['test_r2']:.4f}"])
    if trainer.penalized:  # added to the training loss only
        penalty = f"{trainer.spec.regularization.upper()} penalty"
        rows.append([penalty, number(metrics["regularization_loss"]), ""])
    return "Metrics\n" + aligned(rows, right=(False, True, True))


def confusion_text(metrics: dict[str, Any], class_names: Sequence[str]) -> str:
    matrix = metrics.get("confusion_matrix")
    if matrix is None:
        return ""
    rows = [["true \\ predicted", *class_names]]
    rows += [[name, *map(str, counts)] for name, counts in zip(class_names, matrix, strict=True)]
    table = aligned(rows, right=(False, *[True] * len(class_names)))
    return f"Confusion matrix on the test set (rows: true class, columns: predicted)\n{table}"


def layers_text(summary: dict[str, Any]) -> str:
    rows = [["#", "layer", "in → out", "weight", "bias", "params"]]
    for layer in summary["layers"]:
        weight = "×".join(map(str, layer.get("weight_shape", []))) or "-"
        bias = "×".join(map(str, layer.get("bias_shape", []))) or "-"
        sizes, parameters = f"{layer['in']} → {layer['out']}", f"{layer['parameters']:,}"
        rows.append([str(layer["index"]), layer["type"], sizes, weight, bias, parameters])
    rows.append(["", "total", "", "", "", f"{summary['total_parameters']:,}"])
    table = aligned(rows, right=(True, False, False, False, False, True), rules=(1, len(rows) - 1))
    return f"Layers (weight shape is out × in, as PyTorch stores it)\n{table}"


def truth_text(trainer: Trainer) -> str:
    truth = trainer.dataset.truth
    if truth is None:
        return ""
    formula = truth_formula(truth, trainer.dataset.input_names)
    comparison = compare_with_truth(trainer)
    if comparison is None:
        return textwrap.fill(
            f"The data was made as {formula}. This network puts {trainer.spec.activation} between "
            'its layers, so its weights do not map onto those numbers; train it with --hidden "" '
            "(or --activation linear) to recover them.",
            TEXT_WIDTH,
        )
    rows = [["", "learned", "true"]]
    rows += [[name, number(learned, 5), f"{true:g}"] for name, learned, true in comparison]
    table = aligned(rows, right=(False, True, True))
    return f"Learned vs true weights (the data was made as {formula})\n{table}"


def compare_with_truth(trainer: Trainer) -> list[tuple[str, float, float]] | None:
    """The trainer's learned weights beside the data's true ones (see summary.learned_vs_true)."""
    truth, data = trainer.dataset.truth, trainer.dataset
    if truth is None:
        return None
    features = trainer.spec.features if data.is_2d else data.input_names
    return learned_vs_true(trainer.model, truth, data.input_names, features)


def aligned(
    rows: Sequence[Sequence[str]],
    right: Sequence[bool] = (),
    indent: str = "  ",
    rules: Sequence[int] = (),
) -> str:
    """Rows as columns two spaces apart; `right` aligns columns right, `rules` draws a rule
    above the rows at those indices."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    rule = indent + "  ".join("-" * width for width in widths)
    lines = []
    for index, row in enumerate(rows):
        if index in rules:
            lines.append(rule)
        cells = [
            cell.rjust(width) if column < len(right) and right[column] else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append((indent + "  ".join(cells)).rstrip())
    return "\n".join(lines)


def _cell_text(cell: dict[str, Any], task: str) -> str:
    """'97.5/95.0%  49p': train/test accuracy (or RMSE) and parameters."""
    metrics = cell["metrics"] or {}
    if task == "regression":
        train, test = metrics.get("train_rmse"), metrics.get("test_rmse")
        scores = f"{number(math.nan if train is None else train, 3)}/"
        scores += number(math.nan if test is None else test, 3)
    else:
        scores = f"{100 * metrics['train_acc']:.1f}/{100 * metrics['test_acc']:.1f}%"
    return f"{scores} {cell['parameters']}p"


def sweep_table(document: dict[str, Any]) -> str:
    """Depths down, widths across; each cell its train/test score and parameter count."""
    task, widths = document["task"], document["widths"]
    score = "train/test RMSE" if task == "regression" else "train/test accuracy"
    texts = {(c["depth"], c["width"]): _cell_text(c, task) for c in document["cells"]}
    column = max(len(text) for text in texts.values()) + 2
    lines = [
        f"{score} and parameters, depth × width "
        f"({document['runs']} runs in {document['elapsed_s']:.1f} s on {document['device']})",
        "",
        "depth" + "".join(f"{f'width {width}':>{column}}" for width in widths),
    ]
    for depth in document["depths"]:
        row = "".join(f"{texts[depth, width]:>{column}}" for width in widths)
        lines.append(f"{depth:>5}{row}")
    diverged = [c for c in document["cells"] if c["status"] == "diverged"]
    if diverged:
        named = ", ".join(f"{c['depth']}×{c['width']}" for c in diverged)
        lines.append(f"\ndiverged (loss NaN or infinite; try a smaller --lr): {named}")
    return "\n".join(lines)
