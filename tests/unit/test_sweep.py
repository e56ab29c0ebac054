"""Sweeps without a server: the plan of runs, parameter counts, and `layerlab sweep`, whose
cells are checked against each spec trained alone by the plain loop."""

import json
from pathlib import Path
from typing import Any

import pytest

from layerlab.cli import main
from layerlab.core.limits import Limits
from layerlab.core.models import build_model, parameter_count
from layerlab.core.spec import RunSpec
from layerlab.core.sweep import axes_problems, run_count, sweep_runs
from layerlab.core.training import Trainer
from layerlab.engine.retention import delete_expired
from layerlab.engine.store import RunRecord, Store, SweepRecord

SMALL = ["--samples", "200", "--epochs", "5", "--grid", "8"]


def test_depth_0_is_one_run_for_its_row() -> None:
    runs = sweep_runs(RunSpec(), [0, 2], [4, 8, 16])
    assert [run.spec.hidden_widths for run in runs] == [[], [4, 4], [8, 8], [16, 16]]
    assert [(c.depth, c.width) for c in runs[0].cells] == [(0, 4), (0, 8), (0, 16)]
    assert run_count([0, 2], [4, 8, 16]) == len(runs) == 4
    assert run_count([0, 1, 2, 3, 4], [2, 4, 8, 16, 32]) == 21


@pytest.mark.parametrize("hidden", [[], [3], [8, 8], [2, 16, 4]])
def test_parameter_count_is_the_models(hidden: list[int]) -> None:
    model = build_model(RunSpec(hidden_widths=hidden), n_inputs=5, n_outputs=3)
    assert parameter_count(5, hidden, 3) == sum(p.numel() for p in model.parameters())


def test_axes_are_refused_by_name() -> None:
    limits = Limits(max_hidden_layers=3, max_width=16)
    assert axes_problems([0, 3], [1, 16], limits) == []
    assert axes_problems([4], [2, 2], limits) == [
        "depths: each value from 0 to 3 (LAYERLAB_MAX_HIDDEN_LAYERS); got [4]",
        "widths: each value once; repeated: [2]",
    ]
    assert axes_problems(list(range(11)), [], Limits()) == [
        "depths: give 1 to 10 values; got 11",
        "widths: give 1 to 10 values; got 0",
    ]


def sweep_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main(["sweep", "--json", *argv]) == 0
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def alone(spec: RunSpec) -> dict[str, Any]:
    trainer = Trainer(spec)
    trainer.train_steps(trainer.total_steps)
    return trainer.final_metrics()


def test_the_cli_sweeps_cells_are_each_spec_trained_alone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    document = sweep_json(capsys, "--depths", "0-2", "--widths", "2,16", *SMALL)
    cells = document["cells"]
    assert [(c["depth"], c["width"]) for c in cells] == [(0, 2), (0, 16), (1, 2), (1, 16),
                                                        (2, 2), (2, 16)]  # fmt: skip
    assert document["runs"] == 5 and document["task"] == "binary"
    base = RunSpec.model_validate(document["base"])
    for cell in cells:
        assert cell["status"] == "done" and cell["epoch"] == 5 and cell["run_id"] is None
        expected = alone(base.model_copy(update={"hidden_widths": cell["hidden_widths"]}))
        for name, value in cell["metrics"].items():
            assert value == pytest.approx(expected[name], rel=1e-5), (cell, name)
        assert cell["parameters"] == parameter_count(2, cell["hidden_widths"], 1)


def test_the_cli_prints_the_table_and_writes_the_page(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    page = tmp_path / "sweep.html"
    argv = ["sweep", "--depths", "0,1", "--widths", "4,8", "--quiet", "--plot", str(page), *SMALL]
    assert main(argv) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("train/test accuracy and parameters, depth × width (3 runs")
    header = next(line for line in lines if line.startswith("depth"))
    assert "width 4" in header and "width 8" in header
    rows = [line for line in lines if line.strip().startswith(("0 ", "1 "))]
    assert len(rows) == 2 and rows[1].rstrip().endswith("33p")  # [8]: 3·8 + 9 parameters
    html = page.read_text(encoding="utf-8")
    assert '"type":"heatmap"' in html and '"type":"log"' in html and '"dash":"dot"' in html


def test_the_cli_names_a_bad_axis(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "--depths", "0,0", "--widths", "2"]) == 2
    assert "error: --depths: each value once; repeated: [0]" in capsys.readouterr().err
    assert main(["sweep", "--depths", "0-x", "--widths", "2"]) == 2
    assert "expected whole numbers and ranges" in capsys.readouterr().err


def test_retention_deletes_a_sweep_once_its_runs_are_gone() -> None:
    store = Store(":memory:")
    for run_id, status in (("ended", "done"), ("training", "running")):
        store.add_run(RunRecord(run_id, "c", "h", {}, status, created_at=1.0, finished_at=2.0))
    for sweep_id, run_id in (("old", "ended"), ("busy", "training")):
        cells = [{"depth": 0, "width": 4, "hidden_widths": [], "run_id": run_id, "parameters": 3}]
        store.add_sweep(
            SweepRecord(sweep_id, "c", "h", {}, "binary", [0], [4], cells, created_at=1.0)
        )
    delete_expired(store, cutoff=10.0, in_use=set())
    assert store.get_run("ended") is None and store.get_sweep("old") is None
    assert store.get_sweep("busy") is not None  # its run still trains
