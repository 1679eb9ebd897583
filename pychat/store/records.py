"""What the store hands out: plain records."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass
class StoredMessage:
    """One version of one turn."""

    id: int
    position: int
    version: int
    role: str
    text: str
    state: str
    """ok, stopped, error, excluded, or streaming (being written when PyChat stopped)."""
    model: str = ""
    answers: int = 0
    """For a reply: the version of the user message it answers."""
    versions: int = 1
    """How many versions this position has."""
    thinking: str = ""
    """For a reply: the model's reasoning, apart from its text."""


@dataclass
class ChatSummary:
    """A line of the chat list."""

    id: int
    title: str
    updated: float
    model: str
    messages: int
    snippet: str = ""
    """For search results: the matching text around the words."""


@dataclass
class StoredChat:
    """A chat with its current path of messages."""

    id: int
    title: str
    model: str
    settings: dict[str, Any]
    messages: list[StoredMessage]


def search_query(text: str) -> str:
    """Words of ``text`` as an FTS5 query: every word, the last one as a prefix (results
    as you type); quoted, so what the user types is never FTS5 syntax."""
    words = [w.replace('"', '""') for w in text.split() if w.strip()]
    if not words:
        return ""
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)




def snippet_around(text: str, typed: str, words: int = 12) -> str:
    """About ``words`` words of ``text`` around the first one that begins with a word of
    ``typed`` (case aside), with "…" where it was cut; "" when none does."""
    wanted = [w.casefold() for w in re.findall(r"\w+", typed)]
    found = list(re.finditer(r"\S+", text))
    at = next((n for n, word in enumerate(found)
               if any(re.sub(r"^\W+", "", word.group().casefold()).startswith(w)
                      for w in wanted)), None)
    if at is None:
        return ""
    start = max(0, at - words // 3)
    end = min(len(found), start + words)
    return (("…" if start else "") + " ".join(w.group() for w in found[start:end])
            + ("…" if end < len(found) else ""))
