"""Chats kept in SQLite (stdlib ``sqlite3``; no Textual): chats, messages, versions, search.

- WAL, ``PRAGMA user_version`` with ordered upgrade steps, a busy timeout so two PyChat
  instances can share one file, the file made 0600.
- A chat's turns are messages with a position; regenerating a reply or editing and
  resending the last message adds a new *version* at that position and makes it the
  current one; older versions stay and can be paged through.
- FTS5 indexes message text for search as you type (titles are matched too).

A ``Store`` is used from one thread (the session's store lane); every method may raise
``StoreError`` with a message for the user (disk full, read-only, locked).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pychat.errors import PyChatError
from pychat.files import read_only
from pychat.store.records import (
    ChatSummary,
    StoredChat,
    StoredMessage,
    search_query,
    snippet_around,
)
from pychat.store.schema import UPGRADES


class StoreError(PyChatError):
    """The history could not be read or written."""

    title = "History not saved"


class NewerSchema(sqlite3.DatabaseError):
    """The file was written by a newer PyChat: it is left where it is, untouched."""


class Store:
    """The chat history in one SQLite file (or in memory when the file cannot be used)."""

    def __init__(self, connection: sqlite3.Connection, path: Path | None) -> None:
        self.db = connection
        self.path = path
        """None when the history lives in memory only (nothing is saved)."""

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, path: Path) -> tuple[Store, list[str]]:
        """Open (or create) the history at ``path``; returns the store and what the user
        should be told. A file that is not a readable SQLite history is moved aside (never
        deleted) and a new one started; a folder that cannot be written gives a store in
        memory."""
        notices: list[str] = []
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return cls._open_file(path), notices
        except NewerSchema as exc:
            notices.append(f"the history at {path} was {exc}: it is left as it is, and "
                           "chats are kept in memory only and will not be saved.")
        except sqlite3.DatabaseError as exc:
            if path.exists() and "locked" not in str(exc):
                aside = path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
                try:
                    os.replace(path, aside)
                    notices.append(f"{path} could not be read ({exc}); it was moved to "
                                   f"{aside} and a new history started.")
                    return cls._open_file(path), notices
                except (OSError, sqlite3.DatabaseError):
                    pass
            notices.append(f"the history at {path} cannot be used ({exc}): chats are kept "
                           "in memory only and will not be saved.")
        except OSError as exc:
            notices.append(f"the history at {path} cannot be written "
                           f"({exc.strerror or exc}): chats are kept in memory only and "
                           "will not be saved.")
        return cls._open_memory(), notices

    @classmethod
    def _open_file(cls, path: Path) -> Store:
        new = not path.exists()
        if read_only(path.parent) or (not new and read_only(path)):
            raise OSError(13, "it is read-only")
        connection = sqlite3.connect(path, timeout=10, isolation_level=None)
        try:
            if new:
                os.chmod(path, 0o600)
            cls._schema_version(connection)  # before WAL changes a newer PyChat's file
            connection.execute("PRAGMA journal_mode = WAL")
            cls._prepare(connection)
        except BaseException:
            connection.close()
            raise
        return cls(connection, path)

    @classmethod
    def in_memory(cls) -> Store:
        """A history that lives as long as the process (nothing is saved)."""
        return cls._open_memory()

    @classmethod
    def _open_memory(cls) -> Store:
        connection = sqlite3.connect(":memory:", isolation_level=None)
        cls._prepare(connection)
        return cls(connection, None)

    @staticmethod
    def _schema_version(connection: sqlite3.Connection) -> int:
        version = int(connection.execute("PRAGMA user_version").fetchone()[0])
        if version > len(UPGRADES):
            raise NewerSchema(f"written by a newer PyChat (schema {version})")
        return version

    @classmethod
    def _prepare(cls, connection: sqlite3.Connection) -> None:
        """Foreign keys on, then every upgrade step the file has not had, in order."""
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute("PRAGMA busy_timeout = 10000")  # another PyChat may be writing
        version = cls._schema_version(connection)
        for number, step in enumerate(UPGRADES[version:], start=version + 1):
            connection.executescript(f"BEGIN; {step}; PRAGMA user_version = {number}; COMMIT;")
        # A reply being written when PyChat ended (a kill, a crash) is kept as stopped.
        connection.execute("UPDATE messages SET state = 'stopped' WHERE state = 'streaming'")

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        try:
            self.db.execute("BEGIN IMMEDIATE")
            yield self.db
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise StoreError(_reason(exc)) from exc

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------------ writing

    def new_chat(self, title: str, model: str, settings: dict[str, Any]) -> int:
        now = time.time()
        with self._writing() as db:
            cursor = db.execute(
                "INSERT INTO chats(title, created, updated, model, settings) "
                "VALUES (?, ?, ?, ?, ?)", (title, now, now, model, json.dumps(settings)))
            return int(cursor.lastrowid or 0)

    def rename(self, chat_id: int, title: str) -> None:
        with self._writing() as db:
            db.execute("UPDATE chats SET title = ? WHERE id = ?", (title, chat_id))

    def delete(self, chat_id: int) -> None:
        with self._writing() as db:
            db.execute("DELETE FROM messages WHERE chat_id = ?", (chat_id,))
            db.execute("DELETE FROM chats WHERE id = ?", (chat_id,))

    def save_settings(self, chat_id: int, model: str, settings: dict[str, Any]) -> None:
        with self._writing() as db:
            db.execute("UPDATE chats SET model = ?, settings = ?, updated = ? WHERE id = ?",
                       (model, json.dumps(settings), time.time(), chat_id))

    def add_message(self, chat_id: int, position: int, role: str, text: str, state: str,
                    model: str = "", answers: int = 0, thinking: str = "") -> StoredMessage:
        """A new message at ``position``: the first version there, or a new version that
        becomes the current one (the others stay, to page through)."""
        now = time.time()
        with self._writing() as db:
            version = db.execute(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM messages "
                "WHERE chat_id = ? AND position = ?", (chat_id, position)).fetchone()[0]
            db.execute("UPDATE messages SET current = 0 WHERE chat_id = ? AND position >= ?",
                       (chat_id, position))
            cursor = db.execute(
                "INSERT INTO messages(chat_id, position, role, text, created, version, "
                "current, state, answers, model, thinking) "
                "VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)",
                (chat_id, position, role, text, now, version, state, answers, model, thinking))
            db.execute("UPDATE chats SET updated = ? WHERE id = ?", (now, chat_id))
        return StoredMessage(int(cursor.lastrowid or 0), position, version, role, text, state,
                             model, answers, version, thinking)

    def update_message(self, message_id: int, text: str, state: str, thinking: str = ""
                       ) -> None:
        with self._writing() as db:
            db.execute("UPDATE messages SET text = ?, state = ?, thinking = ? WHERE id = ?",
                       (text, state, thinking, message_id))

    def fork(self, chat_id: int, through: int, title: str) -> int | None:
        """A new chat holding ``chat_id``'s current messages up to position ``through``
        (with their versions' text as shown, not their other versions); its id, or None
        when there is no such chat."""
        source = self.load_chat(chat_id)
        if source is None:
            return None
        now = time.time()
        with self._writing() as db:
            cursor = db.execute(
                "INSERT INTO chats(title, created, updated, model, settings) "
                "VALUES (?, ?, ?, ?, ?)", (title, now, now, source.model,
                                           json.dumps(source.settings)))
            new_id = int(cursor.lastrowid or 0)
            db.executemany(
                "INSERT INTO messages(chat_id, position, role, text, created, version, "
                "current, state, answers, model, thinking) "
                "VALUES (?, ?, ?, ?, ?, 1, 1, ?, ?, ?, ?)",
                [(new_id, m.position, m.role, m.text, now, m.state, 1 if m.answers else 0,
                  m.model, m.thinking) for m in source.messages if m.position <= through])
        return new_id

    def select_version(self, chat_id: int, position: int, version: int) -> None:
        """Make ``version`` the current one at ``position`` (and, for a reply, the version
        of the message it answers at the position before)."""
        with self._writing() as db:
            row = db.execute("SELECT answers FROM messages WHERE chat_id = ? AND position = ? "
                             "AND version = ?", (chat_id, position, version)).fetchone()
            if row is None:
                return
            db.execute("UPDATE messages SET current = (version = ?) "
                       "WHERE chat_id = ? AND position = ?", (version, chat_id, position))
            if row[0]:
                db.execute("UPDATE messages SET current = (version = ?) "
                           "WHERE chat_id = ? AND position = ?", (row[0], chat_id, position - 1))

    # ------------------------------------------------------------------ reading

    def list_chats(self, limit: int = 500) -> list[ChatSummary]:
        rows = self.db.execute(
            "SELECT c.id, c.title, c.updated, c.model, "
            "(SELECT COUNT(*) FROM messages m WHERE m.chat_id = c.id AND m.current) "
            "FROM chats c ORDER BY c.updated DESC LIMIT ?", (limit,)).fetchall()
        return [ChatSummary(*row) for row in rows]

    def search(self, text: str, limit: int = 50) -> list[ChatSummary]:
        """Chats whose title or messages hold the words of ``text`` (the last one as a
        prefix), newest first, with a snippet of the first match.

        The full-text index is asked once for every matching message (CROSS JOIN keeps
        SQLite from walking a chat's messages and asking the index about each one: that
        plan took 6 s for a word in one message of a 10,000-message chat). Snippets are cut
        here from the messages found: FTS5's snippet() evaluates the whole query again
        (175 ms for a word in every one of 100,000 messages)."""
        query = search_query(text)
        if not query:
            return self.list_chats(limit)
        try:
            first_hit = dict(self.db.execute(
                "SELECT m.chat_id, MIN(messages_fts.rowid) FROM messages_fts "
                "CROSS JOIN messages m ON m.id = messages_fts.rowid "
                "WHERE messages_fts MATCH ? GROUP BY m.chat_id", (query,)).fetchall())
            titled = {row[0] for row in self.db.execute(
                "SELECT id FROM chats WHERE title LIKE ?", (f"%{text.strip()}%",))}
            wanted = list(first_hit.keys() | titled)
            rows = self.db.execute(
                f"SELECT id, title, updated, model FROM chats WHERE id IN "
                f"({','.join('?' * len(wanted))}) ORDER BY updated DESC LIMIT ?",
                (*wanted, limit)).fetchall() if wanted else []
            hits = [first_hit[row[0]] for row in rows if row[0] in first_hit]
            texts = dict(self.db.execute(
                f"SELECT id, text FROM messages WHERE id IN ({','.join('?' * len(hits))})",
                hits).fetchall()) if hits else {}
            found = [ChatSummary(chat_id, title, updated, model, 0,
                                 snippet_around(texts.get(first_hit.get(chat_id), ""), text))
                     for chat_id, title, updated, model in rows]
        except sqlite3.Error as exc:
            raise StoreError(_reason(exc)) from exc
        return found

    def load_chat(self, chat_id: int) -> StoredChat | None:
        chat = self.db.execute("SELECT id, title, model, settings FROM chats WHERE id = ?",
                               (chat_id,)).fetchone()
        if chat is None:
            return None
        rows = self.db.execute(
            "SELECT m.id, m.position, m.version, m.role, m.text, m.state, m.model, m.answers, "
            "(SELECT COUNT(*) FROM messages v WHERE v.chat_id = m.chat_id "
            " AND v.position = m.position), m.thinking "
            "FROM messages m WHERE m.chat_id = ? AND m.current ORDER BY m.position",
            (chat_id,)).fetchall()
        try:
            settings = json.loads(chat[3])
        except ValueError:
            settings = {}
        return StoredChat(chat[0], chat[1], chat[2], settings if isinstance(settings, dict)
                          else {}, [StoredMessage(*row) for row in rows])

    def versions(self, chat_id: int, position: int) -> list[StoredMessage]:
        rows = self.db.execute(
            "SELECT id, position, version, role, text, state, model, answers, 0, thinking "
            "FROM messages WHERE chat_id = ? AND position = ? ORDER BY version",
            (chat_id, position))
        found = [StoredMessage(*row) for row in rows.fetchall()]
        for message in found:
            message.versions = len(found)
        return found


def _reason(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "full" in text:
        return "the disk is full: the chat stays on screen but is not saved"
    if "readonly" in text or "read-only" in text:
        return "the history file is read-only: the chat is not saved"
    if "locked" in text:
        return "another PyChat holds the history: try again in a moment"
    return f"the history could not be written ({text})"
