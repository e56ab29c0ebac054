"""A trained run's model back from its saved weights: predictions on new points, and exports."""

import io
import warnings
from collections.abc import Sequence
from typing import Any, Literal, get_args

import numpy as np
import torch
from torch import nn

from layerlab.core.features import feature_matrix
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
