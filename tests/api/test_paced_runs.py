"""A pace a learner can follow: epochs per second set at creation and changed live, the same
numbers at any pace, and runs that train until paused, which the server's epoch limit ends."""

import io
import time
from typing import Any

import httpx
import pytest
import torch

from service import QUICK_SPEC, TEST_SETTINGS, create, owner, wait_for, wait_for_status

pytestmark = pytest.mark.usefixtures("cancel_leftovers")

MAX_EPOCHS = 300  # the server's limit here: what ends a run that trains until paused


@pytest.fixture(scope="module")
def app_settings() -> dict[str, Any]:
    return {**TEST_SETTINGS, "max_epochs": MAX_EPOCHS}


def weights_of(http: httpx.Client, run_id: str) -> dict[str, torch.Tensor]:
    exported = http.get(f"/api/runs/{run_id}/export")
    assert exported.status_code == 200, exported.text
    return torch.load(io.BytesIO(exported.content), weights_only=True)  # type: ignore[no-any-return]


def latest_epoch(http: httpx.Client, run_id: str) -> float:
    points = http.get(f"/api/runs/{run_id}/metrics").json()["points"]
    return float(points[-1]["epoch"]) if points else 0.0


def epochs_per_second(http: httpx.Client, run_id: str, over_s: float) -> float:
    """Epochs the run's frames advance over `over_s` seconds of the wall clock."""
    started, first = time.monotonic(), latest_epoch(http, run_id)
    time.sleep(over_s)  # a rate is measured over time: the one sleep of these tests
    return (latest_epoch(http, run_id) - first) / (time.monotonic() - started)


def set_pace(http: httpx.Client, run: dict[str, Any], epochs_per_s: float | None) -> dict[str, Any]:
    response = http.patch(
        f"/api/runs/{run['id']}", json={"epochs_per_s": epochs_per_s}, headers=owner(run)
    )
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


def test_a_paced_run_ends_with_the_numbers_of_the_same_run_unpaced(http: httpx.Client) -> None:
    """Bit for bit, with its pace changed twice on the way and lifted at the end."""
    paced = create(http, {**QUICK_SPEC, "epochs_per_s": 20})
    wait_for(lambda: latest_epoch(http, paced["id"]) >= 3, 30, "a few paced epochs")
    set_pace(http, paced, 100)
    wait_for(lambda: latest_epoch(http, paced["id"]) >= 15, 30, "a few faster epochs")
    set_pace(http, paced, None)
    wait_for_status(http, paced["id"], "done")
    unpaced = create(http, QUICK_SPEC, wait=True)
    a, b = (http.get(f"/api/runs/{run['id']}").json() for run in (paced, unpaced))
    assert a["final_metrics"] == b["final_metrics"] and b["status"] == "done"
    weights = weights_of(http, unpaced["id"])
    for name, tensor in weights_of(http, paced["id"]).items():
        assert torch.equal(weights[name], tensor), name


def test_the_epoch_counter_follows_the_pace_and_its_changes(http: httpx.Client) -> None:
    run = create(http, {**QUICK_SPEC, "epochs": MAX_EPOCHS, "epochs_per_s": 5})
    assert run["spec"]["epochs_per_s"] == 5
    wait_for(lambda: latest_epoch(http, run["id"]) >= 1, 30, "its first epoch")
    assert 4 <= epochs_per_second(http, run["id"], 2.0) <= 6
    view = set_pace(http, run, 20)
    assert view["spec"]["epochs_per_s"] == 20 and view["rates"] == {"epochs_per_s": 20}
    assert 16 <= epochs_per_second(http, run["id"], 1.5) <= 24
    view = set_pace(http, run, None)
    assert view["spec"]["epochs_per_s"] is None and view["rates"] == {"epochs_per_s": None}
    wait_for_status(http, run["id"], "done", timeout_s=60)  # as fast as it goes: soon
    assert http.get(f"/api/runs/{run['id']}").json()["spec"]["epochs_per_s"] is None


def test_a_run_until_paused_trains_past_its_epochs_to_the_servers_limit(
    http: httpx.Client,
) -> None:
    run = create(http, {**QUICK_SPEC, "epochs": 2, "until_paused": True})
    assert run["spec"]["epochs"] == 2 and run["spec"]["until_paused"] is True  # as it was sent
    done = wait_for_status(http, run["id"], "done", timeout_s=60)
    info = done["model_info"]
    assert info["total_steps"] == MAX_EPOCHS * info["steps_per_epoch"]
    assert done["final_metrics"]["epoch"] == MAX_EPOCHS


def test_a_run_until_paused_stays_paused_and_goes_on(http: httpx.Client) -> None:
    run = create(http, {**QUICK_SPEC, "epochs": 1, "until_paused": True, "epochs_per_s": 10})
    wait_for(lambda: latest_epoch(http, run["id"]) > 2, 30, "epochs past its one")
    assert http.post(f"/api/runs/{run['id']}/pause", headers=owner(run)).status_code == 200
    wait_for_status(http, run["id"], "paused")
    assert http.post(f"/api/runs/{run['id']}/resume", headers=owner(run)).status_code == 200
    wait_for_status(http, run["id"], "running")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"epochs_per_s": 0.05}, "epochs_per_s: Input should be greater than or equal to 0.1"),
        ({"epochs_per_s": 1001}, "epochs_per_s: Input should be less than or equal to 1000"),
        ({"epochs_per_s": "fast"}, "epochs_per_s: Input should be a valid number"),
        ({"until_paused": "sometimes"}, "until_paused: Input should be a valid boolean"),
    ],
)
def test_a_pace_out_of_range_is_refused_naming_the_field(
    http: httpx.Client, change: dict[str, Any], message: str
) -> None:
    created = http.post("/api/runs", json={**QUICK_SPEC, **change})
    assert created.status_code == 422 and message in created.json()["error"]
    if "epochs_per_s" in change:
        run = create(http, {**QUICK_SPEC, "epochs": MAX_EPOCHS})
        changed = http.patch(f"/api/runs/{run['id']}", json=change, headers=owner(run))
        assert changed.status_code == 422 and message in changed.json()["error"]


def test_a_pace_of_nan_is_refused(http: httpx.Client) -> None:
    run = create(http, {**QUICK_SPEC, "epochs": MAX_EPOCHS})
    for where, url in (("create", "/api/runs"), ("change", f"/api/runs/{run['id']}")):
        send = http.post if where == "create" else http.patch
        response = send(
            url,
            content='{"epochs_per_s": NaN}',
            headers={**owner(run), "Content-Type": "application/json"},
        )
        assert response.status_code == 422, (where, response.text)
        assert "epochs_per_s" in response.json()["error"]
