"""The page's policy, read without a browser: every file of the page comes with a
Content-Security-Policy that runs no inline script and with nosniff; the API's answers do not;
the page's HTML holds no inline script and no event-handler attribute the policy would refuse."""

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"


PAGE_FILES = ["/", "/index.html", "/wall.html", "/js/main.js", "/plotly.min.js"]


@pytest.mark.parametrize("path", PAGE_FILES)
def test_every_file_of_the_page_runs_only_scripts_of_this_server(
    client: TestClient, path: str
) -> None:
    answer = client.get(path)
    assert answer.status_code == 200
    directives = dict(
        part.strip().split(" ", 1) for part in answer.headers["content-security-policy"].split(";")
    )
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_the_api_answers_without_the_pages_policy(client: TestClient) -> None:
    assert "content-security-policy" not in client.get("/api/health").headers


@pytest.mark.parametrize("page", ["index.html", "wall.html"])
def test_the_pages_html_has_nothing_inline_to_run(page: str) -> None:
    html = (FRONTEND / page).read_text()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts
    assert all("src=" in attributes and not body.strip() for attributes, body in scripts)
    assert re.findall(r"\son[a-z]+\s*=", html) == []
