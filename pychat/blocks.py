"""The code blocks of a Markdown reply: what "copy the code" copies, without fences."""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$")


@dataclass(frozen=True)
class CodeBlock:
    """One fenced code block: its language (as the fence names it) and its code."""

    language: str
    code: str

    @property
    def lines(self) -> int:
        return self.code.count("\n") + 1 if self.code else 0


def code_blocks(text: str) -> list[CodeBlock]:
    """The fenced code blocks of ``text`` in order; one still open at the end (a reply
    cut short) counts, with what it holds so far."""
    found: list[CodeBlock] = []
    fence = ""
    language = ""
    body: list[str] = []
    for line in text.splitlines():
        match = _FENCE.match(line)
        if not fence:
            if match:
                fence, language, body = match.group(1), match.group(2), []
            continue
        stripped = line.strip()
        if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
            found.append(CodeBlock(language, "\n".join(body)))
            fence = ""
            continue
        body.append(line)
    if fence:
        found.append(CodeBlock(language, "\n".join(body)))
    return found
