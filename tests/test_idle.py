"""An app left alone does nothing: no screen or modal keeps a timer ticking, and the VRAM
samples pause while a modal hides the pane (each one woke the whole UI)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pychat.ui.chats_screen import ChatsScreen
from pychat.ui.compat import running_intervals
from pychat.ui.dialogs import Confirm
from pychat.ui.help_screen import HelpScreen
from pychat.ui.main_screen import MainScreen
from pychat.ui.modals import GuardedCommandPalette
from pychat.ui.picker import ModelPicker
from pychat.ui.settings_screen import SettingsScreen
from tests.support.app import SIZE, fake_app, ready, send_and_wait, wait_for

SCREENS = [("main", "", MainScreen), ("log", "ctrl+l", MainScreen),
           ("chats", "ctrl+t", ChatsScreen), ("settings", "ctrl+g", SettingsScreen),
           ("picker", "ctrl+o", ModelPicker), ("help", "f1", HelpScreen),
           ("palette", "ctrl+p", GuardedCommandPalette)]


@pytest.mark.slow  # walks every screen and modal of the app
async def test_no_screen_left_alone_keeps_a_timer_running(tmp_path: Path) -> None:
    """Every screen and modal in turn: no repeating timer runs once it is idle, and the
    VRAM samples pause while a modal covers the pane."""
    app = fake_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await send_and_wait(pilot, app, "hello", 1)  # a reply's stats, a kept chat
        for name, key, kind in SCREENS:
            if key:
                await pilot.press(key)
            await wait_for(pilot, lambda kind=kind: isinstance(app.screen, kind))
            await pilot.pause(0.2)
            assert running_intervals(app) == [], name
            covered = app.screen is not app.main_screen
            assert app.session.models.vram_watched is not covered, name
            await pilot.press("ctrl+l" if name == "log" else "escape")
            await wait_for(pilot, lambda: app.screen is app.main_screen)
        # A yes/no question, over the chat list.
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatsScreen) and bool(
            app.screen.chats))
        await pilot.press("f8")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.pause(0.2)
        assert running_intervals(app) == []
        await pilot.press("n", "escape")
        await wait_for(pilot, lambda: app.screen is app.main_screen)
        assert app.session.models.vram_watched
