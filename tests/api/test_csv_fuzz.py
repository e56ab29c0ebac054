"""Uploads fuzzed: random bytes, random text and CSV tables broken in every way a file can be.
Whatever arrives, the answer is a 201 or a 4xx with a sentence, never a 5xx; and what was taken
can be previewed, given back and turned into a script, again without a 5xx."""

import string
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,  # the same files every run: a failure in CI is one to reproduce
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FIELD_LIMIT = 131_072  # Python's csv module refuses a longer field

# Cells a table may hold: numbers of every size, words, markup, quotes, separators, blanks.
CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**400), max_value=10**400).map(str),
    st.sampled_from(["1e308", "-1e308", "1e39", "nan", "inf", "-inf", "", " ", "0x10", "1,5"]),
    st.sampled_from(['"', '""', '"a', 'a"b', "\x00", "\r", "\n", ";", "\t", "\\", "\ufeff"]),
    st.sampled_from(["<img src=x onerror=alert(1)>", "</script>", "é", "😀", "label"]),
    st.text(alphabet=string.printable, max_size=12),
)
DELIMITERS = st.sampled_from([",", ";", "\t", "|", " "])
NEWLINES = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def tables(draw: st.DrawFn) -> bytes:
    """A CSV-shaped text: a header and rows of drawn cells, now and then ragged or broken."""
    delimiter, newline = draw(DELIMITERS), draw(NEWLINES)
    columns = draw(st.integers(min_value=0, max_value=6))
    rows = draw(st.integers(min_value=0, max_value=40))
    header = [draw(CELLS) for _ in range(columns)]
    body = [
        [draw(CELLS) for _ in range(columns + draw(st.sampled_from([0, 0, 0, -1, 1])))]
        for _ in range(rows)
    ]
    text = newline.join(delimiter.join(row) for row in [header, *body])
    ending = draw(
        st.sampled_from(
            ["", newline, '"' + "x" * (FIELD_LIMIT + 10), "y" * (FIELD_LIMIT + 1), '"\n' * 3]
        )
    )
    return (draw(st.sampled_from(["", "\ufeff"])) + text + ending).encode(
        draw(st.sampled_from(["utf-8", "utf-8", "utf-16", "latin-1"])), errors="replace"
    )


def well_formed() -> st.SearchStrategy[bytes]:
    """Tables that mostly parse: numeric features and a label, with one drawn cell anywhere."""

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        n = draw(st.integers(min_value=8, max_value=60))
        numbers = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
        labels = st.sampled_from(["a", "b", "c", "<b>x</b>", "1", "2", "3.5"])
        lines = ["x1,x2,label"] + [
            f"{draw(numbers)},{draw(numbers)},{draw(labels)}" for _ in range(n)
        ]
        if draw(st.booleans()):
            row = draw(st.integers(min_value=0, max_value=n))
            cells = lines[row].split(",")
            cells[draw(st.integers(min_value=0, max_value=2))] = draw(CELLS)
            lines[row] = ",".join(cells)
        return "\n".join(lines).encode("utf-8", errors="replace")

    return build()


def check_answer(client: TestClient, body: bytes) -> dict[str, Any] | None:
    response = client.post("/api/datasets", content=body, headers={"Content-Type": "text/csv"})
    assert response.status_code < 500, (body[:200], response.text)
    if response.status_code != 201:
        error = response.json()["error"]
        assert response.status_code in (413, 422) and len(error) > 10, response.text
        return None
    upload: dict[str, Any] = response.json()
    preview = client.get(f"/api/datasets/{upload['id']}", params={"samples": 20})
    assert preview.status_code < 500, preview.text
    assert client.get(f"/api/datasets/{upload['id']}/file").status_code == 200
    spec = {"dataset": {"name": "csv", "source": upload["id"]}, "hidden_widths": [2]}
    assert client.post("/api/code", json=spec).status_code < 500
    return upload


@pytest.fixture(scope="module")
def app_settings(app_settings: dict[str, Any]) -> dict[str, Any]:
    """No hourly quota in the way: every drawn file is parsed."""
    return {**app_settings, "max_uploads_per_hour": 100_000, "workers": 1}


@FUZZ
@given(body=st.binary(max_size=2000))
def test_random_bytes_get_no_5xx(client: TestClient, body: bytes) -> None:
    check_answer(client, body)


@FUZZ
@given(body=tables())
def test_broken_tables_get_no_5xx(client: TestClient, body: bytes) -> None:
    check_answer(client, body)


@FUZZ
@given(body=well_formed())
def test_nearly_right_tables_are_taken_or_refused_with_a_sentence(
    client: TestClient, body: bytes
) -> None:
    check_answer(client, body)
