"""A reply's reasoning, split from its text as it streams: ``<think>…</think>``, as Qwen3,
the DeepSeek-R1 distills and SmolLM3 write it."""

from __future__ import annotations

OPEN, CLOSE = "<think>", "</think>"


class ThinkSplitter:
    """Feed it streamed text; it says which parts are reasoning and which are the reply.

    A tag split across two pieces is held back until the next piece shows what it is. A
    ``<think>`` that never closes (a stopped reply, one cut at max_tokens) leaves all that
    follows it as reasoning. Only a ``<think>`` at the start of the reply (blank lines
    aside) opens reasoning: the same word later in an answer is text."""

    def __init__(self) -> None:
        self.thinking = False
        self._held = ""
        self._started = False
        """Text (not blank) has been given out: a <think> from now on is just text."""
        self._after_close = False

    def feed(self, piece: str) -> list[tuple[bool, str]]:
        """(is reasoning, text) parts of ``piece``, in order; some text may be held."""
        text = self._held + piece
        self._held = ""
        parts: list[tuple[bool, str]] = []
        while text:
            tag = CLOSE if self.thinking else OPEN
            if not self.thinking and self._started:
                parts.append((False, text))
                break
            if not self.thinking:
                stripped = text.lstrip()
                if not stripped:
                    self._held = text  # only blank so far: it may precede <think>
                    break
                if stripped.startswith(OPEN):
                    self.thinking = True
                    text = stripped[len(OPEN):]
                    continue
                if OPEN.startswith(stripped):
                    self._held = text  # "<thi": wait for the rest
                    break
                self._started = True
                parts.append((False, self._strip_after_close(text)))
                break
            at = text.find(tag)
            if at >= 0:
                if at:
                    parts.append((True, text[:at]))
                text = text[at + len(tag):]
                self.thinking = False
                self._after_close = True
                continue
            keep = _partial_tag(text, tag)
            if keep:
                self._held = text[-keep:]
                text = text[:-keep]
            if text:
                parts.append((True, text))
            break
        return [(kind, part) for kind, part in parts if part]

    def _strip_after_close(self, text: str) -> str:
        """The blank lines a model writes between </think> and the answer are dropped."""
        if self._after_close:
            self._after_close = False
            return text.lstrip("\n")
        return text

    def flush(self) -> list[tuple[bool, str]]:
        """What is held at the end: a partial tag is text (or reasoning) after all."""
        held, self._held = self._held, ""
        if not held or (not self.thinking and not held.strip()):
            return []
        return [(self.thinking, held)]


def _partial_tag(text: str, tag: str) -> int:
    """How many characters at the end of ``text`` could begin ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0
