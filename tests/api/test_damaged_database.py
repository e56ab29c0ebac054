"""A database file damaged under the server: `layerlab serve` names it and says what to do;
a server already on it answers 503 with a sentence where a read fails, and carries on."""

import logging
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from layerlab.engine.store import Store
from service import QUICK_SPEC, create

PAGE = 4096


def damage(path: Path, pages: range) -> None:
    """Overwrite whole pages of a closed database file with bytes SQLite cannot read."""
    with path.open("r+b") as file:
        for page in pages:
            file.seek(page * PAGE)
            file.write(b"\xde\xad" * (PAGE // 2))


def database_with_damaged_uploads(path: Path) -> None:
    """Thirty uploads of 12 kB, then their pages (not the schema's, not the runs') damaged."""
    store = Store(str(path))
    table = "a,b,label\n" + "1,2,x\n" * 2000
    for k in range(30):
        store.add_dataset(f"csv-{k:012d}", "t.csv", table, {"task": "binary"}, float(k))
    store.close()  # the last connection's close folds the WAL back into the file
    damage(path, range(20, 40))


@pytest.fixture(scope="module")
def app_settings(
    app_settings: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("damaged") / "runs.db"
    database_with_damaged_uploads(path)
    return {**app_settings, "database": str(path), "workers": 1}


def test_a_failed_read_is_a_503_with_a_sentence_and_the_log_names_the_file(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="layerlab.api"):
        listed = client.get("/api/datasets")
    assert listed.status_code == 503
    assert listed.json() == {
        "error": "the server's database is damaged, so this could not be read or written; "
        "its operator will find what to do in the server's log"
    }
    logged = [record.getMessage() for record in caplog.records]
    assert len(logged) == 1 and "runs.db (LAYERLAB_DATABASE) is damaged" in logged[0]
    assert "move the file aside" in logged[0] and "\n" not in logged[0]


def test_the_server_carries_on_beside_the_damage(client: TestClient) -> None:
    assert client.get("/api/health").status_code == 200
    run = create(client, QUICK_SPEC, wait="true")  # the runs' pages are sound
    assert run["status"] == "done"
    assert client.get(f"/api/runs/{run['id']}").json()["status"] == "done"
