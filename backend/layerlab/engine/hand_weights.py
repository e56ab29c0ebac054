"""A weight set by hand on a parked run, which no worker holds: its stored state is rewritten,
and the server makes the frames its viewers would have had from a worker.

(A run its worker holds is set there: the worker's `set_weight` command.)
"""

import io
from typing import Any

import torch

from layerlab.core.datasets import load_csv
from layerlab.core.limits import UNLIMITED
from layerlab.core.spec import RunSpec
from layerlab.core.weight_edit import checkpoint_with, weight_of, weights_with
from layerlab.engine.session import TrainingSession
from layerlab.engine.store import Store

WeightAddress = tuple[int, int, int | None]  # layer (from 1), row, column (None: the bias)


def rewrite_parked_weight(
    store: Store, run_id: str, address: WeightAddress, value: float
) -> tuple[int, bytes] | None:
    """The run's checkpoint and weights in the store with one weight set, in one transaction;
    (step, new checkpoint), or None when it has no checkpoint."""
    saved, weights = store.load_checkpoint(run_id), store.load_weights(run_id)
    if saved is None or weights is None:
        return None
    step, checkpoint = saved
    checkpoint = checkpoint_with(checkpoint, *address, value)
    store.save_checkpoint(run_id, step, checkpoint, weights_with(weights, *address, value))
    return step, checkpoint


def stored_value(weights: bytes, address: WeightAddress) -> float:
    """The weight at `address` in saved weights, as they hold it."""
    state = torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True)
    return weight_of(state, *address)


def frames_from(
    spec: RunSpec, csv_text: str | None, checkpoint: bytes
) -> list[tuple[str, dict[str, Any]]]:
    """The metrics frame (and grid) of the run as this checkpoint holds it: what its session
    sends when it starts from it, paused."""
    frames: list[tuple[str, dict[str, Any]]] = []
    dataset = load_csv(csv_text, spec.dataset, UNLIMITED) if csv_text is not None else None
    TrainingSession(
        spec,
        lambda kind, payload: frames.append((kind, payload)),
        dataset=dataset,
        paused=True,
        checkpoint=checkpoint,
    )
    return [(kind, payload) for kind, payload in frames if kind in ("metrics", "grid")]
