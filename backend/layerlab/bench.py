"""Training speed of LayerLab's loop beside the naive tutorial loop, measured in one run."""

import argparse
import itertools
import json
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from layerlab.core.spec import RunSpec
from layerlab.core.training import Trainer, pick_device


def naive_steps_per_s(spec: RunSpec, epochs: int) -> float:
    """The tutorial loop: DataLoader batches, a Sigmoid output layer, BCELoss, autograd + Adam."""
    trainer = Trainer(spec)  # only for the same data and inputs
    x, y = trainer.x_train.cpu(), trainer.y_train.cpu().unsqueeze(1)
    layers: list[nn.Module] = []
    widths = [x.shape[1], *spec.hidden_widths]
    for fan_in, fan_out in itertools.pairwise(widths):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(widths[-1], 1), nn.Sigmoid())
    loader = DataLoader(TensorDataset(x, y), batch_size=spec.batch_size, shuffle=True)
    loss_fn = nn.BCELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=spec.learning_rate)
    steps = 0
    started = time.perf_counter()
    for _ in range(epochs):
        for inputs, targets in loader:
            loss = loss_fn(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
    return steps / (time.perf_counter() - started)


def layerlab_steps_per_s(spec: RunSpec, epochs: int, device: torch.device) -> float:
    """LayerLab's Trainer: tensors in memory, shuffled index slices, fused sigmoid + BCE."""
    trainer = Trainer(spec, device=device)
    steps = epochs * trainer.steps_per_epoch
    started = time.perf_counter()
    trainer.train_steps(steps)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - started)


def measure(spec: RunSpec, epochs: int, repeats: int, device: torch.device) -> dict[str, float]:
    """Median steps/s of each loop; the loops alternate so that both see the same machine load."""
    loops: dict[str, Callable[[], float]] = {
        "naive": lambda: naive_steps_per_s(spec, epochs),
        "layerlab": lambda: layerlab_steps_per_s(spec, epochs, device),
    }
    for run in loops.values():  # warm-up: first-call costs are not training speed
        run()
    samples: dict[str, list[float]] = {name: [] for name in loops}
    for _ in range(repeats):
        for name, run in loops.items():
            samples[name].append(run())
    result = {name: statistics.median(values) for name, values in samples.items()}
    result["ratio"] = result["layerlab"] / result["naive"]
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--epochs", type=int, default=20, help="epochs per measurement (20)")
    parser.add_argument("--repeats", type=int, default=5, help="measurements per loop (5)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (cpu)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def command(args: argparse.Namespace) -> int:
    spec = RunSpec()  # the default moons run: [8, 8] ReLU, Adam, batch 32
    device = pick_device(args.device)
    result = measure(spec, args.epochs, args.repeats, device)
    if args.json:
        print(json.dumps({"spec": spec.model_dump(), "device": str(device), **result}))
        return 0
    print(
        f"Default run: {spec.dataset.name}, {spec.dataset.samples} points, hidden "
        f"{spec.hidden_widths} {spec.activation}, {spec.optimizer}, batch {spec.batch_size}; "
        f"median of {args.repeats} x {args.epochs} epochs on {device}"
    )
    print(f"{'loop':<44}{'steps/s':>10}")
    print(f"{'naive (DataLoader, Sigmoid + BCELoss)':<44}{result['naive']:>10,.0f}")
    print(f"{'layerlab (index slices, BCEWithLogits)':<44}{result['layerlab']:>10,.0f}")
    print(f"ratio: {result['ratio']:.2f}x the naive loop")
    return 0
