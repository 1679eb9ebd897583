"""Where a streamed reply may be cut into Markdown segments."""

from __future__ import annotations

from pychat.ui.turn_widgets import segment_cut


def test_no_cut_before_the_minimum_or_mid_line() -> None:
    assert segment_cut("short line\n", 100) == -1
    assert segment_cut("a long line without an end", 3) == -1


def test_cut_prefers_a_blank_line() -> None:
    text = "one\ntwo\n\nthree\nfour\n"
    assert segment_cut(text, 2) == len("one\ntwo\n\n")


def test_cut_at_the_last_line_end_when_no_blank_line() -> None:
    assert segment_cut("one\ntwo\nthr", 2) == len("one\ntwo\n")


def test_never_inside_a_code_fence_or_a_table() -> None:
    assert segment_cut("```\ncode\nmore code\n", 1) == -1
    closed = "```\ncode\n```\nafter\n"
    assert segment_cut(closed, 1) == len(closed)
    assert segment_cut("| a | b |\n| - | - |\n", 1) == -1
