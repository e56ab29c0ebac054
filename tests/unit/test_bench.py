"""`layerlab bench` runs end to end on a smoke size and reports what it promises (no speeds)."""

import json
from collections.abc import Callable

import pytest
import torch

from layerlab.cli import build_parser, main
from layerlab.engine.worker_profile import PARTS
from layerlab.measure import bench, capacity


@pytest.mark.slow
def test_bench_measures_a_lone_run_and_a_small_class(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(
        ["bench", "--runs", "1,3", "--seconds", "1.5", "--repeats", "1", "--json"]
    )
    assert args.handler(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["lone_run"]["stacked"] > 0 and report["lone_run"]["autograd"] > 0
    assert report["naive_steps_per_s"] > 0
    assert [row["runs"] for row in report["classroom"]] == [1, 3]
    for row in report["classroom"]:
        assert row["steps_per_s_min"] > 0 and row["grids_per_s_min"] > 0
        assert row["memory_mib"] > 0 and row["ratio"] > 0
        profile = row["profile"]  # where the workers' time went while measured
        assert profile["train"] > 0 and profile["grids"] > 0 and profile["rounds_per_s"] > 0
        assert sum(profile[part] for part in (*PARTS, "other")) == pytest.approx(1.0)
    assert report["holds"] in (0, 1, 3)


def test_the_profile_table_has_a_share_per_part_and_says_when_none_came() -> None:
    told = dict.fromkeys((*PARTS, "other"), 0.0) | {"train": 0.625, "other": 0.375}
    rows = [
        capacity.Capacity(*("local", 128, 2), *[1.0] * 8, None, told | {"rounds_per_s": 40}),
        capacity.Capacity(*("local", 256, 2), *[1.0] * 8, None, {}),
    ]
    table = bench._profile_table(rows).splitlines()
    assert table[2].split() == ["K", "on", *PARTS, "other", "rounds/s"]
    assert table[3].split() == ["128", "local", "62.5%", *["0.0%"] * 7, "37.5%", "40.0"]
    assert table[4].split()[:2] == ["256", "local"] and "no worker told" in table[4]


@pytest.mark.slow
def test_bench_measures_ray_actors_beside_local_processes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = build_parser().parse_args(
        ["bench", "--runs", "2", "--seconds", "1", "--repeats", "1", "--executor", "ray"]
    )
    assert args.handler(args) == 0
    printed = capsys.readouterr().out
    rows = [line.split() for line in printed.splitlines() if line.startswith("    2 ")]
    assert [row[1] for row in rows] == ["local", "ray"], printed
    assert all(float(row[2].replace(",", "")) > 0 for row in rows)
    assert "Ray actors / local processes at K=2: " in printed


@pytest.mark.slow
def test_bench_finds_how_many_learners_it_holds_at_a_pace(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = build_parser().parse_args(
        ["bench", "--runs", "1", "--seconds", "1.5", "--repeats", "1", "--pace", "5",
         "--paced-runs", "2,3", "--json"]
    )  # fmt: skip
    assert args.handler(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert [row["runs"] for row in report["paced"]] in ([2], [2, 3])  # up to the first not held
    for row in report["paced"]:
        assert row["pace"] == 5
        # a pace is a cap: no run trains faster (a tick of rounding aside)
        assert 0 < row["epochs_per_s_min"] <= row["epochs_per_s_median"] <= 5 * 1.05
        assert row["grids_per_s_min"] > 0
    assert report["holds_paced"] in (0, 2, 3)


def test_the_paced_verdict_names_the_pace_and_the_most_learners_held() -> None:
    def row(k: int, epochs_min: float, grids_min: float) -> capacity.Capacity:
        measured = (1.0, 1.0, 1.0, grids_min, 8.0, 1.0, epochs_min, 5.0)
        return capacity.Capacity("local", k, 2, *measured, 5.0, {"waiting": 0.25})

    rows = [row(128, 5.0, 8.0), row(256, 4.9, 6.0), row(512, 3.1, 6.0)]
    held = [r.runs for r in rows if bench._keeps_pace(r)]
    assert held == [128, 256]  # 512: a run fell to 3.1 epochs/s
    assert not bench._keeps_pace(row(64, 5.0, 4.0))  # grids too few
    verdict = bench._paced_verdict(held, [128, 256, 512], 5)
    assert verdict.startswith("This server holds 256 learners at 5 epochs a second")
    assert "try more" not in verdict
    assert bench._paced_table(rows).splitlines()[1].split()[-2:] == ["75%", "1"]


def test_a_pace_out_of_bounds_is_refused_before_anything_trains(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "--pace", "5000"]) == 2
    assert "--pace takes 0.1 to 1000 epochs a second, not 5000" in capsys.readouterr().err


def test_bad_run_counts_are_refused_with_the_flag_named() -> None:
    with pytest.raises(SystemExit, match="--runs takes positive whole numbers"):
        bench._runs("8,zero")
    with pytest.raises(SystemExit, match="--runs"):
        bench._runs("0")


def test_the_classroom_mix_is_varied_and_repeatable() -> None:
    mix = capacity.classroom_mix(64)
    assert mix == capacity.classroom_mix(64)
    assert {spec.depth for spec in mix} == {1, 2, 3, 4}
    assert max(max(spec.hidden_widths) for spec in mix) == 32
    assert len({spec.dataset.name for spec in mix}) == 4
    assert len({spec.learning_rate for spec in mix}) > 2


def test_a_server_with_tighter_limits_still_starts_and_the_bench_says_why_it_cannot(
    override_settings: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    override_settings(max_epochs=500, max_width=4)
    assert main(["serve", "--help"]) == 0  # nothing checks a bench run at import
    assert "usage: layerlab serve" in capsys.readouterr().out
    assert main(["bench", "--runs", "1", "--seconds", "1", "--repeats", "1"]) == 2
    error = capsys.readouterr().err
    assert "outside this server's limits" in error and "LAYERLAB_MAX_EPOCHS" in error


def test_cuda_graphs_without_a_gpu_are_refused_before_anything_trains(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "--device", "cpu", "--cuda-graphs"]) == 2
    assert "--cuda-graphs needs a GPU" in capsys.readouterr().err


def test_graph_rows_are_set_beside_eager_cuda_and_the_cpu() -> None:
    def row(on: str, k: int, total: float) -> capacity.Capacity:
        device = "cpu" if on == "local" else "cuda"
        return capacity.Capacity("local", k, 1, total, *[1.0] * 7, None, {}, device, on == "graph")

    rows = [row("cuda", 64, 100.0), row("graph", 64, 250.0), row("local", 64, 50.0),
            row("cuda", 128, 80.0), row("graph", 128, 240.0)]  # fmt: skip
    assert [bench._on(r) for r in rows[:3]] == ["cuda", "graph", "local"]
    assert bench._beside(rows, "graph", "cuda") == {64: 2.5, 128: 3.0}
    assert bench._beside(rows, "graph", "local") == {64: 5.0}  # K=128 not measured on the CPU
    assert bench._table(rows, 10.0).splitlines()[2].split()[:3] == ["64", "graph", "250"]


@pytest.mark.slow
@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
def test_bench_measures_cuda_graphs_beside_eager_cuda_and_the_cpu(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = build_parser().parse_args(
        ["bench", "--runs", "4", "--seconds", "1", "--repeats", "1", "--device", "cuda",
         "--cuda-graphs", "--json"]
    )  # fmt: skip
    assert args.handler(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["lone_run"]["graphed"] > 0
    assert [(row["device"].split(":")[0], row["cuda_graphs"]) for row in report["classroom"]] == [
        ("cuda", False),
        ("cuda", True),
        ("cpu", False),
    ]
    assert report["graphs_to_eager"]["4"] > 0 and report["graphs_to_cpu"]["4"] > 0
