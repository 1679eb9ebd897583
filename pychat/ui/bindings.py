"""Textual bindings built from the key table in ``pychat.keys`` (ids, keys, descriptions)."""

from __future__ import annotations

from textual.binding import Binding

from pychat.keys import KEYS


def bind(binding_id: str, action: str, *, show: bool = True, priority: bool = False) -> Binding:
    """The binding ``binding_id`` from the key table, running ``action``."""
    spec = KEYS[binding_id]
    return Binding(spec.keys, action, spec.description, show=show, priority=priority,
                   id=binding_id)
