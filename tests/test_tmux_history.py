"""Kept chats tried as a new user would, in tmux with keys only and the real SmolLM2 model:
chat, quit, start again, find the chat by a word, resume, edit and resend, page through
versions, change the system prompt and temperature, export — and kill -9 mid-reply."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.support.tmux import TMUX_TESTS, Tmux

pytestmark = TMUX_TESTS

READY = "│ ready"


def start(tmp_path: Path, env: str = "") -> Tmux:
    """PyChat in tmux, started in ``tmp_path`` (where exports go); its pid in ``pid``."""
    command = (f"cd {tmp_path} && echo $$ > pid && exec env {env} {sys.executable} -m pychat "
               f"--config {tmp_path / 'config.toml'}")
    tmux = Tmux(command, cols=110, rows=40)
    tmux.wait_for(lambda s: READY in s and "Send" in s)
    return tmux


def running(pid: int) -> bool:
    """Whether ``pid`` still runs. An ended PyChat is tmux's child to reap, and a tmux
    server under load was seen leaving it a zombie for 20 s and more: it has quit."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def quit_app(tmux: Tmux, tmp_path: Path) -> None:
    pid = int((tmp_path / "pid").read_text())
    tmux.keys("C-q")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if not running(pid):
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"PyChat did not quit:\n{tmux.screen()}")
    tmux.close()


def history_rows(tmp_path: Path, sql: str) -> list[tuple[object, ...]]:
    path = tmp_path / "history.sqlite3"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
        return db.execute(sql).fetchall()


def answered(tmux: Tmux) -> str:
    return tmux.wait_for(lambda s: "tok/s" in s and READY in s)


def test_kept_chats_by_keys_only(smollm_model: Path, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        'history_file = "history.sqlite3"\n[sampling]\nmax_tokens = 24\nseed = 3\n')
    tmux = start(tmp_path)
    try:
        tmux.keys("Tell me about okapis in the forest", "Enter")
        answered(tmux)
        quit_app(tmux, tmp_path)

        tmux = start(tmp_path)
        assert "okapis" not in tmux.screen()  # a new start is a new chat
        tmux.keys("C-t")
        tmux.wait_for(lambda s: "type to search" in s)
        tmux.keys("okap")  # found by a word of its message, as it is typed
        tmux.wait_for(lambda s: "Tell me about okapis in the forest" in s and "okap" in s)
        tmux.keys("Enter")
        tmux.wait_for(lambda s: "Resumed" in s and "Tell me about okapis in the forest" in s)

        # Edit and resend: Up in the empty message box brings the last message back.
        tmux.keys("Up")
        tmux.wait_for(lambda s: "Edit your last message" in s)
        tmux.keys("End", " today", "Enter")
        screen = answered(tmux)
        assert "okapis in the forest today" in screen
        tmux.keys("F3")  # the older version, with the message it answered
        screen = tmux.wait_for(lambda s: "version 1 of 2" in s)
        assert "forest today" not in screen.split("Chat")[-1].split("version 1 of 2")[0]
        tmux.keys("F4")
        tmux.wait_for(lambda s: "version 2 of 2" in s and "forest today" in s)

        # This chat's settings: a system prompt and a temperature, keys only.
        tmux.keys("C-g")
        tmux.wait_for(lambda s: "Settings for this chat" in s)
        time.sleep(0.5)  # the system prompt box takes the focus
        tmux.repeat("BSpace", 200)  # the config's prompt out, ours in
        tmux.keys("You are a zoologist.", "Tab")
        time.sleep(0.3)
        tmux.keys("Home", "C-k")
        time.sleep(0.3)
        tmux.keys("9", "Enter")  # out of range first: refused with the range
        tmux.wait_for(lambda s: "Not applied" in s and "Between 0 and 5" in s)
        for key in ("BSpace", "0", ".", "2", "5"):  # key by key, as a person types
            time.sleep(0.1)
            tmux.keys(key)
        time.sleep(0.3)
        tmux.keys("Enter")
        tmux.wait_for(lambda s: "Settings applied" in s)
        tmux.keys("C-s")
        tmux.wait_for(lambda s: "Chat exported" in s)
        quit_app(tmux, tmp_path)
    finally:
        tmux.close()

    settings = json.loads(str(history_rows(tmp_path, "SELECT settings FROM chats")[0][0]))
    assert settings["system_prompt"] == "You are a zoologist."
    assert settings["sampling"]["temperature"] == 0.25
    exported = (tmp_path / "pychat-chat-1.md").read_text(encoding="utf-8")
    assert "Tell me about okapis in the forest today" in exported
    versions = history_rows(tmp_path, "SELECT position, COUNT(*) FROM messages "
                                      "GROUP BY position ORDER BY position")
    assert versions == [(0, 2), (1, 2)]


def test_a_reply_killed_mid_stream_is_kept_as_stopped(smollm_model: Path,
                                                      tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        'history_file = "history.sqlite3"\n[sampling]\nmax_tokens = 3000\nseed = 3\n')
    tmux = start(tmp_path, env="PYCHAT_BENCH_IGNORE_EOS=1")  # a reply that keeps going
    try:
        tmux.keys("Write a very long story about a lighthouse", "Enter")
        tmux.wait_for(lambda s: "answering" in s)
        # Saved as it streams: wait until the file holds a good part of it, then kill.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            rows = history_rows(tmp_path, "SELECT text FROM messages WHERE position = 1")
            if rows and len(str(rows[0][0])) > 40:
                break
            time.sleep(0.2)
        os.kill(int((tmp_path / "pid").read_text()), signal.SIGKILL)
        tmux.close()
        saved = history_rows(tmp_path, "SELECT text, state FROM messages WHERE position = 1")
        assert len(saved) == 1 and len(str(saved[0][0])) > 40 and saved[0][1] == "streaming"

        tmux = start(tmp_path)
        tmux.keys("C-t")
        tmux.wait_for(lambda s: "lighthouse" in s)
        tmux.keys("Enter")
        screen = tmux.wait_for(lambda s: "Resumed" in s and "■ stopped" in s)
        assert "Traceback" not in screen
        quit_app(tmux, tmp_path)
    finally:
        tmux.close()
    state = history_rows(tmp_path, "SELECT state FROM messages WHERE position = 1")
    assert state == [("stopped",)]


@pytest.fixture(autouse=True)
def _no_stray_pychat(tmp_path: Path) -> object:
    yield
    pid_file = tmp_path / "pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
