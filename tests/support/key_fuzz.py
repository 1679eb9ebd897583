"""A seeded stream of random keys for the real TUI (tests/test_hostile_input.py)."""

from __future__ import annotations

import random
import string

# What a terminal sends for each key (xterm). Quit (ctrl+q) and suspend (ctrl+z) are left
# out; everything else is in, the command palette (ctrl+p) and the picker (ctrl+o) too.
SPECIAL = {
    "enter": "\r", "ctrl+j": "\n", "escape": "\x1b", "tab": "\t", "shift+tab": "\x1b[Z",
    "up": "\x1b[A", "down": "\x1b[B", "right": "\x1b[C", "left": "\x1b[D",
    "home": "\x1b[H", "end": "\x1b[F", "pageup": "\x1b[5~", "pagedown": "\x1b[6~",
    "delete": "\x1b[3~", "backspace": "\x7f", "f1": "\x1bOP", "ctrl+o": "\x0f",
    "ctrl+l": "\x0c", "ctrl+n": "\x0e", "ctrl+r": "\x12", "ctrl+p": "\x10", "ctrl+c": "\x03",
}
PRINTABLE = string.ascii_letters + string.digits + " .,;:!?-_[]{}()@#/=+*'\"<>|\\~`$%^&"


def random_keys(seed: int, count: int) -> list[str]:
    """``count`` keys, as the bytes a terminal sends; about a third are special keys."""
    rng = random.Random(seed)
    names = list(SPECIAL)
    return [SPECIAL[rng.choice(names)] if rng.random() < 0.35 else rng.choice(PRINTABLE)
            for _ in range(count)]
