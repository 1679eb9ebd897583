"""The chat history (SQLite): see ``db.Store``."""

from __future__ import annotations

from pychat.store.db import Store, StoreError
from pychat.store.records import ChatSummary, StoredChat, StoredMessage

__all__ = ["ChatSummary", "Store", "StoreError", "StoredChat", "StoredMessage"]
