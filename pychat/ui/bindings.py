"""Textual bindings built from the key table in ``pychat.keys`` (ids, keys, descriptions)."""

from __future__ import annotations

from collections.abc import Mapping

from textual.binding import Binding

from pychat.keys import KEYS


def bind(binding_id: str, action: str, *, show: bool = True, priority: bool = False) -> Binding:
    """The binding ``binding_id`` from the key table, running ``action``."""
    spec = KEYS[binding_id]
    return Binding(spec.keys, action, spec.description, show=show, priority=priority,
                   id=binding_id)


def key_label(binding_id: str, keymap: Mapping[str, str]) -> str:
    """The key a message names for ``binding_id`` (the user's remap if any): "F3",
    "ctrl+t"."""
    key = (keymap.get(binding_id) or KEYS[binding_id].keys).split(",")[0].strip()
    return key.upper() if key[:1] == "f" and key[1:].isdigit() else key
