"""Fitting a conversation into the context window by leaving out its oldest turns."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pychat.engine.base import ChatMessage
from pychat.errors import ContextOverflowError


def reply_reserve(n_ctx: int, max_tokens: int) -> int:
    """Tokens kept free for the reply: the configured maximum, capped at a quarter of n_ctx."""
    quarter = max(n_ctx // 4, 1)
    return min(max_tokens, quarter) if max_tokens > 0 else quarter


CHARS_PER_TOKEN_BOUND = 64
"""No token of a real vocabulary stands for more characters than this, so a part of the
conversation longer than ``budget * CHARS_PER_TOKEN_BOUND`` characters cannot fit and is
never tokenized: a 10,000-message chat costs the newest few hundred messages' worth."""


def _starts(messages: Sequence[ChatMessage], budget: int) -> list[int]:
    """Indices where the kept part may begin: at a user turn, after the system prompt, and
    not so far back that the characters alone rule it out (the newest user turn always
    qualifies: if it does not fit, the error says so)."""
    first = 1 if messages and messages[0]["role"] == "system" else 0
    last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
    most = budget * CHARS_PER_TOKEN_BOUND
    chars = sum(len(m["content"]) for m in messages[last_user:])
    starts = [last_user]
    for i in range(last_user - 1, first - 1, -1):
        chars += len(messages[i]["content"])
        if chars > most:
            break
        if messages[i]["role"] == "user":
            starts.append(i)
    return starts[::-1]


def fit_messages(
    messages: Sequence[ChatMessage],
    count_tokens: Callable[[list[ChatMessage]], int],
    budget: int,
) -> tuple[list[ChatMessage], int, int]:
    """Drop the oldest turns (never the system prompt) until the prompt fits ``budget``.

    Returns (messages to send, number of messages dropped, prompt tokens). The kept part
    always begins at a user turn so role alternation survives strict templates. Raises
    ContextOverflowError when even the newest user turn alone does not fit.
    """
    if not any(m["role"] == "user" for m in messages):
        raise ValueError("a conversation to answer needs a user message")
    system = [messages[0]] if messages[0]["role"] == "system" else []
    starts = _starts(messages, budget)

    def candidate(start: int) -> list[ChatMessage]:
        return system + list(messages[start:])

    tokens = count_tokens(candidate(starts[0]))
    if tokens <= budget:
        return candidate(starts[0]), starts[0] - len(system), tokens
    # Binary search for the earliest start that fits; token counts fall as start grows.
    lo, hi = 1, len(starts) - 1
    best: tuple[int, int] | None = None
    while lo <= hi:
        mid = (lo + hi) // 2
        count = count_tokens(candidate(starts[mid]))
        if count <= budget:
            best, hi = (starts[mid], count), mid - 1
        else:
            lo = mid + 1
    if best is None:
        raise _overflow(system, candidate(starts[-1]), count_tokens, budget)
    start, count = best
    return candidate(start), start - len(system), count


def _overflow(system: list[ChatMessage], newest: list[ChatMessage],
              count_tokens: Callable[[list[ChatMessage]], int],
              budget: int) -> ContextOverflowError:
    """The error for a prompt that cannot fit: it names the part that is too long."""
    if system:
        alone = count_tokens([*system, {"role": "user", "content": ""}])
        if alone > budget:
            return ContextOverflowError(
                f"The system prompt alone needs {alone} tokens but only {budget} fit in "
                "the context window (the rest is kept for the reply); shorten the system "
                "prompt or load the model with a larger n_ctx.", part="system")
    return ContextOverflowError(
        f"The message needs {count_tokens(newest)} tokens but only {budget} fit in the "
        "context window; shorten it or load the model with a larger n_ctx.")
