"""Keyboard chat craft through the real app (Pilot): walking the conversation block by
block, copying, thinking kept apart, continue and fork, themes, the external editor."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from textual.content import Content
from textual.message import Message

from pychat.config import load_config
from pychat.store import Store
from pychat.ui.code_viewer import CodeViewer
from pychat.ui.theme_picker import ThemePicker
from pychat.ui.turn_widgets import ThinkingBlock
from tests.support.app import (
    fake_app,
    idle,
    note,
    notifications,
    ready,
    replies,
    send_and_wait,
    wait_for,
)
from tests.support.fake_backend import FakeBackend

FIRST = 'def add(a, b):\n    return a + b'
SECOND = 'echo "second block"\nls -la'
REPLY = (f"<think>Two snippets: Python, then shell.</think>Here you go.\n\n```python\n{FIRST}"
         f"\n```\n\nAnd the shell one:\n\n```sh\n{SECOND}\n```\n\nDone.")
SHOWN = REPLY.split("</think>")[1]


@pytest.fixture(autouse=True)
def outside_tmux(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests look at OSC 52 alone (tmux's buffer has tests of its own)."""
    monkeypatch.delenv("TMUX", raising=False)


def history_file(root: Path) -> Path:
    return root / "home" / "data" / "pychat" / "history.sqlite3"


def copied(seen: list[Message]) -> list[str]:
    return [text for title, text in notifications(seen) if title == "Copied"]


async def test_browse_walks_the_blocks_and_copies_a_code_block_without_fences(
        tmp_path: Path) -> None:
    app = fake_app(tmp_path, FakeBackend(reply=REPLY))
    seen: list[Message] = []
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        screen = app.main_screen
        await wait_for(pilot, lambda: ready(app))
        await send_and_wait(pilot, app, "hello", 1)
        await pilot.press("alt+up")
        chat = screen.chat
        assert app.focused is chat and chat.browsing
        assert chat.cursor.current is not None
        assert (chat.cursor.current.kind, chat.cursor.current.index) == ("code", 1)
        assert "code block 2 of 2" in chat.border_subtitle
        assert replies(app)[0].has_class("-cursor")  # the margin bar, visible without colour
        await pilot.press("c")
        await wait_for(pilot, lambda: bool(copied(seen)))
        assert app.clipboard == SECOND
        assert copied(seen) == [f"Copied {len(SECOND)} characters via OSC 52."]
        # Up walks: the first code block, the reply, its reasoning, the user's message.
        walked = []
        for _ in range(4):
            await pilot.press("k")
            block = chat.cursor.current
            assert block is not None
            walked.append((block.kind, block.index))
        assert walked == [("code", 0), ("message", 0), ("thinking", 0), ("message", 0)]
        assert chat.entries[chat.cursor.current.position].role == "user"
        await pilot.press("up")  # stays on the first block
        assert chat.cursor.current.position == 0
        await pilot.press("end")
        assert chat.cursor.current.kind == "code"
        await pilot.press("home", "down", "down")  # the message, its reasoning, the reply
        assert chat.cursor.current.kind == "message"
        await pilot.press("c")
        await wait_for(pilot, lambda: len(copied(seen)) == 2)
        assert app.clipboard == SHOWN  # the reply without its reasoning
        await pilot.press("escape")
        assert app.focused is screen.prompt and not chat.browsing
        assert not replies(app)[0].has_class("-cursor")


@pytest.mark.slow  # a long journey through the app
async def test_blocks_expand_open_and_go_into_the_message_box(tmp_path: Path) -> None:
    app = fake_app(tmp_path, FakeBackend(reply=REPLY))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.main_screen
        await wait_for(pilot, lambda: ready(app))
        await send_and_wait(pilot, app, "hello", 1)
        thinking = replies(app)[0].query_one(ThinkingBlock)
        assert not thinking.expanded and "Thought" in str(thinking.render())
        await pilot.press("alt+up", "up", "up", "up", "enter")  # on the reasoning
        assert thinking.expanded
        assert "Two snippets" in str(thinking.render())
        await pilot.press("enter")
        assert not thinking.expanded
        await pilot.press("down", "down", "enter")  # the first code block, shown whole
        await wait_for(pilot, lambda: isinstance(app.screen, CodeViewer))
        assert app.screen.code == FIRST
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.press("i")
        assert screen.prompt.text == FIRST and app.focused is screen.prompt
        # alt+t folds the last reasoning from the message box too.
        await pilot.press("alt+t")
        assert thinking.expanded
        assert screen.prompt.text == FIRST  # alt+t is a command, not a "t"


async def test_copy_keys_work_from_the_message_box(tmp_path: Path) -> None:
    app = fake_app(tmp_path, FakeBackend(reply=REPLY))
    seen: list[Message] = []
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await pilot.press("alt+c")
        assert ("Copy", "There is no reply to copy yet.") in notifications(seen)
        await send_and_wait(pilot, app, "hello", 1)
        await pilot.press("alt+y")
        await wait_for(pilot, lambda: bool(copied(seen)))
        assert app.clipboard == SECOND
        await pilot.press("alt+c")
        await wait_for(pilot, lambda: len(copied(seen)) == 2)
        assert app.clipboard == SHOWN
        assert app.main_screen.prompt.text == ""


async def test_a_large_copy_is_warned_about(tmp_path: Path) -> None:
    big = "x" * 90_000  # 120 kB of base64: beyond what many terminals take
    app = fake_app(tmp_path, FakeBackend(reply=big))
    seen: list[Message] = []
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await send_and_wait(pilot, app, "hello", 1)
        await pilot.press("alt+c")
        await wait_for(pilot, lambda: bool(copied(seen)))
        assert app.clipboard == big
        assert len(base64.b64encode(big.encode())) == 120_000
        [message] = copied(seen)
        assert message.startswith("Copied 90,000 characters via OSC 52. It is 120 kB")
        assert "may drop it" in message


async def test_thinking_is_kept_apart_exported_folded_and_never_sent_back(
        tmp_path: Path) -> None:
    backend = FakeBackend(reply=REPLY)
    app = fake_app(tmp_path, backend)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await send_and_wait(pilot, app, "hello", 1)
        assert replies(app)[0].text == SHOWN
        await send_and_wait(pilot, app, "again", 2)
        sent = backend.requests[-1]
        assert [m["role"] for m in sent][-3:] == ["user", "assistant", "user"]
        assert sent[-2]["content"] == SHOWN  # no reasoning goes back to the model
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: any(Path.cwd().glob("*.md")))
        await wait_for(pilot, lambda: "</details>" in next(Path.cwd().glob("*.md")).read_text())
        exported = next(Path.cwd().glob("*.md")).read_text()
        assert "<details><summary>Thinking</summary>" in exported
        assert "Two snippets: Python, then shell." in exported
    store, _ = Store.open(history_file(tmp_path))
    chat = store.load_chat(store.list_chats()[0].id)
    assert chat is not None
    first_reply = chat.messages[1]
    assert first_reply.text == SHOWN and first_reply.thinking == "Two snippets: Python, then shell."


@pytest.mark.slow  # a long journey through the app
async def test_edit_fork_and_export_a_block(tmp_path: Path) -> None:
    backend = FakeBackend(reply="An answer.")
    app = fake_app(tmp_path, backend)
    seen: list[Message] = []
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        screen = app.main_screen
        await wait_for(pilot, lambda: ready(app))
        await send_and_wait(pilot, app, "first question", 1)
        await send_and_wait(pilot, app, "second question", 2)
        # x on the first reply writes it to a file.
        await pilot.press("alt+up", "up", "up", "x")
        await wait_for(pilot, lambda: any(Path.cwd().glob("*.md")))
        assert next(Path.cwd().glob("*.md")).read_text().strip() == "An answer."
        # e on a reply is refused with why; on the first message it edits and resends.
        await pilot.press("e")
        assert any("Only a message you sent" in text for _, text in notifications(seen))
        await pilot.press("up", "e")
        assert screen.prompt.text == "first question" and app.focused is screen.prompt
        screen.prompt.text = "a better first question"
        await pilot.press("enter")
        await wait_for(pilot, lambda: idle(app) and len(replies(app)) == 1
                       and "tok/s" in note(replies(app)[0]))
        assert [t.text for t in app.session.conversation.turns] == [
            "a better first question", "An answer."]
        # f forks the chat at a block: a new kept chat, opened.
        chat_before = app.session.history.chat_id
        await pilot.press("alt+up", "up", "f")
        await wait_for(pilot, lambda: app.session.history.chat_id not in (None, chat_before))
        await wait_for(pilot, lambda: idle(app))
        assert [t.text for t in app.session.conversation.turns] == ["a better first question"]
    store, _ = Store.open(history_file(tmp_path))
    titles = sorted(c.title for c in store.list_chats())
    assert titles[0].startswith("Fork: ") and len(titles) == 2


async def test_continue_a_reply_cut_at_max_tokens_as_one_reply(tmp_path: Path) -> None:
    words = " ".join(f"w{n}" for n in range(60))
    backend = FakeBackend(reply=words)
    app = fake_app(tmp_path, backend, config="[sampling]\nmax_tokens = 5\n")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await send_and_wait(pilot, app, "count", 1)
        partial = app.session.conversation.turns[-1].text
        assert partial == "w0 w1 w2 w3 w4 "  # cut at max_tokens
        await pilot.press("f8")
        await wait_for(pilot, lambda: idle(app) and len(backend.requests) == 2
                       and "tok/s" in note(replies(app)[-1]))
        assert len(replies(app)) == 1  # the same reply, grown
        assert backend.requests[-1][-1] == {"role": "assistant", "content": partial}
        turns = app.session.conversation.turns
        assert len(turns) == 2 and turns[-1].text == partial + partial
        assert replies(app)[0].text == partial + partial
    store, _ = Store.open(history_file(tmp_path))
    chat = store.load_chat(store.list_chats()[0].id)
    assert chat is not None and [m.text for m in chat.messages] == ["count", partial + partial]


async def test_thinking_off_says_when_the_template_has_no_switch(tmp_path: Path) -> None:
    backend = FakeBackend(reply="ok")
    app = fake_app(tmp_path, backend)
    seen: list[Message] = []
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: ready(app))
        sampling = app.session.sampling
        app.session.update_settings(app.session.conversation.system_prompt,
                                    type(sampling)(**{**vars(sampling), "thinking": False}))
        await wait_for(pilot, lambda: any(t == "No thinking switch"
                                          for t, _ in notifications(seen)))
        backend.thinking_switch = True
        await send_and_wait(pilot, app, "hi", 1)
        assert backend.samplings[-1].thinking is False


@pytest.mark.slow  # a long journey through the app
async def test_the_theme_list_tries_keeps_and_saves(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        before = app.theme
        await pilot.press("f9")
        await wait_for(pilot, lambda: isinstance(app.screen, ThemePicker))
        await pilot.press("down")
        tried = app.theme
        assert tried != before
        await pilot.press("escape")
        assert app.theme == before
        await pilot.press("f9")
        await wait_for(pilot, lambda: isinstance(app.screen, ThemePicker))
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: app.screen is app.main_screen)
        assert app.theme == tried
    assert load_config(tmp_path / "config.toml").config.theme == tried


async def test_no_color_uses_the_terminal_palette(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = fake_app(tmp_path, config='theme = "nord"\n')
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        assert app.theme == "ansi-dark"


async def test_the_older_name_of_the_terminal_palette_theme_is_understood(
        tmp_path: Path) -> None:
    app = fake_app(tmp_path, config='theme = "textual-ansi"\n')
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        assert app.theme == "ansi-dark"


async def test_a_narrow_screen_shows_memory_in_the_status_line(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await wait_for(pilot, lambda: "RAM " in str(app.main_screen.status.render()))
    (tmp_path / "wide").mkdir()
    wide = fake_app(tmp_path / "wide")
    async with wide.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: ready(wide))
        assert "RAM " not in str(wide.main_screen.status.render())


async def test_no_editor_or_a_failing_one_keeps_the_draft(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.delenv("EDITOR", raising=False)
    app = fake_app(tmp_path)
    seen: list[Message] = []
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: ready(app))
        prompt = app.main_screen.prompt
        prompt.text = "my draft"
        await pilot.press("alt+e")
        assert ("No editor", "Set $VISUAL or $EDITOR to the editor you want (export "
                "EDITOR=nano): the draft stays.") in notifications(seen)
        assert prompt.text == "my draft"
        monkeypatch.setenv("EDITOR", str(tmp_path / "no-such-editor"))
        await pilot.press("alt+e")
        failed = [text for title, text in notifications(seen) if title == "Editor failed"]
        assert len(failed) == 1 and "the draft stays" in failed[0]
        assert prompt.text == "my draft"



async def test_titles_made_of_a_message_or_a_reply_are_text_not_markup(tmp_path: Path) -> None:
    """A str border title is Textual markup: a first message holding "[/b]" ended the app
    (MarkupError) when it became the chat's title, and "[red]" vanished from it."""

    def shown(title: str | None) -> str:
        """What the border shows (Textual hands a title back as markup)."""
        return Content.from_markup(title or "").plain

    reply = "Here:\n\n```[/x]\nprint(1)\n```\n"
    app = fake_app(tmp_path, FakeBackend(reply=reply))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.main_screen
        await wait_for(pilot, lambda: ready(app))
        await send_and_wait(pilot, app, "[/b] my [red]chat[@click=app.quit]", 1)
        await wait_for(pilot, lambda: "[/b]" in shown(screen.chat.border_title))
        assert shown(screen.chat.border_title) == "Chat · [/b] my [red]chat[@click=app.quit]"
        await pilot.press("alt+up")  # the reply's code block: its language is in the label
        await wait_for(pilot, lambda: "[/x]" in shown(screen.chat.border_subtitle))
        assert "code block 1 of 1 · [/x]" in shown(screen.chat.border_subtitle)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CodeViewer))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        assert app.is_running and app.crash is None
