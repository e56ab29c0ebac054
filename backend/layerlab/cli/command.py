"""The `layerlab` command: serve, train from flags, sweep, print a script, benchmark."""

import argparse
import contextlib
import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError

from layerlab import __version__
from layerlab.api import serve
from layerlab.cli import sweep
from layerlab.cli.console import ProgressLine, TerminalRun, format_result, run_text
from layerlab.cli.flags import (
    FIELD_FLAGS,
    add_device_argument,
    add_spec_arguments,
    device_from_flag,
    spec_from_args,
)
from layerlab.cli.forward_text import check_point, explain_point, forward_text, point_numbers
from layerlab.config import get_settings
from layerlab.core.codegen import generate_script
from layerlab.core.datasets import DatasetError, make_dataset
from layerlab.core.script_phrases import LANGUAGES
from layerlab.core.spec import RunSpec
from layerlab.core.strict_json import finite
from layerlab.core.summary import model_summary, model_weights
from layerlab.core.training import RunResult, RunStatus, Trainer
from layerlab.engine.session import TrainingSession
from layerlab.measure import bench, loadtest
from layerlab.usage import UsageError

EXIT_DONE, EXIT_DIVERGED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_CODES = {RunStatus.DONE: EXIT_DONE, RunStatus.CANCELLED: EXIT_INTERRUPTED}
POINTS_PER_RUN = 100  # metric points even a short run reports, so that its curves are curves
TURN_S = 0.05  # training between two looks for Ctrl-C

EPILOG = """\
examples:
  layerlab train --dataset spiral --hidden 16,16 --activation tanh --plot spiral.html
  layerlab code --dataset plane --hidden "" --optimizer sgd --lr 0.02 -o plane.py
  layerlab sweep --depths 0-4 --widths 2,4,8,16,32 --plot sweep.html
"""


# --- layerlab train ------------------------------------------------------------------------


def train_command(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)
    if spec.until_paused:  # until Ctrl-C, or the end LAYERLAB_MAX_EPOCHS sets
        spec = spec.model_copy(update={"epochs": get_settings().max_epochs})
    device = device_from_flag(args.device)
    if args.plot and not Path(args.plot).resolve().parent.is_dir():
        raise UsageError(f"--plot: no folder {str(Path(args.plot).parent)!r} to write into")
    record = TerminalRun()
    try:
        # a terminal draws no decision boundary, and its points come by step, not by clock
        dataset = make_dataset(spec.dataset, get_settings().limits())
        session = TrainingSession(
            spec,
            record,
            dataset=dataset,
            device=device,
            metrics_interval_s=math.inf,
            grid_interval_s=None,
        )
    except DatasetError as error:  # a CSV that cannot be used, or features it cannot take
        raise _flag_error(spec, error) from None
    trainer = session.trainer
    if args.explain_point is not None:  # a wrong count is told before training, not after
        check_point(trainer, args.explain_point)
    session.metrics_every_steps = max(
        1, min(trainer.steps_per_epoch, trainer.total_steps // POINTS_PER_RUN)
    )
    if not args.json:
        print(run_text(trainer, device) + "\n", flush=True)
    if not (args.json or args.quiet):
        record.show_progress(ProgressLine(trainer))
    started = time.perf_counter()  # the training, not the first call's imports and set-up
    with _ctrl_c_presses() as pressed:
        try:
            train_to_the_end(session, pressed)
        finally:
            record.close_progress()
    result = record.result(elapsed_s=time.perf_counter() - started)
    explained = explain_point(trainer, args.explain_point) if args.explain_point else None
    if args.json:
        document = run_document(trainer, result, device)
        if explained is not None:
            document["forward"] = explained
        print(json.dumps(finite(document), allow_nan=False))
    else:
        print(format_result(trainer, result))
        if explained is not None:
            print("\n" + forward_text(explained))
    if args.plot:
        from layerlab.cli.report import write_report  # plotly takes a second to import

        write_report(args.plot, trainer, result)
        print(f"\nReport: {args.plot}", file=sys.stderr if args.json else sys.stdout)
    return EXIT_CODES.get(result.status, EXIT_DIVERGED)


def _flag_error(spec: RunSpec, error: DatasetError) -> UsageError:
    """Data that cannot be used, blamed on the flag that chose it (--csv for a table)."""
    fallback = "--csv" if spec.dataset.name == "csv" else error.field
    return UsageError(f"{FIELD_FLAGS.get(error.field, fallback)}: {error.message}")


def train_to_the_end(session: TrainingSession, pressed: threading.Event) -> None:
    """Train in short turns; Ctrl-C cancels the run at the next turn (the weights so far stay)."""
    while not session.finished:
        if pressed.is_set():
            session.cancel()
        else:
            session.advance(TURN_S)
            time.sleep(min(TURN_S, session.due_in_s(time.monotonic())))  # paced: its next step


def run_document(trainer: Trainer, result: RunResult, device: torch.device) -> dict[str, Any]:
    """Everything `train --json` prints: the spec, the outcome, the curves and the model."""
    return {
        "spec": trainer.spec.model_dump(mode="json"),
        "data": {
            "task": trainer.dataset.task,
            "train_points": len(trainer.dataset.y_train),
            "test_points": len(trainer.dataset.y_test),
            "input_names": list(trainer.dataset.input_names),
            "class_names": list(trainer.dataset.class_names),
        },
        "status": result.status.value,
        "error": result.error,
        "metrics": result.metrics,
        "history": [point.to_dict() for point in result.history],
        "summary": model_summary(trainer.model, trainer.n_inputs),
        "weights": model_weights(trainer.model),
        "elapsed_s": round(result.elapsed_s, 3),
        "steps": trainer.step,
        "device": str(device),
    }


@contextlib.contextmanager
def _ctrl_c_presses() -> Iterator[threading.Event]:
    """An event Ctrl-C sets, for the run to end cleanly at its next turn (within TURN_S): the
    handler may run in the middle of a turn, so it only says so. A second Ctrl-C interrupts at
    once."""
    pressed = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield pressed  # only the main thread may set signal handlers
        return

    def press(signum: int, frame: object) -> None:
        pressed.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, press)
    try:
        yield pressed
    finally:
        signal.signal(signal.SIGINT, previous)


# --- layerlab code -----------------------------------------------------------------------


def code_command(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)
    try:  # a CSV is read under this machine's limits (LAYERLAB_MAX_SAMPLES)
        dataset = make_dataset(spec.dataset, get_settings().limits())
    except DatasetError as error:
        raise _flag_error(spec, error) from None
    script = generate_script(spec, dataset, language=args.lang)
    script += "" if script.endswith("\n") else "\n"
    if args.output is None:
        sys.stdout.write(script)
        return EXIT_DONE
    try:
        Path(args.output).write_text(script, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"--output: cannot write {args.output!r}: {error.strerror}") from None
    print(f"Wrote {args.output}; run it with: python {args.output}", file=sys.stderr)
    return EXIT_DONE


# --- wiring --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="layerlab",
        description="LayerLab: small PyTorch neural networks to train, watch and read.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"layerlab {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = commands.add_parser(
        "train",
        help="train one network and print its result",
        description="Train one network on a playground dataset (or your CSV) and print its\n"
        "metrics, confusion matrix and layers. Ctrl-C stops it early.\n"
        "Exit code: 0 done, 1 diverged, 2 bad input, 130 interrupted.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_spec_arguments(train)
    output = train.add_argument_group("output")
    add_device_argument(output)
    output.add_argument(
        "--json",
        action="store_true",
        help="Print one JSON document (spec, data, status, metrics, history, summary, weights) "
        "instead of text.",
    )
    output.add_argument(
        "--plot", metavar="FILE.html", help="Also write an offline HTML report of the run."
    )
    output.add_argument("--quiet", action="store_true", help="No progress line while training.")
    output.add_argument(
        "--explain-point",
        type=point_numbers,
        metavar="X1,X2",
        help="After training, walk this point through the network layer by layer: each "
        "layer's W·h + b, its activation, the output and the class (a table's columns for data "
        "without a plane).",
    )
    train.set_defaults(handler=train_command)

    code = commands.add_parser(
        "code",
        help="print the standalone PyTorch script for a run",
        description="Print a standalone PyTorch script that trains the same network.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_spec_arguments(code)
    code.add_argument("-o", "--output", metavar="FILE", help="Write the script to FILE.")
    code.add_argument(
        "--lang",
        choices=LANGUAGES,
        default="en",
        help="The language of the script's comments and messages: en or es. Default: en.",
    )
    code.set_defaults(handler=code_command)

    sweep_parser = commands.add_parser(
        "sweep",
        help="train one network per depth × width and print the table",
        description="Train one network per depth × width (the same data, seeds and training)\n"
        "in this process, stacked as the server stacks runs, and print each one's\n"
        "train and test score and parameter count.",
        epilog=sweep.EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sweep.add_arguments(sweep_parser)
    sweep_parser.set_defaults(handler=sweep.command)

    tools: list[tuple[str, str, Any, str | None]] = [
        ("bench", "training speed and classroom capacity, beside the tutorial loop", bench,
         bench.__doc__),
        ("serve", "run the web server: playground page, REST API, websockets", serve,
         serve.DESCRIPTION),
        ("load", "simulate a classroom of learners against a running server", loadtest,
         loadtest.__doc__),
    ]  # fmt: skip
    for name, summary, module, description in tools:
        tool = commands.add_parser(
            name,
            help=summary,
            description=description,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(tool)
        tool.set_defaults(handler=module.command)
    return parser


def _exit_code(exit: SystemExit) -> int:
    return exit.code if isinstance(exit.code, int) else (0 if exit.code is None else EXIT_USAGE)


def _points_joined(argv: list[str]) -> list[str]:
    """`--explain-point -0.5,0.2` as `--explain-point=-0.5,0.2`: argparse takes a value that
    starts with '-' and is no plain number for another option, and would refuse it."""
    joined, rest = [], iter(argv)
    for arg in rest:
        if arg == "--explain-point":
            value = next(rest, None)
            joined.append(arg if value is None else f"{arg}={value}")
        else:
            joined.append(arg)
    return joined


def main(argv: list[str] | None = None) -> int:
    """Run the `layerlab` command with `argv` (default: sys.argv[1:]); return the exit code."""
    try:
        get_settings()
    except ValidationError as error:  # a LAYERLAB_* variable with a value that cannot be used
        for item in error.errors():
            name = "LAYERLAB_" + "_".join(str(part) for part in item["loc"]).upper()
            secret = "TOKEN" in name  # said wrong, but not written to a log
            got = f"{len(str(item.get('input')))} characters" if secret else repr(item.get("input"))
            print(f"error: {name}: {item['msg']} (got {got})", file=sys.stderr)
        return EXIT_USAGE
    parser = build_parser()
    try:
        args = parser.parse_args(_points_joined(sys.argv[1:] if argv is None else argv))
    except SystemExit as exit:
        return _exit_code(exit)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        # These networks are tiny: one thread per process beats several that wait on each other.
        torch.set_num_threads(1)
        return int(args.handler(args))
    except UsageError as error:
        for line in error.lines:
            print(f"error: {line}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `layerlab train | head`: the reader left; so do we, quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_DONE
