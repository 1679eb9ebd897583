"""A stored chat as Markdown (``pychat export`` and the export key)."""

from __future__ import annotations

import time

from pychat.store.records import StoredChat

_NOTES = {"stopped": "*(stopped)*", "error": "*(the reply failed)*",
          "excluded": "*(too long for the context: not sent)*"}


def to_markdown(chat: StoredChat) -> str:
    """The chat's current messages, each under who wrote it."""
    lines = [f"# {chat.title or 'Chat ' + str(chat.id)}", ""]
    if chat.model:
        lines += [f"*Model: {chat.model} · exported {time.strftime('%Y-%m-%d %H:%M')}*", ""]
    for message in chat.messages:
        who = "You" if message.role == "user" else (message.model or chat.model or "Model")
        lines += [f"## {who}", ""]
        if message.thinking.strip():
            lines += [thinking_section(message.thinking), ""]
        lines += [message.text.rstrip() or "*(empty)*", ""]
        if message.state in _NOTES:
            lines += [_NOTES[message.state], ""]
    return "\n".join(lines)


def thinking_section(thinking: str) -> str:
    """A reply's reasoning as a section that Markdown viewers show collapsed."""
    return f"<details><summary>Thinking</summary>\n\n{thinking.strip()}\n\n</details>"
