"""The sanitising boundary: what is removed and what is kept."""

from __future__ import annotations

from pychat.text import inert, inert_line


def test_every_c0_c1_and_bidi_control_is_removed_but_newline_and_tab() -> None:
    controls = [chr(c) for c in range(0x20)] + ["\x7f"] + [chr(c) for c in range(0x80, 0xA0)]
    bidi = [chr(c) for c in range(0x202A, 0x202F)] + [chr(c) for c in range(0x2066, 0x206A)]
    text = "".join(f"{c}x" for c in controls + bidi)
    kept = inert(text)
    assert kept.replace("x", "") == "\t\n"
    assert kept.count("x") == len(controls) + len(bidi)


def test_ordinary_text_is_untouched() -> None:
    text = "Grüße, 你好, emoji 🙂, combining é, RTL עברית, math ∑, box ─│, [red]markup[/red]"
    assert inert(text) == text


def test_sequences_lose_their_introducer_and_show_as_text() -> None:
    assert inert("a\x1b]52;c;SGk=\x07b") == "a]52;c;SGk=b"
    assert inert("\x1b[31mred\x1b[0m") == "[31mred[0m"
    assert inert("\x9b2J") == "2J"


def test_a_sequence_split_across_chunks_is_inert_too() -> None:
    chunks = ["text \x1b", "]0;title", "\x07 more"]
    assert "".join(inert(c) for c in chunks) == inert("".join(chunks)) == "text ]0;title more"


def test_one_line_places_get_spaces_for_line_breaks() -> None:
    assert inert_line("a\nb\tc\r\nd") == "a b c d"
