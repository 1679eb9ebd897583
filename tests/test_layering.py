"""The layers: everything below the UI is plain Python, found module by module."""

from __future__ import annotations

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


def test_llama_cpp_is_imported_lazily() -> None:
    """The UI must paint before llama_cpp (and numpy) finish importing."""
    code = "import sys, pychat.app\nprint('llama_cpp' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.slow
def test_wheel_ships_the_stylesheet(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(REPO)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("pychat-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "pychat/pychat.tcss" in names
    assert "pychat/ui/main_screen.py" in names and "pychat/session/chat.py" in names
