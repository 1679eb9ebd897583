"""Fitting a conversation into the context window by leaving out its oldest turns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

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


CALIBRATION_CHARS = 2000
"""The newest part of a chat counted exactly to learn its tokens per character."""


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

    The answer is the earliest start that fits, found with exact counts; an estimate
    from the characters picks where to look first, so a long chat costs a few counts of
    about the kept part, never one of the whole chat (each count renders the chat
    template over every turn it holds).
    """
    if not any(m["role"] == "user" for m in messages):
        raise ValueError("a conversation to answer needs a user message")
    system = [messages[0]] if messages[0]["role"] == "system" else []
    starts = _starts(messages, budget)

    def candidate(start: int) -> list[ChatMessage]:
        return system + list(messages[start:])

    counted: dict[int, int] = {}

    def count_at(index: int) -> int:
        if index not in counted:
            counted[index] = count_tokens(candidate(starts[index]))
        return counted[index]

    guess = _estimated_start(messages, starts, count_at, budget)
    best = _earliest(lambda index: count_at(index) <= budget, 0, len(starts) - 1, guess)
    if best is None:
        raise _overflow(system, candidate(starts[-1]), count_tokens, budget)
    return candidate(starts[best]), starts[best] - len(system), counted[best]


def _earliest(fits: Callable[[int], bool], lo: int, hi: int, guess: int | None
              ) -> int | None:
    """The first index in ``lo..hi`` where ``fits`` holds (it holds from some index on),
    or None. From a guess it gallops to a bracket (steps 1, 2, 4 …), then bisects it."""
    if guess is not None and lo <= guess <= hi:
        step = 1
        if fits(guess):
            hi = guess
            while hi - step >= lo and fits(hi - step):
                hi, step = hi - step, step * 2
            lo = max(lo, hi - step + 1)
        else:
            lo = guess + 1
            while lo + step - 1 <= hi and not fits(lo + step - 1):
                lo, step = lo + step, step * 2
            hi = min(hi, lo + step - 1)
    best = None
    while lo <= hi:
        mid = (lo + hi) // 2
        if fits(mid):
            best, hi = mid, mid - 1
        else:
            lo = mid + 1
    return best


def _estimated_start(messages: Sequence[ChatMessage], starts: list[int],
                     count_at: Callable[[int], int], budget: int) -> int:
    """The index in ``starts`` where the kept part probably begins: tokens taken as
    proportional to characters, at the rate of one exact count of a short newest part
    (about ``CALIBRATION_CHARS``). No template is rendered over the whole chat."""
    chars_from = [0] * len(starts)
    chars, tail = 0, len(messages)
    for index in range(len(starts) - 1, -1, -1):
        chars += sum(len(m["content"]) + 1 for m in messages[starts[index]:tail])
        chars_from[index], tail = chars, starts[index]
    sample = next((i for i in range(len(starts) - 1, -1, -1)
                   if chars_from[i] >= CALIBRATION_CHARS), 0)
    per_char = count_at(sample) / chars_from[sample]
    return next((i for i in range(len(starts)) if chars_from[i] * per_char <= budget),
                len(starts) - 1)


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


@dataclass(frozen=True)
class Budget:
    """What the next request would take of the context window."""

    tokens: int
    n_ctx: int
    dropped: int = 0
    """The oldest messages it would leave out to fit."""
    overflow: bool = False
    """True when even the newest message (with the draft) cannot fit."""


def next_request_budget(messages: Sequence[ChatMessage], draft: str,
                        count_tokens: Callable[[list[ChatMessage]], int], n_ctx: int,
                        max_tokens: int) -> Budget:
    """The tokens the next request would take with ``draft`` as (the end of) its message,
    after leaving out what does not fit; the status line shows it as the user types."""
    messages = list(messages)
    if draft.strip():
        if messages and messages[-1]["role"] == "user":
            messages[-1] = {"role": "user", "content": f"{messages[-1]['content']}\n\n{draft}"}
        else:
            messages.append({"role": "user", "content": draft})
    if not any(m["role"] == "user" for m in messages):
        return Budget(count_tokens(messages) if messages else 0, n_ctx)
    budget = n_ctx - reply_reserve(n_ctx, max_tokens)
    try:
        _, dropped, tokens = fit_messages(messages, count_tokens, budget)
    except ContextOverflowError:
        return Budget(budget + 1, n_ctx, overflow=True)
    return Budget(tokens, n_ctx, dropped)
