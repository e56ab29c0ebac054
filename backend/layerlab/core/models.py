"""The network a spec describes: an MLP as `nn.Sequential`, its optimizer and its penalty."""

import itertools

import torch
from torch import nn

from layerlab.core.activations import ACTIVATIONS
from layerlab.core.spec import RunSpec

MOMENTUM = 0.9


def build_model(spec: RunSpec, n_inputs: int, n_outputs: int) -> nn.Sequential:
    """Linear layers of the spec's widths with its activation between them, and a linear head.

    Initial weights depend on `spec.seed` only (PyTorch's default init, drawn on the CPU).
    """
    activation = ACTIVATIONS[spec.activation].module
    widths = [n_inputs, *spec.hidden_widths]
    layers: list[nn.Module] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        for fan_in, fan_out in itertools.pairwise(widths):
            layers.append(nn.Linear(fan_in, fan_out))
            if activation is not None:
                layers.append(activation())
        layers.append(nn.Linear(widths[-1], n_outputs))
    return nn.Sequential(*layers)


def linear_layers(model: nn.Sequential) -> list[nn.Linear]:
    return [layer for layer in model if isinstance(layer, nn.Linear)]


def build_optimizer(spec: RunSpec, model: nn.Module) -> torch.optim.Optimizer:
    """torch.optim's SGD or Adam with its default implementation, as the generated script builds
    it: a fused kernel rounds differently, and over many steps the runs would drift apart."""
    params = model.parameters()
    if spec.optimizer == "adam":
        return torch.optim.Adam(params, lr=spec.learning_rate)
    momentum = MOMENTUM if spec.optimizer == "momentum" else 0.0
    return torch.optim.SGD(params, lr=spec.learning_rate, momentum=momentum)


def penalty(weights: list[torch.Tensor], kind: str) -> torch.Tensor:
    """L1 (sum |w|) or L2 (sum w²) over the weight matrices; biases are not penalized."""
    if kind == "l1":
        return sum(w.abs().sum() for w in weights)  # type: ignore[return-value]
    return sum(w.pow(2).sum() for w in weights)  # type: ignore[return-value]


def parameter_count(n_inputs: int, hidden_widths: list[int], n_outputs: int) -> int:
    """Trainable parameters of `build_model`'s network: each layer's weights and biases."""
    widths = [n_inputs, *hidden_widths, n_outputs]
    return sum((fan_in + 1) * fan_out for fan_in, fan_out in itertools.pairwise(widths))
