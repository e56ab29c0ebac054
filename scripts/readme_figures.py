"""The figures README.md quotes, computed by running the commands it shows.

    .venv/bin/python scripts/readme_figures.py --check   # exit 1, listing what differs
    .venv/bin/python scripts/readme_figures.py --write   # fill the figures into README.md

A figure sits between two markers that GitHub does not render:
`<!-- fig:tour-overfit-test-loss -->1.8<!-- /fig -->`. Each command runs here, in this process,
as `layerlab train ... --json --device cpu` from the repository's folder, with one PyTorch
thread: on the CPU every run gives the same numbers. The script also makes examples/penguins.csv,
the README's example of a CSV, from a fixed seed (`--write` writes it, `--check` compares it).
"""

import argparse
import contextlib
import io
import json
import os
import re
import shlex
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from layerlab import cli

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PENGUINS = ROOT / "examples" / "penguins.csv"
MARKER = re.compile(r"<!-- fig:(?P<name>[a-z0-9-]+) -->(?P<value>.*?)<!-- /fig -->")

# --- the example CSV -------------------------------------------------------------------------

# Bill length and depth (mean, standard deviation, in mm) of the three species of the Palmer
# penguins: the example's rows are drawn around them, not measured.
SPECIES = {
    "Adelie": ((38.8, 2.7), (18.3, 1.2)),
    "Chinstrap": ((48.8, 3.3), (18.4, 1.1)),
    "Gentoo": ((47.5, 3.1), (15.0, 1.0)),
}
PENGUINS_PER_SPECIES = 100
PENGUINS_SEED = 0


def penguins_csv() -> str:
    """The text of examples/penguins.csv: 300 made-up penguins in a shuffled order."""
    rng = np.random.default_rng(PENGUINS_SEED)
    rows = [
        f"{rng.normal(*length):.1f},{rng.normal(*depth):.1f},{species}"
        for species, (length, depth) in SPECIES.items()
        for _ in range(PENGUINS_PER_SPECIES)
    ]
    shuffled = [rows[i] for i in rng.permutation(len(rows))]
    return "\n".join(["bill_length_mm,bill_depth_mm,species", *shuffled]) + "\n"


# --- the commands and their figures ----------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """A `layerlab train` run as the README shows it: each piece appears there word for word,
    and together they are its flags (`layerlab train` itself may lead a piece or not)."""

    pieces: tuple[str, ...]

    @property
    def argv(self) -> list[str]:
        words = [shlex.split(piece.removeprefix("layerlab train")) for piece in self.pieces]
        return ["train", *(word for piece in words for word in piece)]

    def __str__(self) -> str:
        return shlex.join(["layerlab", *self.argv])


LINEAR = Command(('layerlab train --hidden ""',))
DEEP = Command(("--hidden 8,8",))
XOR_LINEAR = Command(('--dataset xor --hidden ""',))
XOR_PRODUCT = Command(("--dataset xor", '--features x1,x2,x1_x2 --hidden ""'))
OVERFIT = Command(("--samples 100 --noise 0.5 --hidden 64,64,64 --epochs 500",))
OVERFIT_L2 = Command((*OVERFIT.pieces, "--regularization l2 --reg-rate 0.01"))
PLANE = Command(
    (
        'layerlab train --dataset plane --hidden "" --optimizer sgd --lr 0.02 --noise 1'
        " --batch-size 800",
    )
)
PLANE_TOO_FAST = Command(("--dataset plane --optimizer sgd --lr 10",))
CSV_EXAMPLE = Command(("layerlab train --csv examples/penguins.csv --label-column species",))

Run = dict[str, Any]  # the document `layerlab train --json` prints


def signed(value: float, decimals: int) -> str:
    """`value` with a typographic minus, as the README writes maths: −3.01."""
    return f"{value:.{decimals}f}".replace("-", "−")


def metric(name: str, decimals: int) -> Callable[[Run], str]:
    return lambda run: signed(run["metrics"][name], decimals)


def percent(name: str) -> Callable[[Run], str]:
    return lambda run: f"{run['metrics'][name]:.1%}"  # as `layerlab train` prints it


def weight(index: int) -> Callable[[Run], str]:
    return lambda run: signed(run["weights"][0]["weight"][0][index], 2)


def lowest_test_loss(run: Run) -> float:
    return min(float(point["test_loss"]) for point in run["history"])


FIGURES: dict[str, tuple[Command, Callable[[Run], str]]] = {
    "tour-linear-test-acc": (LINEAR, percent("test_acc")),
    "tour-deep-test-acc": (DEEP, percent("test_acc")),
    "tour-xor-linear-test-acc": (XOR_LINEAR, percent("test_acc")),
    "tour-xor-product-test-acc": (XOR_PRODUCT, percent("test_acc")),
    "tour-overfit-train-points": (OVERFIT, lambda run: str(run["data"]["train_points"])),
    "tour-overfit-train-loss": (OVERFIT, metric("train_loss", 3)),
    "tour-overfit-train-acc": (OVERFIT, percent("train_acc")),
    "tour-overfit-lowest-test-loss": (OVERFIT, lambda run: signed(lowest_test_loss(run), 2)),
    # one decimal: the second moves with the CPU's vector kernels (an over-fit loss is chaotic)
    "tour-overfit-test-loss": (OVERFIT, metric("test_loss", 1)),
    "tour-overfit-test-acc": (OVERFIT, percent("test_acc")),
    "tour-l2-train-acc": (OVERFIT_L2, percent("train_acc")),
    "tour-l2-test-acc": (OVERFIT_L2, percent("test_acc")),
    "tour-l2-test-loss": (OVERFIT_L2, metric("test_loss", 2)),
    "tour-plane-w1": (PLANE, weight(0)),
    "tour-plane-w2": (PLANE, weight(1)),
    "tour-plane-bias": (PLANE, lambda run: signed(run["weights"][0]["bias"][0], 2)),
    "tour-plane-test-r2": (PLANE, metric("test_r2", 3)),
    "tour-too-fast-status": (PLANE_TOO_FAST, lambda run: f"`{run['status']}`"),
    "penguins-test-acc": (CSV_EXAMPLE, percent("test_acc")),
}


@contextlib.contextmanager
def _in_folder(folder: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(folder)  # the README's paths (examples/penguins.csv) are from the repository's root
    try:
        yield
    finally:
        os.chdir(before)


def train(command: Command) -> Run:
    """What `layerlab train --json` prints for the command, run on the CPU from the root."""
    printed = io.StringIO()
    with _in_folder(ROOT), contextlib.redirect_stdout(printed):
        code = cli.main([*command.argv, "--json", "--device", "cpu"])
    if code not in (cli.EXIT_DONE, cli.EXIT_DIVERGED):  # diverging is a figure too
        raise RuntimeError(f"`{command}` exited with {code} (its error is above)")
    document: Run = json.loads(printed.getvalue())
    return document


def compute_figures() -> dict[str, str]:
    """Every figure, each command run once."""
    torch.set_num_threads(1)  # as the tests and `layerlab train` run: one thread, the same sums
    runs: dict[Command, Run] = {}
    figures = {}
    for name, (command, read) in FIGURES.items():
        if command not in runs:
            runs[command] = train(command)
        figures[name] = read(runs[command])
    return figures


# --- the README ------------------------------------------------------------------------------


def readme_problems(readme: str) -> list[str]:
    """What the README lacks for its figures to be checked: a command, or a figure's markers."""
    problems = [
        f"README.md does not show `{piece}`, which figures come from (`{command}`)"
        for command in dict.fromkeys(command for command, _ in FIGURES.values())
        for piece in command.pieces
        if piece not in readme
    ]
    marked = {match["name"] for match in MARKER.finditer(readme)}
    problems += [
        f"README.md has no <!-- fig:{name} --> marker" for name in FIGURES if name not in marked
    ]
    problems += [
        f"README.md marks a figure {name!r} that this script does not make"
        for name in sorted(marked - FIGURES.keys())
    ]
    return problems


def differences(readme: str, figures: dict[str, str]) -> list[str]:
    """One line per marked figure whose value is not what its command gives."""
    return [
        f"{match['name']}: README.md says {match['value']!r}, "
        f"`{FIGURES[match['name']][0]}` gives {figures[match['name']]!r}"
        for match in MARKER.finditer(readme)
        if match["name"] in figures and match["value"] != figures[match["name"]]
    ]


def fill(readme: str, figures: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match["name"]
        return f"<!-- fig:{name} -->{figures.get(name, match['value'])}<!-- /fig -->"

    return MARKER.sub(value, readme)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="Exit 1 listing what differs.")
    mode.add_argument("--write", action="store_true", help="Fill the figures into README.md.")
    args = parser.parse_args(argv)

    readme = README.read_text(encoding="utf-8")
    problems = readme_problems(readme)
    if args.write:
        PENGUINS.parent.mkdir(exist_ok=True)
        PENGUINS.write_text(penguins_csv(), encoding="utf-8")
    elif not PENGUINS.is_file() or PENGUINS.read_text(encoding="utf-8") != penguins_csv():
        problems.append(f"{PENGUINS.relative_to(ROOT)} is not what penguins_csv() makes")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    figures = compute_figures()
    changed = differences(readme, figures)
    if args.write:
        README.write_text(fill(readme, figures), encoding="utf-8")
        print(f"README.md: {len(figures)} figures, {len(changed)} changed")
    if changed:
        print("\n".join(changed), file=sys.stdout if args.write else sys.stderr)
    elif args.check:
        print(f"README.md: all {len(figures)} figures are what their commands give")
    return 1 if changed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
