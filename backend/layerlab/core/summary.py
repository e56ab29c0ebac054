"""What a model is made of: its layers with shapes and parameter counts, and its weights."""

from typing import Any

import torch
from torch import nn

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
