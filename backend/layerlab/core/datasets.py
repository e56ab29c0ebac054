"""The playground's datasets: generators registered by name, each deterministic by seed."""

import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.datasets import make_circles, make_moons
from sklearn.model_selection import train_test_split

from layerlab.config import get_settings
from layerlab.core.features import feature_matrix
from layerlab.core.spec import DEFAULT_FEATURES, DatasetSpec, RunSpec, Task

Extent = tuple[float, float, float, float]  # x0, x1, y0, y1
Generator = Callable[[int, float, int, int], tuple[np.ndarray, np.ndarray]]

MAX_CSV_COLUMNS = 64
MAX_CSV_CLASSES = 10
MIN_CSV_ROWS = 10
FLOAT32_MAX = float(np.finfo(np.float32).max)  # what a value may reach before training overflows


class DatasetError(ValueError):
    """Data that cannot be used, with the spec field to blame (`dataset.source`, `features`...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class DatasetInfo:
    """What the picker shows about a dataset, and the function that makes its points."""

    name: str
    task: Task | None  # None: the data decides (a CSV)
    title: str
    description: str
    extent: Extent | None  # the plane a 2-D dataset lives on; None when it has no 2-D view
    generate: Generator | None = field(default=None, repr=False)


@dataclass(frozen=True)
class LinearTruth:
    """The weights (one per raw input) and bias that generated a regression's targets."""

    weights: tuple[float, ...]
    bias: float


@dataclass(frozen=True)
class Dataset:
    """Points split into train and test. Labels: float 0/1 (binary), int (multiclass), float."""

    name: str
    task: Task
    x_train: np.ndarray  # (n_train, n_raw) float32
    y_train: np.ndarray  # (n_train,)
    x_test: np.ndarray  # (n_test, n_raw) float32
    y_test: np.ndarray  # (n_test,)
    input_names: tuple[str, ...]
    n_classes: int  # 2 for binary, k for multiclass, 0 for regression
    extent: Extent | None
    class_names: tuple[str, ...] = ()
    truth: LinearTruth | None = None  # known weights, for the plane

    @property
    def is_2d(self) -> bool:
        return self.extent is not None

    @property
    def n_outputs(self) -> int:
        return self.n_classes if self.task == "multiclass" else 1


# --- generators: (samples, noise, seed, classes) -> (points (n, d), labels (n,)) -------------


def _moons(n: int, noise: float, seed: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    return make_moons(n_samples=n, noise=noise, random_state=seed)


def _circles(n: int, noise: float, seed: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    # Rings of radius 1 and 0.5: noise 1 blurs them into each other.
    return make_circles(n_samples=n, noise=0.4 * noise, factor=0.5, random_state=seed)


def _xor(n: int, noise: float, seed: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    points = rng.uniform(-1.0, 1.0, size=(n, 2))
    points += np.sign(points) * 0.05  # a small gap along the axes, where the label flips
    labels = (points[:, 0] * points[:, 1] > 0).astype(np.int64)
    return points + rng.normal(0.0, 0.3 * noise, size=points.shape), labels


def _gaussian(n: int, noise: float, seed: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    centers = np.where(labels[:, None] == 1, 1.0, -1.0)
    return centers + rng.normal(0.0, 0.3 + noise, size=(n, 2)), labels


def _spiral(n: int, noise: float, seed: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    t = rng.uniform(0.05, 1.0, size=n)
    angle = 3.5 * math.pi * t + math.pi * labels
    points = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    return points + rng.normal(0.0, 0.15 * noise, size=points.shape), labels


def _blobs(n: int, noise: float, seed: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    angles = 2 * math.pi * np.arange(classes) / classes + math.pi / 2
    centers = 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return centers[labels] + rng.normal(0.0, 0.3 + noise, size=(n, 2)), labels


# Signed bumps (x, y, height, width) of the multigauss surface: fixed, so the seed moves the points.
MULTIGAUSS_BUMPS = (
    (-0.5, -0.5, 1.0, 0.3),
    (0.5, 0.5, 1.0, 0.3),
    (-0.5, 0.5, -1.0, 0.3),
    (0.5, -0.5, -1.0, 0.3),
    (0.0, 0.0, 0.6, 0.2),
    (0.8, 0.0, -0.5, 0.2),
)


def multigauss_surface(points: np.ndarray) -> np.ndarray:
    """The noiseless multigauss target at each (x, y)."""
    value = np.zeros(len(points))
    for cx, cy, height, width in MULTIGAUSS_BUMPS:
        r2 = (points[:, 0] - cx) ** 2 + (points[:, 1] - cy) ** 2
        value += height * np.exp(-r2 / (2 * width**2))
    return value


def _multigauss(n: int, noise: float, seed: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    points = rng.uniform(-1.0, 1.0, size=(n, 2))
    return points, multigauss_surface(points) + rng.normal(0.0, 0.2 * noise, size=n)


PLANE_WEIGHTS = (2.0, -3.0)
PLANE_BIAS = 5.0


def _plane(n: int, noise: float, seed: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    # The lesson's data, y = 2x − 3z + 5 + noise: x₁ (its x) and x₂ (its z) in [-10, 10].
    rng = np.random.default_rng(seed)
    points = rng.uniform(-10.0, 10.0, size=(n, 2))
    target = points @ np.array(PLANE_WEIGHTS) + PLANE_BIAS
    return points, target + rng.uniform(-10.0 * noise, 10.0 * noise, size=n)


def _features4(n: int, noise: float, seed: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    # The lesson's 4 uniform features. Labels follow a hidden linear rule, and `noise` flips a share
    # of them: noise 1 flips half, which is the lesson's purely random labels.
    rng = np.random.default_rng(seed)
    points = rng.uniform(0.0, 1.0, size=(n, 4))
    rule = rng.normal(size=4)
    labels = ((points - 0.5) @ rule > 0).astype(np.int64)
    flip = rng.uniform(size=n) < noise / 2
    return points, np.where(flip, 1 - labels, labels)


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            "moons",
            "binary",
            "Two moons",
            "Two interleaving half circles: no straight line separates them.",
            (-1.5, 2.5, -1.0, 1.5),
            _moons,
        ),
        DatasetInfo(
            "circles",
            "binary",
            "Circles",
            "A ring around a disc: needs a closed boundary (try x1² and x2²).",
            (-1.5, 1.5, -1.5, 1.5),
            _circles,
        ),
        DatasetInfo(
            "xor",
            "binary",
            "XOR",
            "Opposite quadrants share a class: no linear model can solve it.",
            (-1.5, 1.5, -1.5, 1.5),
            _xor,
        ),
        DatasetInfo(
            "gaussian",
            "binary",
            "Two Gaussians",
            "Two Gaussian clouds: a straight line separates them until noise makes them overlap.",
            (-3.0, 3.0, -3.0, 3.0),
            _gaussian,
        ),
        DatasetInfo(
            "spiral",
            "binary",
            "Spiral",
            "Two interleaved arms: the hardest shape; needs depth.",
            (-1.3, 1.3, -1.3, 1.3),
            _spiral,
        ),
        DatasetInfo(
            "blobs",
            "multiclass",
            "Blobs",
            "3 to 5 clouds, one class each: softmax over several outputs.",
            (-3.5, 3.5, -3.5, 3.5),
            _blobs,
        ),
        DatasetInfo(
            "multigauss",
            "regression",
            "Bumpy surface",
            "Regression: a surface of signed Gaussian bumps to fit.",
            (-1.0, 1.0, -1.0, 1.0),
            _multigauss,
        ),
        DatasetInfo(
            "plane",
            "regression",
            "Plane",
            "Regression: y = 2·x₁ − 3·x₂ + 5 + noise; a linear model recovers 2, −3 and 5.",
            (-10.0, 10.0, -10.0, 10.0),
            _plane,
        ),
        DatasetInfo(
            "features4",
            "binary",
            "4 features",
            "4 random features and a binary label, as in the basic-network lesson.",
            None,
            _features4,
        ),
        DatasetInfo(
            "csv",
            None,
            "Your CSV",
            "Your own table: feature columns and one label column.",
            None,
            None,
        ),
    )
}


def make_dataset(spec: DatasetSpec) -> Dataset:
    """Generate (or load) and split the data a spec names; raises DatasetError for bad CSV data."""
    if spec.name == "csv":
        assert spec.source is not None  # the spec guarantees it
        return load_csv(read_csv_source(spec.source), spec)
    info = DATASETS[spec.name]
    assert info.generate is not None and info.task is not None
    points, labels = info.generate(spec.samples, spec.noise, spec.seed, spec.classes)
    n_classes = spec.classes if info.task == "multiclass" else (2 if info.task == "binary" else 0)
    input_names = (
        DEFAULT_FEATURES if info.extent else tuple(f"x{i + 1}" for i in range(points.shape[1]))
    )
    return _split_into_dataset(
        spec, info.task, points, labels,
        input_names=input_names,
        class_names=tuple(str(k) for k in range(n_classes)),
        extent=_extent_of(points, info.extent) if info.extent else None,
        truth=LinearTruth(PLANE_WEIGHTS, PLANE_BIAS) if spec.name == "plane" else None,
    )  # fmt: skip


def model_inputs(dataset: Dataset, spec: RunSpec) -> tuple[np.ndarray, np.ndarray]:
    """Train and test inputs as the model sees them: 2-D points go through the spec's features."""
    if dataset.is_2d:
        return feature_matrix(dataset.x_train, spec.features), feature_matrix(
            dataset.x_test, spec.features
        )
    if tuple(spec.features) != DEFAULT_FEATURES:
        raise DatasetError(
            "features",
            f"input features apply to 2-D data; this dataset has {len(dataset.input_names)} "
            "input columns, used as they are",
        )
    return dataset.x_train, dataset.x_test


def _split_into_dataset(
    spec: DatasetSpec,
    task: Task,
    points: np.ndarray,
    labels: np.ndarray,
    input_names: tuple[str, ...],
    class_names: tuple[str, ...],
    extent: Extent | None,
    truth: LinearTruth | None = None,
) -> Dataset:
    x_train, y_train, x_test, y_test = _split(points, labels, task, spec)
    return Dataset(
        name=spec.name, task=task, x_train=x_train, y_train=y_train, x_test=x_test,
        y_test=y_test, input_names=input_names, n_classes=len(class_names), extent=extent,
        class_names=class_names, truth=truth,
    )  # fmt: skip


def _split(
    points: np.ndarray, labels: np.ndarray, task: Task, spec: DatasetSpec
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    classified = task != "regression"
    blame = "dataset.source" if spec.name == "csv" else "dataset"
    if classified:
        counts = np.bincount(labels.astype(np.int64))
        if counts[counts > 0].min() < 2:
            raise DatasetError(
                blame, "every class needs at least 2 rows to be split into train and test"
            )
    try:
        x_train, x_test, y_train, y_test = train_test_split(
            points,
            labels,
            train_size=spec.train_fraction,
            random_state=spec.seed,
            stratify=labels if classified else None,
        )
    except ValueError as error:  # too few points on one side for every class to appear
        raise DatasetError(
            "dataset.train_fraction",
            f"{len(points)} points split {spec.train_fraction:g} / {1 - spec.train_fraction:g} "
            f"leave too few for each class on both sides ({error}); use more samples or a "
            "fraction nearer 0.5",
        ) from None
    label_type = np.int64 if task == "multiclass" else np.float32
    return (
        x_train.astype(np.float32),
        y_train.astype(label_type),
        x_test.astype(np.float32),
        y_test.astype(label_type),
    )


def _extent_of(points: np.ndarray, nominal: Extent | None) -> Extent:
    """The nominal plane, widened (with a 5% margin) where noisy points fall outside it."""
    low, high = points.min(axis=0), points.max(axis=0)
    margin = 0.05 * (high - low)
    x0, x1, y0, y1 = nominal or (math.inf, -math.inf, math.inf, -math.inf)
    return (
        x0 if low[0] >= x0 else float(low[0] - margin[0]),
        x1 if high[0] <= x1 else float(high[0] + margin[0]),
        y0 if low[1] >= y0 else float(low[1] - margin[1]),
        y1 if high[1] <= y1 else float(high[1] + margin[1]),
    )


# --- the user's own CSV ---------------------------------------------------------------------


def read_csv_source(source: str) -> str:
    path = Path(source)
    if not path.is_file():
        raise DatasetError("dataset.source", f"no CSV file at {source!r}")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise DatasetError("dataset.source", f"{source!r} is not UTF-8 text") from error


def load_csv(text: str, spec: DatasetSpec) -> Dataset:
    """Parse a CSV table (header row, numeric features, one label column) into a split Dataset.

    The task follows from the labels: text, or at most 10 distinct integers, means classes
    (2 = binary); any other numbers mean regression.
    """
    header, rows = _read_table(text)
    label_index = _label_index(header, spec.label_column)
    names = tuple(name for i, name in enumerate(header) if i != label_index)
    points = np.empty((len(rows), len(names)), dtype=np.float64)
    raw_labels = []
    for row_number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise DatasetError(
                "dataset.source",
                f"row {row_number} has {len(row)} cells; the header has {len(header)}",
            )
        values = [cell for i, cell in enumerate(row) if i != label_index]
        for column, cell in enumerate(values):
            points[row_number - 2, column] = _number(cell, row_number, names[column])
        raw_labels.append(row[label_index].strip())
    task, labels, class_names = _labels(raw_labels, header[label_index])
    return _split_into_dataset(
        spec, task, points, labels,
        input_names=names,
        class_names=class_names,
        extent=_extent_of(points, None) if len(names) == 2 else None,
    )  # fmt: skip


def _read_table(text: str) -> tuple[list[str], list[list[str]]]:
    try:  # the delimiter alone: quotes are read as spreadsheets write them ("" inside "…")
        delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    table, row_start = [], 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                table.append(row)
            row_start = reader.line_num + 1
    except csv.Error as error:  # a cell past the field size limit, a quote left open, a NUL
        raise DatasetError(
            "dataset.source", f"line {row_start} cannot be read as CSV: {error}"
        ) from None
    if not table:
        raise DatasetError("dataset.source", "the CSV is empty")
    header = [name.strip() for name in table[0]]
    rows = table[1:]
    if len(header) < 2:
        raise DatasetError("dataset.source", "need at least 2 columns: features and a label")
    if len(header) > MAX_CSV_COLUMNS:
        raise DatasetError("dataset.source", f"{len(header)} columns; at most {MAX_CSV_COLUMNS}")
    if len(set(header)) != len(header) or not all(header):
        raise DatasetError("dataset.source", "the header row needs a distinct name for each column")
    if len(rows) < MIN_CSV_ROWS:
        raise DatasetError(
            "dataset.source",
            f"the CSV has {len(rows)} data rows; at least {MIN_CSV_ROWS} are needed to train "
            "and test",
        )
    limit = get_settings().max_samples
    if len(rows) > limit:
        raise DatasetError(
            "dataset.source", f"{len(rows)} data rows; at most {limit} (LAYERLAB_MAX_SAMPLES)"
        )
    return header, rows


def _label_index(header: list[str], label_column: str | None) -> int:
    if label_column is None:
        return len(header) - 1
    if label_column not in header:
        raise DatasetError(
            "dataset.label_column", f"no column {label_column!r}; the columns are {header}"
        )
    return header.index(label_column)


def _number(cell: str, row_number: int, column: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise DatasetError(
            "dataset.source", f"row {row_number}, column {column!r}: {cell!r} is not a number"
        ) from None
    if not math.isfinite(value):
        raise DatasetError(
            "dataset.source",
            f"row {row_number}, column {column!r}: {cell!r} is not a finite number",
        )
    if abs(value) > FLOAT32_MAX:
        raise DatasetError(
            "dataset.source",
            f"row {row_number}, column {column!r}: {cell!r} overflows float32, the numbers the "
            f"network computes with (at most about ±{FLOAT32_MAX:.1e}); scale the column down",
        )
    return value


def _labels(raw: list[str], column: str) -> tuple[Task, np.ndarray, tuple[str, ...]]:
    empty = [row for row, value in enumerate(raw, start=2) if not value]
    if empty:
        raise DatasetError(
            "dataset.source", f"row {empty[0]}: the label column {column!r} is empty"
        )
    try:
        numbers: np.ndarray | None = np.array([float(value) for value in raw])
    except ValueError:
        numbers = None
    if numbers is not None:
        if not np.all(np.isfinite(numbers)):
            raise DatasetError(
                "dataset.source", f"the label column {column!r} has non-finite values"
            )
        if np.abs(numbers).max() > FLOAT32_MAX:
            raise DatasetError(
                "dataset.source",
                f"the label column {column!r} has values that overflow float32, the numbers "
                f"the network computes with (at most about ±{FLOAT32_MAX:.1e}); scale it down",
            )
        integral = bool(np.all(numbers == np.round(numbers)))
        if not integral or len(np.unique(numbers)) > MAX_CSV_CLASSES:
            return "regression", numbers, ()
        values, labels = np.unique(numbers.astype(np.int64), return_inverse=True)
        class_names = tuple(str(v) for v in values)
    else:
        text_values, labels = np.unique(np.array(raw), return_inverse=True)
        class_names = tuple(str(v) for v in text_values)
    if len(class_names) > MAX_CSV_CLASSES:
        raise DatasetError(
            "dataset.source",
            f"the label column {column!r} has {len(class_names)} classes; "
            f"at most {MAX_CSV_CLASSES}",
        )
    if len(class_names) < 2:
        raise DatasetError("dataset.source", f"the label column {column!r} has a single class")
    task: Task = "binary" if len(class_names) == 2 else "multiclass"
    return task, labels.astype(np.int64), class_names
