"""The playground's datasets: generators registered by name, each deterministic by seed, and the
learner's own CSV.

`registry` lists them and makes the data a spec names; `generated` holds the built-in ones, each
with the code that makes the same points in the generated script; `csv_table` reads a CSV;
`split` splits points into train and test; `dataset` is what a run gets.
"""

from layerlab.core.datasets.csv_table import CSV_LABELS, load_csv, read_csv_source
from layerlab.core.datasets.dataset import Dataset, DatasetError, Extent, LinearTruth, Task
from layerlab.core.datasets.generated import MULTIGAUSS_BUMPS, multigauss_surface
from layerlab.core.datasets.info import DatasetInfo, Generator, Snippet, script_literal
from layerlab.core.datasets.registry import DATASETS, make_dataset, model_inputs

__all__ = [
    "CSV_LABELS",
    "DATASETS",
    "MULTIGAUSS_BUMPS",
    "Dataset",
    "DatasetError",
    "DatasetInfo",
    "Extent",
    "Generator",
    "LinearTruth",
    "Snippet",
    "Task",
    "load_csv",
    "make_dataset",
    "model_inputs",
    "multigauss_surface",
    "read_csv_source",
    "script_literal",
]
