"""The activation functions: one entry each, holding all that every part needs of it.

An entry gives the torch module a model is built of (and the generated script writes), the
stacked engine's f(z) and its backward, and the symbol the page writes a neuron's formula with.
RunSpec takes the names listed here. A new activation is one entry here, and on the page its two
strings in each language (`activation.<name>` and `tip.activation.<name>` in frontend/i18n/).
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

LEAKY_SLOPE = 0.01  # nn.LeakyReLU's default

Tensor = torch.Tensor


@dataclass(frozen=True)
class Activation:
    """f, and the gradient through it: dz = backward(g, z, a) with g = d(loss)/da, a = f(z).

    The backward calls the kernels autograd itself calls for `module`, one op each; `value_`
    overwrites z with f(z), for passes that keep nothing (grids are large: 64×64×K×H).
    """

    module: type[nn.Module] | None  # None: no activation, so stacked layers are one linear map
    value: Callable[[Tensor], Tensor]
    backward: Callable[[Tensor, Tensor, Tensor], Tensor]
    value_: Callable[[Tensor], Tensor]
    symbol: str  # f in the page's formulas: ReLU(0.4·x₁ + 0.1); "" writes the bare sum
    # Comparisons and products only: PyTorch's scalar code rounds as its vector code does, so the
    # stacked engine needs no padding (`lanewise`) for a run's numbers to be the same in any stack.
    exact: bool = False
    # f alone (not its backward) rounds every element alike wherever it sits: f needs no padding.
    exact_value: bool = False


def _tanh(z: Tensor, out: Tensor | None = None) -> Tensor:
    """tanh, on the CPU by NumPy's vector code: PyTorch's CPU tanh runs scalar code on some
    builds (2.7 ns an element on a 2-core AVX-512 machine, 5.6x NumPy's there), and NumPy's
    computes its last elements as the others (masked vector loads, no scalar tail), within
    1.5e-7 of tanh relative in float32 (PyTorch's: 1.1e-7). `out` may be z itself."""
    if z.device.type != "cpu":
        return torch.tanh(z, out=out)
    result = torch.empty_like(z) if out is None else out
    np.tanh(z.numpy(), out=result.numpy())
    return result


aten = torch.ops.aten
ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation(  # g·[a > 0]
        nn.ReLU,
        torch.relu,
        lambda g, z, a: aten.threshold_backward(g, a, 0),
        torch.relu_,
        "ReLU",
        exact=True,
    ),
    "tanh": Activation(  # g·(1 − a²)
        nn.Tanh,
        _tanh,
        lambda g, z, a: aten.tanh_backward(g, a),
        lambda z: _tanh(z, out=z),
        "tanh",
        exact_value=True,
    ),
    "sigmoid": Activation(  # g·a(1 − a)
        nn.Sigmoid,
        torch.sigmoid,
        lambda g, z, a: aten.sigmoid_backward(g, a),
        torch.sigmoid_,
        "σ",
    ),
    "linear": Activation(None, lambda z: z, lambda g, z, a: g, lambda z: z, "", exact=True),
    "leaky_relu": Activation(  # g·(z > 0 ? 1 : 0.01)
        nn.LeakyReLU,
        lambda z: F.leaky_relu(z, LEAKY_SLOPE),
        lambda g, z, a: aten.leaky_relu_backward(g, z, LEAKY_SLOPE, False),
        lambda z: F.leaky_relu_(z, LEAKY_SLOPE),
        "LeakyReLU",
        exact=True,
    ),
    "elu": Activation(  # g·(z > 0 ? 1 : a + 1), from the result as nn.ELU's backward does
        nn.ELU, F.elu, lambda g, z, a: aten.elu_backward(g, 1.0, 1.0, 1.0, True, a), F.elu_, "ELU"
    ),
    "gelu": Activation(  # g·(Φ + zφ)
        nn.GELU, F.gelu, lambda g, z, a: aten.gelu_backward(g, z), F.gelu, "GELU"
    ),
    "silu": Activation(  # g·σ(z)(1 + z(1 − σ(z)))
        nn.SiLU,
        F.silu,
        lambda g, z, a: aten.silu_backward(g, z),
        lambda z: F.silu(z, inplace=True),
        "SiLU",
    ),
}
