"""Fitting a chat into the context: the earliest start that fits, found with few counts of
the whole kept part, whatever the template accepts."""

from __future__ import annotations

import random

import pytest

from pychat.engine.base import ChatMessage
from pychat.engine.context import fit_messages
from pychat.errors import ContextOverflowError


class Counter:
    """Tokens as a template would make them: words, 4 per turn, 3 for the prompt's end.
    Remembers how many turns each call rendered (a real count renders every one)."""

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self.rendered: list[int] = []

    def __call__(self, messages: list[ChatMessage]) -> int:
        self.rendered.append(len(messages))
        roles = [m["role"] for m in messages if m["role"] != "system"]
        if self.strict and any(a == b for a, b in zip(roles, roles[1:], strict=False)):
            raise ValueError("Conversation roles must alternate user/assistant")
        return sum(len(m["content"].split()) + 4 for m in messages) + 3


def chat(turns: int, seed: int, system: bool = True) -> list[ChatMessage]:
    rng = random.Random(seed)
    messages: list[ChatMessage] = [{"role": "system", "content": "Be brief."}] if system else []
    for n in range(turns):
        words = " ".join("word" for _ in range(rng.randint(1, 60)))
        messages.append({"role": "user" if n % 2 == 0 else "assistant", "content": words})
    return messages


def brute_force(messages: list[ChatMessage], budget: int) -> tuple[int, int]:
    """The earliest user turn the kept part can start at, and its tokens."""
    count = Counter()
    system = messages[:1] if messages[0]["role"] == "system" else []
    for start in range(len(system), len(messages)):
        if messages[start]["role"] != "user":
            continue
        tokens = count(system + messages[start:])
        if tokens <= budget:
            return start - len(system), tokens
    raise AssertionError("nothing fits")


@pytest.mark.parametrize("seed", range(40))
def test_the_earliest_start_that_fits_is_found(seed: int) -> None:
    rng = random.Random(seed)
    messages = chat(rng.randint(1, 400) * 2 - 1, seed, system=rng.random() < 0.7)
    budget = rng.randint(200, 3000)
    count = Counter()
    try:
        expected = brute_force(messages, budget)
    except AssertionError:
        with pytest.raises(ContextOverflowError):
            fit_messages(messages, count, budget)
        return
    kept, dropped, tokens = fit_messages(messages, count, budget)
    assert (dropped, tokens) == expected
    assert tokens == Counter()(kept) <= budget
    first_turn = kept[1] if kept[0]["role"] == "system" else kept[0]
    assert first_turn["role"] == "user"


def test_a_long_chat_is_counted_whole_only_a_few_times() -> None:
    messages = chat(3001, seed=7)
    count = Counter()
    fit_messages(messages, count, budget=3000)
    whole = [n for n in count.rendered if n > 2]  # counts of the kept part, not one turn
    assert len(whole) <= 3, whole


def test_a_strict_template_still_gets_the_exact_answer() -> None:
    messages = chat(301, seed=3)
    expected = brute_force(messages, 1500)
    _, dropped, tokens = fit_messages(messages, Counter(strict=True), 1500)
    assert (dropped, tokens) == expected


def test_a_message_too_long_alone_is_refused_with_its_size() -> None:
    messages = chat(5, seed=1) + [{"role": "user", "content": "word " * 900}]
    messages[-2]["role"], messages[-1]["role"] = "assistant", "user"
    with pytest.raises(ContextOverflowError, match="The message needs 9"):
        fit_messages(messages, Counter(), 500)
