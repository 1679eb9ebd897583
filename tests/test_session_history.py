"""The session keeps its chats: the message before its reply, the reply while it streams,
stopped and failed replies as such, and a full disk or a bad file told without losing the
chat on screen. The history file is read back over a connection of its own, as another
process (or the next start) would."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from pychat.errors import GenerationError
from pychat.session import ChatSession
from pychat.session import recorder as recorder_module
from pychat.session.events import (
    ContextStart,
    Event,
    ModelState,
    Notice,
    ReplyFinished,
    StateChanged,
    TextReceived,
)
from tests.support.fake_backend import FakeBackend
from tests.support.session import Recorder, fake_session

HISTORY = 'history_file = "history.sqlite3"\n'
LONG_REPLY = " ".join(f"word{n}" for n in range(60))


def started(tmp_path: Path, backend: FakeBackend | None = None) -> tuple[ChatSession, Recorder]:
    session, recorder = fake_session(tmp_path, backend, config=HISTORY)
    session.start(session.library.models_dir / "one.gguf", poll_vram=None)
    recorder.wait_for(StateChanged, lambda e: e.model is ModelState.READY)
    assert session.history.wait()  # the history is open
    return session, recorder


def saved_rows(tmp_path: Path) -> list[tuple[int, str, str, str]]:
    """(position, role, text, state) of every current message, read as another process."""
    path = tmp_path / "history.sqlite3"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
        return db.execute("SELECT position, role, text, state FROM messages WHERE current "
                          "ORDER BY chat_id, position").fetchall()


def test_the_message_is_saved_before_its_reply_starts(tmp_path: Path) -> None:
    session, recorder = started(tmp_path)
    seen_at_first_piece: list[list[tuple[int, str, str, str]]] = []

    def on_event(event: Event) -> None:
        if isinstance(event, TextReceived) and not seen_at_first_piece:
            seen_at_first_piece.append(saved_rows(tmp_path))
        recorder(event)

    session.listen(on_event)
    session.send("Where is the castle?")
    recorder.wait_for(ReplyFinished)
    assert seen_at_first_piece[0][0] == (0, "user", "Where is the castle?", "ok")
    assert session.history.wait()
    assert saved_rows(tmp_path)[-1] == (1, "assistant", session.backend.reply, "ok")
    session.shutdown()


def test_a_streaming_reply_is_saved_while_it_streams(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recorder_module, "SAVE_SECONDS", 0.2)  # saved every 0.2 s, not 1 s
    backend = FakeBackend(reply=LONG_REPLY, tokens_per_second=100)  # about 0.6 s
    session, recorder = started(tmp_path, backend)
    session.send("Count for me")
    partial: list[str] = []
    deadline = time.monotonic() + 30
    while not recorder.of(ReplyFinished) and time.monotonic() < deadline:
        rows = [r for r in saved_rows(tmp_path) if r[1] == "assistant"]
        if rows and rows[0][3] == "streaming" and rows[0][2]:
            partial.append(rows[0][2])
        time.sleep(0.02)
    recorder.wait_for(ReplyFinished)
    # Seen part-written, then growing, before the reply ended.
    assert partial and LONG_REPLY.startswith(partial[0]) and partial[0] != LONG_REPLY
    assert len(set(partial)) >= 2
    assert session.history.wait()
    assert saved_rows(tmp_path)[-1][2:] == (LONG_REPLY, "ok")
    session.shutdown()


def test_a_stopped_reply_is_saved_as_stopped(tmp_path: Path) -> None:
    backend = FakeBackend(reply=LONG_REPLY, tokens_per_second=20)
    session, recorder = started(tmp_path, backend)
    session.send("Count for me")
    recorder.wait_for(TextReceived, lambda e: "word3" in e.text or e.text.count("word") > 3)
    session.stop()
    finished = recorder.wait_for(ReplyFinished)
    assert session.history.wait()
    position, role, text, state = saved_rows(tmp_path)[-1]
    assert (position, role, state) == (1, "assistant", "stopped")
    assert text and LONG_REPLY.startswith(text.strip()) and text.strip() != LONG_REPLY
    assert finished.note
    session.shutdown()


def test_a_failed_reply_is_saved_with_its_text_as_failed(tmp_path: Path) -> None:
    backend = FakeBackend(reply=LONG_REPLY)
    backend.stream_error, backend.fail_after = GenerationError("llama_decode returned -1"), 5
    session, recorder = started(tmp_path, backend)
    session.send("Count for me")
    assert "llama_decode" in recorder.wait_for(ReplyFinished).error
    assert session.history.wait()
    position, role, text, state = saved_rows(tmp_path)[-1]
    assert (position, role, state) == (1, "assistant", "error") and text.startswith("word0")
    session.shutdown()


def test_a_full_disk_is_told_and_the_chat_on_screen_stays(tmp_path: Path) -> None:
    session, recorder = started(tmp_path)
    session.send("first message")
    recorder.wait_for(ReplyFinished)
    assert session.history.wait()

    def fill_the_disk(store: object) -> None:
        db = store.db  # type: ignore[attr-defined]
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages}")

    session.history.run(fill_the_disk)
    mark = recorder.mark()
    session.send("second message " + "x" * 100_000)
    recorder.wait_for(ReplyFinished, after=mark)
    notice = recorder.wait_for(Notice, lambda n: "disk is full" in n.message, after=mark)
    assert "not saved" in notice.message
    assert [t.role for t in session.conversation.turns] == [
        "user", "assistant", "user", "assistant"]
    assert session.conversation.turns[2].text.startswith("second message")
    # Told once, not once per write.
    session.send("third")
    recorder.wait_for(ReplyFinished, after=recorder.mark() - 1)
    session.history.wait()
    assert len([n for n in recorder.of(Notice) if "disk is full" in n.message]) == 1
    session.shutdown()
    assert [r[2] for r in saved_rows(tmp_path)][:2] == ["first message", session.backend.reply]


def test_a_corrupt_history_is_told_and_chats_still_saved(tmp_path: Path) -> None:
    (tmp_path / "history.sqlite3").write_bytes(b"\x00garbage" * 512)
    session, recorder = started(tmp_path)
    notice = recorder.wait_for(Notice, lambda n: "moved to" in n.message)
    assert "history.sqlite3" in notice.message
    assert session.history.saved
    session.send("hello")
    recorder.wait_for(ReplyFinished)
    assert session.history.wait()
    assert saved_rows(tmp_path)[0][2] == "hello"
    session.shutdown()


def test_a_read_only_data_folder_keeps_chats_in_memory(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        session, recorder = fake_session(tmp_path, config='history_file = "locked/h.sqlite3"\n')
        session.start(session.library.models_dir / "one.gguf", poll_vram=None)
        notice = recorder.wait_for(Notice, lambda n: "memory" in n.message)
        assert "not be saved" in notice.message
        session.send("hello")
        assert recorder.wait_for(ReplyFinished).error == ""
        assert session.history.wait() and not session.history.saved
        assert [t.role for t in session.conversation.turns] == ["user", "assistant"]
        session.shutdown()
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


def test_turns_left_out_to_fit_stay_kept_and_the_start_is_marked(tmp_path: Path) -> None:
    config = HISTORY + '[models."one.gguf"]\nn_ctx = 128\n[sampling]\nmax_tokens = 8\n'
    session, recorder = fake_session(tmp_path, FakeBackend(reply="ok " * 10), config=config)
    session.start(session.library.models_dir / "one.gguf", poll_vram=None)
    recorder.wait_for(StateChanged, lambda e: e.model is ModelState.READY)
    for n in range(6):  # about 30 tokens an exchange: the oldest no longer fit
        mark = recorder.mark()
        session.send(f"question {n} " + "word " * 12)
        assert recorder.wait_for(ReplyFinished, after=mark).error == ""
    start = recorder.of(ContextStart)[-1].position
    assert 0 < start < 10 and session.conversation.turns[start].role == "user"
    sent = session.backend.requests[-1]
    assert sent[1]["content"] == session.conversation.turns[start].text  # after the system
    assert session.history.wait()
    assert [r[2].split()[:2] for r in saved_rows(tmp_path) if r[1] == "user"] == [
        ["question", str(n)] for n in range(6)]  # every turn is still in the history
    session.shutdown()
