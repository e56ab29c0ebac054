"""`layerlab train --explain-point x1,x2`: one point walked through the trained network in a
terminal, layer by layer, with its numbers: W·h + b as a matrix–vector product, the activation,
the output and the class.

Matrices up to 8×8 are shown whole; larger ones show their first rows and columns, and say
what the rest holds.
"""

import argparse
import math
from collections.abc import Sequence
from typing import Any

from layerlab.cli.console import aligned, number
from layerlab.core import inference
from layerlab.core.activations import ACTIVATIONS
from layerlab.core.training import Trainer
from layerlab.usage import UsageError

SHOWN = 8  # rows and columns of a matrix shown whole
OUTPUT_SYMBOLS = {"sigmoid": "σ", "softmax": "softmax", "identity": ""}  # hidden: the registry's


def point_numbers(text: str) -> list[float]:
    """'0.5,-1' -> [0.5, -1.0]: the point's coordinates (or a table's columns), finite."""
    try:
        numbers = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers separated by commas, such as 0.5,-1; got {text!r}"
        ) from None
    if not all(math.isfinite(value) for value in numbers):
        raise argparse.ArgumentTypeError(f"expected finite numbers; got {text!r}")
    return numbers


def check_point(trainer: Trainer, point: Sequence[float]) -> None:
    """UsageError unless `point` has a number for each of the data's input columns."""
    names = trainer.dataset.input_names
    if len(point) != len(names):
        raise UsageError(
            f"--explain-point: expected {len(names)} numbers ({', '.join(names)}); got {len(point)}"
        )


def explain_point(trainer: Trainer, point: Sequence[float]) -> dict[str, Any]:
    """The forward pass of `point` (raw units: x1, x2 or the table's columns) through the
    trainer's model, as POST /api/runs/{id}/forward answers it."""
    check_point(trainer, point)
    data = trainer.dataset
    try:
        explained = inference.explain_point(
            trainer.model, trainer.spec, point, data.task, data.input_names, data.is_2d
        )
    except inference.PointTooFarOut as error:
        raise UsageError(f"--explain-point: {error}") from None
    classified = data.task != "regression"
    return {
        "point": list(point),
        **explained,
        "class_names": list(data.class_names) if classified else None,
    }


def forward_text(explained: dict[str, Any]) -> str:
    """The forward pass as a learner reads it: input, each layer's product, the output."""
    inputs = explained["input"]
    given = ", ".join(f"{number(value)}" for value in explained["point"])
    lines = [
        f"Forward pass of the point ({given})",
        f"  input x = ({', '.join(inputs['names'])}) = ({_vector(inputs['values'])})",
    ]
    layers = explained["layers"]
    for layer in layers:
        lines += ["", *_layer_text(layer, len(layers))]
    lines += ["", _output_text(explained)]
    return "\n".join(lines)


def _layer_text(layer: dict[str, Any], count: int) -> list[str]:
    weight = layer["weight"]
    rows, columns = len(weight), len(weight[0])
    h = "x" if layer["layer"] == 1 else f"h{layer['layer'] - 1}"
    name = "output" if layer["kind"] == "output" else f"hidden {layer['layer']}"
    activation = layer["activation"]
    if activation in ACTIVATIONS:  # a hidden layer's, written as the page writes it
        symbol = ACTIVATIONS[activation].symbol
    else:
        symbol = OUTPUT_SYMBOLS.get(activation, activation)
    out = "y" if layer["kind"] == "output" else f"h{layer['layer']}"
    applied = f"{out} = {symbol}(z)" if symbol else f"{out} = z"
    title = (
        f"Layer {layer['layer']} of {count} ({name}, {columns} → {rows}, "
        f"{layer['activation']}): z = W·{h} + b, {applied}"
    )
    matrix = _matrix_rows(weight[:SHOWN])
    table = [["row", f"W ({rows}×{columns})", "b", "z", out]]
    for row, shown in enumerate(matrix):
        table.append([
            str(row), shown, number(layer["bias"][row]),
            number(layer["pre_activation"][row]), number(layer["output"][row]),
        ])  # fmt: skip
    lines = [title]
    if layer["layer"] > 1:  # the first layer's input is the input, just above
        lines.append(f"  {h} = ({_vector(layer['input'])})")
    lines.append(aligned(table, right=(True, False, True, True, True)))
    if rows > SHOWN:
        rest = layer["pre_activation"][SHOWN:]
        lines.append(
            f"  … and {rows - SHOWN} more rows, z from {number(min(rest))} to {number(max(rest))}"
        )
    return lines


def _output_text(explained: dict[str, Any]) -> str:
    if explained["value"] is not None:
        return f"Output: predicted value {number(explained['value'])}"
    probabilities, names = explained["probabilities"], explained["class_names"]
    predicted = explained["predicted_class"]
    if len(probabilities) == 1:  # binary: the sigmoid of the one logit
        chance = f"p(class {names[1]}) = {probabilities[0]:.4f}"
    else:
        chance = ", ".join(
            f"p(class {name}) = {p:.4f}" for name, p in zip(names, probabilities, strict=True)
        )
    return f"Output: {chance} → class {names[predicted]}"


def _matrix_rows(rows: Sequence[Sequence[float]]) -> list[str]:
    """'[ 0.1234  -1.5 ]' for each row, its columns aligned; past SHOWN columns, the first
    SHOWN − 1 and how many there are."""
    width = len(rows[0])
    kept = width if width <= SHOWN else SHOWN - 1
    cells = [[number(value) for value in row[:kept]] for row in rows]
    sizes = [max(len(row[j]) for row in cells) for j in range(kept)]
    more = "" if kept == width else f"  … ({width} in all)"
    return [
        "[ " + "  ".join(c.rjust(n) for c, n in zip(row, sizes, strict=True)) + more + " ]"
        for row in cells
    ]


def _vector(values: Sequence[float]) -> str:
    """Numbers to 4 significant digits; past SHOWN of them, the first and how many in all."""
    if len(values) > SHOWN:
        return ", ".join(number(v) for v in values[: SHOWN - 1]) + f", … ({len(values)} in all)"
    return ", ".join(number(value) for value in values)
