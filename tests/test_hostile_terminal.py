"""Untrusted text never reaches the terminal as control sequences: the real TUI in a pty.

Hostile model output (from the FakeBackend), a GGUF whose ``general.name`` carries escape
sequences, and model files named with escapes and markup are shown; then every byte the
app wrote is searched for the sequences a terminal would act on.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from tests.support.gguf import write_tiny_llama
from tests.support.pty_app import PtyApp

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent

OSC52 = "\x1b]52;c;SGFja2Vk\x07"  # write "Hacked" to the clipboard
OSC0 = "\x1b]0;PWNED\x07"  # set the window title
OSC8 = "\x1b]8;;file:///etc/passwd\x1b\\link\x1b]8;;\x1b\\"  # a hyperlink
C1_CSI = "\x9b31m"  # 8-bit CSI
BIDI = "\u202egnp.exe\u202c"
HOSTILE = f"A{OSC52}B{OSC0}C{OSC8}D{C1_CSI}E{BIDI}F\x1b[2J\x1b[?1049l"

FORBIDDEN = {
    "OSC 52 clipboard write": b"\x1b]52",
    "OSC 0 title": b"\x1b]0;",
    "OSC 8 link to a file": b"file:///etc/passwd\x1b",
    "C1 CSI": "\x9b".encode(),
    "bidi override": "\u202e".encode(),
    "clear screen from the model": b"F\x1b[2J",
}


def assert_inert(output: bytes) -> None:
    found = [name for name, needle in FORBIDDEN.items() if needle in output]
    assert found == [], f"reached the terminal: {found}"


def hostile_files(root: Path) -> Path:
    """Model files named with markup and escapes, one with a hostile GGUF ``general.name``.

    A file name cannot hold "/", so ``[red]x[/red].gguf`` is a path: the file ``red].gguf``
    in a folder ``[red]x[`` (listed through the config). Returns that path."""
    models = root / "models"
    models.mkdir(exist_ok=True)
    write_tiny_llama(models / "[red]x.gguf", name=f"evil{OSC52}{OSC0}name{BIDI}")
    write_tiny_llama(models / f"esc{OSC0}[@click=app.quit]q.gguf", name="plain")
    folder = root / "[red]x["
    folder.mkdir()
    return write_tiny_llama(folder / "red].gguf", name="[bold]bold[/bold]")


def test_hostile_output_names_and_metadata_with_the_fake_backend(tmp_path: Path) -> None:
    slashed = hostile_files(tmp_path)
    reply = tmp_path / "reply.txt"
    reply.write_text(f"{HOSTILE} [click me](file:///etc/passwd) [red]shown[/red] "
                     "[@click=app.quit]not an action[/]", encoding="utf-8")
    extra = tmp_path / "extra.toml"
    extra.write_text(f'[models."{slashed}"]\nn_ctx = 512\n')
    app = PtyApp(["-m", "tests.support.fake_app_main", str(tmp_path), str(reply), str(extra)],
                 110, 32, cwd=tmp_path, env={"PYTHONPATH": str(REPO)})
    try:
        assert app.wait_for_output(b"ready", 30), app.output[-2000:]
        app.write("Hello\r")
        assert app.wait_for_output(b"tok/s \xc2\xb7", 30), app.output[-2000:]
        app.write("\x0c")  # ctrl+l: the log pane
        time.sleep(0.5)
        app.write("\x0f")  # ctrl+o: the picker lists the hostile files
        assert app.wait_for_output(b"gpu_layers", 10)
        for _ in range(9):  # ↓ through the list: each model's metadata is shown
            app.write("\x1b[B")
            time.sleep(0.15)
        # What was dropped is only the control characters: the rest shows as text.
        for visible in (b"]52;c;SGFja2Vk", b"[red]shown[/red]", b"[red]x.gguf", b"red].gguf",
                        b"evil]52;c;SGFja2Vk]0;PWNEDname", b"[bold]bold[/bold]",
                        b"not an action", b"click me"):
            assert app.wait_for_output(visible, 10), visible
        app.write("\x1b")
        time.sleep(0.5)
        assert_inert(app.output)
    finally:
        code = app.quit()
    assert code == 0, app.output[-3000:].decode(errors="replace")


def test_hostile_gguf_name_through_real_llama_cpp_log_lines(tmp_path: Path) -> None:
    hostile_files(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text(f'models_dir = "{tmp_path / "models"}"\ndefault_model = "[red]x.gguf"\n'
                      "[sampling]\nmax_tokens = 8\n")
    app = PtyApp(["-m", "pychat", "--config", str(config)], 110, 32, cwd=tmp_path)
    try:
        assert app.wait_for_output(b"ready", 60), app.output[-2000:]
        app.write("\x0c")  # ctrl+l: llama.cpp's own lines, with general.name in them
        assert app.wait_for_output(b"general.name", 10)
        app.write("Hi\r")
        assert app.wait_for_output(b"tok/s \xc2\xb7", 60)
        output = app.output
        assert_inert(output)
        assert b"[red]x.gguf" in output
    finally:
        code = app.quit()
    assert code == 0, app.output[-3000:].decode(errors="replace")
    assert sys.executable  # the same interpreter ran the app
