"""The engine and config are a plain library: importing them must not import Textual."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PLAIN_MODULES = ["pychat.config", "pychat.engine.base", "pychat.engine.llama",
                 "pychat.engine.logs", "pychat.engine.context", "pychat.engine.formats", "pychat.engine.streams", "pychat.engine.models",
                 "pychat.engine.fit", "pychat.engine.demo", "pychat.gpu", "pychat.library",
                 "pychat.conversation"]


def test_engine_and_config_do_not_import_textual() -> None:
    code = ("import sys\n" + "".join(f"import {m}\n" for m in PLAIN_MODULES) +
            "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')]\n"
            "print(','.join(bad))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == ""


def test_llama_cpp_is_imported_lazily() -> None:
    """The UI must paint before llama_cpp (and numpy) finish importing."""
    code = "import sys, pychat.app\nprint('llama_cpp' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


def test_wheel_ships_the_stylesheet(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(REPO)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("pychat-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "pychat/pychat.tcss" in names
    assert "pychat/ui/main_screen.py" in names
