"""`layerlab bench` runs end to end on a smoke size and reports what it promises (no speeds)."""

import json
from collections.abc import Callable

import pytest

from layerlab.cli import build_parser, main
from layerlab.measure import bench, capacity


@pytest.mark.slow
def test_bench_measures_a_lone_run_and_a_small_class(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(
        ["bench", "--runs", "1,3", "--seconds", "1", "--repeats", "1", "--json"]
    )
    assert args.handler(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["lone_run"]["stacked"] > 0 and report["lone_run"]["autograd"] > 0
    assert report["naive_steps_per_s"] > 0
    assert [row["runs"] for row in report["classroom"]] == [1, 3]
    for row in report["classroom"]:
        assert row["steps_per_s_min"] > 0 and row["grids_per_s_min"] > 0
        assert row["memory_mib"] > 0 and row["ratio"] > 0
    assert report["holds"] in (0, 1, 3)


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
