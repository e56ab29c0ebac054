"""Runs that never break: reading a run while it trains neither fails it nor changes its numbers,
and paused runs give their worker places to newcomers, coming back exactly where they were."""

import concurrent.futures
import io
import threading
import time
from typing import Any

import httpx
import pytest
import torch

from service import QUICK_SPEC, TEST_SETTINGS, LiveServer, create, owner, wait_for, wait_for_status

pytestmark = pytest.mark.usefixtures("cancel_leftovers")

# Few batches per epoch (4), so that a stack gathers many epochs ahead of any read.
FEW_BATCHES = {**QUICK_SPEC, "dataset": {"samples": 200}, "batch_size": 40, "epochs": 400}
POINTS = [[0.0, 1.0], [1.0, -0.5], [-1.0, 0.2]]


@pytest.fixture(scope="module")
def app_settings() -> dict[str, Any]:
    # two places in all, so that three runs need a paused run's place: one local worker of two
    # places, or (pytest --executor ray) an actor of one place on each of two nodes
    places = 1 if TEST_SETTINGS.get("executor") == "ray" else 2
    return {**TEST_SETTINGS, "workers": 1, "runs_per_worker": places, "park_paused_after_s": 3600}


def every_read(http: httpx.Client, run_id: str) -> list[int]:
    """What the page asks while a run trains: the model, the neuron maps, predictions."""
    return [
        http.get(f"/api/runs/{run_id}/model").status_code,
        http.get(f"/api/runs/{run_id}/neurons", params={"resolution": 8}).status_code,
        http.post(f"/api/runs/{run_id}/predict", json={"points": POINTS}).status_code,
    ]


def weights_of(http: httpx.Client, run_id: str) -> dict[str, torch.Tensor]:
    exported = http.get(f"/api/runs/{run_id}/export")
    assert exported.status_code == 200, exported.text
    return torch.load(io.BytesIO(exported.content), weights_only=True)  # type: ignore[no-any-return]


def assert_same_run(http: httpx.Client, first: str, second: str) -> None:
    """Bit for bit: the same final metrics and the same weights."""
    a, b = (http.get(f"/api/runs/{run_id}").json() for run_id in (first, second))
    assert a["status"] == b["status"] == "done", (a, b)
    assert a["final_metrics"] == b["final_metrics"]
    weights_a, weights_b = weights_of(http, first), weights_of(http, second)
    for name, tensor in weights_b.items():
        assert torch.equal(weights_a[name], tensor), name


def test_reads_while_training_never_fail_a_run_nor_change_its_numbers(http: httpx.Client) -> None:
    read = create(http, FEW_BATCHES)
    bystander = create(http, {**FEW_BATCHES, "seed": 9})  # stacked with it
    wait_for_status(http, read["id"], "running")
    answers = []
    while http.get(f"/api/runs/{read['id']}").json()["status"] == "running":
        answers += every_read(http, read["id"])
        if len(answers) % 15 == 0:  # a read followed by pause and resume, as in the report
            for action in ("pause", "resume"):
                response = http.post(f"/api/runs/{read['id']}/{action}", headers=owner(read))
                if response.status_code == 409 and "has ended (done)" in response.text:
                    break  # it finished between the status read and the pause: nothing to pause
                assert response.status_code == 200, response.text
    assert len(answers) >= 6 and set(answers[:-3]) == {200}, answers
    wait_for_status(http, bystander["id"], "done")
    untouched = create(http, FEW_BATCHES, wait=True)  # alone, never read
    assert_same_run(http, read["id"], untouched["id"])


def test_paused_runs_give_their_places_to_a_newcomer_and_come_back_on_the_same_path(
    http: httpx.Client, live_server: LiveServer
) -> None:
    scheduler = live_server.scheduler
    wait_for(lambda: scheduler.executor.free_slots() == 2, 10, "earlier tests' runs to end")
    first, second = create(http, FEW_BATCHES), create(http, {**FEW_BATCHES, "seed": 5})
    for run in (first, second):
        wait_for_status(http, run["id"], "running")
        assert http.post(f"/api/runs/{run['id']}/pause", headers=owner(run)).status_code == 200
        wait_for_status(http, run["id"], "paused")
    assert scheduler.executor.free_slots() == 0

    newcomer = create(http, {**FEW_BATCHES, "activation": "tanh"})
    wait_for_status(http, newcomer["id"], "running", timeout_s=10)
    parked = [r for r in scheduler.live.values() if r.parked]
    assert [run.id for run in parked] == [first["id"]], "the longest paused leaves, alone"
    view = http.get(f"/api/runs/{first['id']}").json()
    assert view["status"] == "paused" and view["has_weights"] is True
    assert set(every_read(http, first["id"])) == {200}, "a parked run is read from its checkpoint"

    resumed = http.post(f"/api/runs/{first['id']}/resume", headers=owner(first))
    assert resumed.status_code == 200, resumed.text
    wait_for_status(http, first["id"], "running", timeout_s=10)  # the second paused run parks
    assert [r.id for r in scheduler.live.values() if r.parked] == [second["id"]]
    wait_for_status(http, first["id"], "done", timeout_s=60)
    http.post(f"/api/runs/{newcomer['id']}/cancel", headers=owner(newcomer))
    http.post(f"/api/runs/{second['id']}/cancel", headers=owner(second))
    untouched = create(http, FEW_BATCHES, wait=True)
    assert_same_run(http, first["id"], untouched["id"])


def test_a_parked_run_steps_and_takes_new_rates(
    http: httpx.Client, live_server: LiveServer
) -> None:
    scheduler = live_server.scheduler
    run = create(http, FEW_BATCHES)
    wait_for_status(http, run["id"], "running")
    http.post(f"/api/runs/{run['id']}/pause", headers=owner(run))
    wait_for_status(http, run["id"], "paused")
    live_server.on_loop(lambda: scheduler._park(scheduler.live[run["id"]]))
    wait_for(lambda: scheduler.live[run["id"]].parked, 10, "the run to park")
    before = http.get(f"/api/runs/{run['id']}/metrics").json()["points"][-1]["step"]

    rated = http.patch(f"/api/runs/{run['id']}", json={"learning_rate": 0.2}, headers=owner(run))
    assert rated.status_code == 200, rated.text
    stepped = http.post(f"/api/runs/{run['id']}/step", headers=owner(run))
    assert stepped.status_code == 200, stepped.text
    wait_for(
        lambda: http.get(f"/api/runs/{run['id']}/metrics").json()["points"][-1]["step"] > before,
        10,
        "the single step",
    )
    time.sleep(0.2)  # no further step: it stays paused
    assert http.get(f"/api/runs/{run['id']}").json()["status"] == "paused"
    points = http.get(f"/api/runs/{run['id']}/metrics").json()["points"]
    assert points[-1]["step"] == before + 1


def test_reads_that_come_together_share_one_answer_of_the_worker(
    http: httpx.Client, live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page asks for the model, the neuron maps and predictions at once: one worker call."""
    executor = live_server.scheduler.executor
    run = create(http, FEW_BATCHES)
    wait_for_status(http, run["id"], "running")
    calls: list[str] = []
    original = executor.call

    def slow(run_id: str) -> "concurrent.futures.Future[dict[str, Any]]":
        """The worker's answer, a second late: the other reads come while it is awaited."""
        calls.append(run_id)
        answer, late = original(run_id), concurrent.futures.Future[dict[str, Any]]()
        threading.Timer(1.0, lambda: late.set_result(answer.result())).start()
        return late

    monkeypatch.setattr(executor, "call", slow)
    reads = [
        lambda: http.get(f"/api/runs/{run['id']}/model"),
        lambda: http.get(f"/api/runs/{run['id']}/neurons", params={"resolution": 8}),
        lambda: http.post(f"/api/runs/{run['id']}/predict", json={"points": POINTS}),
    ]
    with concurrent.futures.ThreadPoolExecutor(len(reads)) as threads:
        answers = [future.result() for future in [threads.submit(read) for read in reads]]
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert len({answer.json()["step"] for answer in answers}) == 1, "the same weights"
    assert calls == [run["id"]], f"{len(calls)} worker calls for 3 reads"
