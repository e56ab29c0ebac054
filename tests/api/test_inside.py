"""Seeing inside a run: a forward pass with every number, the test points' ROC curve, and weights
a learner sets by hand on a paused run (held by its worker, or parked), each checked against
/predict and a hand computation."""

from typing import Any

import httpx
import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from service import (
    DIVERGING_SPEC,
    QUICK_SPEC,
    TEST_SETTINGS,
    LiveServer,
    create,
    owner,
    wait_for,
    wait_for_status,
)

pytestmark = pytest.mark.usefixtures("cancel_leftovers")

POINT = [0.4, -0.3]
# Long enough to be caught running; few steps an epoch, so that a pause comes soon.
SLOW_SPEC = {**QUICK_SPEC, "epochs": 1000, "hidden_widths": [6, 4]}


@pytest.fixture(scope="module")
def app_settings() -> dict[str, Any]:
    return {**TEST_SETTINGS, "park_paused_after_s": 3600}  # this module parks runs itself


def upload_table(http: httpx.Client) -> str:
    """A CSV of three feature columns and a label: data with no 2-D plane."""
    rng = np.random.default_rng(3)
    rows = ["a,b,c,label"]
    for a, b, c in rng.normal(size=(80, 3)):
        rows.append(f"{a:.4f},{b:.4f},{c:.4f},{'yes' if a + 0.5 * b - c > 0 else 'no'}")
    response = http.post(
        "/api/datasets",
        content="\n".join(rows) + "\n",
        params={"name": "three.csv"},
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 201, response.text
    dataset_id: str = response.json()["id"]
    return dataset_id


def forward(http: httpx.Client, run_id: str, **body: Any) -> httpx.Response:
    return http.post(f"/api/runs/{run_id}/forward", json=body)


def predicted(http: httpx.Client, run_id: str, points: list[list[float]]) -> dict[str, Any]:
    response = http.post(f"/api/runs/{run_id}/predict", json={"points": points})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def by_hand(weights: list[dict[str, Any]], inputs: list[float], activation: str) -> list[float]:
    """The network's output written out: f(W·h + b) for each hidden layer, then W·h + b."""
    f = {"relu": torch.relu, "tanh": torch.tanh}[activation]
    h = torch.tensor(inputs, dtype=torch.float64)
    for number, layer in enumerate(weights, start=1):
        h = torch.tensor(layer["weight"], dtype=torch.float64) @ h + torch.tensor(layer["bias"])
        h = f(h) if number < len(weights) else h
    return h.tolist()


# --- the forward pass ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "body"),
    [
        ({"features": ["x1", "x2", "x1_sq", "sin_x2"]}, {"point": POINT}),
        ({"dataset": {"name": "blobs", "samples": 150}, "activation": "tanh"}, {"point": POINT}),
        ({"dataset": {"name": "plane", "samples": 100}, "hidden_widths": []}, {"point": POINT}),
        ({"dataset": {"name": "features4", "samples": 200}}, {"features": [0.3, -1, 0.5, 2]}),
        ({"dataset": {"name": "csv"}}, {"features": [0.2, -0.4, 1.1]}),
    ],
    ids=["binary", "multiclass", "regression", "features4", "csv"],
)
def test_the_forward_pass_equals_predict(
    http: httpx.Client, spec: dict[str, Any], body: dict[str, Any]
) -> None:
    if spec.get("dataset", {}).get("name") == "csv":
        spec = {**spec, "dataset": {"name": "csv", "source": upload_table(http)}}
    run = create(http, {**QUICK_SPEC, "epochs": 20, **spec}, wait=True)
    response = forward(http, run["id"], **body)
    assert response.status_code == 200, response.text
    walked = response.json()
    raw = body.get("point", body.get("features"))
    expected = predicted(http, run["id"], [raw])
    info = http.get(f"/api/runs/{run['id']}").json()["model_info"]

    assert walked["run_id"] == run["id"] and walked["step"] == expected["step"]
    assert walked["task"] == expected["task"] == info["task"]
    assert walked["point"] == (raw if info["extent"] else None)
    assert len(walked["input"]["names"]) == len(walked["input"]["values"]) == info["n_inputs"]
    widths = [*run["spec"]["hidden_widths"], info["n_outputs"]]
    assert [len(layer["pre_activation"]) for layer in walked["layers"]] == widths
    for before, layer in zip(walked["layers"], walked["layers"][1:], strict=False):
        assert layer["input"] == before["output"]  # each layer takes what the last one made
    if walked["task"] == "regression":
        assert walked["value"] == pytest.approx(expected["values"][0], abs=1e-6)
        assert walked["layers"][-1]["output"] == [walked["value"]]
    else:
        probabilities = expected["probabilities"][0]
        probabilities = [probabilities] if walked["task"] == "binary" else probabilities
        assert walked["probabilities"] == pytest.approx(probabilities, abs=1e-6)
        assert walked["predicted_class"] == expected["classes"][0]
        assert walked["class_names"] == info["class_names"]


def test_forward_refuses_what_is_no_point_of_the_run(http: httpx.Client) -> None:
    plane = create(http, QUICK_SPEC, wait=True)["id"]
    table = create(http, {**QUICK_SPEC, "dataset": {"name": "features4"}}, wait=True)["id"]
    refusals = [
        (forward(http, plane, point=[1, 2, 3]), "point: expected 2 numbers (x1, x2); got 3"),
        (forward(http, plane, features=[1]), "features: expected 2 numbers (x1, x2); got 1"),
        (forward(http, table, point=[1, 2]), "point: run '" + table + "' has no 2-D plane"),
        (forward(http, plane, point=[1, 2], features=[1, 2]), "point, features: give exactly"),
        (forward(http, plane), "point, features: give exactly one of them; got neither"),
        (forward(http, plane, point=[1e39, 1]), "point: [1e+39, 1.0] is too far out"),
    ]
    for text in ('{"point": [NaN, 1]}', '{"point": [1, Infinity]}', '{"features": [-Infinity]}'):
        sent = http.post(
            f"/api/runs/{plane}/forward",
            content=text,
            headers={"Content-Type": "application/json"},
        )
        refusals.append((sent, "should be a finite number"))
    for response, message in refusals:
        assert response.status_code == 422, response.text
        assert message in response.json()["error"]
    diverged = create(http, DIVERGING_SPEC, wait=True)["id"]
    assert forward(http, diverged, point=POINT).status_code == 409
    assert forward(http, "no-such-run", point=POINT).status_code == 404


# --- the ROC curve ------------------------------------------------------------------------------


def test_roc_is_the_test_points_scores_as_predict_gives_them(http: httpx.Client) -> None:
    spec = {**QUICK_SPEC, "epochs": 5, "dataset": {**QUICK_SPEC["dataset"], "noise": 0.4}}
    run = create(http, spec, wait=True)
    response = http.get(f"/api/runs/{run['id']}/roc")
    assert response.status_code == 200, response.text
    roc = response.json()
    data = spec["dataset"]
    preview = http.get(f"/api/datasets/{data['name']}", params=data).json()["test"]
    assert roc["labels"] == [int(label) for label in preview["y"]]  # the run's own test split
    assert roc["points"] == preview["x"]
    assert roc["scores"] == predicted(http, run["id"], roc["points"])["probabilities"]
    assert roc["auc"] == pytest.approx(roc_auc_score(roc["labels"], roc["scores"]), abs=1e-12)
    assert 0.5 < roc["auc"] < 1.0  # noisy moons, 5 epochs: better than chance, not perfect
    curve = roc["roc"]
    assert curve["thresholds"][0] == 1.0 and all(0 <= t <= 1 for t in curve["thresholds"])
    assert curve["fpr"][0] == curve["tpr"][0] == 0.0 and curve["fpr"][-1] == curve["tpr"][-1] == 1
    assert curve["fpr"] == sorted(curve["fpr"]) and curve["tpr"] == sorted(curve["tpr"])


def test_roc_without_a_plane_and_for_tasks_that_have_none(http: httpx.Client) -> None:
    for data in ({"name": "features4"}, {"name": "csv", "source": upload_table(http)}):
        table = create(http, {**QUICK_SPEC, "dataset": data}, wait=True)
        roc = http.get(f"/api/runs/{table['id']}/roc").json()
        assert roc["points"] is None
        assert len(roc["labels"]) == len(roc["scores"]) == table["model_info"]["test_points"]
    blobs = create(http, {**QUICK_SPEC, "dataset": {"name": "blobs"}}, wait=True)
    refused = http.get(f"/api/runs/{blobs['id']}/roc")
    assert refused.status_code == 409
    assert "is a multiclass task" in refused.json()["error"]


# --- weights set by hand ------------------------------------------------------------------------


def paused(http: httpx.Client, spec: dict[str, Any] = SLOW_SPEC) -> dict[str, Any]:
    run = create(http, spec)
    wait_for_status(http, run["id"], "running")
    assert http.post(f"/api/runs/{run['id']}/pause", headers=owner(run)).status_code == 200
    wait_for_status(http, run["id"], "paused")
    return run


def set_weight(http: httpx.Client, run: dict[str, Any], **body: Any) -> httpx.Response:
    return http.patch(f"/api/runs/{run['id']}/weights", json=body, headers=owner(run))


def a_weight_that_matters(http: httpx.Client, run_id: str) -> tuple[int, int]:
    """(row, column) of the first layer's weight that moves the output most at POINT."""
    walked = forward(http, run_id, point=POINT).json()
    first = walked["layers"][0]
    share = [  # |w·x| of each weight into a neuron that is on (relu passes it)
        [abs(w * x) if z > 0 else 0.0 for w, x in zip(ws, first["input"], strict=True)]
        for ws, z in zip(first["weight"], first["pre_activation"], strict=True)
    ]
    row = max(range(len(share)), key=lambda r: max(share[r]))
    return row, max(range(len(share[row])), key=lambda c: share[row][c])


def check_weight_set_to_zero(http: httpx.Client, run: dict[str, Any]) -> None:
    """A weight set to 0 changes /predict as the network written out by hand says, and every
    read sees it at once."""
    before = predicted(http, run["id"], [POINT])["probabilities"][0]
    weights = http.get(f"/api/runs/{run['id']}/model").json()["weights"]
    row, column = a_weight_that_matters(http, run["id"])
    response = set_weight(http, run, layer=1, row=row, column=column, value=0)
    assert response.status_code == 200, response.text
    step = http.get(f"/api/runs/{run['id']}/metrics").json()["points"][-1]["step"]
    assert response.json() == {
        "run_id": run["id"], "step": step, "layer": 1, "row": row, "column": column, "value": 0.0,
    }  # fmt: skip
    weights[0]["weight"][row][column] = 0.0
    (logit,) = by_hand(weights, POINT, "relu")
    after = predicted(http, run["id"], [POINT])["probabilities"][0]
    assert after == pytest.approx(1 / (1 + np.exp(-logit)), abs=1e-6) and after != before
    assert http.get(f"/api/runs/{run['id']}/model").json()["weights"][0]["weight"][row][column] == 0
    walked = forward(http, run["id"], point=POINT).json()
    assert walked["layers"][0]["weight"][row][column] == 0 and walked["probabilities"] == [after]
    assert http.get(f"/api/runs/{run['id']}/roc").status_code == 200


def check_training_goes_on_from_it(http: httpx.Client, run: dict[str, Any]) -> None:
    """The output's bias set far from where training had it: a single step moves it a little."""
    response = set_weight(http, run, layer=3, row=0, column=None, value=5)
    assert response.status_code == 200, response.text
    step = response.json()["step"]
    assert http.post(f"/api/runs/{run['id']}/step", headers=owner(run)).status_code == 200

    def stepped() -> list[dict[str, Any]] | None:
        model = http.get(f"/api/runs/{run['id']}/model").json()
        return model["weights"] if model["step"] == step + 1 else None

    bias = wait_for(stepped, 10, "the single step")[2]["bias"][0]
    assert bias != 5 and abs(bias - 5) < 0.1  # one Adam step of at most about lr 0.03


def test_a_weight_set_on_a_paused_run_is_read_at_once_and_trained_on(http: httpx.Client) -> None:
    run = paused(http)
    check_weight_set_to_zero(http, run)
    check_training_goes_on_from_it(http, run)
    assert http.post(f"/api/runs/{run['id']}/resume", headers=owner(run)).status_code == 200
    wait_for_status(http, run["id"], "running")


def test_a_weight_set_on_a_parked_run_is_read_at_once_and_trained_on(
    http: httpx.Client, live_server: LiveServer
) -> None:
    scheduler = live_server.scheduler
    run = paused(http)
    live_server.on_loop(lambda: scheduler._park(scheduler.live[run["id"]]))
    wait_for(lambda: scheduler.live[run["id"]].parked, 10, "the run to park")
    frames = len(http.get(f"/api/runs/{run['id']}/metrics").json()["points"])
    check_weight_set_to_zero(http, run)
    assert scheduler.live[run["id"]].parked, "set in its stored state, not taken back"
    points = http.get(f"/api/runs/{run['id']}/metrics").json()["points"]
    assert len(points) == frames + 1, "its viewers get the new picture's numbers"
    check_training_goes_on_from_it(http, run)  # the single step takes it back to a worker


def test_weights_are_set_on_paused_runs_only_with_indices_in_range(http: httpx.Client) -> None:
    run = paused(http)  # hidden [6, 4] on 2 inputs: layers (6, 2), (4, 6), (1, 4)
    refusals = {
        "layer: this network has 3 layers of weights, 1 to 3": {"layer": 4},
        "layer: Input should be greater than or equal to 1": {"layer": 0},
        "row: layer 2 has 4 neurons, rows 0 to 3; got 4": {"layer": 2, "row": 4},
        "column: layer 1 takes 2 inputs, columns 0 to 1 (or null for the bias); got 2": {
            "column": 2
        },
        "value: Input should be less than or equal to 1000000": {"value": 1.5e6},
        "value: Input should be greater than or equal to -1000000": {"value": -2e6},
        "column: Field required": {"column": ...},
    }
    for message, change in refusals.items():
        body = {"layer": 1, "row": 0, "column": 0, "value": 1.0, **change}
        body = {name: value for name, value in body.items() if value is not ...}
        response = set_weight(http, run, **body)
        assert response.status_code == 422, (change, response.text)
        assert message in response.json()["error"]
    for value in ("NaN", "Infinity", "-Infinity"):
        response = http.patch(
            f"/api/runs/{run['id']}/weights",
            content=f'{{"layer": 1, "row": 0, "column": 0, "value": {value}}}',
            headers={**owner(run), "Content-Type": "application/json"},
        )
        assert response.status_code == 422
        assert "value: Input should be a finite number" in response.json()["error"]
    body, url = {"layer": 1, "row": 0, "column": 0, "value": 1}, f"/api/runs/{run['id']}/weights"
    assert http.patch(url, json=body).status_code == 401
    assert http.patch(url, json=body, headers={"X-Run-Token": "not-it"}).status_code == 403

    http.post(f"/api/runs/{run['id']}/resume", headers=owner(run))
    wait_for_status(http, run["id"], "running")
    running = set_weight(http, run, layer=1, row=0, column=0, value=1)
    assert running.status_code == 409
    assert "is running: weights are set while paused" in running.json()["error"]
