"""The model's output over an N×N grid of the data's plane, and its compact wire encoding."""

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from layerlab.core.datasets import Dataset, Extent
from layerlab.core.features import feature_matrix
from layerlab.core.spec import RunSpec


@dataclass
class Grid:
    """Row i is y = y0 + i·dy (bottom to top), column j is x = x0 + j·dx, as a heatmap draws it.

    `values`: the probability of class 1 (binary), the winning class's probability (multiclass)
    or the prediction (regression). `classes`: the winning class of each cell (multiclass).
    """

    step: int
    extent: Extent
    kind: str  # "probability" (classes) or "value" (regression)
    values: np.ndarray  # (ny, nx) float32
    classes: np.ndarray | None = None  # (ny, nx) int, multiclass only

    def encode(self) -> dict[str, Any]:
        """The `grid` event: base64 uint8 with `scale`, `offset` (value = offset + scale·u8)."""
        if self.kind == "probability":
            offset, scale = 0.0, 1.0 / 255  # a fixed scale, so that frames compare
        else:
            low, high = float(self.values.min()), float(self.values.max())
            offset, scale = low, (high - low) / 255 or 1.0
        quantized = np.clip(np.rint((self.values - offset) / scale), 0, 255).astype(np.uint8)
        frame: dict[str, Any] = {
            "step": self.step,
            "kind": self.kind,
            "shape": list(self.values.shape),
            "extent": list(self.extent),
            "encoding": "u8",
            "scale": scale,
            "offset": offset,
            "data": base64.b64encode(quantized.tobytes()).decode("ascii"),
        }
        if self.classes is not None:
            frame["classes"] = base64.b64encode(self.classes.astype(np.uint8).tobytes()).decode()
        return frame


def decode_grid(frame: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None]:
    """Inverse of Grid.encode: (values (ny, nx) float32, classes or None)."""
    shape = tuple(frame["shape"])
    raw = np.frombuffer(base64.b64decode(frame["data"]), dtype=np.uint8).reshape(shape)
    values = (frame["offset"] + frame["scale"] * raw.astype(np.float32)).astype(np.float32)
    classes = None
    if "classes" in frame:
        classes = np.frombuffer(base64.b64decode(frame["classes"]), np.uint8).reshape(shape)
    return values, classes


def grid_points(extent: Extent, resolution: int) -> np.ndarray:
    """(resolution², 2) cell centres, row-major with y rising by row."""
    x0, x1, y0, y1 = extent
    xs = np.linspace(x0, x1, resolution)
    ys = np.linspace(y0, y1, resolution)
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def grid_inputs(dataset: Dataset, spec: RunSpec) -> torch.Tensor:
    """The grid's points as model inputs (through the spec's features)."""
    if dataset.extent is None:
        raise ValueError(f"the {dataset.name!r} dataset has no 2-D plane to draw a grid over")
    points = grid_points(dataset.extent, spec.grid_resolution)
    return torch.from_numpy(feature_matrix(points, spec.features))


def grid_from_outputs(outputs: torch.Tensor, dataset: Dataset, resolution: int, step: int) -> Grid:
    """The Grid of a model's (resolution², n_outputs) outputs over the data's plane."""
    assert dataset.extent is not None
    shape = (resolution, resolution)
    if dataset.task == "binary":
        values = torch.sigmoid(outputs[:, 0])
        return Grid(step, dataset.extent, "probability", values.cpu().numpy().reshape(shape))
    if dataset.task == "multiclass":
        confidence, winner = torch.softmax(outputs, dim=1).max(dim=1)
        return Grid(
            step,
            dataset.extent,
            "probability",
            confidence.cpu().numpy().reshape(shape),
            winner.cpu().numpy().reshape(shape),
        )
    return Grid(step, dataset.extent, "value", outputs[:, 0].cpu().numpy().reshape(shape))
