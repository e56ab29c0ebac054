"""The layering the README's Layout describes, read from the code's own syntax trees.

Imports point down (api, cli, measure → engine → core), core reads no settings of the server,
and the API reads the engine through the scheduler's read methods, never through its parts.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "backend" / "layerlab"

# what each package may import of layerlab, besides itself
ALLOWED = {
    "core": set(),
    "engine": {"core", "config", "logs", "usage"},
    "api": {"core", "engine", "config", "logs", "usage"},
    "measure": {"core", "engine", "config", "logs", "usage"},
    "cli": {"core", "engine", "api", "measure", "config", "logs", "usage"},
}
# the scheduler's parts: the API asks the scheduler, it does not reach into these
PARTS = {"store", "hub", "live", "queue", "pool", "executor"}


def modules(package: str) -> list[Path]:
    return sorted((PACKAGE / package).rglob("*.py"))


def layerlab_imports(tree: ast.AST) -> set[str]:
    """The layerlab packages or modules a module imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "layerlab" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_package_imports_only_the_layers_below_it(package: str) -> None:
    wrong = {
        str(path.relative_to(PACKAGE)): sorted(imported - ALLOWED[package] - {package})
        for path in modules(package)
        if (imported := layerlab_imports(ast.parse(path.read_text())))
        - ALLOWED[package]
        - {package}
    }
    assert wrong == {}


def test_the_api_reaches_no_part_of_the_scheduler() -> None:
    reaches = []
    for path in modules("api"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Attribute):
                continue
            owner = ast.unparse(node.value)
            if node.attr == "scheduler" and owner.endswith("app.state"):
                continue  # the one way in: the scheduler the app was made with
            if node.attr == "executor" and owner == "settings":
                continue  # the setting that names an executor, not the executor
            if node.attr in PARTS | {"scheduler"}:
                reaches.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
    assert reaches == []


def test_the_checks_see_what_they_look_for() -> None:
    """The walks above find a forbidden import and a reach-through when there is one."""
    tree = ast.parse("def f(app):\n    from layerlab.config import get_settings\n")
    assert layerlab_imports(tree) == {"config"}
    reach = ast.parse("x = request.app.state.scheduler.hub.counts")
    attrs = {node.attr for node in ast.walk(reach) if isinstance(node, ast.Attribute)}
    assert "hub" in attrs & PARTS
