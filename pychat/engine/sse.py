"""Server-Sent Events: the data of each event in a stream of lines."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

DONE = "[DONE]"
"""The data OpenAI-compatible servers end a streamed reply with."""


def sse_data(lines: Iterable[str]) -> Iterator[str]:
    """The data of each event in ``lines`` (one event's ``data:`` lines joined by newlines).

    Lines starting with ``:`` are comments (servers send them as keep-alives); ``event:``,
    ``id:`` and ``retry:`` say nothing a chat needs. An event ends at a blank line; a last
    one without it still counts."""
    data: list[str] = []
    for line in lines:
        line = line.rstrip("\r\n")
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)
