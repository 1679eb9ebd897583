"""The terminal driver: send the terminal only what changed on it, and take a burst of
typed characters as one piece of text.

Textual repaints whole widgets: when a streamed paragraph gains a word, every line of the
paragraph is written again, although only its last line changed. Over SSH those repeated
lines are most of what the link carries. `ScreenDiff` remembers what each frame put at
each screen position and drops the pieces that would write the same thing again.

A Textual frame is a run of pieces, each an absolute cursor move followed by styled text
(``ESC[row;colH`` + text with SGR colours and OSC 8 links, then an optional newline). The
filter only trusts that shape: anything else it sees (mode switches, the alternate screen,
a piece holding other control codes) is passed through untouched and makes it forget
everything, so the next frames are sent in full. It also forgets on every resize.

Typed text without bracketed paste (a paste over some SSH and tmux set-ups, tmux
send-keys, a fast key repeat) reaches the app as one key event per character, and Textual
spends about 0.3 ms on each (bindings looked up for every key, the event passed from
widget to widget): 20,000 characters kept the app busy 6 s. `typed_runs` turns a run of
plain printable keys that arrived in one read from the terminal into one Paste event,
which a text box takes as one edit. A person typing sends one key per read, so their keys
stay keys; only machine-fast bursts (``TYPED_RUN`` characters or more) change.
"""

from __future__ import annotations

import codecs
import os
import re
import selectors
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from textual import events
from textual.drivers.linux_driver import LinuxDriver
from textual.message import Message

from pychat.ui.compat import xterm_parser

_MOVE = re.compile(r"\x1b\[(\d+);(\d+)H")
_STYLE = re.compile(r"\x1b\[[0-9;:]*m|\x1b\]8;[^\x1b\x07]*(?:\x1b\\|\x07)")
_HARMLESS = re.compile(
    r"(?:\x1b\[\?(?:25|1000|1002|1003|1004|1005|1006|1015|2004|2026)[hl]"
    r"|\x1b\]22;[^\x07\x1b]*(?:\x07|\x1b\\))+")
"""Writes that change no character on screen: synchronised-output brackets, the cursor
shown or hidden, mouse, focus and paste modes, the pointer's shape (OSC 22, which the
web driver sends as the mouse moves)."""


class ScreenDiff:
    """What the terminal shows, as the text last written at each (row, column)."""

    def __init__(self) -> None:
        self._rows: dict[int, dict[int, str]] = {}
        self._size: tuple[int, int] | None = None

    def forget(self) -> None:
        self._rows.clear()

    def frame(self, data: str, size: tuple[int, int] | None, no_color: bool = False) -> str:
        """One frame for a screen of ``size`` (None: unknown), as it needs to be sent. A
        new or unknown size forgets what the screen showed: it may have reflowed or
        cleared itself."""
        if size is None or size != self._size:
            self._size = size
            self.forget()
        return self.filter(without_colour(data) if no_color else data)

    def filter(self, data: str) -> str:
        """``data`` as it needs to be sent, given what the terminal already shows."""
        if _HARMLESS.fullmatch(data):
            return data
        if not data.startswith("\x1b["):
            self.forget()
            return data
        parts = _MOVE.split(data)
        if parts[0] or len(parts) < 4:
            self.forget()
            return data
        out: list[str] = []
        last = len(parts) - 3
        for index in range(1, len(parts), 3):
            row, column, text = int(parts[index]), int(parts[index + 1]), parts[index + 2]
            if text.endswith("\n"):
                text = text[:-1]  # every piece starts with an absolute move
            if not _STYLE.sub("", text).isprintable():
                self.forget()
                return data
            if index == last and not text:
                out.append(f"\x1b[{row};{column}H")  # where the cursor rests
                continue
            written = self._rows.setdefault(row, {})
            if not text or written.get(column) == text:
                continue
            # The new text may cover what other pieces wrote on this row: forget them.
            written.clear()
            written[column] = text
            out.append(f"\x1b[{row};{column}H{text}")
        return "".join(out)


TYPED_RUN = 8
"""Printable keys in one read from the terminal that are taken as one piece of text."""


def typed_runs(messages: Iterable[Message], least: int = TYPED_RUN) -> Iterator[Message]:
    """``messages`` as they came, except that a run of ``least`` or more plain printable
    keys (no ctrl or alt) in a row becomes one Paste of their characters."""
    run: list[events.Key] = []

    def flush() -> Iterator[Message]:
        if len(run) >= least:
            yield events.Paste("".join(key.character or "" for key in run))
        else:
            yield from run
        run.clear()

    for message in messages:
        if isinstance(message, events.Key) and message.is_printable \
                and "+" not in message.key and message.character:
            run.append(message)
            continue
        yield from flush()
        yield message
    yield from flush()


_SGR = re.compile(r"\x1b\[([0-9;:]*)m")
_COLOUR_CODES = frozenset({*range(30, 38), 39, *range(40, 48), 49, *range(90, 98),
                           *range(100, 108)})


def without_colour(data: str) -> str:
    """``data`` with every colour taken out of its SGR sequences (bold, underline, reverse
    and resets stay): what NO_COLOR asks for. A sequence left with nothing goes."""
    def strip(match: re.Match[str]) -> str:
        params = match.group(1).replace(":", ";").split(";") if match.group(1) else ["0"]
        kept: list[str] = []
        index = 0
        while index < len(params):
            code = int(params[index]) if params[index].isdigit() else -1
            if code in (38, 48, 58):  # extended colour: 5;n or 2;r;g;b follows
                kind = params[index + 1] if index + 1 < len(params) else ""
                index += 3 if kind == "5" else 5 if kind == "2" else 2
                continue
            if code not in _COLOUR_CODES and code != 59:
                kept.append(params[index])
            index += 1
        return f"\x1b[{';'.join(kept)}m" if kept else ""

    return _SGR.sub(strip, data)


class TypingDriver(LinuxDriver):
    """Textual's terminal driver, reading input in chunks and taking a burst of typed
    characters as one piece of text (see ``typed_runs``); with NO_COLOR, nothing it
    writes carries colour."""

    def write(self, data: str) -> None:
        if getattr(self._app, "no_color", False):
            data = without_colour(data)
        super().write(data)

    def run_input_thread(self) -> None:
        """Wait for input and hand it to the app, a read at a time."""
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        parser = xterm_parser(self._debug)
        decode = codecs.getincrementaldecoder("utf-8")(errors="replace").decode

        def read(ready: list[tuple[selectors.SelectorKey, int]], final: bool = False) -> None:
            for _key, mask in ready:
                if mask & selectors.EVENT_READ:
                    text = decode(os.read(self.fileno, 4096), final=final)
                    if not text:
                        break
                    for message in typed_runs(parser.feed(text)):
                        self.process_message(message)
            for message in parser.tick():
                self.process_message(message)

        try:
            while not self.exit_event.is_set():
                read(selector.select(0.1))
            selector.unregister(self.fileno)
            read(selector.select(0.1), final=True)
        finally:
            selector.close()


class DiffingDriver(TypingDriver):
    """The typing driver, with each frame passed through a `ScreenDiff`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._diff = ScreenDiff()

    def write(self, data: str) -> None:
        size: tuple[int, int] | None = None
        try:  # LinuxDriver paints on sys.__stderr__
            if sys.__stderr__ is not None:
                columns, lines = os.get_terminal_size(sys.__stderr__.fileno())
                size = (columns, lines)
        except (OSError, ValueError):
            size = None
        no_color = bool(getattr(self._app, "no_color", False))
        LinuxDriver.write(self, self._diff.frame(data, size, no_color))
