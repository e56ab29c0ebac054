"""The generated script runs on its own, is ruff-clean, trains exactly as Trainer does, and
speaks English or Spanish."""

import ast
import contextlib
import importlib.util
import io
import itertools
import json
import math
import py_compile
import re
import runpy
import subprocess
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path
from subprocess import PIPE
from typing import Any

import numpy as np
import pytest
import torch

from layerlab.core.activations import ACTIVATIONS
from layerlab.core.codegen import generate_script
from layerlab.core.datasets import DATASETS, Dataset, load_csv
from layerlab.core.script_phrases import LANGUAGES, PHRASES, Language
from layerlab.core.spec import DATASET_NAMES, OPTIMIZERS, REGULARIZATIONS, RunSpec
from layerlab.core.training import Trainer, divergence_message

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
PROGRESS_LINE = {
    "en": re.compile(r"^epoch +(\d+): loss [\d.]+$", re.MULTILINE),
    "es": re.compile(r"^época +(\d+): pérdida [\d.]+$", re.MULTILINE),
}
PLANE_LINE = {
    "en": re.compile(r"learned weights (\S+), (\S+) and bias (\S+); true: 2, -3 and 5"),
    "es": re.compile(r"pesos aprendidos (\S+), (\S+) y sesgo (\S+); valores reales: 2, -3 y 5"),
}

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


@pytest.fixture(scope="module", params=LANGUAGES)
def language(request: pytest.FixtureRequest) -> Language:
    """Every test of the scripts runs once per language: the code must not depend on it."""
    chosen: Language = request.param
    return chosen


@pytest.fixture(scope="module")
def scripts(
    specs: dict[str, RunSpec], language: Language, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp(f"scripts_{language}")
    paths = {}
    for name, spec in specs.items():
        paths[name] = folder / f"script_{name}.py"  # not `csv.py`: it would shadow the csv module
        paths[name].write_text(generate_script(spec, language=language), encoding="utf-8")
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
    name: str, specs: dict[str, RunSpec], language: Language, outputs: dict[str, str]
) -> None:
    spec = specs[name]
    progress = PROGRESS_LINE[language].findall(outputs[name])
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
    language: Language, outputs: dict[str, str]
) -> None:
    match = PLANE_LINE[language].search(outputs["plane"])
    assert match
    assert [float(value) for value in match.groups()[:2]] == pytest.approx([2.0, -3.0], abs=0.2)


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_plane_is_written_with_the_pages_input_names(language: Language) -> None:
    spec = RunSpec.model_validate({"dataset": {"name": "plane"}})
    script = generate_script(spec, language=language)
    assert "(x1, x2) " in script and "y = 2*x1 - 3*x2 + 5" in script
    assert "3z" not in script


@pytest.mark.parametrize("name", SPECS)
def test_the_script_ends_exactly_where_the_trainer_ends(
    name: str, specs: dict[str, RunSpec], scripts: dict[str, Path], outputs: dict[str, str]
) -> None:
    # Every dataset, task and feature (sin too), in each language: the same weights, and the
    # same printed numbers.
    trainer = Trainer(specs[name])
    trainer.train_steps(trainer.total_steps)
    assert divergence_message(trainer, trainer.evaluate()) is None  # done, not diverged
    metrics = trainer.final_metrics()
    assert_same_end(run_here(scripts[name]), trainer)
    printed = FINAL_LINE.search(outputs[name])
    assert printed
    assert printed[1] == " ".join(f"{key}={metrics[key]:.4f}" for key in final_metrics(printed[0]))


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
    trainer.train_steps(trainer.total_steps)  # a session's steps, without its metrics
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
    setup = scripts[name].read_text(encoding="utf-8").split("\nepochs, batch_size = ")[0]
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


# --- languages -----------------------------------------------------------------------------

# Words of the English phrases that are no Spanish words (not the spec's values, such as the
# activation `sigmoid`): none may be left in a Spanish script.
ENGLISH_WORDS = frozenset(
    re.findall(
        r"\w+",
        "the of and with on in each by from where is its then for at one two your this next true "
        "not all points loss epoch epochs weights bias training testing hidden layer layers "
        "learning rate accuracy seed data dataset noise label labels output outputs target targets "
        "download page learned penalty square class share random order mean root units batches "
        "optimizer activation without library versions same exactly needs numbers run",
    )
)


def comments(script: str) -> list[str]:
    tokens = tokenize.generate_tokens(io.StringIO(script).readline)
    return [token.string.removeprefix("# ") for token in tokens if token.type == tokenize.COMMENT]


def prose(script: str) -> list[str]:
    """What the script says to people: its docstring, its comments and its printed messages."""
    tree = ast.parse(script)
    printed = [
        constant.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        if node.func.id == "print"
        for constant in ast.walk(node)
        if isinstance(constant, ast.Constant) and isinstance(constant.value, str)
    ]
    return [ast.get_docstring(tree) or "", *comments(script), *printed]


def words(texts: list[str]) -> set[str]:
    """The words of `texts`, leaving out code: `quoted`, paths, names with `_` or `.`."""
    found = set()
    for text in texts:
        for token in re.sub(r"`[^`]*`", " ", text).split():
            if not re.search(r"[/._=]", token):
                found.update(re.findall(r"[^\W\d_]+", token.lower()))
    return found


def code_of(script: str) -> str:
    """The script's syntax tree with every string emptied: its code, without what it says."""
    tree = ast.parse(script)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = ""
    return ast.dump(tree)


UPLOAD_ID = "csv-0123456789ab"
UPLOAD_TEXT = "x,y,label\n" + "".join(
    f"{a:.4f},{b:.4f},{'yes' if a * b > 0 else 'no'}\n"
    for a, b in np.random.default_rng(1).uniform(-1, 1, size=(60, 2))
)


@pytest.fixture
def upload() -> tuple[RunSpec, Dataset]:
    """A spec on an upload (its label the last column) and the upload's data, as the API has."""
    spec = RunSpec.model_validate({**SPECS["csv"], "dataset": {"name": "csv", "source": UPLOAD_ID}})
    return spec, load_csv(UPLOAD_TEXT, spec.dataset)


def test_every_datasets_snippet_has_its_phrases_in_each_language() -> None:
    for name, info in DATASETS.items():
        assert info.script is not None, name
        holes = set(re.findall(r"\$\{?(data_\w+)", info.script.code)) - {"data_seed"}
        assert f"data_{name}" in holes, name  # the comment that says what the data is
        for language in LANGUAGES:
            assert holes <= PHRASES[language].keys(), (name, language)


def test_every_phrase_has_the_same_holes_in_each_language() -> None:
    holes = re.compile(r"\$\w+|\{[^}]*\}")  # the generator's values and the script's f-strings
    assert PHRASES["es"].keys() == PHRASES["en"].keys()
    for key, english in PHRASES["en"].items():
        assert sorted(holes.findall(PHRASES["es"][key])) == sorted(holes.findall(english)), key


def test_a_spanish_script_has_no_english_left_and_the_same_code(
    specs: dict[str, RunSpec], upload: tuple[RunSpec, Dataset]
) -> None:
    # Every dataset and task, penalties, 0, 1 and 2 hidden layers, no activation, the plane
    # check, and an upload whose label is its last column.
    cases = [((spec,), {}) for spec in specs.values()]
    cases.append((upload, {"upload_name": "pets.csv"}))
    for arguments, options in cases:
        english = generate_script(*arguments, **options, language="en")
        spanish = generate_script(*arguments, **options, language="es")
        assert words(prose(spanish)) & ENGLISH_WORDS == set(), arguments[0].dataset.name
        # a comment both scripts share is a tensor shape such as `(N, 2)`, not a phrase
        shared = set(comments(english)) & set(comments(spanish))
        assert [line for line in shared if re.search(r"[a-z]{3}", line)] == []
        assert words(prose(english)) & ENGLISH_WORDS  # the check itself can find English
        assert code_of(spanish) == code_of(english)


def test_an_upload_is_opened_by_its_file_name_in_the_scripts_folder(
    upload: tuple[RunSpec, Dataset], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, dataset = upload
    (tmp_path / "pets.csv").write_text(UPLOAD_TEXT, encoding="utf-8")
    script = tmp_path / "script.py"
    text = generate_script(spec, dataset, upload_name="pets.csv", language="es")
    script.write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # the learner runs `python script.py` in its folder
    trainer = Trainer(spec, dataset)
    trainer.train_steps(trainer.total_steps)
    assert_same_end(run_here(script), trainer)


@pytest.mark.parametrize(
    ("language", "where"),
    [
        ("en", "Put the CSV next to this script, under this name"),
        ("es", "Pon el CSV junto a este script, con este nombre"),
    ],
)
def test_an_uploads_script_says_where_its_file_goes_and_comes_from(
    language: Language,
    where: str,
    upload: tuple[RunSpec, Dataset],
    specs: dict[str, RunSpec],
) -> None:
    said = " ".join(comments(generate_script(*upload, upload_name="pets.csv", language=language)))
    assert where in said
    assert f"GET /api/datasets/{UPLOAD_ID}/file" in said
    local = generate_script(specs["csv"], language=language)  # a file of the learner's own
    assert "/api/datasets" not in local
    assert f"csv_path = {json.dumps(specs['csv'].dataset.source)}" in local


@pytest.mark.parametrize(
    ("uploaded", "opened"),
    [
        ("pets.csv", "pets.csv"),
        ("<b>pets</b>.csv", "<b>pets<_b>.csv"),  # markup is plain text here; `/` is a separator
        ('my "best"\npets.csv', "my _best__pets.csv"),
        ("it's.csv\r\n", "it_s.csv"),
        ("C:\\Users\\ana\\datos año.csv", "C:_Users_ana_datos año.csv"),
        ("../../etc/passwd", ".._.._etc_passwd"),
        ("a\u2028b\x00.csv", "a_b_.csv"),  # U+2028 ends a line for str.splitlines
        ("\u202evsc.pets", "_vsc.pets"),  # a right-to-left override would hide the name
        ("", f"{UPLOAD_ID}.csv"),
        (" .. ", f"{UPLOAD_ID}.csv"),
    ],
)
def test_an_uploads_file_name_is_a_safe_python_literal(
    uploaded: str, opened: str, upload: tuple[RunSpec, Dataset]
) -> None:
    script = generate_script(*upload, upload_name=uploaded)
    assigned = [
        node.value
        for node in ast.parse(script).body
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "csv_path"
    ]
    assert [ast.literal_eval(value) for value in assigned] == [opened]
