"""Every key binding by id, and the check that keeps a remap from breaking typing.

The UI builds its bindings from this table (``pychat.ui.bindings``), and the config checks
``[keys]`` against it without importing Textual. A remap is refused, with the reason, when
it would put a plain printable key on an action that is active while the user types (the
message box, the picker's filter): typing "e" must write an "e", never quit. So is a remap
that puts two actions that are active together on one key.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KeySpec:
    """One binding: its id (used in ``[keys]``), default keys and description."""

    id: str
    keys: str
    """Comma-separated Textual key names, e.g. "ctrl+q" or "escape,f1,q"."""
    description: str
    scope: str
    """Where it is active: app (everywhere), chat, prompt, picker or help."""


KEYS: dict[str, KeySpec] = {spec.id: spec for spec in (
    KeySpec("app.quit", "ctrl+q", "Quit", "app"),
    KeySpec("app.help", "f1", "Help", "app"),
    KeySpec("app.command_palette", "ctrl+p", "Commands", "app"),
    KeySpec("app.focus_next", "tab", "Next pane", "app"),
    KeySpec("app.focus_previous", "shift+tab", "Previous pane", "app"),
    KeySpec("chat.stop", "escape", "Stop", "chat"),
    KeySpec("chat.models", "ctrl+o", "Models", "chat"),
    KeySpec("chat.toggle_log", "ctrl+l", "Log", "chat"),
    KeySpec("chat.new", "ctrl+n", "New chat", "chat"),
    KeySpec("chat.regenerate", "ctrl+r", "Regenerate", "chat"),
    KeySpec("chat.page_up", "pageup", "Scroll up", "chat"),
    KeySpec("chat.page_down", "pagedown", "Scroll down", "chat"),
    KeySpec("chat.chats", "ctrl+t", "Chats", "chat"),
    KeySpec("chat.settings", "ctrl+g", "Settings", "chat"),
    KeySpec("chat.export", "ctrl+s", "Export", "chat"),
    KeySpec("chat.edit_last", "f2", "Edit last", "chat"),
    KeySpec("chat.older_version", "f3", "Older version", "chat"),
    KeySpec("chat.newer_version", "f4", "Newer version", "chat"),
    KeySpec("prompt.send", "enter", "Send", "prompt"),
    KeySpec("prompt.newline", "ctrl+j", "Newline", "prompt"),
    KeySpec("picker.cancel", "escape", "Cancel", "picker"),
    KeySpec("picker.down", "down", "Next", "picker"),
    KeySpec("picker.up", "up", "Previous", "picker"),
    KeySpec("picker.load", "enter", "Load", "picker"),
    KeySpec("help.close", "escape,f1,q", "Close", "help"),
    KeySpec("chats.close", "escape", "Close", "chats"),
    KeySpec("chats.down", "down", "Next", "chats"),
    KeySpec("chats.up", "up", "Previous", "chats"),
    KeySpec("chats.open", "enter", "Open", "chats"),
    KeySpec("chats.rename", "f2", "Rename", "chats"),
    KeySpec("chats.delete", "f8", "Delete", "chats"),
    KeySpec("settings.close", "escape", "Close", "settings"),
    KeySpec("settings.apply", "enter", "Apply", "settings"),
    KeySpec("settings.save_preset", "f5", "Save as preset", "settings"),
    KeySpec("ask.cancel", "escape", "Cancel", "ask"),
    KeySpec("confirm.yes", "y", "Yes", "confirm"),
    KeySpec("confirm.no", "n,escape", "No", "confirm"),
)}

TOGETHER = ({"app", "chat", "prompt"}, {"app", "picker"}, {"app", "help"}, {"app", "chats"},
            {"app", "settings"}, {"app", "ask"}, {"app", "confirm"})
"""Scopes whose bindings are active at the same time."""
TYPING_SCOPES = {"app", "chat", "prompt", "picker", "chats", "settings", "ask"}
"""Scopes active while a text field has focus (the help and the yes/no question have
none)."""

_MODIFIERS = ("ctrl+", "alt+", "meta+", "super+", "hyper+")
_NAMED = {"escape", "enter", "tab", "backspace", "delete", "insert", "home", "end", "pageup",
          "pagedown", "up", "down", "left", "right"} | {f"f{n}" for n in range(1, 25)}


def types_text(key: str) -> bool:
    """True when ``key`` writes a character in a text field ("e", "E", "space", "1", …)."""
    key = key.strip().lower()
    if key.startswith(_MODIFIERS):
        return False
    return key.removeprefix("shift+") not in _NAMED


def split_keys(keys: str) -> list[str]:
    return [key.strip().lower() for key in keys.split(",") if key.strip()]


def check_keymap(keymap: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The remaps that can be applied, and one reason for each that cannot."""
    problems: list[str] = []
    candidates: dict[str, str] = {}
    for binding_id, keys in keymap.items():
        spec = KEYS.get(binding_id)
        if spec is None:
            problems.append(f"unknown binding id '{binding_id}' (F1 lists them all)")
            continue
        typed = [key for key in split_keys(keys) if types_text(key)]
        if typed and spec.scope in TYPING_SCOPES:
            problems.append(f"{binding_id} = \"{keys}\": '{typed[0]}' types text, so "
                            "typing it in the message box would run the action; use a key "
                            "with ctrl or alt, or a function key")
            continue
        candidates[binding_id] = keys
    # Clashes are judged against every remap at once: moving two actions together works.
    current = {**_defaults(), **candidates}
    accepted: dict[str, str] = {}
    for binding_id, keys in candidates.items():
        clash = _clash(binding_id, keys, current)
        if clash:
            problems.append(f"{binding_id} = \"{keys}\": {clash}")
            current[binding_id] = KEYS[binding_id].keys
        else:
            accepted[binding_id] = keys
    return accepted, problems


def _defaults() -> dict[str, str]:
    return {spec.id: spec.keys for spec in KEYS.values()}


def _clash(binding_id: str, keys: str, current: dict[str, str]) -> str:
    """Why ``keys`` on ``binding_id`` collides with another action active at the same
    time ("" when it does not)."""
    scope = KEYS[binding_id].scope
    for other_id, other_keys in current.items():
        if other_id == binding_id:
            continue
        other_scope = KEYS[other_id].scope
        if not any(scope in group and other_scope in group for group in TOGETHER):
            continue
        shared = set(split_keys(keys)) & set(split_keys(other_keys))
        if shared:
            return f"'{shared.pop()}' is already {other_id}"
    return ""
