"""The workers as actors on a real Ray cluster of two nodes on this machine: runs train on both
nodes and stream as with local workers; controls reach them; an actor killed or a node lost
fails only its own runs, and a new actor takes new ones."""

import json
import os
import signal
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from layerlab.engine.executor import ExecutorInfo
from ray_cluster import ray_settings, two_node_cluster
from service import (
    LONG_SPEC,
    QUICK_SPEC,
    LiveServer,
    create,
    last_step,
    owner,
    wait_for,
    wait_for_status,
)

pytestmark = pytest.mark.usefixtures("cancel_leftovers")


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Any, Any]]:
    with two_node_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def app_settings(app_settings: dict[str, Any], cluster: tuple[Any, Any]) -> dict[str, Any]:
    return {**app_settings, **ray_settings(cluster[0].address), "checkpoint_interval_s": 0.3}


def info(live_server: LiveServer) -> ExecutorInfo:
    return live_server.scheduler.executor_info()


def all_ready(live_server: LiveServer) -> bool:
    return all(worker.pid is not None for worker in info(live_server).workers)


def node_of(live_server: LiveServer, run_id: str) -> str | None:
    return next((w.node for w in info(live_server).workers if run_id in w.runs), None)


def test_runs_train_on_actors_of_both_nodes_and_stream_to_the_end(
    http: httpx.Client, live_server: LiveServer
) -> None:
    wait_for(lambda: all_ready(live_server), 120, "an actor on each node to be ready")
    nodes = info(live_server).nodes
    assert len(nodes) == 2 and all(node.alive and node.address == "127.0.0.1" for node in nodes)
    assert {w.node for w in info(live_server).workers} == {node.id for node in nodes}

    relu, tanh = create(http, LONG_SPEC), create(http, {**LONG_SPEC, "activation": "tanh"})
    for run in (relu, tanh):
        wait_for_status(http, run["id"], "running")
    assert node_of(live_server, relu["id"]) != node_of(live_server, tanh["id"])

    quick = create(http, {**QUICK_SPEC, "seed": 3})
    frames = []
    with connect(f"{live_server.ws_url}{quick['links']['stream']}") as socket:
        while not frames or frames[-1].get("status") not in ("done", "failed", "interrupted"):
            frames.append(json.loads(socket.recv(timeout=60)))
    kinds = {frame["type"] for frame in frames}
    assert {"snapshot", "metrics", "grid", "status"} <= kinds, kinds
    assert frames[-1]["status"] == "done" and frames[-1]["final_metrics"]["test_acc"] >= 0.85

    # the same spec, the same numbers, whichever node trained it
    again = create(http, {**QUICK_SPEC, "seed": 3}, wait=True)
    assert again["final_metrics"] == frames[-1]["final_metrics"]


def test_pause_step_rates_and_cancel_reach_the_actor(
    http: httpx.Client, live_server: LiveServer
) -> None:
    run = create(http, LONG_SPEC)
    wait_for_status(http, run["id"], "running")
    assert http.post(f"/api/runs/{run['id']}/pause", headers=owner(run)).status_code == 200
    wait_for_status(http, run["id"], "paused")
    paused_at = last_step(http, run["id"])
    assert http.post(f"/api/runs/{run['id']}/step", headers=owner(run)).status_code == 200
    wait_for(lambda: last_step(http, run["id"]) == paused_at + 1, 10, "one step")

    changed = http.patch(f"/api/runs/{run['id']}", json={"learning_rate": 0.5}, headers=owner(run))
    assert changed.status_code == 200, changed.text
    model = http.get(f"/api/runs/{run['id']}/model")  # the weights, read from the actor
    assert model.status_code == 200 and model.json()["step"] == paused_at + 1

    assert http.post(f"/api/runs/{run['id']}/resume", headers=owner(run)).status_code == 200
    wait_for(lambda: last_step(http, run["id"]) > paused_at + 20, 10, "training to go on")
    assert http.post(f"/api/runs/{run['id']}/cancel", headers=owner(run)).status_code == 200
    cancelled = wait_for_status(http, run["id"], "cancelled")
    assert cancelled["has_weights"] is True


def test_a_killed_actor_fails_only_its_runs_and_a_new_one_takes_new_runs(
    http: httpx.Client, live_server: LiveServer
) -> None:
    wait_for(lambda: all_ready(live_server), 120, "both actors to be ready")
    wait_for(live_server.workers_idle, 10, "earlier tests' runs to end")
    victim, survivor = create(http, LONG_SPEC), create(http, {**LONG_SPEC, "activation": "tanh"})
    for run in (victim, survivor):
        wait_for_status(http, run["id"], "running")
    victim_pid = live_server.worker_pid(victim["id"])
    assert victim_pid is not None and victim_pid != live_server.worker_pid(survivor["id"])
    restarts = info(live_server).restarts

    os.kill(victim_pid, signal.SIGKILL)
    lost = wait_for_status(http, victim["id"], "interrupted", timeout_s=30)
    assert "process training this run stopped" in lost["error"]
    assert "was killed or ran out of memory" in lost["error"], lost["error"]
    step = last_step(http, survivor["id"])
    wait_for(lambda: last_step(http, survivor["id"]) > step + 50, 10, "the other run to go on")
    assert http.get(f"/api/runs/{survivor['id']}").json()["status"] == "running"

    assert info(live_server).restarts == restarts + 1
    wait_for(lambda: all_ready(live_server), 120, "the new actor to be ready")
    assert victim_pid not in live_server.worker_pids()
    newcomer = create(http, {**QUICK_SPEC, "activation": "sigmoid"})  # a third stack: the idlest
    wait_for_status(http, newcomer["id"], "running", "done")
    pids = {live_server.worker_pid(newcomer["id"])} - {None}
    assert pids <= set(live_server.worker_pids()) - {live_server.worker_pid(survivor["id"])}
    assert wait_for_status(http, newcomer["id"], "done", timeout_s=60)["status"] == "done"

    # resumed, the lost run goes on from its last checkpoint on a live actor
    assert http.post(f"/api/runs/{victim['id']}/resume", headers=owner(victim)).status_code == 200
    wait_for_status(http, victim["id"], "running")


def test_info_and_metrics_show_the_executor_its_nodes_and_workers(
    http: httpx.Client, live_server: LiveServer
) -> None:
    executor = http.get("/api/info").json()["executor"]
    assert executor["kind"] == "ray"
    assert {node["address"] for node in executor["nodes"]} == {"127.0.0.1"}
    assert len(executor["workers"]) == 2 and executor["restarts"] >= 1
    assert {w["node"] for w in executor["workers"]} <= {n["id"] for n in executor["nodes"]}
    assert {w["device"] for w in executor["workers"]} == {"cpu"}
    metrics = http.get("/metrics").text
    assert '\nlayerlab_executor_info{kind="ray"} 1\n' in metrics
    assert "\nlayerlab_nodes 2\n" in metrics
    for worker in executor["workers"]:
        labels = f'worker="{worker["index"]}",node="{worker["node"]}",device="cpu"'
        assert f"\nlayerlab_worker_runs{{{labels}}} " in metrics


def test_a_lost_node_fails_only_its_runs_and_the_other_node_takes_new_ones(
    http: httpx.Client, live_server: LiveServer, cluster: tuple[Any, Any]
) -> None:
    """Last in this module: the cluster keeps one node from here on."""
    ray_cluster, second = cluster
    wait_for(lambda: all_ready(live_server), 120, "both actors to be ready")
    wait_for(live_server.workers_idle, 10, "earlier tests' runs to end")
    runs = [create(http, LONG_SPEC), create(http, {**LONG_SPEC, "activation": "tanh"})]
    for run in runs:
        wait_for_status(http, run["id"], "running")
    second_id = second.node_id[:12]
    doomed = [run for run in runs if node_of(live_server, run["id"]) == second_id]
    (kept,) = [run for run in runs if run not in doomed]
    assert len(doomed) == 1

    ray_cluster.remove_node(second)
    lost = wait_for_status(http, doomed[0]["id"], "interrupted", timeout_s=60)
    assert f"the cluster lost its node, {second_id}" in lost["error"], lost["error"]
    assert http.get(f"/api/runs/{kept['id']}").json()["status"] == "running"

    wait_for(lambda: all_ready(live_server), 120, "a new actor on the remaining node")
    assert {w.node for w in info(live_server).workers} == {node_of(live_server, kept["id"])}
    alive = [node for node in info(live_server).nodes if node.alive]
    assert [node.id for node in alive] != [second_id] and len(alive) == 1
    newcomer = create(http, {**QUICK_SPEC, "activation": "sigmoid"}, wait=True)
    assert newcomer["status"] == "done"
