"""REST of datasets: the list, previews of points, CSV uploads and runs on them."""

import numpy as np
from fastapi.testclient import TestClient

from layerlab.core.datasets import DATASETS
from service import create

TABLE = "size,weight,kind\n" + "".join(
    f"{x:.3f},{y:.3f},{'big' if x + y > 1 else 'small'}\n"
    for x, y in np.random.default_rng(0).uniform(0, 1, (120, 2))
)


def test_the_list_names_every_built_in_dataset(client: TestClient) -> None:
    body = client.get("/api/datasets").json()
    assert [d["name"] for d in body["datasets"]] == list(DATASETS)
    moons = body["datasets"][0]
    assert moons["task"] == "binary" and moons["extent"] == [-1.5, 2.5, -1.0, 1.5]
    planeless = [d["name"] for d in body["datasets"] if d["extent"] is None]
    assert planeless == ["features4", "csv"]  # what the page asks before it draws a plane


def test_a_preview_splits_points_as_a_run_would(client: TestClient) -> None:
    body = client.get("/api/datasets/moons", params={"samples": 100, "seed": 3}).json()
    assert len(body["train"]["x"]) == 80 and len(body["test"]["x"]) == 20
    assert set(body["train"]["y"]) == {0.0, 1.0}
    again = client.get("/api/datasets/moons", params={"samples": 100, "seed": 3}).json()
    assert again == body  # same seed, same points


def test_a_preview_refuses_unknown_names_and_bad_values(client: TestClient) -> None:
    unknown = client.get("/api/datasets/donut")
    assert unknown.status_code == 404
    assert unknown.json()["error"].startswith("no dataset 'donut'; built in: moons, circles")
    noisy = client.get("/api/datasets/moons", params={"noise": 2})
    assert noisy.status_code == 422
    assert noisy.json()["error"] == (
        "query.noise: Input should be less than or equal to 1 (got '2')"
    )


def test_an_upload_is_checked_listed_previewed_and_trained_on(client: TestClient) -> None:
    response = client.post(
        "/api/datasets",
        content=TABLE,
        params={"name": "fruit.csv"},
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 201, response.text
    upload = response.json()
    assert upload["task"] == "binary"
    assert upload["rows"] == 120
    assert upload["input_names"] == ["size", "weight"]
    assert upload["label_column"] == "kind"
    assert upload["class_names"] == ["big", "small"]
    listed = client.get("/api/datasets").json()["uploads"]
    assert upload["id"] in [u["id"] for u in listed]
    preview = client.get(f"/api/datasets/{upload['id']}").json()
    assert len(preview["train"]["x"]) + len(preview["test"]["x"]) == 120
    spec = {
        "dataset": {"name": "csv", "source": upload["id"]},
        "hidden_widths": [8],
        "epochs": 40,
        "learning_rate": 0.05,
        "grid_resolution": 8,
    }
    run = create(client, spec, wait="true")
    assert run["status"] == "done"
    assert run["final_metrics"]["test_acc"] >= 0.8
    prediction = client.post(f"/api/runs/{run['id']}/predict", json={"points": [[0.9, 0.9]]})
    assert prediction.json()["class_names"] == ["big", "small"]
    assert prediction.json()["classes"] == [0]


def test_bad_csv_uploads_say_what_is_wrong(client: TestClient) -> None:
    def upload(body: bytes) -> tuple[int, str]:
        response = client.post("/api/datasets", content=body)
        return response.status_code, response.json()["error"]

    assert upload(b"") == (422, "body: empty; send the CSV file's text as the request body")
    status, error = upload(b"a,b,label\n1,2,x\n3,oops,y\n" + b"1,2,x\n" * 20)
    assert status == 422
    assert error.startswith("body: row 3, column 'b'")
    assert upload(b"\xff\xfe\x00bad") == (422, "body: the CSV must be UTF-8 text")


def test_a_csv_run_needs_a_known_upload(client: TestClient) -> None:
    response = client.post("/api/runs", json={"dataset": {"name": "csv", "source": "/etc/passwd"}})
    assert response.status_code == 422
    assert response.json()["error"].startswith(
        "dataset.source: no uploaded dataset with id '/etc/passwd'"
    )


def test_a_form_upload_is_taken_under_its_file_name(client: TestClient) -> None:
    """`curl -F file=@fruit.csv` and `httpx.post(files=...)`: the usual way to send a file."""
    response = client.post("/api/datasets", files={"file": ("fruit.csv", TABLE, "text/csv")})
    assert response.status_code == 201, response.text
    upload = response.json()
    assert upload["name"] == "fruit.csv" and upload["rows"] == 120
    assert upload["input_names"] == ["size", "weight"]
    renamed = client.post(
        "/api/datasets", params={"name": "shown.csv"}, files={"file": ("fruit.csv", TABLE)}
    )
    assert renamed.json()["name"] == "shown.csv"  # the query's name wins over the form's


def test_a_form_without_exactly_one_file_is_refused_with_a_sentence(client: TestClient) -> None:
    no_file = client.post("/api/datasets", data={"note": "hello"}, files={})
    assert no_file.status_code == 422
    two = client.post("/api/datasets", files=[("a", ("a.csv", TABLE)), ("b", ("b.csv", TABLE))])
    assert two.status_code == 422 and two.json()["error"].startswith("body: not a readable")
    broken = client.post(
        "/api/datasets", content=b"garbage", headers={"Content-Type": "multipart/form-data"}
    )
    assert broken.status_code == 422
    assert broken.json()["error"] == (
        "body: not a readable multipart form (Missing boundary in multipart.)"
    )


def test_uploads_are_listed_a_page_at_a_time_newest_first(client: TestClient) -> None:
    ids = [
        client.post("/api/datasets", content=TABLE, params={"name": f"{k}.csv"}).json()["id"]
        for k in range(3)
    ]
    first = client.get("/api/datasets", params={"limit": 2}).json()
    assert first["limit"] == 2 and first["offset"] == 0 and first["uploads_total"] >= 3
    assert [u["id"] for u in first["uploads"]] == ids[::-1][:2]
    second = client.get("/api/datasets", params={"limit": 2, "offset": 2}).json()
    assert second["uploads"][0]["id"] == ids[0]
    assert "text" not in second["uploads"][0]  # a listing never carries the tables
    too_many = client.get("/api/datasets", params={"limit": 10_000})
    assert too_many.status_code == 422
    assert too_many.json()["error"].startswith("query.limit: Input should be less than or equal")


def test_an_upload_is_found_by_id_and_given_back_as_it_was_sent(client: TestClient) -> None:
    sent = "\ufeff" + TABLE  # a byte-order mark, as spreadsheets write one
    name = '<b>fruit</b> "ripe"\u00e9.csv'
    upload = client.post("/api/datasets", content=sent.encode(), params={"name": name}).json()
    info = client.get(f"/api/datasets/{upload['id']}/info")
    assert info.status_code == 200 and info.json() == upload
    file = client.get(f"/api/datasets/{upload['id']}/file")
    assert file.status_code == 200 and file.headers["content-type"] == "text/csv; charset=utf-8"
    assert file.text == TABLE  # what was stored: the text, without the byte-order mark
    disposition = file.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="_b_fruit__b_ _ripe__.csv";')
    # the name the code panel's script opens: path separators and quotes made `_`
    assert disposition.endswith("filename*=UTF-8''%3Cb%3Efruit%3C_b%3E%20_ripe_%C3%A9.csv")
    for route in ("info", "file"):
        missing = client.get(f"/api/datasets/csv-000000000000/{route}")
        assert missing.status_code == 404
        assert missing.json()["error"].startswith("no upload 'csv-000000000000'")
