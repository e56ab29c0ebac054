"""A server's limits, given to create_app as Settings (no LAYERLAB_ variables), are the ones its
routes hold specs, previews and uploads to."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from layerlab.api.app import create_app
from layerlab.config import Settings
from layerlab.core.activations import ACTIVATIONS
from service import QUICK_SPEC, create

# Tighter than the defaults in epochs and samples, looser in width.
SETTINGS = Settings(database=":memory:", workers=1, max_epochs=5, max_samples=300, max_width=256)


@pytest.fixture(scope="module")
def server() -> Iterator[TestClient]:
    with TestClient(create_app(SETTINGS)) as client:
        yield client


def test_a_spec_past_the_servers_epochs_is_refused_with_the_usual_message(
    server: TestClient,
) -> None:
    for route in ("/api/runs", "/api/code"):
        response = server.post(route, json={**QUICK_SPEC, "epochs": 6})
        assert response.status_code == 422, route
        assert response.json()["error"] == (
            "epochs: at most 5 epochs (the limit LAYERLAB_MAX_EPOCHS sets); got 6"
        )


def test_a_spec_within_them_trains(server: TestClient) -> None:
    run = create(server, {**QUICK_SPEC, "epochs": 5}, wait="true")
    assert run["status"] == "done"
    assert run["spec"]["epochs"] == 5


def test_the_specs_defaults_are_held_to_them_too(server: TestClient) -> None:
    response = server.post("/api/runs", json={})
    assert response.status_code == 422
    assert response.json()["error"] == (
        "dataset.samples: at most 300 samples (the limit LAYERLAB_MAX_SAMPLES sets); got 1000; "
        "epochs: at most 5 epochs (the limit LAYERLAB_MAX_EPOCHS sets); got 100"
    )


def test_a_limit_looser_than_the_default_takes_what_the_default_refuses(
    server: TestClient,
) -> None:
    response = server.post("/api/code", json={**QUICK_SPEC, "epochs": 5, "hidden_widths": [200]})
    assert response.status_code == 200, response.text
    assert "nn.Linear(2, 200)" in response.json()["script"]


def test_previews_and_uploads_are_held_to_the_sample_limit(server: TestClient) -> None:
    preview = server.get("/api/datasets/moons", params={"samples": 301})
    assert preview.status_code == 422
    assert preview.json()["error"] == (
        "samples: at most 300 samples (the limit LAYERLAB_MAX_SAMPLES sets); got 301"
    )
    assert server.get("/api/datasets/moons", params={"samples": 300}).status_code == 200
    table = "a,b,y\n" + "1,2,0\n1,2,1\n" * 151
    upload = server.post("/api/datasets", content=table, headers={"Content-Type": "text/csv"})
    assert upload.status_code == 422
    assert upload.json()["error"] == "body: 302 data rows; at most 300 (LAYERLAB_MAX_SAMPLES)"


def test_info_gives_the_limits_and_how_the_page_writes_each_activation(
    server: TestClient,
) -> None:
    info = server.get("/api/info").json()
    assert info["limits"]["max_epochs"] == 5
    choices = info["choices"]
    assert choices["activations"] == list(ACTIVATIONS)
    assert list(choices["activation_symbols"]) == list(ACTIVATIONS)
    assert choices["activation_symbols"]["sigmoid"] == "σ"
    assert choices["activation_symbols"]["linear"] == ""  # the formula is the bare sum
