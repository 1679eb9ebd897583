"""The chat history: the store of kept chats, every call to it on one lane, in the order
asked.

SQLite objects belong to the thread that made them and a write can wait on a lock (another
PyChat) or a slow disk, so the store lives on its own first-in-first-out lane, never on
the UI thread. A failed write (disk full, read-only) is told once and the chat on screen
stays as it is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pychat.config import LoadedConfig, Sampling, check_setting
from pychat.locations import user_data_dir
from pychat.session import events as ev
from pychat.session.lanes import Lane
from pychat.store import ChatSummary, Store, StoredChat, StoredMessage, StoreError
from pychat.store.export import to_markdown
from pychat.text import inert, inert_line

Emit = Callable[[ev.Event], None]
Report = Callable[[str, BaseException], str]
TITLE_CHARS = 60


def history_path(loaded: LoadedConfig) -> Path:
    """The history file: ``history_file`` from the config, or the user data folder."""
    configured = loaded.config.history_file
    if not configured:
        return user_data_dir() / "history.sqlite3"
    return loaded.base_dir / Path(configured).expanduser()


@dataclass(frozen=True)
class ChatSettings:
    """What a chat keeps besides its messages: its system prompt and its sampling."""

    system_prompt: str
    sampling: Sampling

    def to_json(self) -> dict[str, Any]:
        return {"system_prompt": self.system_prompt,
                "sampling": dataclasses.asdict(self.sampling)}

    def merged(self, data: dict[str, Any]) -> ChatSettings:
        """These settings with the valid values of a stored chat's ``data`` on top (a
        value the config's bounds refuse is left out)."""
        prompt = data.get("system_prompt")
        system = prompt if isinstance(prompt, str) else self.system_prompt
        values = {}
        stored = data.get("sampling") if isinstance(data.get("sampling"), dict) else {}
        for name, value in (stored or {}).items():
            try:
                values[name] = check_setting("sampling", name, value)
            except ValueError:
                continue
        return ChatSettings(system, dataclasses.replace(self.sampling, **values))


def title_for(text: str) -> str:
    """A chat's title from its first message: the first line, shortened."""
    line = inert_line(text.strip().splitlines()[0] if text.strip() else "New chat")
    return line if len(line) <= TITLE_CHARS else line[:TITLE_CHARS - 1].rstrip() + "…"


class History:
    """The store on its lane, and the current chat's id."""

    def __init__(self, path: Path | None, emit: Emit, report: Report) -> None:
        self.path = path
        """The history file; None keeps it in memory only."""
        self.chat_id: int | None = None
        """The chat being held (None until its first message is saved); set on the lane."""
        self._emit, self._report = emit, report
        self._store: Store | None = None
        self._told: set[str] = set()
        self._finds = 0
        self._lane = Lane("pychat-store", self._failed, fifo=True)

    def _failed(self, exc: BaseException) -> None:
        self._report("history", exc)

    def start(self) -> None:
        self._lane.submit(self._open)

    def _open(self) -> None:
        if self.path is None:
            self._store = Store.in_memory()
            return
        self._store, notices = Store.open(self.path)
        for notice in notices:
            self._emit(ev.LogLine("warning", inert(notice)))
            self._emit(ev.Notice("Chat history", inert(notice), "warning"))

    def run(self, job: Callable[[Store], None]) -> None:
        """Run ``job`` with the store on the lane; a StoreError is told (once each)."""
        def guarded() -> None:
            if self._store is None:
                return
            try:
                job(self._store)
            except StoreError as exc:
                if exc.message not in self._told:
                    self._told.add(exc.message)
                    self._emit(ev.LogLine("warning", exc.message))
                    self._emit(ev.Notice(exc.title, exc.message, "warning"))

        self._lane.submit(guarded)

    def wait(self, timeout: float = 5.0) -> bool:
        """Wait until every write asked for so far is done (or ``timeout``)."""
        return self._lane.wait_idle(timeout)

    def close(self) -> None:
        def close(store: Store) -> None:
            store.close()
            self._store = None

        self.run(close)

    @property
    def saved(self) -> bool:
        """False when chats live in memory only."""
        return self.path is not None and self._store is not None and \
            self._store.path is not None

    # ------------------------------------------------------------------ the chat list

    def find(self, query: str) -> None:
        """Chats whose title or messages hold ``query`` (all chats for ""): ChatsFound.
        Searches asked while one runs (a user typing) give way to the newest."""
        self._finds += 1
        asked = self._finds

        def job(store: Store) -> None:
            if asked != self._finds:
                return  # a newer search is queued behind this one
            found: list[ChatSummary] = store.search(query) if query.strip() else \
                store.list_chats()
            self._emit(ev.ChatsFound(query, found, self.chat_id))

        self.run(job)

    def rename(self, chat_id: int, title: str) -> None:
        self.run(lambda store: store.rename(chat_id, inert_line(title)[:200]))

    def delete(self, chat_id: int) -> None:
        def job(store: Store) -> None:
            store.delete(chat_id)
            if self.chat_id == chat_id:
                self.chat_id = None

        self.run(job)

    def export(self, folder: Path) -> None:
        """Write the current chat as Markdown into ``folder``; a Notice says where."""
        def job(store: Store) -> None:
            chat = store.load_chat(self.chat_id) if self.chat_id else None
            if chat is None:
                self._emit(ev.Notice("Nothing to export", "This chat has no messages yet."))
                return
            path = _free_name(folder, chat)
            try:
                path.write_text(to_markdown(chat), encoding="utf-8")
            except OSError as exc:
                self._emit(ev.Notice("Export failed", f"cannot write {path}: "
                                     f"{exc.strerror or exc}", "error"))
                return
            self._emit(ev.Notice("Chat exported", f"Written to {inert_line(str(path))}"))

        self.run(job)

    def fork(self, chat_id: int, through: int, title: str,
             done: Callable[[StoredChat | None], None]) -> None:
        """A new chat of ``chat_id``'s messages up to position ``through``; ``done`` gets
        it (None when the chat is gone) on the lane."""
        def job(store: Store) -> None:
            new_id = store.fork(chat_id, through, inert_line(title)[:200])
            done(store.load_chat(new_id) if new_id is not None else None)

        self.run(job)

    def write_file(self, folder: Path, name: str, text: str) -> None:
        """``text`` into a new file ``pychat-NAME.md`` (or -2, -3 …) in ``folder``; a Notice
        says where or why not. Done on the lane: no IO on the UI's thread."""
        def job(store: Store) -> None:
            stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:60]
            path = folder / f"pychat-{stem}.md"
            number = 2
            while path.exists():
                path = folder / f"pychat-{stem}-{number}.md"
                number += 1
            try:
                path.write_text(text, encoding="utf-8")
            except OSError as exc:
                self._emit(ev.Notice("Export failed", f"cannot write {inert_line(str(path))}: "
                                     f"{exc.strerror or exc}", "error"))
                return
            self._emit(ev.Notice("Exported", f"Written to {inert_line(str(path))}"))

        self.run(job)

    def load(self, chat_id: int, done: Callable[[StoredChat | None], None]) -> None:
        """Read a whole chat; ``done`` gets it (None when it is gone) on the lane."""
        self.run(lambda store: done(store.load_chat(chat_id)))

    def show_version(self, chat_id: int, position: int, current: int, step: int,
                     done: Callable[[StoredMessage, StoredMessage], None]) -> None:
        """Make the version ``step`` away from ``current`` of the reply at ``position``
        the chat's own; ``done`` gets it and the message it answered (on the lane)."""
        def job(store: Store) -> None:
            numbers = [v.version for v in store.versions(chat_id, position)]
            if not numbers:
                return
            index = numbers.index(current) if current in numbers else len(numbers) - 1
            wanted = numbers[max(0, min(len(numbers) - 1, index + step))]
            store.select_version(chat_id, position, wanted)
            chat = store.load_chat(chat_id)
            if chat is not None and len(chat.messages) > position:
                done(chat.messages[position - 1], chat.messages[position])

        self.run(job)


def _free_name(folder: Path, chat: StoredChat) -> Path:
    """pychat-chat-12.md, or -2, -3 … so that no file is overwritten."""
    path = folder / f"pychat-chat-{chat.id}.md"
    number = 2
    while path.exists():
        path = folder / f"pychat-chat-{chat.id}-{number}.md"
        number += 1
    return path
