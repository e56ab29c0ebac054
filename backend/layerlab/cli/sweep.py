"""`layerlab sweep`: one network per depth × width, trained in this process as the server's stacks.

Every cell's run has the base spec's data, seeds and training settings, and `[width] * depth`
hidden layers (depth 0, the linear model, once for its row). Runs of one stack key train as one
TrainerStack, so 25 networks cost little more than a few; each ends with the numbers it would
have trained alone.
"""

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import torch

from layerlab.cli.console import sweep_table
from layerlab.cli.flags import (
    FIELD_FLAGS,
    add_device_argument,
    add_spec_arguments,
    device_from_flag,
    spec_from_args,
)
from layerlab.config import get_settings
from layerlab.core.datasets import DatasetError, make_dataset
from layerlab.core.models import parameter_count
from layerlab.core.spec import RunSpec
from layerlab.core.strict_json import finite
from layerlab.core.sweep import axes_problems, cell_metrics, sweep_runs, train_stacked
from layerlab.core.training import Trainer, divergence_message
from layerlab.usage import UsageError

EPILOG = """\
examples:
  layerlab sweep --depths 0-4 --widths 2,4,8,16,32 --plot sweep.html
  layerlab sweep --dataset spiral --depths 1,2,3 --widths 8,32 --activation tanh --json
"""


def axis_values(text: str) -> list[int]:
    """'0-4' → [0, 1, 2, 3, 4]; '2,4,8' → [2, 4, 8]; ranges and values mix: '0-2,8'."""
    values: list[int] = []
    try:
        for part in (part.strip() for part in text.split(",")):
            low, dash, high = part.partition("-")
            values += list(range(int(low), int(high) + 1)) if dash else [int(part)]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected whole numbers and ranges such as 0-4 or 2,4,8,16; got {text!r}"
        ) from None
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    axes = parser.add_argument_group("the sweep")
    axes.add_argument(
        "--depths",
        type=axis_values,
        required=True,
        metavar="D-D|D,D",
        help="Hidden layers of each row, e.g. 0-4 (0: the linear model, one run for its row).",
    )
    axes.add_argument(
        "--widths",
        type=axis_values,
        required=True,
        metavar="W,W",
        help="Neurons per hidden layer of each column, e.g. 2,4,8,16,32.",
    )
    add_spec_arguments(parser)
    output = parser.add_argument_group("output")
    add_device_argument(output)
    output.add_argument(
        "--json", action="store_true", help="Print one JSON document (its cells as the REST "
        "sweep's) instead of text.",
    )  # fmt: skip
    output.add_argument(
        "--plot",
        metavar="FILE.html",
        help="Also write an offline HTML page: the heatmap and the score against parameters.",
    )
    output.add_argument("--quiet", action="store_true", help="No progress line while training.")


def command(args: argparse.Namespace) -> int:
    base = spec_from_args(args)
    limits = get_settings().limits()
    problems = axes_problems(args.depths, args.widths, limits)
    if problems:
        raise UsageError(*(f"--{problem}" for problem in problems))
    if args.plot and not Path(args.plot).resolve().parent.is_dir():
        raise UsageError(f"--plot: no folder {str(Path(args.plot).parent)!r} to write into")
    device = device_from_flag(args.device)
    try:
        dataset = make_dataset(base.dataset, limits)
        runs = sweep_runs(base, args.depths, args.widths)
        trainers = [Trainer(run.spec, dataset=dataset, device=device) for run in runs]
    except DatasetError as error:
        flag = "--csv" if base.dataset.name == "csv" else error.field
        raise UsageError(f"{FIELD_FLAGS.get(error.field, flag)}: {error.message}") from None
    progress = None if args.json or args.quiet else SweepProgress(trainers)
    started = time.perf_counter()
    train_stacked(trainers, after_turn=progress.update if progress else None)
    elapsed_s = time.perf_counter() - started
    if progress is not None:
        progress.close()
    document = sweep_document(base, args.depths, args.widths, trainers, device, elapsed_s)
    if args.json:
        print(json.dumps(finite(document), allow_nan=False))
    else:
        print(sweep_table(document))
    if args.plot:
        from layerlab.cli.sweep_report import write_sweep_report  # plotly: a second to import

        write_sweep_report(args.plot, document)
        print(f"\nReport: {args.plot}", file=sys.stderr if args.json else sys.stdout)
    return 0


class SweepProgress:
    """One line on stderr: the runs trained to their end, and the steps of all of them."""

    def __init__(self, trainers: list[Trainer], stream: TextIO | None = None) -> None:
        self.trainers = trainers
        self.stream = stream or sys.stderr
        self.total_steps = sum(trainer.total_steps for trainer in trainers)
        self.interactive = self.stream.isatty()
        self._shown = -1

    def update(self) -> None:
        done = sum(trainer.step >= trainer.total_steps for trainer in self.trainers)
        share = sum(trainer.step for trainer in self.trainers) / max(1, self.total_steps)
        line = f"runs done {done}/{len(self.trainers)}  {share:4.0%} of all steps"
        if self.interactive:
            self.stream.write("\r" + line)
            self.stream.flush()
        elif done != self._shown:  # a log gets a line per run finished, not per turn
            print(line, file=self.stream, flush=True)
        self._shown = done

    def close(self) -> None:
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()


def sweep_document(
    base: RunSpec,
    depths: list[int],
    widths: list[int],
    trainers: list[Trainer],
    device: torch.device,
    elapsed_s: float,
) -> dict[str, Any]:
    """What `sweep --json` prints: the axes and each cell shaped as the REST sweep's cells (its
    `run_id` null: no server holds these runs)."""
    task = trainers[0].dataset.task
    by_network = {tuple(trainer.spec.hidden_widths): trainer for trainer in trainers}
    cells = []
    for depth in depths:
        for width in widths:
            hidden = [width] * depth
            trainer = by_network[tuple(hidden)]
            metrics = trainer.final_metrics()
            point = trainer.evaluate()
            cells.append(
                {
                    "depth": depth,
                    "width": width,
                    "hidden_widths": hidden,
                    "run_id": None,
                    "parameters": parameter_count(
                        trainer.n_inputs, hidden, trainer.dataset.n_outputs
                    ),
                    "status": "diverged" if divergence_message(trainer, point) else "done",
                    "epoch": metrics["epoch"],
                    "metrics": cell_metrics(task, metrics),
                }
            )
    return {
        "task": task,
        "base": base.model_copy(update={"hidden_widths": []}).model_dump(mode="json"),
        "depths": depths,
        "widths": widths,
        "cells": cells,
        "runs": len(trainers),
        "elapsed_s": round(elapsed_s, 3),
        "device": str(device),
    }
