"""The pieces under the block cursor: code blocks found in a reply, reasoning split from
streamed text, the cursor's walk, and what a copy says it did."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pychat.blocks import CodeBlock, code_blocks
from pychat.commands import key_problem
from pychat.session.thinking import ThinkSplitter
from pychat.store import Store
from pychat.ui.block_cursor import BlockCursor
from pychat.ui.chat_window import Entry
from pychat.ui.clipboard import OSC52_LIMIT, copied_message


def test_code_blocks_come_without_fences_and_with_their_language() -> None:
    text = ("Intro\n```python\nprint(1)\n\nprint(2)\n```\ntext\n~~~\nplain\n~~~\n"
            "````md\n```inner```\n````\n")
    assert code_blocks(text) == [CodeBlock("python", "print(1)\n\nprint(2)"),
                                 CodeBlock("", "plain"), CodeBlock("md", "```inner```")]
    assert code_blocks(text)[0].lines == 3


def test_a_fence_left_open_by_a_cut_reply_still_counts() -> None:
    assert code_blocks("See:\n```sh\nls\nrm -r") == [CodeBlock("sh", "ls\nrm -r")]
    assert code_blocks("no code here, just `inline` text") == []


def split(pieces: list[str]) -> tuple[str, str]:
    splitter = ThinkSplitter()
    parts = [p for piece in pieces for p in splitter.feed(piece)] + splitter.flush()
    return ("".join(text for thinking, text in parts if thinking),
            "".join(text for thinking, text in parts if not thinking))


@pytest.mark.parametrize("pieces", [
    ["<think>plan it</think>\n\nThe answer."],
    ["<thi", "nk>plan", " it</th", "ink>", "\n\nThe answer."],
    ["\n<think>", "plan it", "</think>The answer."],
    list("<think>plan it</think>The answer."),
])
def test_reasoning_is_split_from_the_reply_across_pieces(pieces: list[str]) -> None:
    thinking, reply = split(pieces)
    assert thinking.strip() == "plan it"
    assert reply == "The answer."


def test_an_unterminated_think_is_all_reasoning() -> None:
    assert split(["<think>still going", " when it was cut <"]) == (
        "still going when it was cut <", "")


def test_think_later_in_an_answer_is_text() -> None:
    text = "Use the <think> tag like this: <think>x</think>"
    assert split([text]) == ("", text)
    assert split(["<", "b>bold</b>"]) == ("", "<b>bold</b>")


def entries() -> list[Entry]:
    reply = "Text\n```py\na = 1\n```\n```sh\nls\n```"
    return [Entry("user", "question"), Entry("assistant", reply, thinking="hmm", title="m"),
            Entry("user", "next"), Entry("assistant", "plain", title="m")]


def test_the_cursor_walks_every_block_in_order_and_stops_at_the_ends() -> None:
    shown = entries()
    cursor = BlockCursor()
    last = cursor.last(shown)
    assert last is not None and (last.position, last.kind) == (3, "message")
    walked = [(last.position, last.kind, last.index)]
    for _ in range(7):
        block = cursor.move(shown, -1)
        assert block is not None
        walked.append((block.position, block.kind, block.index))
    assert walked == [(3, "message", 0), (2, "message", 0), (1, "code", 1), (1, "code", 0),
                      (1, "message", 0), (1, "thinking", 0), (0, "message", 0),
                      (0, "message", 0)]
    first = cursor.first(shown)
    assert first is not None and first.text == "question"
    code = cursor.move(shown, 1) and cursor.move(shown, 1) and cursor.move(shown, 1)
    assert code is not None and code.kind == "code" and code.text == "a = 1"


def test_the_cursor_finds_its_block_again_after_the_turns_change() -> None:
    shown = entries()
    cursor = BlockCursor()
    cursor.last(shown)
    del shown[2:]  # the last exchange left the chat (regenerated, edited)
    block = cursor.refresh(shown)
    assert block is not None and (block.position, block.kind, block.index) == (1, "code", 1)
    assert BlockCursor().last([]) is None


def test_a_copy_says_how_and_warns_about_size_and_tmux() -> None:
    assert copied_message(1234, 1648, "").message == "Copied 1,234 characters via OSC 52."
    both = copied_message(10, 16, "ok")
    assert both.message == "Copied 10 characters via OSC 52 + tmux buffer." and not both.warning
    big = copied_message(90_000, OSC52_LIMIT + 20_000, "ok")
    assert big.warning and "120 kB" in big.message and "prefix + ]" in big.message
    refused = copied_message(5, 8, "no server running")
    assert refused.warning and "set -g set-clipboard on" in refused.message


def test_keys_a_terminal_sends_as_word_moves_are_refused() -> None:
    assert "ctrl+left" in key_problem("alt+b")
    assert "ctrl+right" in key_problem("alt+f")
    assert key_problem("alt+y") == ""


def test_an_old_history_gains_the_thinking_column_and_keeps_its_chats(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    store, _ = Store.open(path)
    chat_id = store.new_chat("old chat", "m.gguf", {})
    store.add_message(chat_id, 0, "user", "hello", "done")
    store.add_message(chat_id, 1, "assistant", "hi there", "done")
    store.close()
    # The file as an older PyChat left it: no thinking column, the schema one step back.
    with sqlite3.connect(path) as connection:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        connection.execute("ALTER TABLE messages DROP COLUMN thinking")
        connection.execute(f"PRAGMA user_version = {version - 1}")
    store, notices = Store.open(path)
    chat = store.load_chat(chat_id)
    assert chat is not None and [m.text for m in chat.messages] == ["hello", "hi there"]
    assert [m.thinking for m in chat.messages] == ["", ""]
    message_id = chat.messages[1].id
    store.update_message(message_id, "hi there", "done", thinking="a thought")
    again = store.load_chat(chat_id)
    assert again is not None and again.messages[1].thinking == "a thought"
