"""The rules of a room without a server: codes, names, locks, the challenge and the ranking;
and a tile's grid, made small."""

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from layerlab.core.grids import Grid, decode_grid
from layerlab.core.room_rules import (
    CODE_ALPHABET,
    CONTROL_NAMES,
    NameRefused,
    csv_safe,
    display_name,
    lock_problem,
    locks_problem,
    meets,
    name_key,
    new_code,
    normalized_code,
    rank_key,
    ranking_metric,
    rates_problem,
)
from layerlab.core.spec import RunSpec
from layerlab.engine.room_reads import small_grid, tile_status

SETUP = RunSpec(
    dataset={"name": "moons", "noise": 0.1, "samples": 300},  # type: ignore[arg-type]
    hidden_widths=[8, 8],
    learning_rate=0.03,
).model_dump(mode="json")


def spec(**changes: Any) -> dict[str, Any]:
    dataset = {**SETUP["dataset"], **changes.pop("dataset", {})}
    return {**SETUP, "dataset": dataset, **changes}


def test_codes_avoid_look_alikes_and_read_in_any_case() -> None:
    assert not set("0O1I") & set(CODE_ALPHABET)
    codes = {new_code() for _ in range(200)}
    assert len(codes) > 190 and all(len(c) == 6 and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert normalized_code(" abc234 ") == "ABC234"
    for wrong in ("ABC23", "ABC2345", "ABC2O4", "ABC-34", ""):
        assert normalized_code(wrong) is None, wrong


def test_names_are_trimmed_collapsed_bounded_and_free_of_control_characters() -> None:
    assert display_name("  Ana \n\t María ", 32) == "Ana María"
    assert display_name("<img src=x onerror=alert(1)>", 32) == "<img src=x onerror=alert(1)>"
    assert display_name("x" * 32, 32) == "x" * 32
    with pytest.raises(NameRefused, match=r"^name: at most 32 characters .* got 33$"):
        display_name("x" * 33, 32)
    with pytest.raises(NameRefused, match="got none"):
        display_name(" \t ", 32)
    with pytest.raises(NameRefused, match=r"found U\+0000, U\+007F$"):
        display_name("A\x7fn\x00a", 32)


def test_names_differ_in_more_than_case_or_width() -> None:
    assert name_key("ANA") == name_key("ana") == name_key("Ａｎａ")
    assert name_key("Straße") == name_key("STRASSE")
    assert name_key("Ana") != name_key("Ána")


def test_a_spreadsheet_reads_every_name_as_text() -> None:
    for formula in ("=1+1", "+1", "-1", "@SUM(A1)"):
        assert csv_safe(formula) == f"'{formula}"
    assert csv_safe("Ana = 1") == "Ana = 1"


def test_a_setup_locks_only_controls_the_page_has() -> None:
    controls_js = Path(__file__).parents[2] / "frontend" / "js" / "controls.js"
    listed = re.search(r"CONTROL_NAMES = \[(.*?)\];", controls_js.read_text(), re.DOTALL)
    assert listed is not None
    assert tuple(re.findall(r'"([a-z-]+)"', listed.group(1))) == CONTROL_NAMES  # the page's list
    assert locks_problem(SETUP, list(CONTROL_NAMES)) is None
    unknown = locks_problem(SETUP, ["dataset", "colour"])
    assert unknown is not None and unknown.startswith("setup.locked: unknown controls ['colour']")
    linear = {**SETUP, "hidden_widths": []}
    assert locks_problem(linear, ["layers"]) is not None
    assert locks_problem(linear, ["width", "depth"]) is None  # no hidden layer, and none allowed


@pytest.mark.parametrize(
    ("locked", "changed", "problem"),
    [
        (["dataset"], {"dataset": {"name": "circles"}}, "dataset.name: "),
        (["noise"], {"dataset": {"noise": 0.3}}, "dataset.noise: "),
        (["samples"], {"dataset": {"samples": 400}}, "dataset.samples: "),
        (["train-fraction"], {"dataset": {"train_fraction": 0.5}}, "dataset.train_fraction: "),
        (["data-seed"], {"dataset": {"seed": 3}}, "dataset.seed: "),
        (["regenerate"], {"dataset": {"seed": 3}}, "dataset.seed: "),
        (["classes"], {"dataset": {"classes": 4}}, "dataset.classes: "),
        (["csv"], {"dataset": {"source": "abc"}}, "dataset.source: "),
        (["activation"], {"activation": "tanh"}, "activation: "),
        (["features"], {"features": ["x1", "x2", "x1_sq"]}, "features: "),
        (["optimizer"], {"optimizer": "sgd"}, "optimizer: "),
        (["epochs"], {"epochs": 5}, "epochs: "),
        (["learning-rate"], {"learning_rate": 0.1}, "learning_rate: "),
        (["batch-size"], {"batch_size": 8}, "batch_size: "),
        (["regularization"], {"regularization": "l2"}, "regularization: "),
        (["regularization-rate"], {"regularization_rate": 0.01}, "regularization_rate: "),
        (["pace"], {"epochs_per_s": 2.0}, "epochs_per_s: "),
        (["until-paused"], {"until_paused": True}, "until_paused: "),
        (["depth"], {"hidden_widths": [8]}, "hidden_widths: the teacher has locked the depth"),
        (["width"], {"hidden_widths": [8, 4]}, "hidden_widths: the teacher has locked every"),
        (["layers"], {"hidden_widths": [4]}, "hidden_widths: the teacher has locked every"),
        (["depth", "width"], {"hidden_widths": [8, 8, 8]}, "hidden_widths: the teacher has"),
    ],
)
def test_each_lock_refuses_a_run_that_changes_its_field(
    locked: list[str], changed: dict[str, Any], problem: str
) -> None:
    assert lock_problem(SETUP, spec(**changed), locked).startswith(problem)
    assert "in this room" in lock_problem(SETUP, spec(**changed), locked)
    assert lock_problem(SETUP, spec(**changed), []) == ""  # nothing locked: anything goes
    assert lock_problem(SETUP, SETUP, locked) == ""


def test_locks_leave_the_rest_to_the_learner() -> None:
    locked = ["depth", "dataset", "theme", "show-test", "play"]
    assert lock_problem(SETUP, spec(hidden_widths=[2, 32], activation="tanh"), locked) == ""
    assert lock_problem(SETUP, spec(hidden_widths=[8, 8, 8]), ["width"]) == ""  # depth is free
    message = lock_problem(SETUP, spec(activation="tanh"), ["activation"])
    assert message == "activation: the teacher has locked it to 'relu' in this room"


def test_live_rates_keep_the_locks() -> None:
    locked = ["learning-rate", "pace"]
    assert rates_problem(SETUP, {"learning_rate": 0.1}, locked).startswith("learning_rate: ")
    assert rates_problem(SETUP, {"epochs_per_s": 3.0}, locked).startswith("epochs_per_s: ")
    assert rates_problem(SETUP, {"learning_rate": 0.03, "regularization_rate": 0.1}, locked) == ""
    assert rates_problem(SETUP, {"learning_rate": 0.1}, []) == ""


def test_a_challenge_is_met_at_its_target_within_its_constraints() -> None:
    accuracy = {"metric": "test_acc", "target": 0.9, "max_parameters": None}
    assert meets(accuracy, {"test_acc": 0.9}, [8], 33)
    assert not meets(accuracy, {"test_acc": 0.89}, [8], 33)
    assert not meets(accuracy, {"test_acc": None}, [8], 33)
    assert not meets(None, {"test_acc": 1.0}, [8], 33)
    rmse = {"metric": "test_rmse", "target": 6.0, "max_hidden_layers": 0}
    assert meets(rmse, {"test_rmse": 5.5}, [], 3)
    assert not meets(rmse, {"test_rmse": 5.5}, [4], 17)  # "no hidden layer"
    assert not meets(rmse, {"test_rmse": math.nan}, [], 3)  # diverged
    budget = {"metric": "train_loss", "target": 0.3, "max_parameters": 50}
    assert meets(budget, {"train_loss": 0.2}, [4], 17)
    assert not meets(budget, {"train_loss": 0.2}, [8, 8], 105)
    assert not meets(budget, {"train_loss": 0.2}, [8, 8], None)


def test_ranking_puts_met_first_then_the_better_metric_then_fewer_parameters() -> None:
    metric = ranking_metric({"metric": "test_acc"}, "regression")
    entries = {
        "met, fewer": rank_key(metric, True, {"test_acc": 0.95}, 17),
        "met, more": rank_key(metric, True, {"test_acc": 0.95}, 105),
        "met, worse": rank_key(metric, True, {"test_acc": 0.91}, 3),
        "best, not met": rank_key(metric, False, {"test_acc": 0.99}, 3),
        "no metric": rank_key(metric, False, None, 3),
    }
    assert sorted(entries, key=entries.__getitem__) == list(entries)
    rmse = {"low": rank_key("test_rmse", False, {"test_rmse": 1.0}, 9)}
    rmse["high"] = rank_key("test_rmse", False, {"test_rmse": 2.0}, 9)
    rmse["nan"] = rank_key("test_rmse", False, {"test_rmse": math.nan}, 9)
    assert sorted(rmse, key=rmse.__getitem__) == ["low", "high", "nan"]
    assert ranking_metric(None, "regression") == "test_rmse"
    assert ranking_metric(None, "multiclass") == "test_acc"


def test_a_tiles_grid_keeps_cells_of_the_full_grid_in_its_encoding() -> None:
    rng = np.random.default_rng(0)
    values = rng.random((64, 64), dtype=np.float32)
    classes = rng.integers(0, 3, (64, 64))
    frame = Grid(7, (-2.0, 3.0, -1.0, 1.5), "probability", values, classes).encode()
    small = small_grid(frame, 32)
    assert small["shape"] == [32, 32] and small["step"] == 7
    assert small["extent"] == [-2.0, 3.0, -1.0, 1.5] and small["encoding"] == "u8"
    kept, kept_classes = decode_grid(small)
    full, full_classes = decode_grid(frame)
    index = np.linspace(0, 63, 32).round().astype(int)
    assert np.array_equal(kept, full[np.ix_(index, index)])
    assert kept_classes is not None and full_classes is not None
    assert np.array_equal(kept_classes, full_classes[np.ix_(index, index)])
    assert small_grid(small, 32) is small  # small enough already


def test_the_wall_names_a_runs_status_in_a_word() -> None:
    assert [tile_status(s) for s in ("queued", "running", "paused", "diverged")] == [
        "waiting",
        "training",
        "paused",
        "diverged",
    ]
    assert {tile_status(s) for s in ("done", "cancelled", "failed", "interrupted")} == {"finished"}
