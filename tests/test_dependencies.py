"""Every package PyChat imports is one pyproject.toml declares: a clean `pip install .`
(no extras) must give an app that works (tomlkit was once missing, and only a dev tool
pulled it in)."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def imported_packages(folder: Path) -> set[str]:
    """Top-level names of the modules imported anywhere under ``folder`` (lazy imports
    inside functions included), without the standard library."""
    names: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != folder.name}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> set[str]:
    """Distributions the package depends on, extras for users (not dev) included."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra, more in project.get("optional-dependencies", {}).items():
        if extra not in ("dev", "test"):
            requirements += more
    return {normalized(re.split(r"[ \[<>=!~;]", r, maxsplit=1)[0]) for r in requirements}


def test_every_import_of_the_package_is_a_declared_dependency() -> None:
    providers = importlib.metadata.packages_distributions()
    undeclared = {}
    for module in sorted(imported_packages(REPO / "pychat")):
        dists = {normalized(d) for d in providers.get(module, [])}
        assert dists, f"{module} is imported but not installed"
        if not dists & declared():
            undeclared[module] = sorted(dists)
    assert undeclared == {}, f"add these to [project] dependencies: {undeclared}"


def test_the_check_sees_an_undeclared_import(tmp_path: Path) -> None:
    package = tmp_path / "probe"
    package.mkdir()
    (package / "m.py").write_text("import os\nimport pytest\n\ndef f():\n    import pyte\n")
    assert imported_packages(package) == {"pytest", "pyte"}
    assert "pytest" not in declared() and "pyte" not in declared()
