"""Uploads per client and hour: a count and a number of bytes, each refused with 429 beyond."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from service import TEST_SETTINGS


def table(rows: int) -> bytes:
    """A CSV whose header is quoted, as spreadsheets often write it."""
    body = "".join(
        f"{i / rows:.4f},{1 - i / rows:.4f},{'cat' if i % 2 else 'dog'}\n" for i in range(rows)
    )
    return f'"height","weight","kind"\n{body}'.encode()


SMALL, LARGE = table(12), table(120)


@pytest.fixture(scope="module")
def app_settings() -> dict[str, Any]:
    return {**TEST_SETTINGS, "workers": 1, "max_uploads_per_hour": 3,
            "max_upload_bytes_per_hour": len(LARGE) + len(SMALL) // 2}  # fmt: skip


def upload(http: httpx.Client, body: bytes) -> httpx.Response:
    return http.post(
        "/api/datasets?name=pets.csv", content=body, headers={"Content-Type": "text/csv"}
    )


def test_uploads_past_the_hourly_count_get_429_and_broken_files_do_not_count(
    learner: Callable[[], httpx.Client],
) -> None:
    http = learner()
    first = upload(http, SMALL)
    assert first.status_code == 201, first.text
    assert first.json()["label_column"] == "kind", "a quoted header is read unquoted"
    assert upload(http, b"x,y\n1,oops\n").status_code == 422  # refused: not counted
    assert [upload(http, SMALL).status_code for _ in range(2)] == [201, 201]
    refused = upload(http, SMALL)
    assert refused.status_code == 429
    assert "LAYERLAB_MAX_UPLOADS_PER_HOUR=3" in refused.json()["error"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    assert upload(learner(), SMALL).status_code == 201, "another learner is not held back"


def test_uploads_past_the_hourly_bytes_get_429_naming_the_limit(
    learner: Callable[[], httpx.Client],
) -> None:
    http = learner()
    assert upload(http, LARGE).status_code == 201
    refused = upload(http, SMALL)
    assert refused.status_code == 429
    assert "LAYERLAB_MAX_UPLOAD_BYTES_PER_HOUR" in refused.json()["error"]
