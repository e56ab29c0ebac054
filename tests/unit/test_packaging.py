"""What the package imports, it declares: a `layerlab` installed without the test tools runs."""

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "backend" / "layerlab"


def imported_modules() -> set[str]:
    """Top-level names of every module the package imports, anywhere in its code."""
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"layerlab"}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503: pydantic_core is pydantic-core


def requirement_names(requirements: list[str]) -> set[str]:
    return {normalized(re.split(r"[<>=\[; ]", line, maxsplit=1)[0]) for line in requirements}


def installed_with(names: set[str]) -> set[str]:
    """These distributions and everything they require (not their extras), recursively."""
    found, pending = set(), list(names)
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        pending += requirement_names([line for line in requires if "extra ==" not in line])
    return found


def test_every_third_party_import_is_a_declared_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = installed_with(requirement_names(project["dependencies"]))
    declared.add("websockets")  # uvicorn[standard]'s
    extras = project["optional-dependencies"]
    optional = requirement_names(extras["onnx"] + extras["ray"])  # imported lazily
    distributions = importlib.metadata.packages_distributions()
    undeclared = {}
    for module in imported_modules():
        names = {normalized(name) for name in distributions.get(module, [module])}
        if not names & (declared | optional):
            undeclared[module] = sorted(names)
    assert not undeclared, f"imported but not in [project] dependencies: {undeclared}"
