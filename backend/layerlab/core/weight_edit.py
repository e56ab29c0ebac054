"""One weight set by hand, as a learner does on a paused run: in a live model, in saved weights,
or in a checkpoint, addressed as the page shows it.

`layer` counts the network's linear layers from 1 (the last is the output layer), `row` is the
neuron the weight feeds (out), `column` the input it weighs (in), and a `column` of None means
the neuron's bias: PyTorch's (out, in) layout, as /model gives the weights.
"""

import io

import torch

MAX_HAND_WEIGHT = 1e6  # far beyond anything training makes, yet no overflow in a forward pass


def linear_keys(state: dict[str, torch.Tensor]) -> list[str]:
    """The state dict's linear layers in order, by the prefix of their parameters ('0', '2'…)."""
    prefixes = {key.rpartition(".")[0] for key in state if key.endswith(".weight")}
    return sorted(prefixes, key=lambda prefix: int(prefix.rpartition(".")[2]))


def _target(
    state: dict[str, torch.Tensor], layer: int, row: int, column: int | None
) -> tuple[torch.Tensor, tuple[int, ...]]:
    keys = linear_keys(state)
    if not 1 <= layer <= len(keys):
        raise IndexError(f"layer: 1 to {len(keys)}; got {layer}")
    prefix = keys[layer - 1]
    if column is None:
        return state[f"{prefix}.bias"], (row,)
    return state[f"{prefix}.weight"], (row, column)


def set_weight(
    state: dict[str, torch.Tensor], layer: int, row: int, column: int | None, value: float
) -> float:
    """Set one weight (a bias when `column` is None) in place; returns it as stored (the
    tensor's dtype rounds it). A model's `state_dict()` shares its parameters' memory, so this
    sets the model's weight too."""
    tensor, index = _target(state, layer, row, column)
    with torch.no_grad():
        tensor[index] = value
    return float(tensor[index])


def weight_of(state: dict[str, torch.Tensor], layer: int, row: int, column: int | None) -> float:
    tensor, index = _target(state, layer, row, column)
    return float(tensor[index])


def weights_with(weights: bytes, layer: int, row: int, column: int | None, value: float) -> bytes:
    """Saved weights (`torch.save` of a state dict) with one weight set."""
    state = torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True)
    set_weight(state, layer, row, column, value)
    return _saved(state)


def checkpoint_with(
    checkpoint: bytes, layer: int, row: int, column: int | None, value: float
) -> bytes:
    """A Trainer's checkpoint with one weight set: everything else (optimizer state, batch order,
    step, rates) as it was, so that the run goes on from there."""
    state = torch.load(io.BytesIO(checkpoint), map_location="cpu", weights_only=True)
    set_weight(state["model"], layer, row, column, value)
    return _saved(state)


def _saved(state: dict[str, object]) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()
