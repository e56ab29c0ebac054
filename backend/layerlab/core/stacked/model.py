"""K MLPs as one: padded weight stacks in one flat buffer, and an explicit batched forward/backward.

A stack has one geometry: every run's inputs are padded to the widest run's, every hidden layer
to the stack's width, and a run shallower than the stack passes through the extra hidden layers
unchanged (a per-run mask), so that runs of any width and depth up to the stack's train together.
Padded weights are zero, get no gradient (the mask), and so stay exactly zero.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F

from layerlab.core.activations import ACTIVATIONS

# Elements per step of PyTorch's widest CPU vector loop (2 × 16 float32 lanes on AVX-512), doubled
# to cover float64 and narrower CPUs too: see `lanewise`.
VECTOR_LOOP = 64

Layer = tuple[torch.Tensor, torch.Tensor]  # (weight, bias)


def lanewise(op: Callable[..., torch.Tensor], *tensors: torch.Tensor) -> torch.Tensor:
    """`op` over same-shaped tensors, element by element, every element on the vector path.

    PyTorch's CPU kernels run a tensor's last (numel mod VECTOR_LOOP) elements through scalar
    code, whose exp, tanh or erf can round differently from the vector code: which of a run's
    elements fall there would depend on how many runs share its stack, and so would its path.
    A tensor padded to a whole number of vector steps has no such tail.
    """
    first = tensors[0]
    missing = -first.numel() % VECTOR_LOOP
    if missing == 0 or first.device.type != "cpu":
        return op(*tensors)
    padded = [torch.cat([t.reshape(-1), t.new_zeros(missing)]) for t in tensors]
    return op(*padded)[: first.numel()].view(first.shape)


def _as_is(op: Callable[..., torch.Tensor], *tensors: torch.Tensor) -> torch.Tensor:
    return op(*tensors)


# --- losses: per-sample loss, and d(weighted loss)/d(outputs) ---------------------------------
def sample_losses(task: str, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(K, n, n_out) outputs, (K, n) targets -> (K, n) loss of each sample."""
    if task == "binary":
        return lanewise(
            lambda o, t: F.binary_cross_entropy_with_logits(o, t, reduction="none"),
            outputs[..., 0].contiguous(),
            targets,
        )
    if task == "multiclass":
        flat = F.cross_entropy(outputs.flatten(0, 1), targets.flatten(), reduction="none")
        return flat.view(targets.shape)
    return (outputs[..., 0] - targets) ** 2


def loss_gradient(
    task: str, outputs: torch.Tensor, targets: torch.Tensor, sample_weights: torch.Tensor
) -> torch.Tensor:
    """d/d(outputs) of Σ_i w_i · loss_i, for each run at once: (K, batch, n_out)."""
    w = sample_weights.unsqueeze(-1)  # (K, batch, 1): 1/batch for real samples, 0 for padding
    if task == "binary":
        return (lanewise(torch.sigmoid, outputs) - targets.unsqueeze(-1)) * w
    if task == "multiclass":
        one_hot = F.one_hot(targets, outputs.shape[-1]).to(outputs.dtype)
        return (torch.softmax(outputs, dim=-1) - one_hot) * w
    return 2 * (outputs - targets.unsqueeze(-1)) * w


# --- the geometry: where each run's layers sit in the padded stack ----------------------------
@dataclass(frozen=True)
class Geometry:
    """The padded shape of a stack: inputs I, hidden width H, depth D and outputs O."""

    n_inputs: int
    width: int
    depth: int
    n_outputs: int

    def layer_shapes(self) -> list[tuple[int, int]]:
        """(fan_in, fan_out) of each stacked layer: I→H, H→H (D − 1 times), H→O."""
        if self.depth == 0:
            return [(self.n_inputs, self.n_outputs)]
        hidden = [(self.width, self.width)] * (self.depth - 1)
        return [(self.n_inputs, self.width), *hidden, (self.width, self.n_outputs)]

    @property
    def size(self) -> int:
        """Parameters per run, padding included: the flat buffer's row length."""
        return sum(fan_in * fan_out + fan_out for fan_in, fan_out in self.layer_shapes())

    def grown(self, n_inputs: int, depth: int) -> "Geometry":
        """This geometry widened to hold a run of `n_inputs` inputs and `depth` hidden layers."""
        return Geometry(max(self.n_inputs, n_inputs), self.width, max(self.depth, depth),
                        self.n_outputs)  # fmt: skip

    def with_depth(self, depth: int) -> "Geometry":
        return Geometry(self.n_inputs, self.width, depth, self.n_outputs)


def placement(geometry: Geometry, n_inputs: int, hidden_widths: Sequence[int]) -> list[
    tuple[int, int, int]
]:  # fmt: skip
    """(stacked layer, fan_in, fan_out) of each of a run's layers: its hidden layers first, its
    output layer last, whatever hidden layers it lacks passed through in between."""
    widths = [n_inputs, *hidden_widths]
    layers = [(i, widths[i], widths[i + 1]) for i in range(len(hidden_widths))]
    return [*layers, (geometry.depth, widths[-1], geometry.n_outputs)]


def layer_views(flat: torch.Tensor, geometry: Geometry) -> list[Layer]:
    """(K, P) buffer -> per stacked layer, views W (K, fan_in, fan_out) and b (K, 1, fan_out)."""
    views, offset = [], 0
    for fan_in, fan_out in geometry.layer_shapes():
        weight = flat[:, offset : offset + fan_in * fan_out].view(-1, fan_in, fan_out)
        offset += fan_in * fan_out
        views.append((weight, flat[:, offset : offset + fan_out].view(-1, 1, fan_out)))
        offset += fan_out
    return views


def pack(
    layers: Sequence[Layer], where: list[tuple[int, int, int]], geometry: Geometry
) -> torch.Tensor:
    """A run's (weight (out, in), bias (out,)) per layer, nn.Linear's layout -> one (P,) row."""
    row = layers[0][0].new_zeros(1, geometry.size)
    views = layer_views(row, geometry)
    for (weight, bias), (i, fan_in, fan_out) in zip(layers, where, strict=True):
        views[i][0][0, :fan_in, :fan_out] = weight.T
        views[i][1][0, 0, :fan_out] = bias
    return row[0]


def unpack(row: torch.Tensor, where: list[tuple[int, int, int]], geometry: Geometry) -> list[Layer]:
    """Inverse of `pack`: a (P,) row -> the run's (weight (out, in), bias (out,)) per layer."""
    views = layer_views(row.unsqueeze(0), geometry)
    return [
        (views[i][0][0, :fan_in, :fan_out].T, views[i][1][0, 0, :fan_out])
        for i, fan_in, fan_out in where
    ]


def relayout(flat: torch.Tensor, old: Geometry, new: Geometry) -> torch.Tensor:
    """(K, P_old) rows laid out again for another geometry: hidden layers stay where they are, the
    output layer moves to the new last place. Grown, the new room is zero; shrunk (the deepest
    run has left), the hidden layers past the new depth go: no run has them, so they hold only
    padding, which is zero."""
    laid_out = flat.new_zeros(flat.shape[0], new.size)
    old_views, new_views = layer_views(flat, old), layer_views(laid_out, new)
    for i, (weight, bias) in enumerate(old_views):
        if new.depth <= i < old.depth:
            continue
        j = i if i < old.depth else new.depth
        fan_in, fan_out = weight.shape[1:]
        new_views[j][0][:, :fan_in, :fan_out] = weight
        new_views[j][1][:, :, :fan_out] = bias
    return laid_out


class Saved(NamedTuple):
    """What a forward pass keeps for the backward: each layer's input, each hidden z and f(z)."""

    inputs: list[torch.Tensor]
    zs: list[torch.Tensor]
    outs: list[torch.Tensor]


# --- the stacked model ------------------------------------------------------------------------
def batched(op: Callable[..., torch.Tensor], *tensors: torch.Tensor) -> torch.Tensor:
    """`op` (bmm, baddbmm) over (K, …) tensors, computed as if K were at least 2.

    For a batch of one, PyTorch multiplies a matrix by a vector on another path than for a batch
    of several, and rounds differently: a run alone in its stack would drift from the same run
    stacked with others. Computed as one of two identical runs, a run's numbers never depend on
    how many share its stack (the lone run pays the second copy; stacks of several pay nothing).
    """
    if tensors[0].shape[0] != 1 or all(1 not in t.shape[1:] for t in tensors[-2:]):
        return op(*tensors)  # the other path is taken for matrix-vector products alone
    return op(*(t.expand(2, *t.shape[1:]) for t in tensors))[:1]


class StackedMLP:
    """K MLPs of one activation over views into flat `(K, P)` parameter and gradient buffers.

    `depths` (K,) gives each run's hidden layers; a run passes through the stacked hidden layers
    past its depth (a = a_prev), so its output layer sees its last hidden layer's output.
    """

    def __init__(
        self,
        geometry: Geometry,
        activation: str,
        params: torch.Tensor,
        grads: torch.Tensor,
        depths: torch.Tensor,
    ) -> None:
        self.geometry = geometry
        self.activation = ACTIVATIONS[activation]
        # what computes the activation and its gradient: as is where it rounds alike anywhere
        self.elementwise = _as_is if self.activation.exact else lanewise
        self.layers = layer_views(params, geometry)
        self.grad_layers = layer_views(grads, geometry)
        # on[j]: (K, 1, 1), 1 where a run has hidden layer j, else 0; None where every run has
        # it. Mixing with lerp(a, b, on) is exact for 0 and 1, and 4x faster than torch.where.
        self.on: list[torch.Tensor | None] = [
            None if bool((depths > j).all()) else (depths > j).to(params.dtype).view(-1, 1, 1)
            for j in range(geometry.depth)
        ]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, Saved]:
        """(K, n, I) inputs -> (K, n, O) outputs, and what the backward needs of this pass."""
        inputs: list[torch.Tensor] = []  # what each layer saw
        zs: list[torch.Tensor] = []  # each hidden layer's z and f(z), before any pass-through
        outs: list[torch.Tensor] = []
        a = x
        for j, (W, b) in enumerate(self.layers[:-1]):
            inputs.append(a)
            z = batched(torch.baddbmm, b, a, W)  # b + a @ W
            out = self.elementwise(self.activation.value, z)
            on = self.on[j]
            a = out if on is None else torch.lerp(a, out, on)
            zs.append(z)
            outs.append(out)
        inputs.append(a)
        W, b = self.layers[-1]
        return batched(torch.baddbmm, b, a, W), Saved(inputs, zs, outs)

    def outputs(self, x: torch.Tensor, runs: torch.Tensor, depth: int, width: int) -> torch.Tensor:
        """(k, n, I) inputs of the runs `runs`, all `depth` deep and at most `width` wide ->
        (k, n, O) outputs, with nothing kept for a backward pass.

        Only the runs' own layers and widths are computed (the rest is zero padding or passed
        through): a 64×64 grid costs a narrow, shallow run a fraction of the stack's size. The
        bias is added after the product: baddbmm would first copy it into every one of the
        4,096 rows, which costs a grid pass a third of its time.
        """
        a = x
        for j in range(depth):
            W, b = self.layers[j]
            fan_in = W.shape[1] if j == 0 else width
            z = batched(torch.bmm, a, W[runs, :fan_in, :width]).add_(b[runs, :, :width])
            a = self.elementwise(self.activation.value_, z)
        W, b = self.layers[-1]
        return batched(torch.bmm, a, W[runs, : a.shape[-1]]).add_(b[runs])

    def backward(self, saved: Saved, delta: torch.Tensor) -> None:
        """Write d(loss)/d(params) into the gradient buffer, given delta = d(loss)/d(outputs).

        Padded and passed-through weights get gradients here too; the caller's mask zeroes them.
        """
        inputs, top = saved.inputs, len(self.layers) - 1
        dz, g = delta, delta  # d(loss)/dz of the layer at hand; d(loss)/d(its output)
        for i in range(top, -1, -1):
            if i < top:  # hidden layer i, whose output's gradient is g
                dz = self.elementwise(self.activation.backward, g, saved.zs[i], saved.outs[i])
            W_grad, b_grad = self.grad_layers[i]
            # bmm(out=) into a strided view would loop over the batch: compute, then copy in
            W_grad.copy_(batched(torch.bmm, inputs[i].transpose(1, 2), dz))  # aᵀ δ
            torch.sum(dz, dim=1, keepdim=True, out=b_grad)  # a reduction writes strided views well
            if i == 0:
                return
            through = batched(torch.bmm, dz, self.layers[i][0].transpose(1, 2))  # δ Wᵀ
            on = self.on[i] if i < top else None
            g = through if on is None else torch.lerp(g, through, on)  # lacked: passed through
