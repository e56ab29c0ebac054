"""What a model is made of: its layers with shapes and parameter counts, and its weights."""

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from layerlab.core.datasets import LinearTruth
from layerlab.core.features import feature_label
from layerlab.core.models import linear_layers

MAX_WEIGHTS_SHOWN = 20_000  # parameters; larger models get the summary without the numbers


def model_summary(model: nn.Sequential, n_inputs: int) -> dict[str, Any]:
    """Each layer's type, input and output size, weight and bias shapes and parameter count."""
    layers = []
    size = n_inputs
    for index, layer in enumerate(model):
        entry: dict[str, Any] = {"index": index, "type": type(layer).__name__, "in": size}
        if isinstance(layer, nn.Linear):
            size = layer.out_features
            entry["weight_shape"] = list(layer.weight.shape)  # (out, in), as PyTorch stores it
            entry["bias_shape"] = list(layer.bias.shape)
        entry["out"] = size
        entry["parameters"] = sum(p.numel() for p in layer.parameters())
        layers.append(entry)
    total = sum(p.numel() for p in model.parameters())
    return {"layers": layers, "total_parameters": total}


def model_weights(model: nn.Sequential) -> list[dict[str, Any]] | None:
    """Each linear layer's weight matrix and bias as nested lists; None for large models."""
    if sum(p.numel() for p in model.parameters()) > MAX_WEIGHTS_SHOWN:
        return None
    return [
        {"index": index, "weight": layer.weight.tolist(), "bias": layer.bias.tolist()}
        for index, layer in enumerate(model)
        if isinstance(layer, nn.Linear)
    ]


@torch.no_grad()
def tensor_stats(model: nn.Module) -> list[dict[str, Any]]:
    """Shape, dtype, device, mean/std/min/max and gradient norm of every parameter tensor."""
    stats = []
    for name, param in model.named_parameters():
        values = param.detach().float()
        stats.append(
            {
                "name": name,
                "shape": list(param.shape),
                "dtype": str(param.dtype).removeprefix("torch."),
                "device": str(param.device),
                "mean": float(values.mean()),
                "std": float(values.std()) if values.numel() > 1 else 0.0,
                "min": float(values.min()),
                "max": float(values.max()),
                "grad_norm": None if param.grad is None else float(param.grad.norm()),
            }
        )
    return stats


@torch.no_grad()
def learned_vs_true(
    model: nn.Sequential, truth: LinearTruth, input_names: Sequence[str], features: Sequence[str]
) -> list[tuple[str, float, float]] | None:
    """(parameter, learned, true) for each input weight and the bias, when the network is affine.

    A network without activations computes y = W·x + b however many layers it has, so its layers
    multiply out to one weight per input feature (a feature the data was not made from has a true
    weight of 0). None when the network bends (activations between its layers).
    """
    layers = linear_layers(model)
    if len(layers) < len(model):
        return None
    n_inputs = layers[0].in_features
    weight = torch.eye(n_inputs, device=layers[0].weight.device)  # (in, in)
    bias = torch.zeros(n_inputs, device=layers[0].weight.device)
    for layer in layers:
        weight, bias = layer.weight @ weight, layer.weight @ bias + layer.bias
    true_weights = dict(zip(input_names, truth.weights, strict=True))
    rows = [
        (f"w({feature_label(name, input_names)})", float(learned), true_weights.get(name, 0.0))
        for name, learned in zip(features, weight[0].tolist(), strict=True)
    ]
    rows.append(("bias", float(bias[0]), truth.bias))
    return rows


def truth_formula(truth: LinearTruth, input_names: Sequence[str]) -> str:
    """'y = 2·x₁ − 3·x₂ + 5 + noise' from the known weights."""
    text = "y ="
    for weight, name in zip(truth.weights, input_names, strict=True):
        sign = "−" if weight < 0 else "+"
        text += f" {sign} {abs(weight):g}·{feature_label(name, input_names)}"
    sign = "−" if truth.bias < 0 else "+"
    text += f" {sign} {abs(truth.bias):g} + noise"
    return text.replace("= + ", "= ").replace("= − ", "= −")
