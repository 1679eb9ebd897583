"""The command table drives the bindings, the palette, F1 and the README; remaps show
everywhere; key names are checked against the names Textual delivers."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.command import CommandList
from textual.keys import Keys
from textual.message import Message
from textual.widgets import Input

from pychat.app import PyChatApp
from pychat.commands import (
    COMMANDS,
    NAMED_KEYS,
    check_keymap,
    key_problem,
    key_table,
)
from pychat.ui.chat_pane import ChatPane
from pychat.ui.chats_screen import ChatsScreen
from pychat.ui.code_viewer import CodeViewer
from pychat.ui.dialogs import AskText, Confirm
from pychat.ui.help_screen import HelpScreen
from pychat.ui.main_screen import MainScreen
from pychat.ui.modals import GuardedCommandPalette
from pychat.ui.picker import ModelPicker
from pychat.ui.prompt_input import PromptInput
from pychat.ui.settings_screen import SettingsScreen
from pychat.ui.theme_picker import ThemePicker
from tests.support.app import (
    SIZE,
    fake_app,
    idle,
    note,
    notifications,
    ready,
    replies,
    type_and_send,
    wait_for,
)
from tests.support.fake_backend import FakeBackend

REPO = Path(__file__).resolve().parent.parent
NODES = {"app": PyChatApp, "chat": MainScreen, "prompt": PromptInput, "picker": ModelPicker,
         "help": HelpScreen, "chats": ChatsScreen, "settings": SettingsScreen, "ask": AskText,
         "confirm": Confirm, "blocks": ChatPane, "viewer": CodeViewer, "themes": ThemePicker}


@pytest.mark.parametrize("command", COMMANDS.values(), ids=list(COMMANDS))
def test_every_command_has_its_action_where_it_acts(command) -> None:  # type: ignore[no-untyped-def]
    node = NODES[command.scope]
    name = command.action.split("(")[0]
    assert callable(getattr(node, f"action_{name}", None)), f"{node.__name__}.action_{name}"
    assert command.help.endswith("."), command.id
    assert not key_problem(command.keys.split(",")[0]), command.id


def test_the_binding_of_every_scope_comes_from_the_table() -> None:
    for scope, node in NODES.items():
        ids = [b.id for b in node.BINDINGS if not isinstance(b, tuple)]
        assert ids == [c.id for c in COMMANDS.values() if c.scope == scope], scope


def test_the_readme_holds_the_key_table() -> None:
    readme = (REPO / "README.md").read_text()
    assert key_table() in readme, "run `python -m pychat.commands` and paste it into README"


def test_named_keys_are_names_textual_delivers() -> None:
    delivered = {key.value for key in Keys}
    assert delivered >= NAMED_KEYS


@pytest.mark.parametrize(("keys", "problem"), [
    ("ctrl+shift+banana", "'banana' is not a key name"),
    ("ctlr+s", "'ctlr' is not a modifier"),
    ("ctrl+ctrl+s", "a modifier is named twice"),
    ("ctrl+!", "write '!' by its name"),
    ("f25", "'f25' is not a key name"),
    (" , ", "no key given"),
])
def test_a_key_name_no_terminal_sends_is_refused_with_why(keys: str, problem: str) -> None:
    accepted, problems = check_keymap({"chat.stop": keys})
    assert accepted == {}
    assert len(problems) == 1 and problem in problems[0], problems


@pytest.mark.parametrize("keys", ["f12", "ctrl+shift+up", "alt+x", "ctrl+exclamation_mark",
                                  "alt+x,f12", "CTRL+S"])
def test_real_key_names_are_accepted(keys: str) -> None:
    command = "chat.export"
    accepted, problems = check_keymap({command: keys})
    assert problems == [] and accepted == {command: keys.lower()}


async def test_a_remapped_key_shows_in_the_palette_footer_and_help(tmp_path: Path) -> None:
    app = fake_app(tmp_path, config='[keys]\n"chat.models" = "f10"\n"chat.chats" = "f11"\n')
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, GuardedCommandPalette))
        palette = app.screen
        palette.query_one(Input).value = "Models"
        commands = palette.query_one(CommandList)
        await wait_for(pilot, lambda: commands.option_count > 0)
        shown = [str(commands.get_option_at_index(i).prompt)
                 for i in range(commands.option_count)]
        assert any("Models" in text and "(F10)" in text for text in shown), shown
        assert not any("ctrl+o" in text for text in shown)
        # The palette runs the command: the picker opens.
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ModelPicker))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main_screen)
        keys = {b.binding.id: b.binding.key for b in app.main_screen.active_bindings.values()}
        assert keys["chat.models"] == "f10" and keys["chat.chats"] == "f11"
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = str(app.screen.query_one("Static").render())
        assert "f10" in text.split("[chat.models]")[0].splitlines()[-1]


async def test_a_key_name_that_does_not_exist_is_told_and_the_default_stays(
        tmp_path: Path) -> None:
    """"ctrl+shift+banana" used to disable Stop without a word."""
    backend = FakeBackend(reply="word " * 300, tokens_per_second=20)
    app = fake_app(tmp_path, backend, config='[keys]\n"chat.stop" = "ctrl+shift+banana"\n')
    seen: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: ready(app))
        told = [text for title, text in notifications(seen) if title == "A setting was left out"]
        assert len(told) == 1 and "'banana' is not a key name" in told[0]
        keys = {b.binding.id: b.binding.key for b in app.main_screen.active_bindings.values()}
        assert keys["chat.stop"] == "escape"
        await type_and_send(pilot, "Tell me a story")
        await wait_for(pilot, lambda: bool(replies(app)) and len(replies(app)[0].text) > 5)
        await pilot.press("escape")
        await wait_for(pilot, lambda: idle(app) and "stopped" in note(replies(app)[0]))


async def test_in_a_browser_tab_the_keys_browsers_keep_are_moved(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYCHAT_SERVED", "1")  # as pychat serve runs each tab's app
    app = fake_app(tmp_path, config='[keys]\n"chat.chats" = "f11"\n')
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: ready(app))
        keys = {b.binding.id: b.binding.key for b in app.main_screen.active_bindings.values()}
        assert keys["chat.new"] == "alt+n" and keys["app.quit"] == "alt+q"
        assert keys["chat.chats"] == "f11"  # the user's remap still wins
        await type_and_send(pilot, "hello")
        await wait_for(pilot, lambda: idle(app) and len(replies(app)) == 1)
        await pilot.press("alt+n")
        await wait_for(pilot, lambda: not app.session.conversation.turns)
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = str(app.screen.query_one("Static").render())
        assert "alt+n" in text.split("[chat.new]")[0].splitlines()[-1]


async def test_ctrl_p_while_the_palette_is_still_closing_opens_a_new_one(
        tmp_path: Path) -> None:
    """Seed 777 of the key fuzz: ctrl+p arrived after the palette had left the screen
    stack but before Textual had removed it; a second palette with the same id crashed."""
    app = fake_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, GuardedCommandPalette))
        first = app.screen
        first.dismiss()  # popped now, removed later
        app.action_command_palette()
        await wait_for(pilot, lambda: isinstance(app.screen, GuardedCommandPalette)
                       and app.screen is not first)
        await wait_for(pilot, lambda: not first.is_attached)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main_screen)
        assert app.crash is None
