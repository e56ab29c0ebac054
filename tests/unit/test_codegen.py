"""The generated script runs on its own, is ruff-clean, and trains exactly as Trainer does."""

import contextlib
import importlib.util
import io
import itertools
import math
import py_compile
import re
import runpy
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from subprocess import PIPE
from typing import Any

import numpy as np
import pytest
import torch

from layerlab.core.codegen import generate_script
from layerlab.core.models import ACTIVATIONS
from layerlab.core.spec import DATASET_NAMES, OPTIMIZERS, REGULARIZATIONS, RunSpec
from layerlab.core.training import RunStatus, Trainer, run_training

# Smoke-size runs that, together, take every branch: each dataset, task, activation, optimizer
# and penalty, no hidden layer and several, and a feature list too long for one line.
SPECS: dict[str, dict[str, Any]] = {
    "moons": {"dataset": {"name": "moons", "samples": 200}, "hidden_widths": [8, 8], "epochs": 5},
    "plane": {
        "dataset": {"name": "plane", "noise": 1.0},
        "hidden_widths": [],
        "optimizer": "sgd",
        "learning_rate": 0.02,
        "batch_size": 800,
        "epochs": 5,
    },
    "blobs": {
        "dataset": {"name": "blobs", "samples": 200, "classes": 4},
        "hidden_widths": [8],
        "activation": "sigmoid",
        "optimizer": "momentum",
        "epochs": 5,
    },
    "xor": {
        "dataset": {"name": "xor", "samples": 200},
        "features": ["x1", "x2", "x1_x2"],
        "hidden_widths": [4],
        "activation": "silu",
        "regularization": "l2",
        "regularization_rate": 0.01,
        "epochs": 5,
        "seed": 3,
    },
    "circles": {
        "dataset": {"name": "circles", "samples": 200, "noise": 0.35},
        "features": ["x1", "x2", "x1_sq", "x2_sq", "x1_x2", "sin_x1", "sin_x2"],
        "hidden_widths": [4],
        "activation": "tanh",
        "regularization": "l1",
        "regularization_rate": 0.001,
        "epochs": 5,
    },
    "features4": {
        "dataset": {"name": "features4", "samples": 200},
        "hidden_widths": [4],
        "activation": "leaky_relu",
        "epochs": 3,
    },
    "spiral": {
        "dataset": {"name": "spiral", "samples": 200},
        "hidden_widths": [6, 6],
        "activation": "linear",
        "epochs": 3,
    },
    "multigauss": {
        "dataset": {"name": "multigauss", "samples": 200, "seed": 5},
        "hidden_widths": [8],
        "activation": "gelu",
        "epochs": 5,
    },
    "gaussian": {"dataset": {"name": "gaussian", "samples": 200}, "hidden_widths": [], "epochs": 3},
    "csv": {"hidden_widths": [3], "activation": "elu", "epochs": 3},  # dataset: see `specs`
}
FINAL_LINE = re.compile(r"^final (.+)$", re.MULTILINE)

# Runs each script as `__main__` in one interpreter: importing torch once keeps the suite fast.
RUN_EACH = """
import runpy, sys
for path in sys.argv[1:]:
    print(f"=== {path}", flush=True)
    runpy.run_path(path, run_name="__main__")
"""


@pytest.fixture(scope="module")
def csv_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A semicolon table with the label first: what the script's reader must cope with."""
    rng = np.random.default_rng(0)
    rows = [f"{int(a * b > 0)};{a:.4f};{b:.4f}" for a, b in rng.uniform(-1, 1, size=(60, 2))]
    path = tmp_path_factory.mktemp("data") / "points.csv"
    path.write_text("\n".join(["label;a;b", *rows]) + "\n")
    return path


@pytest.fixture(scope="module")
def specs(csv_source: Path) -> dict[str, RunSpec]:
    csv_dataset = {"name": "csv", "source": str(csv_source), "label_column": "label"}
    fields = {**SPECS, "csv": {**SPECS["csv"], "dataset": csv_dataset}}
    return {name: RunSpec.model_validate(spec) for name, spec in fields.items()}


@pytest.fixture(scope="module")
def scripts(specs: dict[str, RunSpec], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("scripts")
    paths = {}
    for name, spec in specs.items():
        paths[name] = folder / f"script_{name}.py"  # not `csv.py`: it would shadow the csv module
        paths[name].write_text(generate_script(spec))
    return paths


@dataclass
class Runs:
    printed: dict[str, str]  # each script's output, all run as `__main__` in one interpreter
    alone: subprocess.CompletedProcess[str]  # `python script_moons.py`, in a process of its own


@pytest.fixture(scope="module")
def runs(scripts: dict[str, Path]) -> Runs:
    alone = [sys.executable, str(scripts["moons"])]
    each = [sys.executable, "-c", RUN_EACH, *map(str, scripts.values())]
    started = [
        subprocess.Popen(command, stdout=PIPE, stderr=PIPE, text=True, cwd=scripts["moons"].parent)
        for command in (alone, each)
    ]
    finished = []
    for process in started:
        stdout, stderr = process.communicate(timeout=120)
        finished.append(
            subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        )
    assert finished[1].returncode == 0, finished[1].stderr
    printed = {}
    for section in finished[1].stdout.split("=== ")[1:]:
        path, _, text = section.partition("\n")
        printed[Path(path).stem.removeprefix("script_")] = text
    return Runs(printed, finished[0])


@pytest.fixture(scope="module")
def outputs(runs: Runs) -> dict[str, str]:
    return runs.printed


def final_metrics(printed: str) -> dict[str, float]:
    match = FINAL_LINE.search(printed)
    assert match, f"no final line in:\n{printed}"
    return {key: float(value) for key, value in (pair.split("=") for pair in match[1].split())}


def run_here(script: Path) -> dict[str, Any]:
    """Run a script as `__main__` in this process and return its globals (its model, losses and
    scores); its prints and its torch.manual_seed stay inside."""
    with torch.random.fork_rng(devices=[]), contextlib.redirect_stdout(io.StringIO()):
        return runpy.run_path(str(script), run_name="__main__")


def assert_same_end(script_globals: dict[str, Any], trainer: Trainer) -> None:
    """Every weight bit for bit, and the final losses and scores as equal floats."""
    model = script_globals["model"]
    for (key, weight), expected in zip(
        model.state_dict().items(), trainer.model.state_dict().values(), strict=True
    ):
        assert torch.equal(weight, expected), key
    point = trainer.evaluate()
    names = ["train_loss", "test_loss", "train_acc", "test_acc", "train_rmse", "test_rmse"]
    scores = [name for name in names if getattr(point, name) is not None]
    assert {name: script_globals[name] for name in scores} == {
        name: getattr(point, name) for name in scores
    }


def test_the_specs_cover_every_dataset() -> None:
    assert sorted(SPECS) == sorted(DATASET_NAMES)


def test_a_script_runs_with_python_alone_as_in_one_interpreter(runs: Runs) -> None:
    assert runs.alone.returncode == 0, runs.alone.stderr
    assert runs.alone.stdout == runs.printed["moons"]


@pytest.mark.parametrize("name", SPECS)
def test_each_script_prints_progress_and_its_final_metric(
    name: str, specs: dict[str, RunSpec], outputs: dict[str, str]
) -> None:
    spec = specs[name]
    progress = re.findall(r"^epoch +(\d+): loss [\d.]+$", outputs[name], re.MULTILINE)
    every = math.ceil(spec.epochs / 10)
    assert [int(epoch) for epoch in progress] == list(range(every, spec.epochs + 1, every))
    metrics = final_metrics(outputs[name])
    scores = (
        ("train_rmse", "test_rmse")
        if name in ("plane", "multigauss")
        else ("train_acc", "test_acc")
    )
    assert sorted(metrics) == sorted(["train_loss", "test_loss", *scores])
    assert all(math.isfinite(value) for value in metrics.values())


def test_the_plane_script_prints_learned_weights_beside_the_true_ones(
    outputs: dict[str, str],
) -> None:
    match = re.search(
        r"learned weights (\S+), (\S+) and bias (\S+); true: 2, -3 and 5", outputs["plane"]
    )
    assert match
    assert [float(value) for value in match.groups()[:2]] == pytest.approx([2.0, -3.0], abs=0.2)


@pytest.mark.parametrize("name", SPECS)
def test_the_script_ends_exactly_where_the_trainer_ends(
    name: str, specs: dict[str, RunSpec], scripts: dict[str, Path], outputs: dict[str, str]
) -> None:
    # Every dataset, task and feature (sin too): the same weights, and the same printed numbers.
    trainer = Trainer(specs[name])
    result = run_training(trainer)
    assert result.status is RunStatus.DONE
    assert_same_end(run_here(scripts[name]), trainer)
    printed = FINAL_LINE.search(outputs[name])
    assert printed
    assert printed[1] == " ".join(
        f"{key}={result.metrics[key]:.4f}" for key in final_metrics(printed[0])
    )


# Runs on 40 points (4 batches an epoch, the last one short). Every optimizer × activation ×
# penalty for 10 epochs, and long runs, where a difference in the last bit of one update grows
# into other accuracies: the bug report's (tanh, lr 0.03, batches of 10), a multiclass one and a
# regression one with sin features, together every optimizer and every penalty.
SMALL_RUN = {"dataset": {"name": "moons", "samples": 40}, "hidden_widths": [5, 4], "batch_size": 10}
EVERY_KIND = list(itertools.product(OPTIMIZERS, ACTIVATIONS, REGULARIZATIONS))
LONG_RUNS = {
    "bug_report": {"activation": "tanh", "optimizer": "adam", "learning_rate": 0.03},
    "blobs": {
        "dataset": {"name": "blobs", "samples": 40, "classes": 3},
        "activation": "elu",
        "optimizer": "momentum",
        "regularization": "l2",
        "regularization_rate": 0.001,
    },
    "multigauss": {
        "dataset": {"name": "multigauss", "samples": 40},
        "features": ["x1", "x2", "sin_x1", "sin_x2"],
        "activation": "silu",
        "optimizer": "sgd",
        "learning_rate": 0.1,
        "regularization": "l1",
        "regularization_rate": 0.0001,
    },
}


def assert_script_ends_as_trainer(spec: RunSpec, folder: Path) -> None:
    script = folder / "script.py"
    script.write_text(generate_script(spec))
    trainer = Trainer(spec)
    trainer.train_steps(trainer.total_steps)  # run_training's steps, without its metrics
    assert_same_end(run_here(script), trainer)


@pytest.mark.parametrize(("optimizer", "activation", "regularization"), EVERY_KIND)
def test_every_optimizer_activation_and_penalty_ends_bit_for_bit(
    optimizer: str, activation: str, regularization: str, tmp_path: Path
) -> None:
    fields = {"optimizer": optimizer, "activation": activation, "regularization": regularization}
    spec = RunSpec.model_validate(
        {**SMALL_RUN, **fields, "regularization_rate": 0.001, "learning_rate": 0.03, "epochs": 10}
    )
    assert_script_ends_as_trainer(spec, tmp_path)


@pytest.mark.parametrize("name", LONG_RUNS)
def test_runs_of_300_epochs_end_bit_for_bit(name: str, tmp_path: Path) -> None:
    spec = RunSpec.model_validate({**SMALL_RUN, **LONG_RUNS[name], "epochs": 300})
    assert_script_ends_as_trainer(spec, tmp_path)


@pytest.mark.parametrize("name", SPECS)
def test_the_script_builds_the_trainers_data_model_and_optimizer(
    name: str, specs: dict[str, RunSpec], scripts: dict[str, Path]
) -> None:
    # Everything before the training loop, run here and compared piece by piece.
    setup = scripts[name].read_text().split("\n# Training")[0]
    namespace: dict[str, Any] = {}
    with torch.random.fork_rng(devices=[]):
        exec(compile(setup, str(scripts[name]), "exec"), namespace)
    trainer = Trainer(specs[name])
    for script_name, tensor in [
        ("X_train", trainer.x_train),
        ("X_test", trainer.x_test),
        ("y_train", trainer.y_train),
        ("y_test", trainer.y_test),
    ]:
        assert namespace[script_name].dtype == tensor.dtype, script_name
        assert torch.equal(namespace[script_name], tensor), script_name
    model = namespace["model"]
    assert [type(layer) for layer in model] == [type(layer) for layer in trainer.model]
    for (key, value), expected in zip(
        model.state_dict().items(), trainer.model.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(value, expected, rtol=0, atol=0, msg=key)
    optimizer = namespace["optimizer"]
    assert type(optimizer) is type(trainer.optimizer)
    for option in ("lr", "momentum", "fused", "foreach"):  # fused rounds otherwise
        assert optimizer.defaults.get(option) == trainer.optimizer.defaults.get(option), option
    expected_loss = {"binary": "BCEWithLogitsLoss", "multiclass": "CrossEntropyLoss"}
    assert type(namespace["loss_fn"]).__name__ == expected_loss.get(trainer.dataset.task, "MSELoss")
    assert ("weights" in namespace) == (specs[name].regularization != "none")


def test_a_penalty_without_a_rate_is_left_out(specs: dict[str, RunSpec]) -> None:
    spec = specs["circles"].model_copy(update={"regularization_rate": 0.0})
    script = generate_script(spec)
    assert "w.abs()" not in script
    assert "w.abs().sum() for w in weights" in generate_script(specs["circles"])


def test_every_script_compiles_and_is_ruff_clean(scripts: dict[str, Path]) -> None:
    for path in scripts.values():
        py_compile.compile(str(path), doraise=True)
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed")
    folder = str(next(iter(scripts.values())).parent)
    options = ["--isolated", "--line-length", "100", "--target-version", "py310"]
    rules = ["--select", "E,W,F,I,B,UP,C4,SIM,RUF"]
    check = subprocess.run(
        [sys.executable, "-m", "ruff", "check", *options, *rules, folder],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", *options, folder],
        capture_output=True,
        text=True,
        check=False,
    )
    assert formatted.returncode == 0, formatted.stdout
