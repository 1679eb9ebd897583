"""Kept chats in the app, keys only, over the FakeBackend: the chat list, resume, edit and
resend, versions, the chat's settings, export, the context budget, long chats."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from pychat.app import PyChatApp
from pychat.store import Store
from pychat.ui.chat_pane import AssistantMessage, UserMessage
from pychat.ui.chats_screen import ChatsScreen
from pychat.ui.dialogs import AskText
from pychat.ui.settings_screen import SettingsScreen
from tests.support.app import (
    SIZE,
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


def history_file(root: Path) -> Path:
    return root / "home" / "data" / "pychat" / "history.sqlite3"


async def chat_twice(pilot: Pilot[None], app: PyChatApp) -> None:
    await wait_for(pilot, lambda: ready(app))
    await send_and_wait(pilot, app, "What do otters eat?", 1)
    await send_and_wait(pilot, app, "And beavers?", 2)


@pytest.mark.slow  # a long journey through the app
async def test_a_chat_is_found_by_a_word_and_resumed(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await chat_twice(pilot, app)
        await pilot.press("ctrl+n")
        await send_and_wait(pilot, app, "Something else entirely", 1)
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatsScreen)
                       and len(app.screen.chats) == 2)
        screen = app.screen
        assert isinstance(screen, ChatsScreen)
        screen.search.value = "beaver"  # each change searches, as typing does
        await wait_for(pilot, lambda: [c.title for c in screen.chats] == [
            "What do otters eat?"])
        assert "beavers" in screen.chats[0].snippet
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(app.main_screen.chat.entries) == 4)
        texts = [m.text for m in app.main_screen.query(UserMessage)]
        assert texts == ["What do otters eat?", "And beavers?"]
        assert len(app.session.conversation.turns) == 4
        # It goes on where it was left: the next message is answered with all of it.
        await send_and_wait(pilot, app, "And otters again?", 3)
    store, notices = Store.open(history_file(tmp_path))
    assert notices == []
    chats = store.list_chats()
    assert [c.messages for c in chats] == [6, 2]
    store.close()


@pytest.mark.slow  # a long journey through the app
async def test_edit_and_resend_then_page_through_versions(tmp_path: Path) -> None:
    backend = FakeBackend(reply="First answer.")
    app = fake_app(tmp_path, backend)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await send_and_wait(pilot, app, "How tall is a giraffe?", 1)
        screen = app.main_screen
        # ctrl+r: a second version of the reply.
        backend.reply = "Second answer."
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: idle(app) and replies(app)[-1].text == "Second answer."
                       and app.session.conversation.turns[-1].versions == 2)
        # Up in the empty box brings the last message back; Enter resends it edited.
        await pilot.press("up")
        assert screen.prompt.text == "How tall is a giraffe?" and "Edit" in str(
            screen.prompt.border_title)
        screen.prompt.text = "How tall is an okapi?"
        backend.reply = "Third answer."
        await pilot.press("enter")
        await wait_for(pilot, lambda: idle(app) and replies(app)[-1].text == "Third answer."
                       and app.session.conversation.turns[-1].versions == 3)
        assert [m.text for m in screen.query(UserMessage)] == ["How tall is an okapi?"]
        assert len(app.session.conversation.turns) == 2
        # F3: the older versions, each with the message it answered; F4 back again.
        await pilot.press("f3")
        await wait_for(pilot, lambda: replies(app)[-1].text == "Second answer.")
        assert [m.text for m in screen.query(UserMessage)] == ["How tall is a giraffe?"]
        assert "version 2 of 3" in note(replies(app)[-1])
        await pilot.press("f3")
        await wait_for(pilot, lambda: replies(app)[-1].text == "First answer.")
        await pilot.press("f4", "f4")
        await wait_for(pilot, lambda: replies(app)[-1].text == "Third answer.")
        assert [m.text for m in screen.query(UserMessage)] == ["How tall is an okapi?"]
        # Escape while editing leaves the message as it was.
        await pilot.press("f2")
        assert screen.prompt.text == "How tall is an okapi?"
        await pilot.press("escape")
        assert screen.prompt.text == "" and str(screen.prompt.border_title) == "Message"
    # The version shown last is the one a restart shows.
    store, _ = Store.open(history_file(tmp_path))
    chat = store.load_chat(store.list_chats()[0].id)
    assert chat is not None
    assert [m.text for m in chat.messages] == ["How tall is an okapi?", "Third answer."]
    assert [m.version for m in store.versions(chat.id, 1)] == [1, 2, 3]
    store.close()


async def test_settings_apply_to_the_chat_and_refuse_bad_values(tmp_path: Path) -> None:
    app = fake_app(tmp_path, config='[presets]\npirate = "Talk like a pirate."\n')
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await send_and_wait(pilot, app, "Hello", 1)
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: isinstance(app.screen, SettingsScreen))
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        # A bad value is refused with its range, and nothing changes.
        screen.fields["temperature"].value = "9"
        screen.fields["temperature"].focus()
        await pilot.press("enter")
        assert isinstance(app.screen, SettingsScreen)
        assert "between 0 and 5, got 9" in str(screen.problem.render())
        assert "Between 0 and 5" in str(screen.help.render())  # shown as it got focus
        assert app.session.sampling.temperature == 0.7
        # A preset chosen from the list fills the prompt; Enter applies both.
        screen.fields["temperature"].value = "0.2"
        screen.preset_list.focus()
        await pilot.press("down")
        assert screen.prompt.text == "Talk like a pirate."
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is app.main_screen)
        assert app.session.sampling.temperature == 0.2
        assert app.session.conversation.system_prompt == "Talk like a pirate."
        backend = app.session.backend
        assert isinstance(backend, FakeBackend)
        await send_and_wait(pilot, app, "Again", 2)
        assert backend.samplings[-1].temperature == 0.2
        assert backend.requests[-1][0] == {"role": "system", "content": "Talk like a pirate."}
    # Kept with the chat.
    store, _ = Store.open(history_file(tmp_path))
    chat = store.load_chat(store.list_chats()[0].id)
    assert chat is not None and chat.settings["sampling"]["temperature"] == 0.2
    assert chat.settings["system_prompt"] == "Talk like a pirate."
    store.close()


def long_chat(path: Path, messages: int, model: str = "one.gguf") -> int:
    """A chat of ``messages`` turns written straight into the history file."""
    store, _ = Store.open(path)
    chat_id = store.new_chat("A very long chat", model, {})
    rows = [(chat_id, n, "user" if n % 2 == 0 else "assistant",
             f"Message number {n}. " + "Some words to fill the line. " * 3, 0.0, model)
            for n in range(messages)]
    with store.db:
        store.db.execute("BEGIN")
        store.db.executemany("INSERT INTO messages(chat_id, position, role, text, created, "
                             "model) VALUES (?, ?, ?, ?, ?, ?)", rows)
    store.close()
    return chat_id


async def open_first_chat(pilot: Pilot[None], app: PyChatApp) -> None:
    await pilot.press("ctrl+t")
    await wait_for(pilot, lambda: isinstance(app.screen, ChatsScreen) and bool(app.screen.chats))
    await pilot.press("enter")


@pytest.mark.slow  # a soak: 400 turns paged through
async def test_a_long_chat_mounts_a_window_and_pages_back(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    size = 400  # enough for the window to reach its cap of mounted turns and move on
    long_chat(history_file(tmp_path), size)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await open_first_chat(pilot, app)
        chat = app.main_screen.chat
        await wait_for(pilot, lambda: len(chat.entries) == size)
        assert chat.mounted == chat.WINDOW
        assert f"{size - chat.WINDOW:,} earlier messages" in chat.hints[0]
        last = list(chat.query(AssistantMessage))[-1]
        assert last.text.startswith(f"Message number {size - 1}.")
        assert chat.scroll_y == chat.max_scroll_y  # at the end
        # PageUp at the top of the window mounts the batch before it, and the page moves
        # through it; far enough back, the end is unmounted (never more than the cap).
        for _ in range(8):
            await pilot.press("pageup")
        batches, rest = divmod(size - chat.WINDOW - chat.window[0], chat.BATCH)
        assert batches >= 1 and rest == 0
        for _ in range(20):  # the same action as the key, without Pilot's wait per key
            await app.main_screen.action_scroll_chat(-1)
            await pilot.pause(0.02)
        await wait_for(pilot, lambda: chat.mounted == chat.MOST_MOUNTED)
        assert chat.window[1] < size and "later messages" in chat.hints[1]
        shown = [m.text for m in chat.query(UserMessage)]
        assert shown == sorted(shown, key=lambda t: int(t.split()[2].rstrip(".")))
        # Sending brings the window back to the end.
        await send_and_wait_long(pilot, app)
        assert chat.entries[-2].text == "Back to the end"
        assert chat.mounted <= chat.WINDOW + 2
        assert chat.window[1] == len(chat.entries)


async def send_and_wait_long(pilot: Pilot[None], app: PyChatApp) -> None:
    app.main_screen.prompt.text = "Back to the end"
    await pilot.press("enter")
    await wait_for(pilot, lambda: idle(app) and app.session.conversation.turns[-1].role
                   == "assistant" and len(app.session.conversation.turns) == 402)


@pytest.mark.slow  # a long journey through the app
async def test_resuming_restores_the_model_or_says_it_is_gone(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    path = history_file(tmp_path)
    long_chat(path, 2, model="two.gguf")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: ready(app))
        assert app.session.model is not None and app.session.model.spec.name == "one.gguf"
        await open_first_chat(pilot, app)
        await wait_for(pilot, lambda: ready(app) and app.session.model is not None
                       and app.session.model.spec.name == "two.gguf")
    store, _ = Store.open(path)
    store.new_chat("Held with a model that was deleted", "gone.gguf", {})
    chat_id = store.list_chats()[0].id
    store.add_message(chat_id, 0, "user", "Hello?", "ok")
    store.close()
    app = fake_app(tmp_path)
    seen: list[object] = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await open_first_chat(pilot, app)
        await wait_for(pilot, lambda: len(app.main_screen.chat.entries) == 1)
        await wait_for(pilot, lambda: any("gone.gguf" in n[1] and "one.gguf" in n[1]
                                          for n in notifications(seen)))
        assert app.session.model is not None and app.session.model.spec.name == "one.gguf"
        await send_and_wait(pilot, app, "Still there?", 1)


@pytest.mark.slow  # a long journey through the app
async def test_rename_delete_and_export(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await chat_twice(pilot, app)
        await pilot.press("ctrl+s")
        exported = Path.cwd() / f"pychat-chat-{app.session.history.chat_id}.md"
        await wait_for(pilot, exported.exists)
        text = exported.read_text()
        assert text.startswith("# What do otters eat?")
        assert "## You\n\nAnd beavers?" in text and "## one.gguf" in text
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatsScreen) and bool(app.screen.chats))
        chats = app.screen
        assert isinstance(chats, ChatsScreen)
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(app.screen, AskText))
        app.screen.query_one(Input).value = "Rivers"
        await pilot.press("enter")
        await wait_for(pilot, lambda: [c.title for c in chats.chats] == ["Rivers"])
        await pilot.press("f8")
        await pilot.press("n")  # kept
        await pilot.press("f8", "y")
        await wait_for(pilot, lambda: chats.chats == [] and "No chats yet" in str(
            chats.status.render()))
        await pilot.press("escape")
        # The chat on screen was the one deleted: a new one began.
        await wait_for(pilot, lambda: app.main_screen.chat.entries == [])
        assert app.session.conversation.turns == []
    store, _ = Store.open(history_file(tmp_path))
    assert store.list_chats() == []
    assert store.db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0
    store.close()


async def test_the_context_budget_follows_typing(tmp_path: Path) -> None:
    app = fake_app(tmp_path, config="[sampling]\nmax_tokens = 64\n")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: ready(app))
        status = app.main_screen.status
        await wait_for(pilot, lambda: status.budget.startswith("next "))
        empty = status.budget
        app.main_screen.prompt.insert("one two three four five")  # as a paste would
        await wait_for(pilot, lambda: status.budget != empty)
        # The fake counts a token per word and four per turn: 9 for the system prompt
        # ("You are a helpful assistant."), 9 for the words typed.
        assert status.budget == "next 18/4096", status.budget
