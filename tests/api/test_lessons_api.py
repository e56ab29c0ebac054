"""GET /api/lessons and /api/lessons/{id}: the index and one whole lesson, in es or en; a broken
file in the folder is left out, and the others are served."""

import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from layerlab.api.lessons import read_shelf
from layerlab.config import LESSONS
from layerlab.core.lessons import in_language, load_lessons
from layerlab.core.script_phrases import Language

IDS = ["beyond-the-line", "a-basic-network", "tensors-and-the-forward-pass", "linear-regression"]


@pytest.fixture(scope="module")
def app_settings(
    app_settings: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """The repository's lessons, and beside them a file that is not a lesson."""
    folder = tmp_path_factory.mktemp("lessons")
    for path in LESSONS.glob("*.yaml"):
        shutil.copy(path, folder / path.name)
    (folder / "05-unfinished.yaml").write_text("id: unfinished\nsteps: []\n", encoding="utf-8")
    return {**app_settings, "workers": 1, "lessons_dir": folder}


def test_the_index_lists_the_lessons_in_order_in_the_language_asked_for(
    client: TestClient,
) -> None:
    english = client.get("/api/lessons")
    spanish = client.get("/api/lessons", params={"lang": "es"})
    assert english.status_code == spanish.status_code == 200
    assert [entry["id"] for entry in english.json()["lessons"]] == IDS
    first = spanish.json()["lessons"][0]
    assert first == {
        "id": "beyond-the-line",
        "order": 1,
        "course": "000",
        "title": "Más allá de la línea recta",
        "summary": first["summary"],
        "steps": 9,
    }
    assert english.json()["lessons"][0]["title"] == "Beyond the straight line"
    assert english.json() == client.get("/api/lessons", params={"lang": "en"}).json()


def test_a_broken_file_is_left_out_and_the_server_serves_the_rest(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    listed = [entry["id"] for entry in client.get("/api/lessons").json()["lessons"]]
    assert "unfinished" not in listed
    assert client.get("/api/lessons/unfinished").status_code == 404
    settings = client.app.state.settings  # type: ignore[attr-defined]
    with caplog.at_level(logging.ERROR, logger="layerlab.lessons"):
        read_shelf(settings)
    assert "lesson 05-unfinished.yaml left out: order: Field required; " in caplog.text
    assert [p.file for p in load_lessons(Path(settings.lessons_dir)).problems] == [
        "05-unfinished.yaml"
    ]


@pytest.mark.parametrize("lang", ["es", "en"])
def test_one_lesson_comes_whole_in_one_language(client: TestClient, lang: Language) -> None:
    answer = client.get("/api/lessons/linear-regression", params={"lang": lang})
    assert answer.status_code == 200
    lesson = answer.json()
    assert lesson == in_language(load_lessons(LESSONS).lessons["linear-regression"], lang)
    steps = {step["id"]: step for step in lesson["steps"]}
    assert steps["the-plane"]["question"]["answer"] == 3
    assert steps["recover-the-weights"]["goal"]["all"] == [
        {"metric": "weight:x1", "op": "near", "value": 2, "within": 0.1},
        {"metric": "weight:x2", "op": "near", "value": -3, "within": 0.1},
    ]
    assert "batch=800" in steps["recover-the-weights"]["state"]
    assert "goal" not in steps["the-plane"] and "question" not in steps["too-fast"]
    choices = steps["mini-batches"]["question"]["choices"]
    assert [choice["correct"] for choice in choices] == [True, False, False]
    assert all(isinstance(choice["text"], str) for choice in choices)
    assert "1.37" in steps["mini-batches"]["text"] or "1,37" in steps["mini-batches"]["text"]
    assert ("Regresión lineal" if lang == "es" else "Linear regression") == lesson["title"]


def test_an_unknown_lesson_is_404_naming_it(client: TestClient) -> None:
    answer = client.get("/api/lessons/no-such-lesson", params={"lang": "es"})
    assert answer.status_code == 404
    assert answer.json() == {"error": "no lesson with id 'no-such-lesson'"}


@pytest.mark.parametrize("path", ["/api/lessons", "/api/lessons/beyond-the-line"])
def test_a_language_other_than_es_or_en_is_422_naming_lang(client: TestClient, path: str) -> None:
    answer = client.get(path, params={"lang": "fr"})
    assert answer.status_code == 422
    assert answer.json()["error"].startswith("query.lang: Input should be 'en' or 'es'")


def test_the_routes_are_described_in_the_openapi_schema(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    one = schema["paths"]["/api/lessons/{lesson_id}"]["get"]
    assert set(one["responses"]) >= {"200", "404", "422"}
    assert one["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LessonPublic"
    }
    assert "/api/lessons" in schema["paths"]
