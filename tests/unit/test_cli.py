import itertools
import json
import math
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

import layerlab.cli.command
from layerlab import __version__
from layerlab.cli import main
from layerlab.config import get_settings
from layerlab.core.grids import Grid
from layerlab.core.training import MetricPoint
from layerlab.engine.session import TrainingSession
from layerlab.engine.store import claim_database

SMALL = ["--samples", "200", "--epochs", "5"]  # trains in a few hundredths of a second


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = run(capsys, "train", "--json", *argv)
    return code, json.loads(out)


def write_csv(path: Path, rows: list[str]) -> str:
    path.write_text("\n".join(["x,y,label", *rows]) + "\n", encoding="utf-8")
    return str(path)


def test_train_prints_status_accuracy_and_layer_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "train", *SMALL)
    assert code == 0
    assert "Status: done" in out
    assert "accuracy" in out and "%" in out
    # moons, 2 → 8 → 8 → 1: (2·8 + 8) + (8·8 + 8) + (8·1 + 1) = 105 parameters
    assert "total" in out and "105" in out
    assert "Confusion matrix" in out
    # Not a terminal under pytest: progress is a line per 10% of the run, on stderr.
    assert "epoch 5/5" in err and err.count("\n") <= 10


def test_train_json_has_the_run_and_a_rising_history(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "train", "--json", *SMALL)
    document = json.loads(out)
    assert code == 0 and err == ""  # no progress line in JSON mode
    assert {"spec", "status", "error", "metrics", "history", "summary", "weights"} <= set(document)
    assert {"elapsed_s", "steps"} <= set(document)
    assert document["status"] == "done" and document["error"] is None
    steps = [point["step"] for point in document["history"]]
    assert steps[0] == 0 and steps[-1] == document["steps"]
    assert all(a < b for a, b in itertools.pairwise(steps))
    assert document["summary"]["total_parameters"] == 105
    assert document["spec"]["dataset"]["samples"] == 200


def test_hidden_empty_or_zero_is_a_linear_model(capsys: pytest.CaptureFixture[str]) -> None:
    for widths in ("", "0"):
        code, document = run_json(capsys, *SMALL, "--hidden", widths)
        assert code == 0
        assert document["spec"]["hidden_widths"] == []
        assert [layer["type"] for layer in document["summary"]["layers"]] == ["Linear"]


def test_spec_file_is_the_base_and_flags_override_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    spec = {"dataset": {"name": "blobs", "samples": 200, "classes": 4}, "epochs": 3}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({**spec, "learning_rate": 0.05}))
    code, document = run_json(capsys, "--spec", str(path), "--lr", "0.2", "--classes", "5")
    assert code == 0
    assert document["spec"]["learning_rate"] == 0.2  # the flag wins
    assert document["spec"]["dataset"]["classes"] == 5
    assert document["spec"]["dataset"]["name"] == "blobs"  # the file's, untouched
    assert document["spec"]["epochs"] == 3
    assert len(document["metrics"]["confusion_matrix"]) == 5


def test_a_bad_value_in_the_spec_file_is_named_by_its_path(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"dataset": {"noise": 3}}))
    code, _, err = run(capsys, "train", "--spec", str(path))
    assert code == 2
    assert f"error: dataset.noise (in {path})" in err


@pytest.mark.parametrize(
    ("flags", "named", "limit"),
    [
        (["--hidden", ",".join(["4"] * 9)], "--hidden", "at most 8 hidden layers"),
        (["--noise", "1.5"], "--noise", "less than or equal to 1"),
        (["--lr", "0"], "--lr", "greater than 0"),
        (["--dataset", "nope"], "--dataset", "'moons'"),
        (["--hidden", "8,0"], "--hidden", "at least 1 neuron"),
        (["--features", "x1,x9"], "--features", "'x1_sq'"),
        (["--epochs-per-s", "5000"], "--epochs-per-s", "less than or equal to 1000"),
    ],
)
def test_bad_values_exit_2_naming_the_flag_and_the_limit(
    capsys: pytest.CaptureFixture[str], flags: list[str], named: str, limit: str
) -> None:
    code, out, err = run(capsys, "train", *flags)
    assert code == 2 and out == ""
    assert f"error: {named}: " in err and limit in err
    assert "Traceback" not in err


def test_limits_come_from_settings(
    capsys: pytest.CaptureFixture[str], override_settings: Callable[..., None]
) -> None:
    override_settings(max_hidden_layers=2)
    code, _, err = run(capsys, "train", "--hidden", "4,4,4")
    assert code == 2
    assert "error: --hidden: at most 2 hidden layers" in err
    assert get_settings().max_hidden_layers == 2


def test_a_value_argparse_cannot_read_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "train", "--hidden", "8,x")
    assert code == 2
    assert "--hidden" in err and "'8,x'" in err


def test_a_csv_runs_inputs_are_named_by_its_columns(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    table = write_csv(tmp_path / "pets.csv", [f"{k % 7},{k % 5},{'ab'[k % 2]}" for k in range(40)])
    code, out, _ = run(capsys, "train", "--csv", table, *SMALL[2:], "--features", "x1,x1_x2")
    assert code == 0
    assert "2 inputs (x, x·y)" in out and "x₁" not in out  # the header is x,y,label


def test_a_bad_csv_exits_2_with_a_readable_message(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rows = [f"{i},{i % 3},{i % 2}" for i in range(11)] + ["1,abc,0"]
    code, _, err = run(capsys, "train", "--csv", write_csv(tmp_path / "bad.csv", rows))
    assert code == 2
    assert err.strip() == "error: --csv: row 13, column 'y': 'abc' is not a number"
    code, _, err = run(capsys, "train", "--csv", str(tmp_path / "missing.csv"))
    assert code == 2 and "error: --csv: no CSV file at" in err


def test_a_good_csv_trains(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rows = [f"{i / 10},{(i * 7 % 10) / 10},{'yes' if i % 2 else 'no'}" for i in range(60)]
    code, out, _ = run(capsys, "train", "--csv", write_csv(tmp_path / "good.csv", rows), "--quiet")
    assert code == 0
    assert "Status: done" in out and "csv: 48 train + 12 test points" in out
    assert "true \\ predicted  no  yes" in out  # the label column's own class names


def test_too_high_a_learning_rate_diverges_with_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    flags = ["--dataset", "plane", "--optimizer", "sgd", "--lr", "10", *SMALL]
    code, out, _ = run(capsys, "train", *flags)
    assert code == 1
    assert "Status: diverged" in out and "learning rate 10 is too high" in out
    code, document = run_json(capsys, *flags)
    assert code == 1 and document["status"] == "diverged"  # and NaN became null: strict JSON
    assert None in {document["metrics"]["train_loss"], document["metrics"]["test_loss"]}


def test_ctrl_c_cancels_and_prints_the_partial_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pressed_at: list[int] = []

    class PressCtrlCOnceTraining(TrainingSession):
        def publish(self, point: MetricPoint, grid: Grid | None) -> None:
            if point.step > 0 and not pressed_at:
                pressed_at.append(point.step)
                signal.raise_signal(signal.SIGINT)
            super().publish(point, grid)

    monkeypatch.setattr(layerlab.cli.command, "TrainingSession", PressCtrlCOnceTraining)
    code, out, _ = run(capsys, "train", "--samples", "200", "--epochs", "500")
    assert code == 130
    assert "Status: cancelled after" in out and "of 2,500 steps" in out
    assert f"cancelled after {pressed_at[0]:,} of 2,500 steps" in out  # at the very next turn
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--dataset", "moons"], "Decision boundary"),
        (["--dataset", "blobs"], "Decision boundary"),
        (["--dataset", "plane", "--hidden", ""], "Learned vs true weights"),
        (["--dataset", "features4"], "Confusion matrix"),
    ],
)
def test_plot_writes_an_offline_plotly_page(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, flags: list[str], expected: str
) -> None:
    path = tmp_path / "report.html"
    code, out, _ = run(capsys, "train", *SMALL, *flags, "--quiet", "--plot", str(path))
    assert code == 0 and f"Report: {path}" in out
    page = path.read_text(encoding="utf-8")
    assert 'class="plotly-graph-div"' in page
    assert '"type":"heatmap"' in page  # boundary, surface or confusion matrix
    assert expected in page
    assert "<script src=" not in page and len(page) > 1_000_000  # plotly.js inlined: offline


def test_code_prints_a_script_that_compiles(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("layerlab.core.codegen")
    code, out, _ = run(capsys, "code", *SMALL, "--hidden", "4")
    assert code == 0
    compile(out, "generated.py", "exec")
    assert "torch" in out


def test_code_prints_the_script_in_the_language_asked(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "code", *SMALL, "--lang", "es")
    assert code == 0 and "# Entrenamiento:" in out
    compile(out, "generated.py", "exec")


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0 and __version__ in out
    code, out, _ = run(capsys, "train", "--help")
    assert code == 0
    assert "--hidden W,W" in out and "Default: 8,8." in out and "Range: 20 to 5000." in out
    code, out, _ = run(capsys)
    assert code == 2 and "train" in out and "examples:" in out


def test_the_json_document_describes_the_data(capsys: pytest.CaptureFixture[str]) -> None:
    _, document = run_json(capsys, *SMALL, "--dataset", "blobs", "--classes", "4")
    assert document["data"] == {
        "task": "multiclass",
        "train_points": 160,
        "test_points": 40,
        "input_names": ["x1", "x2"],
        "class_names": ["0", "1", "2", "3"],
    }
    assert "samples_per_s" not in document["metrics"]


@pytest.mark.parametrize(
    ("flags", "note"),
    [
        (["--reg-rate", "0.1"], "--reg-rate has no effect without --regularization"),
        (["--regularization", "l2"], "--regularization l2 adds nothing at --reg-rate 0"),
        (["--classes", "4"], "--classes applies to the blobs dataset only"),
        (["--label-column", "y"], "--label-column applies to a --csv file only"),
    ],
)
def test_flags_that_change_nothing_get_a_note(
    capsys: pytest.CaptureFixture[str], flags: list[str], note: str
) -> None:
    code, _, err = run(capsys, "train", "--quiet", *SMALL, *flags)
    assert code == 0
    assert f"note: {note}" in err


def test_an_unusable_setting_exits_2_naming_the_variable(
    capsys: pytest.CaptureFixture[str], override_settings: Callable[..., None]
) -> None:
    override_settings(max_epochs="abc")
    code, _, err = run(capsys, "train", *SMALL)
    assert code == 2
    assert err.startswith("error: LAYERLAB_MAX_EPOCHS: Input should be a valid integer")


def test_a_token_too_short_is_named_but_never_written_out(
    capsys: pytest.CaptureFixture[str], override_settings: Callable[..., None]
) -> None:
    override_settings(admin_token="hunter2-secret")
    code, _, err = run(capsys, "train", *SMALL)
    assert code == 2
    assert (
        "LAYERLAB_ADMIN_TOKEN: String should have at least 16 characters (got 14 characters)" in err
    )
    assert "hunter2" not in err


def test_the_run_is_described_before_training_starts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    printed_before: list[str] = []

    class Spy(TrainingSession):
        def advance(self, budget_s: float) -> None:
            if not printed_before:  # the first turn of training
                assert self.trainer.step == 0
                printed_before.append(capsys.readouterr().out)
            super().advance(budget_s)

    monkeypatch.setattr(layerlab.cli.command, "TrainingSession", Spy)
    assert main(["train", *SMALL]) == 0
    assert "Network   2 inputs (x₁, x₂) → 8 → 8 → 1 output" in printed_before[0]


def test_serve_refuses_a_busy_port_before_starting_anything(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, override_settings: Callable[..., None]
) -> None:
    override_settings(database=tmp_path / "runs.db")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    error = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in error
    assert "--port or LAYERLAB_PORT" in error


def test_serve_refuses_a_database_another_server_holds(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, override_settings: Callable[..., None]
) -> None:
    database = tmp_path / "runs.db"
    override_settings(database=database)
    held = claim_database(str(database))
    try:
        assert main(["serve", "--port", "0"]) == 2
    finally:
        assert held is not None
        held.close()
    assert "another LayerLab server" in capsys.readouterr().err


def by_hand(document: dict[str, Any], inputs: list[float]) -> list[float]:
    """The network of a `train --json` document applied to one input vector, written out:
    relu(W·h + b) for each hidden layer, then the output layer's W·h + b."""
    h = torch.tensor(inputs)
    layers = document["weights"]
    for number, layer in enumerate(layers, start=1):
        h = torch.tensor(layer["weight"]) @ h + torch.tensor(layer["bias"])
        if number < len(layers):
            h = torch.relu(h)
    return h.tolist()


def test_explain_point_walks_the_point_through_the_trained_network(
    capsys: pytest.CaptureFixture[str],
) -> None:
    flags = [*SMALL, "--hidden", "4,3", "--features", "x1,x2,x1_sq", "--explain-point", "0.5,-2"]
    code, document = run_json(capsys, *flags)
    assert code == 0
    forward = document["forward"]
    assert forward["point"] == [0.5, -2.0]
    assert forward["input"] == {"names": ["x1", "x2", "x1²"], "values": [0.5, -2.0, 0.25]}
    assert [layer["kind"] for layer in forward["layers"]] == ["hidden", "hidden", "output"]
    assert [len(layer["pre_activation"]) for layer in forward["layers"]] == [4, 3, 1]
    (logit,) = by_hand(document, [0.5, -2.0, 0.25])
    assert forward["layers"][-1]["pre_activation"][0] == pytest.approx(logit, abs=1e-6)
    probability = 1 / (1 + math.exp(-logit))
    assert forward["probabilities"][0] == pytest.approx(probability, abs=1e-6)
    assert forward["predicted_class"] == int(probability > 0.5)

    code, out, _ = run(capsys, "train", "--quiet", *flags)
    assert code == 0
    text = out[out.index("Forward pass of the point (0.5, -2)") :]
    assert "input x = (x1, x2, x1²) = (0.5, -2, 0.25)" in text
    assert "Layer 1 of 3 (hidden 1, 3 → 4, relu): z = W·x + b, h1 = ReLU(z)" in text
    assert "Layer 3 of 3 (output, 3 → 1, sigmoid): z = W·h2 + b, y = σ(z)" in text
    chance = f"p(class 1) = {probability:.4f} → class {int(probability > 0.5)}"
    assert text.rstrip().endswith(f"Output: {chance}")


def test_explain_point_shows_a_large_layer_in_part(capsys: pytest.CaptureFixture[str]) -> None:
    flags = [*SMALL, "--hidden", "12", "--dataset", "blobs", "--explain-point", "1,1"]
    code, out, _ = run(capsys, "train", "--quiet", *flags)
    assert code == 0
    assert "W (12×2)" in out and "… and 4 more rows, z from" in out  # rows 0 to 7 shown
    assert "W (3×12)" in out and "… (12 in all) ]" in out  # 7 columns of 12 shown
    assert "Output: p(class 0) = " in out and ", p(class 2) = " in out


@pytest.mark.parametrize(
    ("point", "message"),
    [
        ("1,2,3", "--explain-point: expected 2 numbers (x1, x2); got 3"),
        ("1,x", "argument --explain-point: expected numbers separated by commas"),
        ("1,nan", "expected finite numbers; got '1,nan'"),
    ],
)
def test_explain_point_refuses_what_is_no_point(
    capsys: pytest.CaptureFixture[str], point: str, message: str
) -> None:
    code, out, err = run(capsys, "train", *SMALL, "--explain-point", point)
    assert code == 2 and "Status" not in out, "refused before training"
    assert message in err


def test_explain_point_takes_a_negative_first_number_and_refuses_a_point_too_far_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, document = run_json(capsys, *SMALL, "--explain-point", "-0.5,0.2")
    assert code == 0 and document["forward"]["point"] == [-0.5, 0.2]
    code, out, err = run(capsys, "train", "--quiet", *SMALL, "--explain-point", "1e300,0")
    assert code == 2 and "Output:" not in out
    assert "--explain-point: [1e+300, 0.0] is too far out" in err


def test_until_paused_trains_to_the_servers_epoch_limit(
    capsys: pytest.CaptureFixture[str], override_settings: Callable[..., None]
) -> None:
    override_settings(max_epochs=7)
    code, document = run_json(capsys, *SMALL, "--until-paused")
    assert code == 0 and document["spec"]["until_paused"] is True
    assert document["history"][-1]["epoch"] == 7  # past --epochs 5
