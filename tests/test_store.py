"""The chat history file (stdlib sqlite3): schema upgrades, versions, search and every fault
the issue lists — a bad file, a newer file, a read-only folder, two PyChats, a full disk."""

from __future__ import annotations

import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pychat.store import Store, StoreError
from pychat.store.export import to_markdown
from pychat.store.schema import UPGRADES

FIXTURES = Path(__file__).parent / "fixtures"


def opened(path: Path) -> Store:
    store, notices = Store.open(path)
    assert notices == [] and store.path == path
    return store


def chat_with(store: Store, *texts: str) -> int:
    """A chat whose turns alternate user / assistant with ``texts``."""
    chat = store.new_chat("A chat", "one.gguf", {"system_prompt": "Be brief."})
    for position, text in enumerate(texts):
        role = "user" if position % 2 == 0 else "assistant"
        if role == "user":
            store.add_message(chat, position, role, text, "ok")
        else:
            store.add_message(chat, position, role, text, "ok", "one.gguf", answers=1)
    return chat


def test_a_version_1_file_is_upgraded_and_keeps_its_chats(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    shutil.copy(FIXTURES / "history-v1.sqlite3", path)
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 1
    store = opened(path)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(UPGRADES)
    chat = store.load_chat(1)
    assert chat is not None and chat.title == "Trip to Lisbon"
    assert [(m.role, m.state, m.version) for m in chat.messages] == [
        ("user", "ok", 1), ("assistant", "ok", 1)]
    # The old messages were indexed by the upgrade: search finds them.
    assert [c.id for c in store.search("tram")] == [1]
    # And the upgraded file takes new messages.
    store.add_message(1, 2, "user", "And back down?", "ok")
    store.close()
    again = opened(path)
    reloaded = again.load_chat(1)
    assert reloaded is not None and reloaded.messages[-1].text == "And back down?"
    again.close()


def test_a_new_file_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "history.sqlite3"
    store = opened(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_versions_are_kept_and_paged(tmp_path: Path) -> None:
    store = opened(tmp_path / "h.sqlite3")
    chat = chat_with(store, "Name a colour", "Red")
    store.add_message(chat, 1, "assistant", "Blue", "ok", "one.gguf", answers=1)
    # Edit and resend: a new user version, and its reply, make both old ones not current.
    store.add_message(chat, 0, "user", "Name a fruit", "ok")
    store.add_message(chat, 1, "assistant", "Pear", "stopped", "one.gguf", answers=2)
    current = store.load_chat(chat)
    assert current is not None
    assert [(m.text, m.version, m.versions) for m in current.messages] == [
        ("Name a fruit", 2, 2), ("Pear", 3, 3)]
    # Paging back to the first reply brings back the question it answered.
    store.select_version(chat, 1, 1)
    older = store.load_chat(chat)
    assert older is not None and [m.text for m in older.messages] == ["Name a colour", "Red"]
    assert [m.text for m in store.versions(chat, 1)] == ["Red", "Blue", "Pear"]
    assert "*(stopped)*" not in to_markdown(older)
    store.select_version(chat, 1, 3)
    newest = store.load_chat(chat)
    assert newest is not None and "*(stopped)*" in to_markdown(newest)
    store.close()


@pytest.mark.parametrize(("typed", "found"), [
    ('"', ""), ("AND", ""), ("NOT tram", ""), ("tr*", "both"), ("(", ""), ("col:x", ""),
    ("-", ""), ("'); --", ""), ("tram", "tram"), ("CASTLE", "tram"), ("goes tra", "tram"),
    ("transport", "other")])
def test_search_treats_typed_text_as_words(tmp_path: Path, typed: str, found: str) -> None:
    """FTS5 syntax typed in the box is searched for as words, never parsed: no error,
    "NOT tram" looks for both words instead of excluding one, and "tr*" is the prefix
    "tr" (punctuation is not part of a word)."""
    store = opened(tmp_path / "h.sqlite3")
    tram = chat_with(store, "Which tram goes to the castle?", "Tram 28.")
    other = store.new_chat("Another", "one.gguf", {})
    store.add_message(other, 0, "user", "Nothing about transport here", "ok")
    expected = {"": set(), "tram": {tram}, "other": {other}, "both": {tram, other}}[found]
    assert {c.id for c in store.search(typed)} == expected
    store.close()


def test_search_matches_words_prefixes_and_titles(tmp_path: Path) -> None:
    store = opened(tmp_path / "h.sqlite3")
    tram = chat_with(store, "Which tram goes to the castle?", "Tram 28 does.")
    bread = chat_with(store, "How do I bake bread?", "With flour, water and time.")
    store.rename(bread, "Baking weekend")
    assert [c.id for c in store.search("castle")] == [tram]
    assert [c.id for c in store.search("cast")] == [tram]  # as you type: a prefix
    assert [c.id for c in store.search("FLOUR")] == [bread]
    assert [c.id for c in store.search("weekend")] == [bread]  # the title
    assert store.search("tram castle")[0].snippet  # a snippet around the words
    assert store.search("submarine") == []
    assert {c.id for c in store.search("")} == {tram, bread}
    store.delete(tram)
    assert store.search("castle") == []
    store.close()


def test_a_file_that_is_not_a_history_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    path.write_bytes(b"this is not SQLite at all\n" * 100)
    store, notices = Store.open(path)
    assert len(notices) == 1 and "moved to" in notices[0]
    aside = [p for p in tmp_path.iterdir() if ".unreadable-" in p.name]
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not SQLite")
    assert store.path == path
    chat_with(store, "still works", "yes")
    store.close()


def test_a_corrupt_history_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    store = opened(path)
    chat_with(store, "hello", "hi")
    store.close()
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the header's tail and the schema page
    path.write_bytes(bytes(data))
    fresh, notices = Store.open(path)
    assert len(notices) == 1 and "could not be read" in notices[0]
    assert fresh.path == path and fresh.list_chats() == []
    assert any(".unreadable-" in p.name for p in tmp_path.iterdir())
    fresh.close()


def test_a_history_from_a_newer_pychat_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {len(UPGRADES) + 5}")
    before = path.read_bytes()
    store, notices = Store.open(path)
    assert store.path is None  # in memory
    assert len(notices) == 1 and "newer PyChat" in notices[0] and "memory" in notices[0]
    assert path.read_bytes() == before
    assert not any(".unreadable-" in p.name for p in tmp_path.iterdir())
    store.close()


def test_a_read_only_folder_keeps_chats_in_memory(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        store, notices = Store.open(folder / "history.sqlite3")
        assert store.path is None
        assert len(notices) == 1 and "not be saved" in notices[0]
        chat = chat_with(store, "kept in memory", "yes")
        loaded = store.load_chat(chat)
        assert loaded is not None and len(loaded.messages) == 2
        assert list(folder.iterdir()) == []
        store.close()
    finally:
        folder.chmod(0o755)


WRITER = """
import sys
from pathlib import Path
from pychat.store import Store
store, notices = Store.open(Path(sys.argv[1]))
assert not notices, notices
chat = store.new_chat(sys.argv[2], "", {})
for position in range(80):
    store.add_message(chat, position, "user", f"{sys.argv[2]} message {position}", "ok")
    store.search("message")
store.close()
"""


def test_two_pychats_write_the_same_file_at_once(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    opened(path).close()
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), name],
                                stderr=subprocess.PIPE, text=True)
               for name in ("first", "second")]
    for writer in writers:
        _, err = writer.communicate(timeout=60)
        assert writer.returncode == 0, err
    store = opened(path)
    assert sorted((c.title, c.messages) for c in store.list_chats()) == [
        ("first", 80), ("second", 80)]
    store.close()


def test_a_full_disk_is_a_clear_error_and_the_file_stays_good(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    store = opened(path)
    chat = chat_with(store, "before the disk filled", "ok")
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")  # as if the disk were full
    with pytest.raises(StoreError, match="disk is full"):
        store.add_message(chat, 2, "user", "x" * 200_000, "ok")
    store.close()
    again = opened(path)
    kept = again.load_chat(chat)
    assert kept is not None and [m.text for m in kept.messages] == [
        "before the disk filled", "ok"]
    again.close()


def test_a_reply_being_written_when_pychat_died_is_stopped(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    store = opened(path)
    chat = chat_with(store, "Tell me a story")
    store.add_message(chat, 1, "assistant", "Once upon a", "streaming", "one.gguf", 1)
    store.db.close()  # no clean close: as after kill -9
    again = opened(path)
    kept = again.load_chat(chat)
    assert kept is not None
    assert [(m.text, m.state) for m in kept.messages][-1] == ("Once upon a", "stopped")
    again.close()


def test_a_chat_with_bad_settings_json_still_opens(tmp_path: Path) -> None:
    store = opened(tmp_path / "h.sqlite3")
    chat = chat_with(store, "hi")
    store.db.execute("UPDATE chats SET settings = '{not json' WHERE id = ?", (chat,))
    loaded = store.load_chat(chat)
    assert loaded is not None and loaded.settings == {}
    assert store.load_chat(9999) is None
    store.close()


def test_a_snippet_is_cut_around_the_first_word_found() -> None:
    from pychat.store.records import snippet_around

    text = "one two three four five six seven eight nine Okapis ten eleven twelve thirteen " \
           "fourteen fifteen sixteen"
    assert snippet_around(text, "okapi") == ("…six seven eight nine Okapis ten eleven twelve "
                                            "thirteen fourteen fifteen sixteen")
    assert snippet_around("short (okapi) text", "OKA") == "short (okapi) text"
    assert snippet_around("nothing here", "okapi") == ""
