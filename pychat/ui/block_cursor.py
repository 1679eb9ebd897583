"""The blocks of a conversation a cursor walks over: each message, a reply's reasoning, and
each code block inside a reply (which copies as its code, without fences)."""

from __future__ import annotations

from dataclasses import dataclass

from pychat.blocks import code_blocks
from pychat.ui.chat_window import Entry


@dataclass(frozen=True)
class Block:
    """One place the cursor can be."""

    position: int
    """The turn it belongs to."""
    kind: str
    """"thinking", "message" or "code"."""
    index: int
    """Which code block of the turn (0 for the others)."""
    text: str
    """What it copies."""
    label: str
    """What the pane's border says about it."""

    @property
    def key(self) -> tuple[int, str, int]:
        return self.position, self.kind, self.index


def blocks_in(entry: Entry, position: int) -> list[Block]:
    """The blocks of one turn, top to bottom: reasoning, the message, its code blocks."""
    if entry.role == "user":
        return [Block(position, "message", 0, entry.text, "your message · e edits and "
                      "sends it again · f forks the chat here")]
    found = []
    if entry.thinking:
        found.append(Block(position, "thinking", 0, entry.thinking,
                           f"the reasoning of {entry.title} · Enter folds or unfolds it"))
    found.append(Block(position, "message", 0, entry.text, f"reply from {entry.title}"))
    codes = code_blocks(entry.text)
    for number, code in enumerate(codes):
        about = " · ".join(x for x in (code.language, f"{code.lines} lines") if x)
        found.append(Block(position, "code", number, code.code,
                           f"code block {number + 1} of {len(codes)} · {about} · Enter shows "
                           "it whole"))
    return found


class BlockCursor:
    """Where the cursor is among the blocks of ``entries`` (a turn's blocks are worked
    out when the cursor reaches it, so a 10,000-turn chat costs nothing up front)."""

    def __init__(self) -> None:
        self.current: Block | None = None

    def last(self, entries: list[Entry]) -> Block | None:
        """The last block of the conversation (where browsing starts)."""
        for position in range(len(entries) - 1, -1, -1):
            found = blocks_in(entries[position], position)
            if found:
                self.current = found[-1]
                return self.current
        self.current = None
        return None

    def first(self, entries: list[Entry]) -> Block | None:
        for position, entry in enumerate(entries):
            found = blocks_in(entry, position)
            if found:
                self.current = found[0]
                return self.current
        return self.current

    def move(self, entries: list[Entry], step: int) -> Block | None:
        """One block up (``step`` -1) or down (+1); it stays put at either end."""
        current = self.current
        if current is None or current.position >= len(entries):
            return self.last(entries)
        here = blocks_in(entries[current.position], current.position)
        keys = [b.key for b in here]
        index = keys.index(current.key) if current.key in keys else len(here) - 1
        if 0 <= index + step < len(here):
            self.current = here[index + step]
            return self.current
        position = current.position + step
        while 0 <= position < len(entries):
            found = blocks_in(entries[position], position)
            if found:
                self.current = found[-1] if step < 0 else found[0]
                return self.current
            position += step
        return self.current

    def refresh(self, entries: list[Entry]) -> Block | None:
        """The block under the cursor again, after the turns changed (its text may have
        grown, or its turn left the chat)."""
        current = self.current
        if current is None or current.position >= len(entries):
            return self.last(entries)
        for block in blocks_in(entries[current.position], current.position):
            if block.key == current.key:
                self.current = block
                return block
        return self.last(entries)
