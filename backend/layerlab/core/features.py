"""Input features computed from a 2-D point: x1, x2, their squares, product and sines."""

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

Feature = Literal["x1", "x2", "x1_sq", "x2_sq", "x1_x2", "sin_x1", "sin_x2"]
DEFAULT_FEATURES: tuple[Feature, ...] = ("x1", "x2")  # as they are: a wider table's only choice

FEATURE_FUNCTIONS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "x1": lambda x1, x2: x1,
    "x2": lambda x1, x2: x2,
    "x1_sq": lambda x1, x2: x1 * x1,
    "x2_sq": lambda x1, x2: x2 * x2,
    "x1_x2": lambda x1, x2: x1 * x2,
    "sin_x1": lambda x1, x2: np.sin(x1),
    "sin_x2": lambda x1, x2: np.sin(x2),
}

# How each feature reads in formulas, {0} and {1} being the two inputs' names.
_FEATURE_FORMS = {
    "x1": "{0}",
    "x2": "{1}",
    "x1_sq": "{0}²",
    "x2_sq": "{1}²",
    "x1_x2": "{0}·{1}",
    "sin_x1": "sin({0})",
    "sin_x2": "sin({1})",
}
_SUBSCRIPTED = {"x1": "x₁", "x2": "x₂"}


def feature_label(
    name: str, input_names: Sequence[str] = ("x1", "x2"), subscripts: bool = True
) -> str:
    """How a feature reads: x₁² for the built-in data (x1² without `subscripts`), height² on a
    table whose first column is height. A name that is no 2-D feature (a column of a wider
    table) reads as itself."""
    form = _FEATURE_FORMS.get(name)
    if form is None or len(input_names) != 2:
        return name
    columns = (_SUBSCRIPTED.get(c, c) if subscripts else c for c in input_names)
    return form.format(*columns)


# As numpy, in the generated script (`x`: (N, 2) array).
FEATURE_TORCH = {
    "x1": "x[:, 0]",
    "x2": "x[:, 1]",
    "x1_sq": "x[:, 0] ** 2",
    "x2_sq": "x[:, 1] ** 2",
    "x1_x2": "x[:, 0] * x[:, 1]",
    "sin_x1": "torch.sin(x[:, 0])",
    "sin_x2": "torch.sin(x[:, 1])",
}


def feature_matrix(points: np.ndarray, features: Sequence[str]) -> np.ndarray:
    """(N, 2) points -> (N, len(features)) float32 model inputs, in the order given."""
    x1, x2 = points[:, 0], points[:, 1]
    columns = [FEATURE_FUNCTIONS[name](x1, x2) for name in features]
    return np.stack(columns, axis=1).astype(np.float32)
