"""The learner's own table: a CSV read into a Dataset, its registry entry, and the script's reader.

The task follows from the label column; a table of 2 feature columns is 2-D (input features then
apply), a wider one goes in as it is.
"""

import csv
import io
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from layerlab.core.datasets.dataset import Dataset, DatasetError, Task
from layerlab.core.datasets.info import DatasetInfo, Snippet
from layerlab.core.datasets.split import extent_of, split_into_dataset
from layerlab.core.limits import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    from layerlab.core.spec import DatasetSpec

MAX_CSV_COLUMNS = 64
MAX_CSV_CLASSES = 10
MIN_CSV_ROWS = 10
FLOAT32_MAX = float(np.finfo(np.float32).max)  # what a value may reach before training overflows

# The script's reader, as simple as it can be for a table `load_csv` takes. Its holes other than
# the phrases are the script's to fill: they depend on the upload, the label column and the task.
CSV = DatasetInfo(
    "csv",
    None,
    "Your CSV",
    "Your own table: feature columns and one label column.",
    None,
    script=Snippet(
        """\
# $data_csv
${upload_note}csv_path = $source
with open(csv_path, newline="", encoding="utf-8-sig") as file:
    text = file.read()
dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\\t")  # $data_csv_delimiters
header, *rows = [row for row in csv.reader(text.splitlines(), dialect) if any(row)]
label = $label_index
points = np.array([[float(cell) for i, cell in enumerate(row) if i != label] for row in rows])
$csv_labels""",
        imports=("import csv",),
    ),
    inputs=None,
)
# $csv_labels: the labels as `load_csv` reads them, for classes and for regression.
CSV_LABELS = {
    "classes": "class_names, labels = np.unique("
    "[row[label].strip() for row in rows], return_inverse=True)",
    "regression": "targets = np.array([float(row[label]) for row in rows])",
}


def read_csv_source(source: str) -> str:
    """The text of the CSV file at `source` (a path)."""
    path = Path(source)
    if not path.is_file():
        raise DatasetError("dataset.source", f"no CSV file at {source!r}")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise DatasetError("dataset.source", f"{source!r} is not UTF-8 text") from error


def load_csv(text: str, spec: "DatasetSpec", limits: Limits = DEFAULT_LIMITS) -> Dataset:
    """Parse a CSV table (header row, numeric features, one label column) into a split Dataset.

    The task follows from the labels: text, or at most 10 distinct integers, means classes
    (2 = binary); any other numbers mean regression. At most `limits.max_samples` rows.
    """
    header, rows = _read_table(text, limits.max_samples)
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
    return split_into_dataset(
        spec, task, points, labels,
        input_names=names,
        class_names=class_names,
        extent=extent_of(points, None) if len(names) == 2 else None,
        label_name=header[label_index],
    )  # fmt: skip


def _read_table(text: str, max_rows: int) -> tuple[list[str], list[list[str]]]:
    try:  # the delimiter alone: quotes are read as spreadsheets write them ("" inside "…")
        delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    table, row_start = [], 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                table.append(row)
            row_start = reader.line_num + 1
    except csv.Error as error:  # a cell past the field size limit, a quote left open, a NUL
        problem = str(error)
        if problem == "unexpected end of data":  # strict: the file ended inside quotes
            problem = 'a quoted cell opens there (") and is never closed'
        raise DatasetError(
            "dataset.source", f"line {row_start} cannot be read as CSV: {problem}"
        ) from None
    if not table:
        raise DatasetError("dataset.source", "the CSV is empty")
    header = [name.strip() for name in table[0]]
    rows = table[1:]
    if len(header) < 2:
        raise DatasetError("dataset.source", "need at least 2 columns: features and a label")
    if len(header) > MAX_CSV_COLUMNS:
        one_line = (
            ""
            if rows
            else (
                "; the whole file is one line: were its line breaks dropped on the way (curl -d "
                "drops them; --data-binary keeps them)?"
            )
        )
        raise DatasetError(
            "dataset.source", f"{len(header)} columns; at most {MAX_CSV_COLUMNS}{one_line}"
        )
    if len(set(header)) != len(header) or not all(header):
        raise DatasetError("dataset.source", "the header row needs a distinct name for each column")
    if len(rows) < MIN_CSV_ROWS:
        raise DatasetError(
            "dataset.source",
            f"the CSV has {len(rows)} data rows; at least {MIN_CSV_ROWS} are needed to train "
            "and test",
        )
    if len(rows) > max_rows:
        raise DatasetError(
            "dataset.source", f"{len(rows)} data rows; at most {max_rows} (LAYERLAB_MAX_SAMPLES)"
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
