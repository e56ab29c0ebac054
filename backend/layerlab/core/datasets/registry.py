"""The registry of datasets by name, and the data a spec names, made and split."""

from typing import TYPE_CHECKING

import numpy as np

from layerlab.core.datasets.csv_table import CSV, load_csv, read_csv_source
from layerlab.core.datasets.dataset import Dataset, DatasetError
from layerlab.core.datasets.generated import GENERATED
from layerlab.core.datasets.info import DatasetInfo
from layerlab.core.datasets.split import extent_of, split_into_dataset
from layerlab.core.features import DEFAULT_FEATURES, feature_matrix
from layerlab.core.limits import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    from layerlab.core.spec import DatasetSpec, RunSpec

# In the picker's order; RunSpec takes these names.
DATASETS: dict[str, DatasetInfo] = {info.name: info for info in (*GENERATED, CSV)}


def make_dataset(spec: "DatasetSpec", limits: Limits = DEFAULT_LIMITS) -> Dataset:
    """Generate (or load) and split the data a spec names; raises DatasetError for bad CSV data
    (a CSV of more than `limits.max_samples` rows among it)."""
    info = DATASETS[spec.name]
    if info.generate is None:  # read, not generated: the spec guarantees a source
        assert spec.source is not None
        return load_csv(read_csv_source(spec.source), spec, limits)
    assert info.task is not None
    points, labels = info.generate(spec.samples, spec.noise, spec.seed, spec.classes)
    n_classes = spec.classes if info.task == "multiclass" else (2 if info.task == "binary" else 0)
    return split_into_dataset(
        spec, info.task, points, labels,
        input_names=tuple(f"x{i + 1}" for i in range(points.shape[1])),
        class_names=tuple(str(k) for k in range(n_classes)),
        extent=extent_of(points, info.extent) if info.extent else None,
        truth=info.truth,
    )  # fmt: skip


def model_inputs(dataset: Dataset, spec: "RunSpec") -> tuple[np.ndarray, np.ndarray]:
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
