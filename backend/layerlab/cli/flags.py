"""RunSpec as command-line flags: each flag's help, default and range are read from RunSpec."""

import argparse
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import torch
from pydantic import ValidationError
from pydantic.fields import FieldInfo

from layerlab.config import get_settings
from layerlab.core.spec import DatasetSpec, RunSpec, describe_errors
from layerlab.core.training import pick_device
from layerlab.usage import UsageError

DEVICE_NAME = re.compile(r"auto|cpu|cuda(:\d+)?")


def comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def hidden_widths(text: str) -> list[int]:
    if text.strip() in ("", "0"):
        return []
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'expected widths such as 8,8 (or "" for no hidden layer); got {text!r}'
        ) from None


# How a field's type reads from the command line, and how its help names the value.
NUMBERS: dict[Any, tuple[Callable[[str], Any], str]] = {int: (int, "N"), float: (float, "X")}


@dataclass(frozen=True)
class SpecFlag:
    """A command-line flag that sets one RunSpec field."""

    flag: str
    path: str  # the field, as RunSpec's errors name it: "dataset.noise"
    help: str = ""  # added to the field's description ({settings.x} is filled in)
    own_words: bool = False  # `help` replaces the description (written for JSON users)
    setting: str | None = None  # the Settings limit that caps the value
    parse: Callable[[str], Any] | None = None  # default: the field's own int, float or str
    metavar: str | None = None

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")

    @property
    def field(self) -> FieldInfo:
        model, _, name = self.path.rpartition(".")
        return (DatasetSpec if model else RunSpec).model_fields[name]

    def add_to(self, group: argparse._ArgumentGroup) -> None:
        if self.field.annotation is bool:  # a switch: given, the field is true
            group.add_argument(
                self.flag, dest=self.dest, action="store_const", const=True,
                default=argparse.SUPPRESS, help=self.help_text(),
            )  # fmt: skip
            return
        parse, metavar = NUMBERS.get(self.field.annotation, (str, "NAME"))
        group.add_argument(
            self.flag,
            dest=self.dest,
            type=self.parse or parse,
            metavar=self.metavar or metavar,
            default=argparse.SUPPRESS,
            help=self.help_text(),
        )

    def help_text(self) -> str:
        field = self.field
        parts = [
            "" if self.own_words else field.description or "",
            self.help.format(settings=get_settings()),
        ]
        choices = _choices(field.annotation)
        if choices:
            parts.append(f"One of: {', '.join(choices)}.")
        bounds = _bounds(field, self.setting)
        if bounds:
            parts.append(f"Range: {bounds}.")
        default = field.get_default(call_default_factory=True)
        if default is not None and default is not False:  # a switch's default goes unsaid
            shown = ",".join(map(str, default)) if isinstance(default, list) else default
            parts.append(f"Default: {shown}.")
        return " ".join(part for part in parts if part).replace("%", "%%")


def _choices(annotation: Any) -> tuple[str, ...]:
    if get_origin(annotation) is list:  # list[Feature]: the choices of each item
        annotation = get_args(annotation)[0]
    return get_args(annotation) if get_origin(annotation) is Literal else ()


def _bounds(field: FieldInfo, setting: str | None) -> str:
    """'20 to 5000', 'above 0.0, up to 10.0', 'at least 1': the field's rules and Settings'."""
    low = high = ""
    rules = list(field.metadata)
    for member in get_args(field.annotation):  # `EpochsPerS | None`: the bounds sit on the type
        if get_origin(member) is Annotated:
            rules += [rule for info in get_args(member)[1:] for rule in info.metadata]
    for rule in rules:
        if getattr(rule, "ge", None) is not None:
            low = str(rule.ge)
        if getattr(rule, "gt", None) is not None:
            low = f"above {rule.gt}"
        if getattr(rule, "le", None) is not None:
            high = str(rule.le)
    if setting:
        high = str(getattr(get_settings(), setting))
    if low and high:
        return f"{low}, up to {high}" if low.startswith("above") else f"{low} to {high}"
    return f"at least {low}" if low else (f"at most {high}" if high else "")


FLAG_GROUPS: dict[str, tuple[SpecFlag, ...]] = {
    "data": (
        SpecFlag("--dataset", "dataset.name", "Which data to learn from.", own_words=True),
        SpecFlag("--csv", "dataset.source", own_words=True, metavar="PATH",
                 help="Your own CSV file: a header row, numeric feature columns and a label "
                      "column (sets --dataset csv)."),
        SpecFlag("--samples", "dataset.samples", setting="max_samples"),
        SpecFlag("--noise", "dataset.noise"),
        SpecFlag("--train-fraction", "dataset.train_fraction"),
        SpecFlag("--data-seed", "dataset.seed"),
        SpecFlag("--classes", "dataset.classes"),
        SpecFlag("--label-column", "dataset.label_column"),
        SpecFlag("--features", "features", "Comma-separated.", parse=comma_list, metavar="F,F"),
    ),
    "network": (
        SpecFlag("--hidden", "hidden_widths", own_words=True, parse=hidden_widths, metavar="W,W",
                 help='Neurons in each hidden layer, e.g. 16,8; "" or 0 for none (a linear or '
                      "logistic model). Up to {settings.max_hidden_layers} layers of 1 to "
                      "{settings.max_width} neurons."),
        SpecFlag("--activation", "activation", "Applied after each hidden layer."),
    ),
    "training": (
        SpecFlag("--optimizer", "optimizer", "How the weights move down the gradient."),
        SpecFlag("--lr", "learning_rate", "Learning rate: how far each step moves."),
        SpecFlag("--batch-size", "batch_size", "Training points per step.", setting="max_samples"),
        SpecFlag("--epochs", "epochs", "Passes over the training points.", setting="max_epochs"),
        SpecFlag("--until-paused", "until_paused", own_words=True,
                 help="Train until Ctrl-C, ignoring --epochs; LAYERLAB_MAX_EPOCHS "
                      "({settings.max_epochs}) still ends the run."),
        SpecFlag("--epochs-per-s", "epochs_per_s", own_words=True, parse=float, metavar="X",
                 help="A pace to watch: at most this many epochs per second (the numbers are "
                      "the same at any pace). Default: as fast as it goes."),
        SpecFlag("--regularization", "regularization", "Penalty on the weights, in the loss."),
        SpecFlag("--reg-rate", "regularization_rate", "Weight of that penalty."),
        SpecFlag("--seed", "seed"),
        SpecFlag("--grid", "grid_resolution", setting="max_grid_resolution"),
    ),
}  # fmt: skip
SPEC_FLAGS = tuple(flag for flags in FLAG_GROUPS.values() for flag in flags)
FIELD_FLAGS = {flag.path: flag.flag for flag in SPEC_FLAGS}  # to name flags in messages


def add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that build a RunSpec, grouped as a learner thinks of them."""
    parser.add_argument(
        "--spec",
        metavar="FILE.json",
        help="Start from this RunSpec (or a saved `train --json` result); flags override it.",
    )
    for title, flags in FLAG_GROUPS.items():
        group = parser.add_argument_group(title)
        for flag in flags:
            flag.add_to(group)


def spec_from_args(args: argparse.Namespace) -> RunSpec:
    """The spec file (if any) with the flags given on top, validated by RunSpec itself against
    the limits of the settings (LAYERLAB_MAX_*)."""
    data = read_spec_file(args.spec) if args.spec else {}
    given = {flag.path: getattr(args, flag.dest) for flag in SPEC_FLAGS if hasattr(args, flag.dest)}
    if "dataset.source" in given:
        if given.get("dataset.name", "csv") != "csv":
            raise UsageError(f"--csv trains on a CSV file; leave out --dataset {args.dataset}")
        given["dataset.name"] = "csv"
    if given.get("dataset.name") == "csv" and "dataset.source" not in given and not args.spec:
        raise UsageError("--dataset csv: give the file to learn from with --csv PATH")
    for path, value in given.items():
        node = data
        *parents, name = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise UsageError(f"--spec: {key!r} should be an object; got {node!r}")
        node[name] = value
    try:
        spec = RunSpec.model_validate(data, context={"limits": get_settings().limits()})
    except ValidationError as error:
        lines = (name_flag(line, set(given), args.spec) for line in describe_errors(error))
        raise UsageError(*lines) from None
    for note in ineffective_flags(spec, set(given)):
        print(f"note: {note}", file=sys.stderr)
    return spec


def ineffective_flags(spec: RunSpec, given: set[str]) -> list[str]:
    """Flags the user gave that change nothing for this spec: a learner would think they did."""
    notes = []
    if "regularization_rate" in given and spec.regularization == "none":
        notes.append("--reg-rate has no effect without --regularization l1 or l2")
    if "regularization" in given and spec.regularization != "none" and not spec.penalized:
        notes.append(f"--regularization {spec.regularization} adds nothing at --reg-rate 0")
    if "dataset.classes" in given and spec.dataset.name != "blobs":
        notes.append("--classes applies to the blobs dataset only")
    if "dataset.label_column" in given and spec.dataset.name != "csv":
        notes.append("--label-column applies to a --csv file only")
    if spec.dataset.name == "csv":
        generated_only = ("dataset.samples", "dataset.noise", "dataset.classes")
        for path in (path for path in generated_only if path in given):
            notes.append(f"{FIELD_FLAGS[path]} applies to generated datasets, not to a CSV")
    return notes


def name_flag(line: str, given: set[str], spec_file: str | None = None) -> str:
    """`dataset.noise: msg` as `--noise: msg`, unless the value came from the spec file."""
    where, _, message = line.partition(": ")
    if where == "spec":  # about the spec as a whole, not one field
        return message
    path = next((p for p in FIELD_FLAGS if where == p or where.startswith(p + ".")), None)
    if path is not None and (path in given or not spec_file):
        return f"{FIELD_FLAGS[path]}: {message}"
    return f"{where} (in {spec_file}): {message}" if spec_file else line


def read_spec_file(path: str) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"--spec: cannot read {path!r}: {error.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        raise UsageError(f"--spec: {path!r} is not JSON: {error.msg} ({where})") from None
    if isinstance(data, dict) and "spec" in data and "status" in data:
        data = data["spec"]  # a saved `layerlab train --json` result
    if not isinstance(data, dict):
        raise UsageError(f"--spec: {path!r} should hold a JSON object; got {type(data).__name__}")
    return data


def add_device_argument(group: argparse._ArgumentGroup) -> None:
    """--device, as `train` and `sweep` take it."""
    group.add_argument(
        "--device",
        metavar="NAME",
        help="auto (CUDA when present), cpu, cuda or cuda:N. "
        f"Default: {get_settings().device} (LAYERLAB_DEVICE).",
    )


def device_from_flag(name: str | None) -> torch.device:
    flag = "--device" if name else "LAYERLAB_DEVICE"
    name = name or get_settings().device
    if not DEVICE_NAME.fullmatch(name):
        raise UsageError(f"{flag}: expected auto, cpu, cuda or cuda:N; got {name!r}")
    device = pick_device(name)
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise UsageError(
            f"{flag}: {name!r} is not available (PyTorch sees {torch.cuda.device_count()} CUDA "
            "GPUs); use --device cpu or auto"
        )
    return device
