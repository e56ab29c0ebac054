"""Training speed and classroom capacity, each beside the naive tutorial loop in the same run.

Two measurements: one lone run ([8, 8] ReLU, batch 10, 500 points, plain SGD) stepped by the
stacked engine and by the autograd loop; and K concurrent classroom runs trained by the service's
own worker processes, beside the naive loop (DataLoader, Sigmoid + BCELoss, one model at a time).
"""

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import get_args

import torch
from pydantic import ValidationError

from layerlab.config import ExecutorKind, get_settings
from layerlab.core.spec import MAX_EPOCHS_PER_S, MIN_EPOCHS_PER_S, RunSpec
from layerlab.core.stacked.trainer_stack import TrainerStack
from layerlab.core.training import Trainer, pick_device
from layerlab.engine.worker_profile import PARTS
from layerlab.measure.capacity import (
    Capacity,
    classroom_mix,
    engine_capacity,
    naive_total_steps_per_s,
)
from layerlab.measure.sweep_speed import DEPTHS, SWEEP_BASE, WIDTHS, sweep_speed
from layerlab.usage import UsageError

MIN_STEPS_PER_S, MIN_GRIDS_PER_S = 100.0, 5.0  # what a learner needs to watch a run learn
PACE_KEPT = 0.95  # a paced run is held when it trains at least this share of its pace

# The lone run: built when measured, so that a server's tighter limits stop the bench alone.
LONE_RUN = {
    "dataset": {"name": "moons", "samples": 500},
    "hidden_widths": [8, 8],
    "batch_size": 10,
    "optimizer": "sgd",
    "learning_rate": 0.03,
    "epochs": 1000,
}


def lone_run(
    spec: RunSpec, steps: int, repeats: int, device: torch.device, cuda_graphs: bool = False
) -> dict[str, float]:
    """Median steps/s of one run stepped by the stack and by the autograd loop, alternating
    (and with `cuda_graphs`, by the stack replaying its step as a CUDA graph)."""

    def stacked(graphed: bool = False) -> float:
        stack = TrainerStack([Trainer(spec, device=device)], graphed=graphed)
        return _rate(lambda: stack.train(steps), steps, device)

    def autograd() -> float:
        trainer = Trainer(spec, device=device)
        return _rate(lambda: trainer.train_steps(steps), steps, device)

    loops: dict[str, Callable[[], float]] = {"stacked": stacked, "autograd": autograd}
    if cuda_graphs:
        loops["graphed"] = lambda: stacked(graphed=True)
    for run in loops.values():  # warm-up: first-call costs are not training speed
        run()
    samples: dict[str, list[float]] = {name: [] for name in loops}
    for _ in range(repeats):
        for name, run in loops.items():
            samples[name].append(run())
    result = {name: statistics.median(values) for name, values in samples.items()}
    result["ratio"] = result["stacked"] / result["autograd"]
    return result


def _rate(train: Callable[[], None], steps: int, device: torch.device) -> float:
    started = time.perf_counter()
    train()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - started)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runs", default="1,32,64,128", help="concurrent classroom runs to try (1,32,64,128)"
    )
    parser.add_argument(
        "--seconds", type=float, help="measured per K (8), or how long --clients play (60)"
    )
    parser.add_argument("--workers", type=int, default=0, help="worker processes (as `serve`)")
    parser.add_argument("--repeats", type=int, default=5, help="lone-run measurements (5)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (cpu)")
    parser.add_argument(
        "--executor",
        choices=get_args(ExecutorKind),
        default="local",
        help="ray: the classroom mix also through as many Ray actors, beside the local processes "
        "(on LAYERLAB_RAY_ADDRESS, or a Ray of its own on 127.0.0.1)",
    )
    parser.add_argument(
        "--pace",
        type=float,
        default=0.0,
        help="also the classroom at this pace, in epochs a second (the page's pace selector "
        "offers 1, 5 and 20): how many learners the server holds at it; 0 measures none (0)",
    )
    parser.add_argument(
        "--paced-runs",
        default="32,64,128,256,512",
        help="K tried at the pace, in turn, up to the first the server does not hold "
        "(32,64,128,256,512)",
    )
    parser.add_argument(
        "--cuda-graphs",
        action="store_true",
        help="with a GPU: the classroom mix also with each stack's step replayed as a CUDA graph "
        "(LAYERLAB_CUDA_GRAPHS), and on the CPU's worker processes, beside eager CUDA",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also where the workers' time went at each K: training steps, metric passes, grid "
        "passes, frames, the channel to the server, checkpoints, commands, waiting",
    )
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="only the 5x5 sweep (depths 0-4 x widths 2-32, moons, 100 epochs): stacked as "
        "`layerlab sweep` trains it, beside the same runs one after another by the plain loop",
    )
    load = parser.add_argument_group(
        "against a running server", "simulated learners over HTTP and websockets (`layerlab load`)"
    )
    load.add_argument("--clients", type=int, help="how many learners (20 when only --url)")
    load.add_argument("--url", help="the server (http://127.0.0.1:8000 when only --clients)")
    load.add_argument("--pid", type=int, help="the server's process id, for its memory")


def _runs(text: str, flag: str = "--runs") -> list[int]:
    try:
        runs = [int(part) for part in text.split(",")]
    except ValueError:
        runs = []
    if not runs or min(runs) < 1:
        raise SystemExit(f"{flag} takes positive whole numbers separated by commas, not {text!r}")
    return runs


def command(args: argparse.Namespace) -> int:
    if args.clients is not None or args.url is not None:  # the load test, as `layerlab load`
        args.clients = 20 if args.clients is None else args.clients
        args.url = args.url or "http://127.0.0.1:8000"
        args.seconds = args.seconds or 60.0
        from layerlab.measure import loadtest  # httpx and websockets: only the load test needs them

        return loadtest.command(args)
    if args.sweep:
        return sweep_command(args)
    args.seconds = args.seconds or 8.0
    runs = _runs(args.runs)
    paced_runs = _runs(args.paced_runs, "--paced-runs") if args.pace else []
    if args.pace and not MIN_EPOCHS_PER_S <= args.pace <= MAX_EPOCHS_PER_S:
        raise UsageError(
            f"--pace takes {MIN_EPOCHS_PER_S:g} to {MAX_EPOCHS_PER_S:g} epochs a second, "
            f"not {args.pace:g} (0: no paced classroom)"
        )
    device = pick_device(args.device)
    if args.cuda_graphs and device.type != "cuda":
        raise UsageError(
            "--cuda-graphs needs a GPU: run it with --device cuda (or auto) where PyTorch sees one"
        )
    settings = get_settings().model_copy(update={"device": str(device), "cuda_graphs": False})
    workers = args.workers or settings.worker_count(torch.cuda.device_count())
    try:  # the bench's runs are fixed; a server with tighter limits refuses them
        limits = settings.limits()
        lone_spec = RunSpec.model_validate(LONE_RUN, context={"limits": limits})
        mix = classroom_mix(max(runs + paced_runs), limits=limits)
    except ValidationError as error:
        problem = "; ".join(str(item["msg"]) for item in error.errors())
        raise UsageError(
            f"the benchmark's runs are outside this server's limits ({problem}): run "
            "`layerlab bench` with the default LAYERLAB_MAX_* limits"
        ) from None
    lone = lone_run(lone_spec, 3000, args.repeats, device, args.cuda_graphs)
    naive = naive_total_steps_per_s(mix[:16], seconds_each=0.25)
    kinds = list(dict.fromkeys(["local", args.executor]))  # local, and beside it the one asked
    engines = [(kind, settings, workers) for kind in kinds]
    if args.cuda_graphs:  # beside eager CUDA: the same GPU replaying graphs, and the CPU
        on_cpu = settings.model_copy(update={"device": "cpu"})
        graphed = settings.model_copy(update={"cuda_graphs": True})
        engines += [("local", graphed, workers),
                    ("local", on_cpu, args.workers or on_cpu.worker_count(0))]  # fmt: skip
    if "ray" in kinds:
        from layerlab.engine.ray_executor import connect_ray

        connect_ray(settings.ray_address)  # once: each K's actors start on the same Ray
    try:  # each K on every executor in turn, so that a noisy minute touches both alike
        rows = [
            engine_capacity(mix[:k], engine_settings, engine_workers, args.seconds, kind)
            for k in runs
            for kind, engine_settings, engine_workers in engines
        ]
    finally:
        if "ray" in kinds:
            import ray

            ray.shutdown()
    main = "cuda" if device.type == "cuda" else "local"  # the rows of the server as it is set
    holds = [row.runs for row in rows if _enough(row) and _on(row) == main]
    holds_graphs = [row.runs for row in rows if _enough(row) and row.cuda_graphs]
    paced: list[Capacity] = []
    for k in paced_runs:  # up to the first K not held: past it, only slower
        paced.append(engine_capacity(mix[:k], settings, workers, args.seconds, pace=args.pace))
        if not _keeps_pace(paced[-1]):
            break
    holds_paced = [row.runs for row in paced if _keeps_pace(row)]
    if args.json:
        print(
            json.dumps(
                {
                    "device": str(device),
                    "lone_run": {"spec": lone_spec.model_dump(mode="json"), **lone},
                    "naive_steps_per_s": naive,
                    "classroom": [
                        {**row.to_dict(), "ratio": row.total_steps_per_s / naive} for row in rows
                    ],
                    "holds": max(holds, default=0),
                    "paced": [row.to_dict() for row in paced],
                    "holds_paced": max(holds_paced, default=0) if paced else None,
                    "ray_to_local": _beside(rows, "ray", main) or None,
                    "holds_graphs": max(holds_graphs, default=0) if args.cuda_graphs else None,
                    "graphs_to_eager": _beside(rows, "graph", "cuda") or None,
                    "graphs_to_cpu": _beside(rows, "graph", "local") or None,
                }
            )
        )
        return 0
    print(f"One run ([8, 8] ReLU, batch 10, 500 moons points, SGD) on {device}, median of "
          f"{args.repeats}:")  # fmt: skip
    epochs_per_s = lone["stacked"] / Trainer(lone_spec).steps_per_epoch
    print(f"  stacked engine {lone['stacked']:>9,.0f} steps/s ({epochs_per_s:,.0f} epochs/s)")
    print(f"  autograd loop  {lone['autograd']:>9,.0f} steps/s   ratio {lone['ratio']:.2f}x")
    if "graphed" in lone:
        print(f"  stacked, as a CUDA graph {lone['graphed']:>9,.0f} steps/s "
              f"({lone['graphed'] / lone['stacked']:.2f}x eager)")  # fmt: skip
    print()
    cap = settings.grid_frames_per_s
    through = f"{workers} worker processes" + (" and as many Ray actors" if len(kinds) > 1 else "")
    print(f"Classroom mix through {through} (grids 64x64, capped at {cap:g}/s);")
    if args.cuda_graphs:
        print("on: cuda, the GPU stepping each stack eagerly; graph, replaying each stack's step "
              f"as a CUDA graph; local, {engines[-1][2]} worker processes on the CPU;")  # fmt: skip
    print(f"the naive loop trains {naive:,.0f} model-steps/s")
    print(_table(rows, naive))
    if args.profile:
        print()
        print(_profile_table(rows))
    print()
    print(_verdict(holds, runs))
    if args.cuda_graphs:
        print(f"With CUDA graphs: {_verdict(holds_graphs, runs)}")
    if paced:
        print()
        print(f"The same mix at {_epochs(args.pace)} a second (a pace of the page's), each K in "
              "turn up to the first not held:")  # fmt: skip
        print(_paced_table(paced))
        print(_paced_verdict(holds_paced, paced_runs, args.pace))
    for k, ratio in _beside(rows, "ray", main).items():
        print(f"Ray actors / local processes at K={k}: {ratio:.2f}x the total steps/s")
    for k, ratio in _beside(rows, "graph", "cuda").items():
        cpu = _beside(rows, "graph", "local").get(k)
        print(f"CUDA graphs / eager CUDA at K={k}: {ratio:.2f}x the total steps/s"
              + (f"; / the CPU: {cpu:.2f}x" if cpu else ""))  # fmt: skip
    capacity = workers * settings.runs_per_worker
    if max(runs + [row.runs for row in paced]) > capacity:
        print(f"(K above {capacity} = {workers} workers x LAYERLAB_RUNS_PER_WORKER: measured with "
              "that raised; the server itself would queue the rest)")  # fmt: skip
    return 0


def sweep_command(args: argparse.Namespace) -> int:
    """`bench --sweep`: the 5x5 sweep stacked, beside the same runs one after another."""
    device = pick_device(args.device)
    try:
        measured = sweep_speed(args.repeats, device, get_settings().limits())
    except ValidationError as error:
        problem = "; ".join(str(item["msg"]) for item in error.errors())
        raise UsageError(f"the sweep's runs are outside this server's limits ({problem})") from None
    if args.json:
        print(json.dumps({"device": str(device), "base": SWEEP_BASE, **measured}))
        return 0
    print(f"The sweep depths {DEPTHS} x widths {WIDTHS} ({measured['runs']:.0f} runs, "
          f"{measured['steps']:,.0f} steps, moons, batch 32, 100 epochs) on {device}, "
          f"median of {args.repeats}:")  # fmt: skip
    print(f"  stacked (layerlab sweep)      {measured['stacked_s']:>8.2f} s")
    print(f"  one after another (Trainer)   {measured['plain_s']:>8.2f} s")
    print(f"  ratio {measured['ratio']:.1f}x")
    return 0


def _enough(row: Capacity) -> bool:
    return row.steps_per_s_min >= MIN_STEPS_PER_S and row.grids_per_s_min >= MIN_GRIDS_PER_S


def _keeps_pace(row: Capacity) -> bool:
    assert row.pace is not None
    return row.epochs_per_s_min >= PACE_KEPT * row.pace and row.grids_per_s_min >= MIN_GRIDS_PER_S


def _paced_table(rows: list[Capacity]) -> str:
    """Each paced K: epochs a second and grids per run, and how busy the workers were."""
    header = (f"{'K':>5} {'epochs/s min':>13} {'median':>7} {'grids/s min':>12} {'median':>7} "
              f"{'workers busy':>13} {'memory MiB':>11}")  # fmt: skip
    lines = [header]
    for row in rows:
        busy = f"{1 - row.profile['waiting']:.0%}" if row.profile else "?"
        lines.append(
            f"{row.runs:>5} {row.epochs_per_s_min:>13.2f} {row.epochs_per_s_median:>7.2f} "
            f"{row.grids_per_s_min:>12.1f} {row.grids_per_s_median:>7.1f} {busy:>13} "
            f"{row.memory_mib:>11,.0f}"
        )
    return "\n".join(lines)


def _paced_verdict(holds: list[int], runs: list[int], pace: float) -> str:
    need = (f"{_epochs(pace)} a second (at least {PACE_KEPT:.0%} of it) and >= "
            f"{MIN_GRIDS_PER_S:g} grid frames/s each")  # fmt: skip
    if not holds:
        return f"Even {min(runs)} learners do not get {need} on this server."
    best = max(holds)
    more = " (the most tried: try more with --paced-runs)" if best == max(runs) else ""
    return f"This server holds {best} learners at {need}{more}."


def _epochs(count: float) -> str:
    return f"{count:g} epoch" + ("" if count == 1 else "s")


def _on(row: Capacity) -> str:
    """What a row trained on: local processes or Ray actors; on a GPU, eager or with graphs."""
    if row.cuda_graphs:
        return "graph"
    if row.executor == "ray":
        return "ray"
    return "cuda" if row.device.startswith("cuda") else "local"


def _beside(rows: list[Capacity], on: str, base: str) -> dict[int, float]:
    """The total steps/s of the rows on `on` over those on `base`, for each K measured on both."""
    below = {row.runs: row.total_steps_per_s for row in rows if _on(row) == base}
    return {
        row.runs: row.total_steps_per_s / below[row.runs]
        for row in rows
        if _on(row) == on and below.get(row.runs)
    }


def _table(rows: list[Capacity], naive: float) -> str:
    header = (f"{'K':>5} {'on':>5} {'steps/s total':>14} {'per run min':>12} {'median':>8} "
              f"{'grids/s min':>12} {'median':>7} {'memory MiB':>11} {'x naive':>8}")  # fmt: skip
    lines = [header]
    for row in rows:
        lines.append(
            f"{row.runs:>5} {_on(row):>5} {row.total_steps_per_s:>14,.0f} "
            f"{row.steps_per_s_min:>12,.0f} "
            f"{row.steps_per_s_median:>8,.0f} {row.grids_per_s_min:>12.1f} "
            f"{row.grids_per_s_median:>7.1f} {row.memory_mib:>11,.0f} "
            f"{row.total_steps_per_s / naive:>8.1f}"
        )
    return "\n".join(lines)


def _profile_table(rows: list[Capacity]) -> str:
    """Each row's shares of the workers' wall-clock time, part by part."""
    parts = (*PARTS, "other")
    widths = [max(len(part), 6) for part in parts]
    header = " ".join(f"{part:>{width}}" for part, width in zip(parts, widths, strict=True))
    lines = [
        "Where the workers' time went while measured (each part's share of a worker's wall-clock "
        "time,\naveraged over the workers; what the server itself spends, `layerlab load` shows):",
        f"{'K':>5} {'on':>5} {header} {'rounds/s':>8}",
    ]
    for row in rows:
        if not row.profile:
            lines.append(f"{row.runs:>5} {_on(row):>5}  (no worker told its time)")
            continue
        shares = " ".join(
            f"{row.profile[part]:>{width}.1%}" for part, width in zip(parts, widths, strict=True)
        )
        rounds = row.profile["rounds_per_s"]
        lines.append(f"{row.runs:>5} {_on(row):>5} {shares} {rounds:>8.1f}")
    return "\n".join(lines)


def _verdict(holds: list[int], runs: list[int]) -> str:
    need = f">= {MIN_STEPS_PER_S:g} steps/s and >= {MIN_GRIDS_PER_S:g} grid frames/s each"
    if not holds:
        return f"Even {min(runs)} learners do not get {need} on this server."
    best = max(holds)
    more = " (the most tried: try more with --runs)" if best == max(runs) else ""
    return f"This server holds {best} learners at {need}{more}."
