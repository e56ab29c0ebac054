"""K MLPs as one: padded weight stacks in one flat buffer, and an explicit batched forward/backward.

A stack has one geometry: every run's inputs are padded to the widest run's, every hidden layer
to the stack's width, and the stack is as deep as its deepest run, so that runs of any width and
depth up to the stack's train together, whatever their activations (each activation's runs are
a block of rows). Each hidden layer is computed for the runs that have it alone (their rows sit
side by side), and a run's output layer takes its own last hidden layer.
Padded weights are zero and get no gradient (exactly 0 where f(0) = 0, masked otherwise), so they
stay exactly zero.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

import torch
import torch.nn.functional as F

from layerlab.core.activations import ACTIVATIONS, Activation

# Elements per step of PyTorch's widest CPU vector loop (2 × 16 float32 lanes on AVX-512), doubled
# to cover float64 and narrower CPUs too: see `lanewise`.
VECTOR_LOOP = 64

Layer = tuple[torch.Tensor, torch.Tensor]  # (weight, bias)
T = TypeVar("T")


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
    output layer last, after whatever hidden layers it lacks."""
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


class Kept(NamedTuple):
    """What a block's forward pass keeps for its backward: each layer's input, z and f(z)."""

    inputs: list[torch.Tensor]
    zs: list[torch.Tensor]
    outs: list[torch.Tensor]


class Saved(NamedTuple):
    """What a forward pass keeps for the backward: each activation's block's, and the output
    layer's input."""

    blocks: list[Kept]
    top_input: torch.Tensor


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
    """K MLPs over views into flat `(K, P)` parameter and gradient buffers.

    `activations` (one per row) come in blocks, one per activation: each block's hidden layers
    are computed apart (`_Hidden`), and one output layer takes every run's own last hidden
    layer. `depths` (K,) gives each run's hidden layers, the rows of each block ordered so that
    the runs having each hidden layer sit side by side (`spans`): a layer is computed for those
    rows alone, as views. The stacked hidden layers past a run's depth it neither computes nor
    gets gradients in (they are padding, and stay zero).
    """

    def __init__(
        self,
        geometry: Geometry,
        activations: Sequence[str],
        params: torch.Tensor,
        grads: torch.Tensor,
        depths: torch.Tensor,
    ) -> None:
        self.geometry = geometry
        self.layers = layer_views(params, geometry)
        self.grad_layers = layer_views(grads, geometry)
        every_depth = depths.tolist()
        self.blocks = [
            _Hidden(name, start, stop, self.layers, self.grad_layers, every_depth[start:stop])
            for name, start, stop in blocks(activations)
        ] if geometry.depth else []  # fmt: skip
        (W, b), (W_grad, b_grad) = self.layers[-1], self.grad_layers[-1]
        self.top = _SpanViews(W, b, W_grad, b_grad, W.transpose(1, 2), b.transpose(1, 2),
                              W_grad.transpose(1, 2))  # fmt: skip

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, Saved]:
        """(K, n, I) inputs -> (K, n, O) outputs, and what the backward needs of this pass."""
        saved, pieces = [], []
        for block in self.blocks:
            kept, last = block.forward(_rows(x, block.start, block.stop))
            saved.append(kept)
            pieces += last
        # each run's last hidden layer (the blocks' pieces, in row order): the output layer's input
        top_input = x if not pieces else pieces[0] if len(pieces) == 1 else torch.cat(pieces)
        # the output layer transposed, Wᵀ·aᵀ: a few output rows along the batch (one output's
        # (n, H) @ (H, 1) measured 2x slower); its bias along the batch too
        top = self.top
        outputs = batched(torch.baddbmm, top.b_t, top.W_t, top_input.transpose(1, 2))
        return outputs.transpose(1, 2), Saved(saved, top_input)

    def outputs(
        self, x: torch.Tensor, runs: torch.Tensor, depth: int, width: int, activation: str
    ) -> torch.Tensor:
        """(k, I, n) inputs of the runs `runs`, feature-major, all of one `activation`, `depth`
        deep and at most `width` wide -> (k, n, O) outputs (a view), with nothing kept for a
        backward pass.

        Only the runs' own layers and widths are computed (the rest is zero padding, or layers
        they lack): a 64×64 grid costs a narrow, shallow run a fraction of the stack's size.
        Feature-major, each layer is Wᵀ·a over the n points: MKL runs a product along its long
        side well, and (n, 4) @ (4, 4) row by row measured 9x slower than (4, 4) @ (4, n).
        """
        f = ACTIVATIONS[activation]
        valuewise, a = _valuewise(f), x
        for j in range(depth):
            W, b = self.layers[j]
            fan_in = W.shape[1] if j == 0 else width
            W_t, b_t = W[runs, :fan_in, :width].transpose(1, 2), b[runs, :, :width].transpose(1, 2)
            a = valuewise(f.value_, batched(torch.baddbmm, b_t, W_t, a))
        W, b = self.layers[-1]
        W_t, b_t = W[runs, : a.shape[1]].transpose(1, 2), b[runs].transpose(1, 2)
        return batched(torch.baddbmm, b_t, W_t, a).transpose(1, 2)

    def backward(self, saved: Saved, delta: torch.Tensor) -> None:
        """Write d(loss)/d(params) into the gradient buffer, given delta = d(loss)/d(outputs).

        Hidden layer j's gradients are written for the rows of its spans alone; the rest of the
        buffer is padding, which nothing writes. Padding in width gets exactly 0 where f(0) = 0;
        the caller masks it otherwise (trainer_stack.py, `masked`).
        """
        top = self.top
        # bmm(out=) into a strided view would loop over the batch: compute, then copy in; as
        # (δᵀ a)ᵀ, a few rows long (aᵀ δ of one output measured 3x slower)
        top.W_grad_t.copy_(batched(torch.bmm, delta.transpose(1, 2), saved.top_input))  # aᵀ δ
        torch.sum(delta, dim=1, keepdim=True, out=top.b_grad)  # it writes strided views well
        if not self.blocks:
            return
        # g: d(loss)/d(output) of each run's last hidden layer. δ Wᵀ of one output is a product
        # of two numbers per entry, as bmm makes it (and 5x faster).
        g = delta * top.W_t if delta.shape[-1] == 1 else batched(torch.bmm, delta, top.W_t)
        for block, kept in zip(self.blocks, saved.blocks, strict=True):
            block.backward(_rows(g, block.start, block.stop), kept)


class _Hidden:
    """The hidden layers of one activation's runs: the stack's rows [start, stop), ordered so
    that the runs having each hidden layer sit side by side (`spans`, within the block)."""

    def __init__(
        self,
        activation: str,
        start: int,
        stop: int,
        layers: list[Layer],
        grad_layers: list[Layer],
        depths: Sequence[int],
    ) -> None:
        self.start, self.stop = start, stop
        self.activation = ACTIVATIONS[activation]
        # what computes the activation and its gradient: as is where it rounds alike anywhere
        self.elementwise = _as_is if self.activation.exact else lanewise
        self.valuewise = _valuewise(self.activation)
        self.spans = spans(depths, max(depths))
        # each layer's views over the rows that have it, made once: W, b, their gradients, Wᵀ;
        # the block's own layers alone (not strict): it is as deep as its deepest run, and the
        # stack's later layers and its output layer are not the block's
        self.own: list[_SpanViews] = []
        for (W, b), (W_grad, b_grad), (first, last) in zip(
            layers, grad_layers, self.spans, strict=False
        ):
            W, b, W_grad, b_grad = (
                _rows(t, start + first, start + last) for t in (W, b, W_grad, b_grad)
            )
            transposed = (W.transpose(1, 2), b.transpose(1, 2), W_grad.transpose(1, 2))
            self.own.append(_SpanViews(W, b, W_grad, b_grad, *transposed))
        # the output layer's input, gathered from each run's last hidden layer: (layer j, first
        # row, past the last) in layer j's own rows, in the block's row order. Runs whose last
        # layer is j sit just inside layer j's span, either side of layer j + 1's.
        down, up = [], []
        for j, (first, last) in enumerate(self.spans):
            inner = self.spans[j + 1] if j + 1 < len(self.spans) else (last, last)
            down.append((j, 0, inner[0] - first))
            up.append((j, inner[1] - first, last - first))
        self.last_hidden = [(j, a, b) for j, a, b in down + up[::-1] if b > a]

    def forward(self, x: torch.Tensor) -> tuple[Kept, list[torch.Tensor]]:
        """The block's (k, n, I) inputs -> what its backward needs, and the pieces of its runs'
        last hidden layers' outputs, in row order."""
        inputs: list[torch.Tensor] = []  # what each layer saw
        zs: list[torch.Tensor] = []  # each hidden layer's z and f(z), for its rows alone
        outs: list[torch.Tensor] = []
        a, first = x, 0  # a's rows begin at the block's row `first`
        for own, (start, stop) in zip(self.own, self.spans, strict=True):
            a = _rows(a, start - first, stop - first)
            inputs.append(a)
            z = batched(torch.baddbmm, own.b, a, own.W)  # b + a @ W
            a, first = self.valuewise(self.activation.value, z), start
            zs.append(z)
            outs.append(a)
        return Kept(inputs, zs, outs), [_rows(outs[j], a, b) for j, a, b in self.last_hidden]

    def backward(self, g: torch.Tensor, kept: Kept) -> None:
        """Given g, d(loss)/d(output) of each of the block's runs' last hidden layer: as the pass
        goes down, the rows of runs deeper than the layer at hand hold d(loss)/d(its output)."""
        inputs, zs, outs = kept
        for i in range(len(self.own) - 1, -1, -1):
            own, (start, stop) = self.own[i], self.spans[i]
            rows = _rows(g, start, stop)
            dz = self.elementwise(self.activation.backward, rows, zs[i], outs[i])
            own.W_grad.copy_(batched(torch.bmm, inputs[i].transpose(1, 2), dz))
            torch.sum(dz, dim=1, keepdim=True, out=own.b_grad)
            if i == 0:
                return
            if dz is rows or dz.shape[0] == 1:  # a linear layer's dz is g itself; see batched
                rows.copy_(batched(torch.bmm, dz, own.W_t))
            else:  # the rows of the runs that have layer i: contiguous, written in place
                torch.bmm(dz, own.W_t, out=rows)


def _valuewise(activation: Activation) -> Callable[..., torch.Tensor]:
    """What computes f itself: as is where it rounds alike anywhere (see `lanewise`)."""
    return _as_is if activation.exact or activation.exact_value else lanewise


def blocks(values: Sequence[T]) -> list[tuple[T, int, int]]:
    """(value, first, past the last) of each run of equal neighbouring values: the rows of one
    activation, or of one optimizer."""
    result: list[tuple[T, int, int]] = []
    for k, value in enumerate(values):
        if result and result[-1][0] == value:
            result[-1] = (value, result[-1][1], k + 1)
        else:
            result.append((value, k, k + 1))
    return result


class _SpanViews(NamedTuple):
    """One stacked layer's views over the rows of the runs that have it."""

    W: torch.Tensor
    b: torch.Tensor
    W_grad: torch.Tensor
    b_grad: torch.Tensor
    W_t: torch.Tensor  # Wᵀ
    b_t: torch.Tensor  # bᵀ: (k, fan_out, 1)
    W_grad_t: torch.Tensor


def _rows(tensor: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """tensor[start:stop] along its first dimension; all of it is the tensor itself (a view
    costs an operation)."""
    return tensor if start == 0 and stop == tensor.shape[0] else tensor[start:stop]


def spans(depths: Sequence[int], depth: int) -> list[tuple[int, int]]:
    """(first row, past the last) of the runs that have each of `depth` hidden layers: one
    block each, or a ValueError (TrainerStack orders its rows so; see `_order` there)."""
    result = []
    for j in range(depth):
        having = [k for k, d in enumerate(depths) if d > j]
        if not having or having[-1] + 1 - having[0] != len(having):
            raise ValueError(
                f"the runs that have hidden layer {j + 1} are not side by side in the stack "
                f"(depths {list(depths)}), or there are none"
            )
        result.append((having[0], having[-1] + 1))
    return result
