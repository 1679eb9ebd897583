"""ScreenDiff: frames with only the changed pieces must leave the terminal showing the same."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

import pyte
import pytest

from pychat.ui.terminal import ScreenDiff
from tests.support.tmux import Tmux

REPO = Path(__file__).resolve().parent.parent


def frame(*pieces: tuple[int, int, str], cursor: tuple[int, int] = (40, 1)) -> str:
    """A frame the way Textual writes one: moves and styled text, then the cursor's place."""
    body = "\n".join(f"\x1b[{row};{col}H{text}" for row, col, text in pieces)
    return body + f"\x1b[{cursor[0]};{cursor[1]}H"


def test_an_unchanged_frame_sends_only_the_cursor() -> None:
    diff = ScreenDiff()
    first = frame((1, 1, "\x1b[1mhello\x1b[0m"), (2, 1, "world"))
    assert diff.filter(first) == first.replace("\n", "")
    assert diff.filter(first) == "\x1b[40;1H"


def test_only_changed_lines_are_sent() -> None:
    diff = ScreenDiff()
    diff.filter(frame((1, 3, "line one"), (2, 3, "line two"), (3, 3, "line thr")))
    sent = diff.filter(frame((1, 3, "line one"), (2, 3, "line two"), (3, 3, "line three")))
    assert sent == "\x1b[3;3Hline three\x1b[40;1H"


def test_a_write_elsewhere_on_a_row_forgets_that_row() -> None:
    diff = ScreenDiff()
    diff.filter(frame((5, 10, "abc")))
    diff.filter(frame((5, 1, "0123456789ABCDEF")))  # covers what was at column 10
    assert diff.filter(frame((5, 10, "abc"))) == "\x1b[5;10Habc\x1b[40;1H"


def test_other_sequences_pass_through_and_reset_what_is_known() -> None:
    diff = ScreenDiff()
    page = frame((1, 1, "text"))
    diff.filter(page)
    assert diff.filter("\x1b[?2026h") == "\x1b[?2026h"  # sync brackets keep the state
    assert diff.filter(page) == "\x1b[40;1H"
    # Nor do the pointer's shape (OSC 22, sent by the web driver) and mouse/paste modes.
    quiet = "\x1b]22;default\x1b\\\x1b[?1003h\x1b[?1006h\x1b[?25l"
    assert diff.filter(quiet) == quiet
    assert diff.filter(page) == "\x1b[40;1H"
    assert diff.filter("\x1b[?1049h") == "\x1b[?1049h"  # alternate screen: forget
    assert diff.filter(page) == page
    odd = frame((1, 1, "a\tb"))  # a control code inside a piece: not trusted, sent whole
    assert diff.filter(odd) == odd
    assert diff.filter(page) == page


CURSOR_ROW = re.compile(r"\x1b\[(\d+);\d+H")


def screen_state(screen: pyte.Screen) -> list[list[tuple[str, str, str, bool]]]:
    return [[(char.data, char.fg, char.bg, char.bold) for char in
             (screen.buffer[y][x] for x in range(screen.columns))]
            for y in range(screen.lines)]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")
def test_real_session_output_renders_the_same_with_and_without_the_filter(
        smollm_model: Path, tmp_path: Path) -> None:
    """Record what PyChat really writes (a streamed reply, the picker, the log pane, a
    resize), then play it into two terminal emulators, one through ScreenDiff: after
    every write both must show the same cells, colours included."""
    record = tmp_path / "writes.jsonl"
    config = tmp_path / "config.toml"
    config.write_text('[sampling]\nmax_tokens = 70\nseed = 3\n')
    # The reply is always max_tokens long (end of turn ignored), whatever this CPU samples:
    # the bytes saved depend on how much streams.
    env = (f"TEXTUAL_DRIVER=tests.support.recording_driver:RecordingDriver PYCHAT_RECORD={record} "
           f"PYTHONPATH={REPO} PYCHAT_BENCH_IGNORE_EOS=1")
    exit_file = tmp_path / "exit-code"
    tmux = Tmux(f"cd {tmp_path} && env {env} {sys.executable} -m pychat --config {config};"
                f" echo $? > {exit_file}; sleep 30", cols=100, rows=30)
    try:
        tmux.wait_for(lambda s: "│ ready" in s and "Send" in s)
        tmux.keys("Write a list of three colours with a line on each", "Enter")
        tmux.wait_for(lambda s: "tok/s ·" in s, timeout=90)
        tmux.keys("C-l")
        tmux.wait_for(lambda s: "Log" in s)
        tmux.keys("C-l", "C-o")
        tmux.wait_for(lambda s: "gpu_layers" in s)
        tmux.keys("Escape")
        os.system(f"tmux resize-window -t {tmux.name} -x 90 -y 26")
        time.sleep(0.6)
        tmux.keys("PPage")
        time.sleep(0.3)
        tmux.keys("C-q")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not exit_file.exists():
            time.sleep(0.05)
        assert exit_file.read_text().strip() == "0"
    finally:
        tmux.close()

    writes = [json.loads(line) for line in record.read_text().splitlines()]
    assert len(writes) > 50
    plain, diffed = pyte.Screen(100, 30), pyte.Screen(100, 30)
    plain_stream, diffed_stream = pyte.Stream(plain), pyte.Stream(diffed)
    diff = ScreenDiff()
    size = None
    sent = received = 0
    saw_reply = counting = False
    for number, write in enumerate(writes):
        if write["size"] != size:  # what DiffingDriver does on a resize
            size = write["size"]
            plain.resize(size[1], size[0])
            diffed.resize(size[1], size[0])
            diff.forget()
        data = write["data"]
        if max((int(row) for row in CURSOR_ROW.findall(data)), default=0) > size[1]:
            # A frame drawn for the size before a shrink (the app had not seen it yet):
            # a terminal scrolls on its newlines in both cases, by a number of lines
            # that depends on what was sent. The app's next frame repaints everything;
            # start both screens afresh from there.
            plain.reset()
            diffed.reset()
            diff.forget()
            continue
        filtered = diff.filter(data)
        if counting:  # bytes from the message on: the frames of the model's load vary
            received += len(data.encode())
            sent += len(filtered.encode())
        plain_stream.feed(data)
        diffed_stream.feed(filtered)
        assert screen_state(diffed) == screen_state(plain), f"screens differ after write {number}"
        assert (diffed.cursor.x, diffed.cursor.y) == (plain.cursor.x, plain.cursor.y)
        saw_reply = saw_reply or any("tok/s ·" in line for line in diffed.display)
        counting = counting or any("three colours" in line for line in plain.display)
    assert saw_reply, "the recording never showed a finished reply"
    print(f"\nrecorded {len(writes)} writes: {received} bytes unfiltered, {sent} sent")
    # It filters (how much is a benchmark figure: bytes/token in docs/PERFORMANCE.md; in
    # this short session it ranged from 0.57 to 0.83 of the bytes, with the repaints).
    assert sent < received * 0.95


def test_typed_runs_become_one_paste_and_keys_stay_in_order() -> None:
    from textual import events

    from pychat.ui.terminal import typed_runs

    def keys(text: str) -> list[events.Key]:
        return [events.Key(c if c.isalnum() else "space" if c == " " else "full_stop", c)
                for c in text]

    enter = events.Key("enter", "\r")
    ctrl_s = events.Key("ctrl+s", None)
    alt_x = events.Key("alt+x", "x")
    out = list(typed_runs([*keys("hello world."), enter, *keys("ok"), ctrl_s, alt_x,
                           *keys("abcdefgh")]))
    assert [type(m).__name__ for m in out] == ["Paste", "Key", "Key", "Key", "Key", "Key",
                                               "Paste"]
    assert out[0].text == "hello world." and out[-1].text == "abcdefgh"
    assert [m.key for m in out[1:6]] == ["enter", "o", "k", "ctrl+s", "alt+x"]


@pytest.mark.slow
def test_a_burst_of_typed_text_lands_whole_and_in_order(tmp_path: Path) -> None:
    """20,000 characters typed with no bracketed paste (tmux send-keys, some SSH set-ups)
    with editing keys among them: the message sent is exactly what was typed."""
    from pychat.store import Store
    from tests.support.pty_app import PtyApp

    reply = tmp_path / "reply.txt"
    reply.write_text("Noted.")
    burst = "".join(f"word{n} " for n in range(3000))[:20_000]
    with PtyApp(["-m", "tests.support.fake_app_main", str(tmp_path), str(reply)], 100, 30,
                cwd=tmp_path) as app:
        assert app.wait_for_output(b"ready", 30)
        app.write("ab")
        time.sleep(0.2)
        for start in range(0, len(burst), 1000):  # as send-keys writes it: in pieces
            app.write(burst[start:start + 1000])
        app.write("\x7f\x7fXY")  # two backspaces, then more text, at once
        app.write("\r")
        assert app.wait_for_output(b"Noted.", 30)
        app.quit()
    data = Path(os.environ["XDG_DATA_HOME"]) / "pychat" / "history.sqlite3"
    store, _ = Store.open(data)
    try:
        sent = store.load_chat(store.list_chats()[0].id).messages[0].text
    finally:
        store.close()
    assert sent == (("ab" + burst)[:-2] + "XY").strip()


@pytest.mark.slow
def test_a_filter_and_enter_typed_in_one_burst_load_what_the_filter_found(
        tmp_path: Path) -> None:
    """Enter used to be a priority binding in the picker and the chat list: typed in one
    burst with the filter (tmux send-keys "two" Enter), it acted before the filter did."""
    from tests.support.pty_app import PtyApp

    reply = tmp_path / "reply.txt"
    reply.write_text("Noted.")
    with PtyApp(["-m", "tests.support.fake_app_main", str(tmp_path), str(reply)], 100, 30,
                cwd=tmp_path) as app:
        assert app.wait_for_output(b"one.gguf \xe2\x94\x82 ready", 30)
        app.write("\x0f")  # ctrl+o
        assert app.wait_for_output(b"gpu_layers", 10)
        time.sleep(0.5)
        app.write("two\r")  # one write: the filter, then Enter
        assert app.wait_for_output(b"two.gguf \xe2\x94\x82 ready", 10)
        app.quit()
