"""The layers: everything below the UI is plain Python, found module by module."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import pychat

REPO = Path(__file__).resolve().parent.parent
UI_MODULES = ("pychat.app", "pychat.ui")
"""The only modules allowed to import Textual."""


def plain_modules() -> list[str]:
    """Every module of the package outside the UI, found by walking it."""
    names = [info.name for info in pkgutil.walk_packages(pychat.__path__, "pychat.")]
    return sorted(n for n in names if not n.startswith(UI_MODULES))


def test_the_walk_finds_every_layer() -> None:
    found = plain_modules()
    for expected in ("pychat.session.chat", "pychat.engine.llama", "pychat.config",
                     "pychat.text", "pychat.__main__"):
        assert expected in found
    assert not any(name.startswith("pychat.ui") for name in found)


def test_plain_modules_do_not_import_textual_or_the_ui() -> None:
    modules = plain_modules()
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules) +
            "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')\n"
            "       or m.startswith(('pychat.ui', 'pychat.app'))]\n"
            "print(','.join(sorted(bad)))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "", f"{len(modules)} modules checked"


def test_llama_cpp_and_httpx_are_imported_lazily() -> None:
    """The UI must paint before llama_cpp (and numpy) or httpx finish importing."""
    code = ("import sys, pychat.app\nprint(sorted(m for m in ('llama_cpp', 'httpx', 'numpy') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.slow
def test_wheel_ships_the_stylesheet(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(REPO)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("pychat-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "pychat/pychat.tcss" in names
    assert "pychat/ui/main_screen.py" in names and "pychat/session/chat.py" in names


def imports_of(path: Path, root: Path, modules: set[str]) -> set[str]:
    """The package's modules that ``path`` imports, even under ``TYPE_CHECKING``. ``from
    package import module`` counts as importing that module only."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if node.module else parent
            submodules = {f"{base}.{alias.name}" for alias in node.names} & modules
            found |= submodules if len(submodules) == len(node.names) else {base} | submodules
    return (found & modules) - {name}


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_cycles(paths: list[Path], root: Path = REPO) -> list[list[str]]:
    """Every cycle in the import graph of ``paths`` (modules named from ``root``; one
    cycle per back edge found)."""
    modules = {module_name(p, root) for p in paths}
    graph = {module_name(p, root): imports_of(p, root, modules) for p in paths}
    cycles: list[list[str]] = []
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for other in sorted(graph[node]):
            if state.get(other) == "open":
                cycles.append(stack[stack.index(other):] + [other])
            elif other not in state:
                visit(other)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_no_import_cycles_in_the_package() -> None:
    cycles = import_cycles(sorted((REPO / "pychat").rglob("*.py")))
    assert cycles == [], "\n".join(" → ".join(cycle) for cycle in cycles)


def test_the_cycle_check_finds_a_cycle_under_type_checking(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    a, b = tmp_path / "pkg" / "a.py", tmp_path / "pkg" / "b.py"
    a.write_text("from pkg import b\n")
    b.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                 "    from pkg.a import x\n")
    assert import_cycles([a, b], tmp_path) == [["pkg.a", "pkg.b", "pkg.a"]]


COMPAT_FILES = {"pychat/ui/compat.py", "tests/test_compat.py"}
"""Where Textual's (and the stdlib's) private names may be read, each checked by a test."""
PUBLIC_PRIVATE_NAMES = {"_exit"}
"""Names with an underscore that are public API (``os._exit``)."""


def private_reads(path: Path, root: Path = REPO) -> list[str]:
    """Places where ``path`` reads another module's or object's ``_name``: an attribute of
    anything but ``self``, ``cls``, ``super()`` or a class of the same file, or an
    ``import _name``."""
    tree = ast.parse(path.read_text())
    own_classes = {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            name, value = node.attr, node.value
            if not name.startswith("_") or name.startswith("__") \
                    or name in PUBLIC_PRIVATE_NAMES:
                continue
            if isinstance(value, ast.Name) and value.id in {"self", "cls", *own_classes}:
                continue
            if isinstance(value, ast.Call) and getattr(value.func, "id", "") == "super":
                continue
            found.append(f"{path.relative_to(root)}:{node.lineno}: .{name}")
        elif isinstance(node, ast.ImportFrom):
            found += [f"{path.relative_to(root)}:{node.lineno}: import {alias.name}"
                      for alias in node.names
                      if alias.name.startswith("_") and not alias.name.startswith("__")]
    return found


def test_no_private_name_of_another_module_is_read() -> None:
    files = [p for top in ("pychat", "tests", "bench") for p in sorted((REPO / top).rglob("*.py"))
             if str(p.relative_to(REPO)) not in COMPAT_FILES]
    found = [place for path in files for place in private_reads(path)]
    assert found == [], "\n".join(found)


def test_the_private_read_check_sees_one(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import os\nfrom x import _y\nclass A:\n    _x = 1\n    def f(self):\n"
                     "        return self._y, A._x, os._exit, os._private\n")
    assert [place.split(": ")[1] for place in private_reads(probe, tmp_path)] == [
        "import _y", "._private"]


def test_modules_import_from_test_support_never_from_a_test_module() -> None:
    """Helpers live in tests/support (and bench's own); a test module is nobody's library."""
    found = []
    for top in ("tests", "bench"):
        for path in sorted((REPO / top).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                    [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
                found += [f"{path.relative_to(REPO)}: {name}" for name in names
                          if name.startswith(("tests.test_", "tests.conftest"))]
    assert found == [], "\n".join(found)
