"""``pychat history [--search TEXT]`` and ``pychat export ID [-o FILE]``: the kept chats
from the command line. They read the history file and never create one."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from pychat.config import LoadedConfig
from pychat.errors import PyChatError
from pychat.session.history import history_path
from pychat.store import Store, StoredChat
from pychat.store.export import to_markdown
from pychat.text import inert_line


class HistoryMissing(PyChatError):
    title = "No history"


def open_history(loaded: LoadedConfig) -> Store:
    """The history file, opened; a missing one is an error (nothing is created), and what
    the store has to say (a file moved aside, a newer schema) goes to stderr."""
    path = history_path(loaded)
    if path is None or not path.exists():
        raise HistoryMissing(f"no chats kept yet (the history file would be {path})")
    store, notices = Store.open(path)
    for notice in notices:
        print(f"pychat: warning: {notice}", file=sys.stderr)
    return store


def stored_chat(store: Store, chat_id: int | None) -> StoredChat:
    """The chat ``chat_id``, or the newest one for None."""
    if chat_id is None:
        newest = store.list_chats(limit=1)
        if not newest:
            raise HistoryMissing("no chats kept yet")
        chat_id = newest[0].id
    chat = store.load_chat(chat_id)
    if chat is None:
        raise HistoryMissing(f"there is no chat {chat_id} (pychat history lists them)")
    return chat


def list_history(loaded: LoadedConfig, search: str | None) -> int:
    store = open_history(loaded)
    try:
        found = store.search(search) if search else store.list_chats()
    finally:
        store.close()
    if not found:
        print("No chats match." if search else "No chats kept yet.")
        return 0
    for chat in found:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(chat.updated))
        count = f"{chat.messages} messages" if chat.messages else ""
        details = " · ".join(x for x in (when, inert_line(chat.model), count) if x)
        print(f"{chat.id:>5}  {inert_line(chat.title) or '(untitled)'}\n       {details}")
        if chat.snippet:
            print(f"       … {inert_line(chat.snippet)}")
    return 0


def export_chat(loaded: LoadedConfig, chat_id: int, output: str | None) -> int:
    store = open_history(loaded)
    try:
        text = to_markdown(stored_chat(store, chat_id))
    finally:
        store.close()
    if output is None or output == "-":
        sys.stdout.write(text)
        return 0
    path = Path(output).expanduser()
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise PyChatError(f"cannot write {inert_line(str(path))}: "
                          f"{exc.strerror or exc}") from exc
    print(f"Chat {chat_id} written to {inert_line(str(path))}", file=sys.stderr)
    return 0
