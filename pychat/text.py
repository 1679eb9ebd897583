"""The one boundary that text PyChat did not write passes before it is shown.

Model output (from any backend), GGUF metadata, file and folder names, llama.cpp's log and
error lines and server replies can hold bytes a terminal acts on: ESC and CSI sequences,
OSC 52 clipboard writes, OSC 8 links, OSC 0 window titles, the 8-bit C1 controls (U+009B is
a one-character CSI), and the bidi overrides that reorder what the user reads. ``inert``
removes those characters one by one; what is left of a sequence shows as plain text.

Removing characters one at a time needs no state, so a sequence split across two streamed
chunks is made harmless just the same. Markup is a separate matter: widgets that show such
text never parse it as Textual or Rich markup (``markup=False`` or a ``Text`` object).
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 except tab and newline, DEL, C1
    "\u202a-\u202e\u2066-\u2069]"  # bidi embeddings, overrides and isolates
)


def inert(text: str) -> str:
    """``text`` without control characters (newline and tab stay) or bidi controls."""
    return _UNSAFE.sub("", text)


def inert_line(text: str) -> str:
    """``inert`` for one-line places (file names, titles): line breaks become spaces."""
    return inert(text.replace("\r\n", " ").replace("\n", " ").replace("\t", " "))
