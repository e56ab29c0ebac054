"""POST /api/code: the script of a spec in the language asked for; an upload's under its name."""

import ast

import numpy as np
from fastapi.testclient import TestClient

QUICK_SPEC = {"dataset": {"name": "moons", "samples": 100}, "hidden_widths": [4], "epochs": 2}
TABLE = "size,weight,kind\n" + "".join(
    f"{x:.3f},{y:.3f},{'big' if x + y > 1 else 'small'}\n"
    for x, y in np.random.default_rng(0).uniform(0, 1, (40, 2))
)


def csv_path(script: str) -> object:
    (opened,) = [
        ast.literal_eval(node.value)
        for node in ast.parse(script).body
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "csv_path"
    ]
    return opened


def test_the_script_speaks_the_language_asked_for(client: TestClient) -> None:
    default = client.post("/api/code", json=QUICK_SPEC)
    english = client.post("/api/code", params={"lang": "en"}, json=QUICK_SPEC)
    spanish = client.post("/api/code", params={"lang": "es"}, json=QUICK_SPEC)
    assert default.status_code == english.status_code == spanish.status_code == 200
    assert default.json() == english.json()
    assert "\n# Training: " in english.json()["script"]
    script = spanish.json()["script"]
    assert "\n# Entrenamiento: " in script
    assert 'print(f"época {epoch:4d}: pérdida ' in script
    compile(script, "generated.py", "exec")


def test_a_language_other_than_en_or_es_is_refused(client: TestClient) -> None:
    refused = client.post("/api/code", params={"lang": "fr"}, json=QUICK_SPEC)
    assert refused.status_code == 422
    assert "lang" in refused.json()["error"]


def test_the_openapi_document_describes_lang(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/api/code"]["post"]
    (lang,) = [parameter for parameter in operation["parameters"] if parameter["name"] == "lang"]
    assert lang["in"] == "query" and not lang.get("required", False)
    assert lang["schema"]["enum"] == ["en", "es"] and lang["schema"]["default"] == "en"
    assert "es (Spanish)" in lang["description"]


def test_an_uploads_script_opens_the_file_under_its_uploaded_name(client: TestClient) -> None:
    uploaded = client.post(
        "/api/datasets",
        content=TABLE,
        params={"name": 'fruit "2024"\n.csv'},  # quotes and a line break: a literal breaker
        headers={"Content-Type": "text/csv"},
    )
    assert uploaded.status_code == 201, uploaded.text
    dataset_id = uploaded.json()["id"]
    spec = {**QUICK_SPEC, "dataset": {"name": "csv", "source": dataset_id}}
    response = client.post("/api/code", params={"lang": "es"}, json=spec)
    assert response.status_code == 200, response.text
    script = response.json()["script"]
    assert csv_path(script) == "fruit _2024__.csv"
    assert f"GET /api/datasets/{dataset_id}/file" in script
    assert client.get(f"/api/datasets/{dataset_id}/file").text == TABLE  # where it says
