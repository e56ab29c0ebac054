"""REST of runs, in-process against real workers: create, read, control, predict, export."""

import io
from typing import Any

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from layerlab.core.grids import decode_grid, grid_points
from service import DIVERGING_SPEC, LONG_SPEC, QUICK_SPEC, create, owner, wait_for, wait_for_status


@pytest.fixture(scope="module")
def finished_run(client: TestClient) -> dict[str, Any]:
    """A quick moons run trained to the end (?wait=true)."""
    return create(client, QUICK_SPEC, wait="true")


def test_wait_returns_the_finished_run_with_final_metrics(finished_run: dict[str, Any]) -> None:
    assert finished_run["status"] == "done"
    assert finished_run["token"]
    metrics = finished_run["final_metrics"]
    assert metrics["test_acc"] >= 0.85
    assert np.array(metrics["confusion_matrix"]).sum() == 40  # 20% of 200 points
    assert finished_run["has_weights"] is True
    info = finished_run["model_info"]
    assert info["task"] == "binary"
    assert info["summary"]["total_parameters"] == 2 * 8 + 8 + 8 * 8 + 8 + 8 + 1


def test_create_answers_at_once_with_links_and_a_location(client: TestClient) -> None:
    response = client.post("/api/runs", json=QUICK_SPEC)
    assert response.status_code == 201
    run = response.json()
    assert response.headers["location"] == f"/api/runs/{run['id']}"
    assert run["status"] in ("queued", "running", "done")
    assert run["links"]["stream"] == f"/ws/runs/{run['id']}"
    assert run["spec"]["dataset"]["samples"] == 200
    assert "token" not in client.get(f"/api/runs/{run['id']}").json()
    wait_for_status(client, run["id"], "done")


def test_defaults_fill_an_empty_spec(client: TestClient) -> None:
    run = create(client, {"epochs": 1, "grid_resolution": 8})
    assert run["spec"]["hidden_widths"] == [8, 8]
    assert run["spec"]["dataset"]["name"] == "moons"
    wait_for_status(client, run["id"], "done")


def test_list_shows_newest_first_and_filters_by_status(
    client: TestClient, finished_run: dict[str, Any]
) -> None:
    listing = client.get("/api/runs", params={"status": "done", "limit": 200}).json()
    assert listing["total"] >= 1
    assert all(run["status"] == "done" for run in listing["runs"])
    assert finished_run["id"] in [run["id"] for run in listing["runs"]]
    created = [run["created_at"] for run in listing["runs"]]
    assert created == sorted(created, reverse=True)
    assert client.get("/api/runs", params={"limit": 0}).status_code == 422
    unknown = client.get("/api/runs", params={"status": "finished"})
    assert unknown.status_code == 422
    assert unknown.json()["error"].startswith("query.status: Input should be 'queued'")


def test_a_spec_sent_without_a_json_header_is_told_to_send_one(client: TestClient) -> None:
    response = client.post("/api/runs", content=b'{"epochs": 5}')
    assert response.status_code == 422
    assert response.json()["error"].startswith(
        "body: send JSON with the header Content-Type: application/json; "
    )


def test_metrics_history_runs_from_step_zero_to_the_end(
    client: TestClient, finished_run: dict[str, Any]
) -> None:
    page = client.get(f"/api/runs/{finished_run['id']}/metrics").json()
    steps = [point["step"] for point in page["points"]]
    assert steps[0] == 0
    assert steps[-1] == finished_run["model_info"]["total_steps"]
    assert steps == sorted(steps)
    assert page["points"][-1]["test_acc"] == pytest.approx(
        finished_run["final_metrics"]["test_acc"]
    )
    later = client.get(f"/api/runs/{finished_run['id']}/metrics", params={"since_step": steps[-2]})
    assert [p["step"] for p in later.json()["points"]] == [steps[-1]]


def test_predict_agrees_with_the_grid(client: TestClient, finished_run: dict[str, Any]) -> None:
    grid = client.get(f"/api/runs/{finished_run['id']}/grid").json()
    values, _ = decode_grid(grid)
    assert values.shape == (16, 16)
    centres = grid_points(tuple(grid["extent"]), 16)
    response = client.post(
        f"/api/runs/{finished_run['id']}/predict", json={"points": centres.tolist()}
    )
    assert response.status_code == 200
    body = response.json()
    probabilities = np.array(body["probabilities"]).reshape(16, 16)
    np.testing.assert_allclose(probabilities, values, atol=1 / 255 + 1e-4)
    assert body["classes"] == (probabilities.ravel() > 0.5).astype(int).tolist()
    assert body["task"] == "binary"


def test_predict_refuses_points_of_the_wrong_width(
    client: TestClient, finished_run: dict[str, Any]
) -> None:
    response = client.post(
        f"/api/runs/{finished_run['id']}/predict", json={"points": [[0, 0], [1, 2, 3]]}
    )
    assert response.status_code == 422
    assert response.json()["error"] == "points[1]: expected 2 numbers (x1, x2); got 3"


def test_model_gives_summary_weights_and_tensor_statistics(
    client: TestClient, finished_run: dict[str, Any]
) -> None:
    model = client.get(f"/api/runs/{finished_run['id']}/model").json()
    assert [layer["type"] for layer in model["summary"]["layers"]] == [
        "Linear", "ReLU", "Linear", "ReLU", "Linear",
    ]  # fmt: skip
    assert np.array(model["weights"][0]["weight"]).shape == (8, 2)
    names = [tensor["name"] for tensor in model["tensors"]]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    assert model["tensors"][0]["shape"] == [8, 2]
    assert model["tensors"][0]["dtype"] == "float32"


def test_export_state_dict_and_torchscript_load_back(
    client: TestClient, finished_run: dict[str, Any]
) -> None:
    base = f"/api/runs/{finished_run['id']}/export"
    state_response = client.get(base)
    assert state_response.status_code == 200
    assert "attachment" in state_response.headers["content-disposition"]
    state = torch.load(io.BytesIO(state_response.content), weights_only=True)
    assert state["0.weight"].shape == (8, 2)
    scripted = torch.jit.load(
        io.BytesIO(client.get(base, params={"format": "torchscript"}).content)
    )
    points = torch.tensor([[0.0, 0.5], [1.0, -0.5]])
    prediction = client.post(
        f"/api/runs/{finished_run['id']}/predict", json={"points": points.tolist()}
    ).json()
    np.testing.assert_allclose(
        torch.sigmoid(scripted(points)).squeeze(1).detach().numpy(),
        prediction["probabilities"],
        rtol=1e-5,
    )
    assert client.get(base, params={"format": "pickle"}).status_code == 422


def test_export_onnx_when_the_packages_are_present(
    client: TestClient, finished_run: dict[str, Any]
) -> None:
    onnx = pytest.importorskip("onnx")
    response = client.get(f"/api/runs/{finished_run['id']}/export", params={"format": "onnx"})
    assert response.status_code == 200
    graph = onnx.load_model_from_string(response.content)
    assert [i.name for i in graph.graph.input] == ["x"]


def test_pause_resume_and_cancel_take_effect(client: TestClient) -> None:
    run = create(client, LONG_SPEC)
    wait_for_status(client, run["id"], "running")
    paused = client.post(f"/api/runs/{run['id']}/pause", headers=owner(run))
    assert paused.status_code == 200
    assert paused.json()["status"] == "paused"
    step = lambda: client.get(f"/api/runs/{run['id']}/metrics").json()["points"][-1]["step"]  # noqa: E731
    frozen = step()
    assert client.post(f"/api/runs/{run['id']}/step", headers=owner(run)).status_code == 200
    wait_for(lambda: step() == frozen + 1, what="one single step")
    resumed = client.post(f"/api/runs/{run['id']}/resume", headers=owner(run))
    assert resumed.json()["status"] == "running"
    wait_for(lambda: step() > frozen + 50, what="training to go on after resume")
    cancelled = client.post(f"/api/runs/{run['id']}/cancel", headers=owner(run))
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["has_weights"] is True  # a cancelled run keeps what it learned
    again = client.post(f"/api/runs/{run['id']}/pause", headers=owner(run))
    assert again.status_code == 409
    assert "ended (cancelled)" in again.json()["error"]


def test_a_run_can_start_paused_and_be_stepped(client: TestClient) -> None:
    run = create(client, QUICK_SPEC, paused="true")
    wait_for_status(client, run["id"], "paused")
    points = client.get(f"/api/runs/{run['id']}/metrics").json()["points"]
    assert [p["step"] for p in points] == [0]
    client.post(f"/api/runs/{run['id']}/step", headers=owner(run))
    wait_for(
        lambda: client.get(f"/api/runs/{run['id']}/metrics").json()["points"][-1]["step"] == 1,
        what="step 1",
    )
    stepping_while_running = create(client, LONG_SPEC)
    wait_for_status(client, stepping_while_running["id"], "running")
    refused = client.post(
        f"/api/runs/{stepping_while_running['id']}/step", headers=owner(stepping_while_running)
    )
    assert refused.status_code == 409
    assert refused.json()["error"] == "the run is running: pause it before stepping"
    for created in (run, stepping_while_running):
        client.delete(f"/api/runs/{created['id']}", headers=owner(created))


def test_rates_change_while_training(client: TestClient) -> None:
    run = create(client, LONG_SPEC)
    response = client.patch(
        f"/api/runs/{run['id']}", json={"learning_rate": 0.5}, headers=owner(run)
    )
    assert response.status_code == 200
    assert response.json()["rates"] == {"learning_rate": 0.5}
    bad = client.patch(f"/api/runs/{run['id']}", json={"learning_rate": 11}, headers=owner(run))
    assert bad.status_code == 422
    assert bad.json()["error"].startswith("learning_rate: Input should be less than or equal to 10")
    empty = client.patch(f"/api/runs/{run['id']}", json={}, headers=owner(run))
    assert empty.status_code == 422
    client.post(f"/api/runs/{run['id']}/cancel", headers=owner(run))


def test_delete_removes_the_run(client: TestClient) -> None:
    run = create(client, LONG_SPEC)
    assert client.delete(f"/api/runs/{run['id']}", headers=owner(run)).status_code == 204
    wait_for(lambda: client.get(f"/api/runs/{run['id']}").status_code == 404, what="deletion")
    assert client.get(f"/api/runs/{run['id']}/metrics").status_code == 404


def test_a_diverging_run_ends_diverged_with_advice(client: TestClient) -> None:
    run = create(client, DIVERGING_SPEC, wait="true")
    assert run["status"] == "diverged"
    assert "learning rate 10 is too high" in run["error"]
    refused = client.post(f"/api/runs/{run['id']}/predict", json={"points": [[0, 0]]})
    assert refused.status_code == 409
    assert "blew up" in refused.json()["error"]


def test_regression_reports_rmse_and_learned_weights(client: TestClient) -> None:
    spec = {
        "dataset": {"name": "plane", "samples": 300, "noise": 0.1},
        "hidden_widths": [],
        "optimizer": "adam",
        "learning_rate": 0.1,
        "epochs": 60,
        "grid_resolution": 8,
    }
    run = create(client, spec, wait="true")
    assert run["status"] == "done"
    assert run["model_info"]["truth"]["formula"] == "y = 2·x₁ − 3·x₂ + 5 + noise"
    learned = {row["parameter"]: row for row in run["final_metrics"]["learned"]}
    assert learned["bias"]["true"] == 5.0
    assert learned["w(x₁)"]["learned"] == pytest.approx(2.0, abs=0.2)
    assert "test_rmse" in run["final_metrics"]
    values = client.post(f"/api/runs/{run['id']}/predict", json={"points": [[1, 1]]}).json()
    assert values["values"][0] == pytest.approx(2 - 3 + 5, abs=1.0)


def test_multiclass_predicts_class_probabilities(client: TestClient) -> None:
    spec = {**QUICK_SPEC, "dataset": {"name": "blobs", "samples": 200, "classes": 4}}
    run = create(client, spec, wait="true")
    body = client.post(f"/api/runs/{run['id']}/predict", json={"points": [[0, 0]]}).json()
    assert len(body["probabilities"][0]) == 4
    assert sum(body["probabilities"][0]) == pytest.approx(1.0, abs=1e-5)
    assert body["class_names"] == ["0", "1", "2", "3"]
    grid = client.get(f"/api/runs/{run['id']}/grid").json()
    _, classes = decode_grid(grid)
    assert classes is not None and set(np.unique(classes)) <= {0, 1, 2, 3}


def test_runs_on_data_without_a_plane_have_no_grid(client: TestClient) -> None:
    run = create(
        client, {"dataset": {"name": "features4", "samples": 100}, "epochs": 5}, wait="true"
    )
    response = client.get(f"/api/runs/{run['id']}/grid")
    assert response.status_code == 404
    assert "no 2-D plane" in response.json()["error"]


def test_neurons_map_each_hidden_neuron_over_the_plane(
    client: TestClient, finished_run: dict[str, Any]
) -> None:
    response = client.get(f"/api/runs/{finished_run['id']}/neurons", params={"resolution": 12})
    assert response.status_code == 200
    body = response.json()
    assert [layer["layer"] for layer in body["layers"]] == [1, 2]
    assert [len(layer["neurons"]) for layer in body["layers"]] == [8, 8]
    values, _ = decode_grid(body["layers"][0]["neurons"][0])
    assert values.shape == (12, 12)
    assert values.min() >= 0.0  # after ReLU
    # the first neuron by hand: ReLU(w·x + b) at the grid's corner (x0, y0)
    weights = client.get(f"/api/runs/{finished_run['id']}/model").json()["weights"][0]
    x0, _, y0, _ = body["extent"]
    corner = weights["weight"][0][0] * x0 + weights["weight"][0][1] * y0 + weights["bias"][0]
    step_size = (float(values.max()) - float(values.min())) / 255 + 1e-6
    assert float(values[0, 0]) == pytest.approx(max(corner, 0.0), abs=step_size)
    assert client.get(f"/api/runs/{finished_run['id']}/neurons?resolution=2").status_code == 422


def test_code_gives_the_script_for_a_spec(client: TestClient) -> None:
    response = client.post("/api/code", json={**QUICK_SPEC, "hidden_widths": [5, 3]})
    assert response.status_code == 200
    script = response.json()["script"]
    assert "import torch" in script
    assert "nn.Linear(5, 3)" in script
    compile(script, "generated.py", "exec")
    refused = client.post("/api/code", json={"hidden_widths": [0]})
    assert refused.status_code == 422
