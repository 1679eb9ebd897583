"""The history file's schema and its ordered upgrade steps (``PRAGMA user_version``)."""

from __future__ import annotations

SCHEMA_V1 = """
CREATE TABLE chats (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    role TEXT NOT NULL,
    text TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX messages_by_chat ON messages(chat_id, position);
"""
"""The first schema (what tests/fixtures/history-v1.sqlite3 holds)."""

UPGRADES = [
    SCHEMA_V1,
    """
    ALTER TABLE chats ADD COLUMN model TEXT NOT NULL DEFAULT '';
    ALTER TABLE chats ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE messages ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE messages ADD COLUMN current INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE messages ADD COLUMN state TEXT NOT NULL DEFAULT 'ok';
    ALTER TABLE messages ADD COLUMN answers INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN model TEXT NOT NULL DEFAULT '';
    CREATE INDEX messages_current ON messages(chat_id, current, position);
    CREATE VIRTUAL TABLE messages_fts USING fts5(text, content='messages', content_rowid='id');
    INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');
    CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;
    CREATE TRIGGER messages_au AFTER UPDATE OF text ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
    END;
    """,
    # A reply's reasoning (<think>, a server's reasoning_content), kept apart from its text:
    # shown collapsed, exported as such, never sent back to the model.
    """
    ALTER TABLE messages ADD COLUMN thinking TEXT NOT NULL DEFAULT '';
    """,
]
"""Ordered upgrade steps: step N takes a file from user_version N to N + 1."""


