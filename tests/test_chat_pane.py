"""Where a streamed reply may be cut into Markdown segments."""

from __future__ import annotations

from pychat.ui.turn_widgets import last_segment_cut


def test_no_cut_before_the_minimum_or_mid_line() -> None:
    assert last_segment_cut("short line\n", 100) == -1
    assert last_segment_cut("a long line without an end", 3) == -1


def test_the_last_blank_line_is_preferred() -> None:
    text = "one\ntwo\n\nthree\n\nfour\nfive\n"
    assert last_segment_cut(text, 2) == len("one\ntwo\n\nthree\n\n")


def test_the_last_line_end_when_there_is_no_blank_line() -> None:
    assert last_segment_cut("one\ntwo\nthr", 2) == len("one\ntwo\n")


def test_never_inside_a_code_fence_or_a_table() -> None:
    assert last_segment_cut("```\ncode\nmore code\n", 1) == -1
    closed = "```\ncode\n```\nafter\n"
    assert last_segment_cut(closed, 1) == len(closed)
    assert last_segment_cut("| a | b |\n| - | - |\n", 1) == -1
    assert last_segment_cut("text\n\n```\nopen fence\n\nstill code\n", 1) == len("text\n\n")


def test_the_inbox_merges_text_per_reply_in_order_and_announces_once() -> None:
    from pychat.session.events import TextReceived, ThinkingReceived
    from pychat.ui.messages import TextInbox

    posted: list[object] = []
    inbox = TextInbox(posted.append)
    for event in (TextReceived(1, "a"), TextReceived(1, "b"), ThinkingReceived(1, "t", 1.0, 3),
                  TextReceived(1, "c"), TextReceived(2, "x"), TextReceived(2, "y")):
        inbox.put(event)
    assert len(posted) == 1  # one announcement while the screen has not taken them
    assert inbox.take() == [TextReceived(1, "ab"), ThinkingReceived(1, "t", 1.0, 3),
                            TextReceived(1, "c"), TextReceived(2, "xy")]
    assert inbox.take() == []
    inbox.put(TextReceived(2, "z"))
    assert len(posted) == 2
