"""Every command PyChat has, one row each, and the check that keeps a remap from breaking
typing.

A row says everything about a command: its id (used in ``[keys]``), its default keys, what
the footer calls it, where it is active (its scope), the action it runs there, and its
title and help text in the command palette, F1 and the README. The UI builds its
bindings, palette and help from this table (``pychat.ui.bindings``); the config checks
``[keys]`` against it without importing Textual. Adding a command is one row here and one
``action_…`` method on the screen or widget of its scope.

A remap is refused, with the reason, when it names a key no terminal sends, when it would
put a plain printable key on an action that is active while the user types (the message
box, the picker's filter): typing "e" must write an "e", never quit; and when it puts two
actions that are active together on one key.
"""

from __future__ import annotations

import string
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """One command: a row of the table (see the module docstring)."""

    id: str
    keys: str
    """Comma-separated key names, e.g. "ctrl+q" or "escape,f1,q"."""
    description: str
    """Its short name in the footer and in F1."""
    scope: str
    """Where it is active: app (everywhere), chat (the main screen), prompt (the message
    box), picker, help, chats, settings, ask or confirm."""
    action: str
    """The Textual action it runs on the node of its scope, e.g. "models" or "version(-1)"."""
    title: str = ""
    """Its name in the command palette ("" keeps it out of the palette)."""
    help: str = ""
    """One sentence on what it does: the palette, F1 and the README show it."""
    footer: bool = True
    """Shown in the footer where it can act."""
    priority: bool = False
    """Runs before the focused widget sees the key (Textual's priority bindings)."""


COMMANDS: dict[str, Command] = {c.id: c for c in (
    Command("app.quit", "ctrl+q", "Quit", "app", "quit", "Quit", "Quit PyChat.",
            priority=True),
    Command("app.help", "f1", "Help", "app", "help", "Keys",
            "Every key, what it does and its binding id."),
    Command("app.command_palette", "ctrl+p", "Commands", "app", "command_palette",
            help="The command palette: every command by name.", footer=False),
    Command("app.focus_next", "tab", "Next pane", "app", "focus_next",
            help="The next pane or field.", footer=False),
    Command("app.focus_previous", "shift+tab", "Previous pane", "app", "focus_previous",
            help="The previous pane or field.", footer=False),
    Command("chat.stop", "escape", "Stop", "chat", "stop",
            help="Stop the reply being written (its text stays); cancel an edit."),
    Command("chat.models", "ctrl+o", "Models", "chat", "models", "Models",
            "Choose a model, gpu_layers and n_ctx (filter as you type, Enter loads)."),
    Command("chat.toggle_log", "ctrl+l", "Log", "chat", "toggle_log", "Log",
            "Show or hide the log pane."),
    Command("chat.new", "ctrl+n", "New chat", "chat", "new_chat", "New chat",
            "Start an empty chat."),
    Command("chat.regenerate", "ctrl+r", "Regenerate", "chat", "regenerate", "Regenerate",
            "Answer the last message again (the earlier reply stays as a version)."),
    Command("chat.page_up", "pageup", "Scroll up", "chat", "scroll_chat(-1)",
            help="Scroll the conversation up (at the top, earlier turns are shown).",
            footer=False, priority=True),
    Command("chat.page_down", "pagedown", "Scroll down", "chat", "scroll_chat(1)",
            help="Scroll the conversation down.", footer=False, priority=True),
    Command("chat.chats", "ctrl+t", "Chats", "chat", "chats", "Chats",
            "Kept chats: type to search, Enter resumes, F2 renames, F8 deletes."),
    Command("chat.settings", "ctrl+g", "Settings", "chat", "settings", "Settings",
            "This chat's system prompt, presets and sampling."),
    Command("chat.export", "ctrl+s", "Export", "chat", "export", "Export",
            "Write this chat as Markdown into the current folder."),
    Command("chat.edit_last", "f2", "Edit last", "chat", "edit_last", "Edit last message",
            "Edit and resend your last message (also Up in the empty message box)."),
    Command("chat.older_version", "f3", "Older version", "chat", "version(-1)",
            "Older version", "Show the previous version of the last reply."),
    Command("chat.newer_version", "f4", "Newer version", "chat", "version(1)",
            "Newer version", "Show the next version of the last reply."),
    Command("chat.browse", "alt+up,ctrl+up", "Browse", "chat", "browse", "Browse the chat",
            "Walk the conversation block by block (messages, reasoning, code) to copy, "
            "edit, fork or export one.", priority=True),
    Command("chat.copy_reply", "alt+c", "Copy reply", "chat", "copy_last('reply')",
            "Copy the last reply", "Copy the last reply (OSC 52, and tmux's buffer in "
            "tmux)."),
    Command("chat.copy_code", "alt+y", "Copy code", "chat", "copy_last('code')",
            "Copy the last code block", "Copy the last code block of the last reply, "
            "without its fences."),
    Command("chat.thinking", "alt+t", "Thinking", "chat", "toggle_thinking",
            "Fold or unfold thinking", "Fold or unfold the last reply's reasoning.",
            footer=False),
    Command("chat.continue", "f8", "Continue", "chat", "continue_reply", "Continue the reply",
            "Generate more of the last reply (stopped, cut at max_tokens, or failed)."),
    Command("chat.editor", "alt+e", "Editor", "chat", "editor", "Edit in $EDITOR",
            "Write the message in $VISUAL or $EDITOR (the draft comes back when it exits).",
            footer=False),
    Command("chat.fork", "f7", "Fork", "chat", "fork_last", "Fork the chat",
            "A new kept chat holding this one as it is (browse to fork from an earlier "
            "message).", footer=False),
    Command("app.theme", "f9", "Theme", "app", "theme", "Theme",
            "Choose the colours (saved in config.toml); ansi-dark uses the terminal's "
            "own.", footer=False),
    Command("prompt.send", "enter", "Send", "prompt", "submit",
            help="Send the message."),
    Command("prompt.newline", "ctrl+j", "Newline", "prompt", "newline",
            help="A new line in the message (works over SSH, unlike shift+enter)."),
    Command("picker.cancel", "escape", "Cancel", "picker", "cancel",
            help="Close the model picker without loading."),
    Command("picker.down", "down", "Next", "picker", "move(1)", help="The next model.",
            footer=False),
    Command("picker.up", "up", "Previous", "picker", "move(-1)", help="The previous model.",
            footer=False),
    Command("picker.load", "enter", "Load", "picker", "confirm",
            help="Load the chosen model with the gpu_layers and n_ctx shown."),
    Command("help.close", "escape,f1,q", "Close", "help", "dismiss",
            help="Close this help."),
    Command("blocks.up", "up,k", "Up", "blocks", "block_move(-1)", help="The block above.",
            footer=False),
    Command("blocks.down", "down,j", "Down", "blocks", "block_move(1)",
            help="The block below.", footer=False),
    Command("blocks.first", "home,g", "First", "blocks", "block_end(False)",
            help="The first block of the chat.", footer=False),
    Command("blocks.last", "end,G", "Last", "blocks", "block_end(True)",
            help="The last block of the chat.", footer=False),
    Command("blocks.copy", "c", "Copy", "blocks", "block('copy')",
            help="Copy the block (a code block as its code, without fences)."),
    Command("blocks.to_box", "i", "To box", "blocks", "block('to_box')",
            help="Put the block into the message box."),
    Command("blocks.expand", "enter,space", "Open", "blocks", "block_expand",
            help="Fold or unfold reasoning; show a code block whole."),
    Command("blocks.edit", "e", "Edit", "blocks", "block('edit')",
            help="Edit the message and send it again (what followed stays as a version)."),
    Command("blocks.fork", "f", "Fork", "blocks", "block('fork')",
            help="A new kept chat holding this one up to the block."),
    Command("blocks.export", "x", "Export", "blocks", "block('export')",
            help="Write the block to a Markdown file in the current folder."),
    Command("blocks.back", "escape", "Back", "blocks", "block('back')",
            help="Back to the message box."),
    Command("viewer.copy", "c", "Copy", "viewer", "copy",
            help="Copy the code shown (without fences)."),
    Command("viewer.close", "escape,q", "Close", "viewer", "dismiss",
            help="Close the code view."),
    Command("themes.close", "escape", "Cancel", "themes", "cancel",
            help="Keep the theme as it was."),
    Command("themes.choose", "enter", "Choose", "themes", "choose",
            help="Use the theme and save it in config.toml."),
    Command("chats.close", "escape", "Close", "chats", "close",
            help="Close the chat list."),
    Command("chats.down", "down", "Next", "chats", "move(1)", help="The next chat.",
            footer=False),
    Command("chats.up", "up", "Previous", "chats", "move(-1)", help="The previous chat.",
            footer=False),
    Command("chats.open", "enter", "Open", "chats", "open",
            help="Resume the chosen chat with its model and settings."),
    Command("chats.rename", "f2", "Rename", "chats", "rename", help="Rename the chosen chat."),
    Command("chats.delete", "f8", "Delete", "chats", "delete",
            help="Delete the chosen chat (after y)."),
    Command("settings.close", "escape", "Close", "settings", "cancel",
            help="Close the settings without applying them."),
    Command("settings.apply", "enter", "Apply", "settings", "apply",
            help="Apply the settings to this chat."),
    Command("settings.save_preset", "f5", "Save as preset", "settings", "save_preset",
            help="Save the system prompt as a named preset in config.toml."),
    Command("ask.cancel", "escape", "Cancel", "ask", "cancel",
            help="Leave the question unanswered."),
    Command("confirm.yes", "y", "Yes", "confirm", "answer(True)", help="Answer yes."),
    Command("confirm.no", "n,escape", "No", "confirm", "answer(False)", help="Answer no."),
)}

TOGETHER = ({"app", "chat", "prompt"}, {"app", "chat", "blocks"}, {"app", "picker"},
            {"app", "help"}, {"app", "chats"}, {"app", "settings"}, {"app", "ask"},
            {"app", "confirm"}, {"app", "viewer"}, {"app", "themes"})
"""Scopes whose bindings are active at the same time."""
TYPING_SCOPES = {"app", "chat", "prompt", "picker", "chats", "settings", "ask"}
"""Scopes active while a text field has focus (the help and the yes/no question have
none)."""
SCOPE_NAMES = {"app": "Everywhere", "chat": "The chat", "prompt": "The message box",
               "blocks": "Browsing the chat (alt+↑)", "viewer": "A code block shown whole",
               "themes": "The theme list",
               "picker": "The model picker (ctrl+o)", "help": "This help (F1)",
               "chats": "The chat list (ctrl+t)", "settings": "Chat settings (ctrl+g)",
               "ask": "A question with a text field", "confirm": "A yes/no question"}


def in_scope(scope: str) -> list[Command]:
    """The commands active in ``scope``, in table order."""
    return [c for c in COMMANDS.values() if c.scope == scope]


BROWSER_KEYS = {"chat.new": "alt+n", "chat.chats": "alt+h", "app.quit": "alt+q"}
"""Served in a browser (``pychat serve``), the commands whose keys the browser keeps for
itself (ctrl+n new window, ctrl+t new tab, ctrl+q quit) get keys that reach the page."""


def served_keymap(keymap: dict[str, str]) -> dict[str, str]:
    """The keymap in force in a browser tab: the browser-safe keys, the user's remaps on
    top (a remap that clashes with a browser-safe key is left out)."""
    accepted, _ = check_keymap({**BROWSER_KEYS, **keymap})
    return accepted


def keys_for(command_id: str, keymap: dict[str, str]) -> str:
    """The keys of ``command_id`` in force: the user's remap, else the default."""
    return keymap.get(command_id) or COMMANDS[command_id].keys


def key_label(command_id: str, keymap: dict[str, str]) -> str:
    """The key a message names for ``command_id``: its first key in force, "F3" for a
    function key."""
    key = split_keys(keys_for(command_id, keymap))[0]
    return key.upper() if key[:1] == "f" and key[1:].isdigit() else key


# ---------------------------------------------------------------------------- key names

MODIFIERS = ("ctrl", "alt", "shift", "meta", "super", "hyper")
NAMED_KEYS = frozenset({
    "escape", "enter", "return", "tab", "backspace", "delete", "insert", "home", "end",
    "pageup", "pagedown", "up", "down", "left", "right", "space",
    *(f"f{n}" for n in range(1, 25))})
"""Keys that are not characters, by the names Textual gives them."""
PUNCTUATION_NAMES = frozenset({
    "exclamation_mark", "quotation_mark", "number_sign", "dollar_sign", "percent_sign",
    "ampersand", "apostrophe", "left_parenthesis", "right_parenthesis", "asterisk", "plus",
    "comma", "minus", "full_stop", "slash", "colon", "semicolon", "less_than_sign",
    "equals_sign", "greater_than_sign", "question_mark", "at", "left_square_bracket",
    "backslash", "right_square_bracket", "circumflex_accent", "underscore", "grave_accent",
    "left_curly_bracket", "vertical_line", "right_curly_bracket", "tilde"})
"""ASCII punctuation keys, by the names Textual gives them (``tests/test_commands.py``
checks this list against Textual's own)."""


TEXT_BOX_KEYS = {
    "backspace": "deletes", "delete": "deletes", "ctrl+backspace": "deletes a word",
    "alt+backspace": "deletes a word", "alt+delete": "deletes a word",
    "super+backspace": "deletes the line start", "ctrl+w": "deletes a word",
    "ctrl+d": "deletes", "ctrl+k": "deletes to the line end", "ctrl+shift+k": "deletes the line",
    "ctrl+u": "deletes to the line start", "ctrl+a": "goes to the line start",
    "ctrl+e": "goes to the line end", "ctrl+shift+a": "selects all", "f6": "selects the line",
    "f7": "selects all", "ctrl+c": "copies", "super+c": "copies", "ctrl+x": "cuts",
    "super+x": "cuts", "ctrl+v": "pastes", "ctrl+z": "undoes", "super+z": "undoes",
    "ctrl+y": "redoes", "super+y": "redoes", "home": "goes to the line start",
    "end": "goes to the line end", "left": "moves the cursor", "right": "moves the cursor",
    "up": "moves the cursor", "down": "moves the cursor", "ctrl+left": "moves by a word",
    "ctrl+right": "moves by a word", "ctrl+shift+left": "selects a word",
    "ctrl+shift+right": "selects a word", "shift+left": "selects", "shift+right": "selects",
    "shift+up": "selects", "shift+down": "selects", "shift+home": "selects",
    "shift+end": "selects", "pageup": "moves a page", "pagedown": "moves a page",
    "enter": "submits"}
"""Keys Textual's text boxes (the message box, the fields) act on themselves while they
have focus: a command remapped onto one would never run while the user types
(``tests/test_commands.py`` checks this list against Textual's own bindings)."""


READ_AS = {"alt+b": "ctrl+left", "alt+f": "ctrl+right"}
"""Keys that reach the app as other keys: Esc b / Esc f are read as word moves."""


def key_problem(key: str) -> str:
    """Why ``key`` is not a key a terminal can send as Textual names it ("" when it is):
    modifiers joined by "+" to one key, "ctrl+shift+up", "f6", "alt+x", "exclamation_mark"."""
    *modifiers, base = key.split("+")
    unknown = [m for m in modifiers if m not in MODIFIERS]
    if unknown:
        return f"'{unknown[0]}' is not a modifier (use {', '.join(MODIFIERS)})"
    if len(set(modifiers)) != len(modifiers):
        return "a modifier is named twice"
    if key in READ_AS:
        return f"terminals send {key} as the word move {READ_AS[key]}, so it never arrives"
    if base in NAMED_KEYS or base in PUNCTUATION_NAMES:
        return ""
    if len(base) == 1 and base in string.ascii_letters + string.digits:
        return ""
    if len(base) == 1 and base in string.punctuation:
        return f"write '{base}' by its name (for example exclamation_mark, slash, minus)"
    return f"'{base}' is not a key name (F1 lists the keys PyChat uses; names are like " \
           "ctrl+s, alt+x, f6, pageup, escape)"


def types_text(key: str) -> bool:
    """True when ``key`` writes a character in a text field ("e", "E", "space", "1", …)."""
    *modifiers, base = key.split("+")
    if set(modifiers) - {"shift"}:
        return False
    return base not in NAMED_KEYS or base == "space"


def split_keys(keys: str) -> list[str]:
    return [key.strip().lower() if len(key.strip()) > 1 else key.strip()
            for key in keys.split(",") if key.strip()]


def check_keymap(keymap: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The remaps that can be applied, and one reason for each that cannot."""
    problems: list[str] = []
    candidates: dict[str, str] = {}
    for command_id, keys in keymap.items():
        command = COMMANDS.get(command_id)
        if command is None:
            problems.append(f"unknown binding id '{command_id}' (F1 lists them all)")
            continue
        bad = next(((key, why) for key in split_keys(keys) if (why := key_problem(key))),
                   None if split_keys(keys) else ("", "no key given"))
        if bad is not None:
            problems.append(f"{command_id} = \"{keys}\": {bad[1]}")
            continue
        taken = [key for key in split_keys(keys) if key in TEXT_BOX_KEYS]
        if taken and command.scope in TYPING_SCOPES - {"prompt"} and not command.priority:
            problems.append(f"{command_id} = \"{keys}\": in a text box '{taken[0]}' "
                            f"{TEXT_BOX_KEYS[taken[0]]}, so the action would not run while "
                            "you type; use another key")
            continue
        typed = [key for key in split_keys(keys) if types_text(key)]
        if typed and command.scope in TYPING_SCOPES:
            problems.append(f"{command_id} = \"{keys}\": '{typed[0]}' types text, so "
                            "typing it in the message box would run the action; use a key "
                            "with ctrl or alt, or a function key")
            continue
        candidates[command_id] = ",".join(split_keys(keys))
    # Clashes are judged against every remap at once: moving two actions together works.
    current = {**{c.id: c.keys for c in COMMANDS.values()}, **candidates}
    accepted: dict[str, str] = {}
    for command_id, keys in candidates.items():
        clash = _clash(command_id, keys, current)
        if clash:
            problems.append(f"{command_id} = \"{keys}\": {clash}")
            current[command_id] = COMMANDS[command_id].keys
        else:
            accepted[command_id] = keys
    return accepted, problems


def _clash(command_id: str, keys: str, current: dict[str, str]) -> str:
    """Why ``keys`` on ``command_id`` collides with another action active at the same
    time ("" when it does not)."""
    scope = COMMANDS[command_id].scope
    for other_id, other_keys in current.items():
        if other_id == command_id:
            continue
        other_scope = COMMANDS[other_id].scope
        if not any(scope in group and other_scope in group for group in TOGETHER):
            continue
        shared = set(split_keys(keys)) & set(split_keys(other_keys))
        if shared:
            return f"'{shared.pop()}' is already {other_id}"
    return ""


# ---------------------------------------------------------------------------- the README

def key_table() -> str:
    """The README's key table, made from the command table (``python -m pychat.commands``
    prints it; a test checks that the README holds it)."""
    lines = []
    for scope, name in SCOPE_NAMES.items():
        commands = in_scope(scope)
        if not commands:
            continue
        lines += [f"**{name}**", "", "| key | what it does | binding id |", "| --- | --- | --- |"]
        lines += [f"| {_shown_keys(c.keys)} | {c.help} | `{c.id}` |" for c in commands]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _shown_keys(keys: str) -> str:
    return " / ".join(k.upper() if k[:1] == "f" and k[1:].isdigit() else k
                      for k in split_keys(keys))


if __name__ == "__main__":
    print(key_table(), end="")
