"""README.md against what it describes: the figures it quotes, its example CSV, its routes."""

import importlib.util
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from starlette.routing import WebSocketRoute

from layerlab.api.app import create_app
from layerlab.config import Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCUMENTED_PREFIXES = ("/api/", "/ws/", "/metrics")  # not the page, /docs or /openapi.json
PARAMETER = re.compile(r"\{[^}]*\}")  # {id}, {run_id}: the README names them its own way


@pytest.fixture(scope="module")
def figures() -> ModuleType:
    """scripts/readme_figures.py, imported from its file (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "readme_figures", ROOT / "scripts/readme_figures.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- figures and the example CSV -------------------------------------------------------------


def test_readme_shows_every_command_and_marks_every_figure(figures: ModuleType) -> None:
    assert figures.readme_problems(README) == []


def test_example_csv_is_what_its_generator_makes(figures: ModuleType) -> None:
    assert figures.PENGUINS.read_text(encoding="utf-8") == figures.penguins_csv()


@pytest.mark.slow
def test_readme_figures_are_what_their_commands_give(figures: ModuleType) -> None:
    """Runs every command the figures come from, the README's CSV example among them."""
    computed = figures.compute_figures()
    assert figures.differences(README, computed) == []
    # and a figure that drifts is caught, named with its command
    drifted = README.replace("-->1.8<!--", "-->4<!--")
    assert figures.differences(drifted, computed) == [
        "tour-overfit-test-loss: README.md says '4', `layerlab train --samples 100 --noise 0.5 "
        "--hidden 64,64,64 --epochs 500` gives '1.8'"
    ]


# --- the table of routes ---------------------------------------------------------------------


def _walk(routes: Iterable[Any]) -> Iterator[Any]:
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI ≥ 0.16x wraps routers
        if included is not None:
            yield from _walk(included.routes)
        else:
            yield route


def app_routes() -> set[str]:
    """'GET /api/runs/{}' for each route of the app a client calls; 'WS' for a websocket."""
    found = set()
    for route in _walk(create_app(Settings(database=":memory:")).routes):
        path = PARAMETER.sub("{}", getattr(route, "path", ""))
        if not path.startswith(DOCUMENTED_PREFIXES):
            continue
        methods = {"WS"} if isinstance(route, WebSocketRoute) else set(route.methods) - {"HEAD"}
        found |= {f"{method} {path}" for method in methods}
    return found


def readme_routes() -> set[str]:
    """The routes the README's table lists. A bare word after a route names a sibling:
    `POST /api/runs/{id}/pause`, `resume` is also POST /api/runs/{id}/resume."""
    table = README.split("### Routes", 1)[1].split("\n#", 1)[0]
    listed = set()
    for row in re.findall(r"^\| (.+?) \| .*$", table, flags=re.MULTILINE):
        method, path = "", ""
        for item in re.findall(r"`([^`]+)`", row):
            route = re.fullmatch(r"([A-Z]+) (/[^?\s]*)(\?.*)?", item)
            if route:
                method, path = route[1], route[2]
            elif re.fullmatch(r"[a-z_]+", item) and path:
                path = path.rsplit("/", 1)[0] + "/" + item
            else:
                continue
            listed.add(f"{method} {PARAMETER.sub('{}', path)}")
    return listed


def test_readme_routes_table_lists_every_route_of_the_app() -> None:
    documented, served = readme_routes(), app_routes()
    assert "GET /api/runs/{}/neurons" in served  # the walk sees inside included routers
    assert sorted(served - documented) == [], "routes the README's table lacks"
    assert sorted(documented - served) == [], "routes in the README's table the app lacks"
