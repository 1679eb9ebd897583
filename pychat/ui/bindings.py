"""Textual bindings made from the command table (``pychat.commands``)."""

from __future__ import annotations

from textual.binding import Binding, BindingType

from pychat.commands import in_scope


def bindings(scope: str) -> list[BindingType]:
    """The bindings of every command active in ``scope`` (a screen's or widget's
    ``BINDINGS``); each carries its command id, so ``[keys]`` remaps it."""
    return [Binding(c.keys, c.action, c.description, show=c.footer, priority=c.priority,
                    id=c.id) for c in in_scope(scope)]
