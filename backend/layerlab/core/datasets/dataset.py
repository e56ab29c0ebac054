"""A dataset as a run uses it: points split into train and test, and what its labels mean."""

from dataclasses import dataclass
from typing import Literal

import numpy as np

Task = Literal["binary", "multiclass", "regression"]
Extent = tuple[float, float, float, float]  # x0, x1, y0, y1


class DatasetError(ValueError):
    """Data that cannot be used, with the spec field to blame (`dataset.source`, `features`...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


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
    label_name: str | None = None  # a table's label column, as its header names it

    @property
    def is_2d(self) -> bool:
        return self.extent is not None

    @property
    def n_outputs(self) -> int:
        return self.n_classes if self.task == "multiclass" else 1
