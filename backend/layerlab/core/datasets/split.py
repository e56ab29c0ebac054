"""Points and labels into a Dataset: split into train and test as every run splits them."""

import math
from typing import TYPE_CHECKING

import numpy as np
from sklearn.model_selection import train_test_split

from layerlab.core.datasets.dataset import Dataset, DatasetError, Extent, LinearTruth, Task

if TYPE_CHECKING:
    from layerlab.core.spec import DatasetSpec


def split_into_dataset(
    spec: "DatasetSpec",
    task: Task,
    points: np.ndarray,
    labels: np.ndarray,
    input_names: tuple[str, ...],
    class_names: tuple[str, ...],
    extent: Extent | None,
    truth: LinearTruth | None = None,
    label_name: str | None = None,
) -> Dataset:
    """The points split by the spec's train fraction and seed (stratified for classes)."""
    x_train, y_train, x_test, y_test = _split(points, labels, task, spec)
    return Dataset(
        name=spec.name, task=task, x_train=x_train, y_train=y_train, x_test=x_test,
        y_test=y_test, input_names=input_names, n_classes=len(class_names), extent=extent,
        class_names=class_names, truth=truth, label_name=label_name,
    )  # fmt: skip


def _split(
    points: np.ndarray, labels: np.ndarray, task: Task, spec: "DatasetSpec"
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


def extent_of(points: np.ndarray, nominal: Extent | None) -> Extent:
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
