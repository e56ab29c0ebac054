"""A trained run's model back from its saved weights: predictions on new points, and exports."""

import io
import warnings
from collections.abc import Sequence
from typing import Any, Literal, get_args

import numpy as np
import torch
from torch import nn

from layerlab.core.features import feature_label, feature_matrix
from layerlab.core.models import build_model
from layerlab.core.spec import RunSpec

ExportFormat = Literal["state_dict", "torchscript", "onnx"]
EXPORT_FORMATS: tuple[str, ...] = get_args(ExportFormat)


def load_model(spec: RunSpec, n_inputs: int, n_outputs: int, weights: bytes) -> nn.Sequential:
    """The run's network with the weights `torch.save(state_dict)` wrote, in eval mode."""
    model = build_model(spec, n_inputs, n_outputs)
    state = torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval()


def model_inputs_for(
    points: Sequence[Sequence[float]] | np.ndarray, spec: RunSpec, is_2d: bool
) -> torch.Tensor:
    """Raw input points as the model sees them: 2-D points go through the spec's features."""
    raw = np.asarray(points, dtype=np.float32)
    inputs = feature_matrix(raw, spec.features) if is_2d else raw
    return torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32))


@torch.no_grad()
def predict(model: nn.Module, inputs: torch.Tensor, task: str) -> dict[str, Any]:
    """Probabilities and classes (classification) or values (regression) for each input row."""
    outputs = model(inputs)
    if task == "binary":
        probability = torch.sigmoid(outputs.squeeze(1))
        return {
            "probabilities": probability.tolist(),
            "classes": (probability > 0.5).long().tolist(),
        }
    if task == "multiclass":
        probabilities = torch.softmax(outputs, dim=1)
        return {
            "probabilities": probabilities.tolist(),
            "classes": probabilities.argmax(dim=1).tolist(),
        }
    return {"values": outputs.squeeze(1).tolist()}


# The output layer's activation, as the loss of each task reads its outputs.
OUTPUT_ACTIVATIONS = {"binary": "sigmoid", "multiclass": "softmax", "regression": "identity"}


@torch.no_grad()
def forward_pass(
    model: nn.Sequential, inputs: torch.Tensor, task: str, activation: str
) -> dict[str, Any]:
    """One input vector (n_inputs,) walked through the network layer by layer, as `model` computes
    it: each linear layer's weight (out, in), bias, input h, W·h + b and its activation of that
    (the output layer's: sigmoid, softmax or the value itself). The output is /predict's for
    the same point: `probabilities` ([p(class 1)] or one per class) or `value`, and the class."""
    layers: list[dict[str, Any]] = []
    h = inputs.reshape(1, -1)  # a batch of one, as /predict computes a single point
    for module in model:
        if isinstance(module, nn.Linear):
            z = module(h)
            layers.append({
                "layer": len(layers) + 1, "kind": "hidden", "activation": activation,
                "weight": module.weight.tolist(), "bias": module.bias.tolist(),
                "input": h[0].tolist(), "pre_activation": z[0].tolist(), "output": z[0].tolist(),
            })  # fmt: skip
            h = z
        else:  # the activation of the layer before
            h = module(h)
            layers[-1]["output"] = h[0].tolist()
    last = layers[-1]
    last["kind"], last["activation"] = "output", OUTPUT_ACTIVATIONS[task]
    result: dict[str, Any] = {"layers": layers, "probabilities": None, "value": None}
    result["predicted_class"] = None
    if task == "binary":
        probability = torch.sigmoid(h.squeeze(1))  # (1,), as `predict`
        result["probabilities"] = last["output"] = probability.tolist()
        result["predicted_class"] = int(probability[0] > 0.5)
    elif task == "multiclass":
        probabilities = torch.softmax(h, dim=1)[0]
        result["probabilities"] = last["output"] = probabilities.tolist()
        result["predicted_class"] = int(probabilities.argmax())
    else:
        result["value"] = float(h[0, 0])
    return result


class PointTooFarOut(ValueError):
    """A point whose numbers overflow float32 somewhere in the network."""


def explain_point(
    model: nn.Sequential,
    spec: RunSpec,
    point: Sequence[float],
    task: str,
    column_names: Sequence[str],
    is_2d: bool,
) -> dict[str, Any]:
    """One raw point (x1, x2, or a table's columns) walked through the network, as POST
    /api/runs/{id}/forward answers it and `layerlab train --explain-point` prints it: the model's
    input vector and its names, then `forward_pass`. PointTooFarOut when any of its numbers
    overflows float32."""
    weights = next(model.parameters())
    with np.errstate(over="ignore", invalid="ignore"):  # a point too far out: refused below
        inputs = model_inputs_for([point], spec, is_2d=is_2d)[0]
    inputs = inputs.to(weights.device, weights.dtype)
    walked = forward_pass(model, inputs, task, spec.activation)
    numbers = [inputs.tolist()] + [
        layer[kind] for layer in walked["layers"] for kind in ("pre_activation", "output")
    ]
    if not np.isfinite(np.concatenate(numbers)).all():
        raise PointTooFarOut(
            f"{list(point)} is too far out: the network's numbers there overflow float32 "
            "(about ±3.4e38); use smaller numbers"
        )
    names = (
        [feature_label(name, column_names, subscripts=False) for name in spec.features]
        if is_2d
        else list(column_names)
    )
    return {"input": {"names": names, "values": inputs.tolist()}, **walked}


@torch.no_grad()
def hidden_outputs(model: nn.Sequential, inputs: torch.Tensor) -> list[torch.Tensor]:
    """Each hidden layer's output after its activation, (n_points, width) per layer."""
    outputs = []
    layers = list(model)
    x = inputs
    for index, layer in enumerate(layers[:-1]):  # the last Linear is the output layer
        x = layer(x)
        if isinstance(layers[index + 1], nn.Linear):  # the end of a hidden layer
            outputs.append(x)
    return outputs


def onnx_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(name) for name in ("onnx", "onnxscript"))


def export_model(model: nn.Module, n_inputs: int, export_format: str) -> bytes:
    """The model as a file: a state dict, a TorchScript module, or an ONNX graph."""
    buffer = io.BytesIO()
    if export_format == "state_dict":
        torch.save(model.state_dict(), buffer)
    elif export_format == "torchscript":
        # Deprecated in recent PyTorch in favour of torch.export, yet what most tools still load.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.jit.save(torch.jit.script(model), buffer)
    elif export_format == "onnx":
        example = torch.zeros(1, n_inputs)
        program = torch.onnx.export(
            model,
            (example,),
            dynamo=True,
            input_names=["x"],
            output_names=["y"],
            dynamic_shapes=({0: torch.export.Dim("batch")},),
        )
        assert program is not None
        program.save(buffer)  # type: ignore[arg-type]
    else:
        raise ValueError(
            f"export format must be one of {', '.join(EXPORT_FORMATS)}; got {export_format!r}"
        )
    return buffer.getvalue()
