"""The main screen's keys and events about kept chats: the chat list, this chat's
settings, export, edit and resend, versions and the context budget (a mixin of
``MainScreen``, which holds the panes and routes the session's events here)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from textual.screen import Screen
from textual.timer import Timer

from pychat import instrument
from pychat.config_writer import save_preset
from pychat.errors import ConfigError, Refused
from pychat.session import ChatSession
from pychat.session import events as ev
from pychat.session.history import ChatSettings
from pychat.text import inert_line
from pychat.ui.bindings import key_label
from pychat.ui.chat_pane import ChatPane
from pychat.ui.chats_screen import ChatsScreen
from pychat.ui.log_pane import LogPane
from pychat.ui.prompt_input import PromptInput
from pychat.ui.settings_screen import SettingsScreen
from pychat.ui.status_bar import StatusBar


class HistoryActions(Screen[None]):
    """Kept chats on the main screen (see the module docstring)."""

    COUNT_AFTER_SECONDS = 0.3
    """The context budget is counted once typing pauses this long."""

    session: ChatSession
    chat: ChatPane
    prompt: PromptInput
    status: StatusBar
    log_pane: LogPane
    _notify: Callable[..., None]
    _editing = False
    """The message box holds the last message, to be resent in its place."""
    _count_timer: Timer | None = None

    def _attempt(self, intent: Callable[..., None], *args: object) -> bool:
        """Ask the session for ``intent``; a refusal (busy, nothing to do) is a short
        warning toast. True when it was accepted."""
        try:
            intent(*args)
        except Refused as exc:
            self._notify(exc.message, exc.title, "warning", timeout=4)
            return False
        return True

    def _keymap(self) -> dict[str, str]:
        return getattr(self.app, "keys", {})

    async def _chat_opened(self, event: ev.ChatOpened) -> None:
        await self.chat.show_chat(event.turns, event.model)
        instrument.trace("chat_opened", turns=len(event.turns), mounted=self.chat.mounted)
        self._show_title(event.title)
        self._stop_editing()
        self._count_budget()
        self.refresh_bindings()
        self.prompt.focus()
        edit = key_label("chat.edit_last", self._keymap())
        self._notify(f"{len(event.turns)} messages · {edit} edits your last message",
                     f"Resumed “{event.title}”", timeout=4)

    def _show_title(self, title: str) -> None:
        self.chat.border_title = f"Chat · {title}" if title else "Chat"

    def _chats_found(self, event: ev.ChatsFound) -> None:
        for screen in self.app.screen_stack:
            if isinstance(screen, ChatsScreen):
                screen.show(event)

    async def _exchange_shown(self, event: ev.ExchangeShown) -> None:
        await self.chat.replace_exchange(event.position, event.user, event.reply,
                                         self.status.model)
        keymap = self._keymap()
        self._notify(f"{event.note} · {key_label('chat.older_version', keymap)} older · "
                     f"{key_label('chat.newer_version', keymap)} newer", "Versions", timeout=3)
        self._count_budget()

    def _settings_changed(self, event: ev.SettingsChanged) -> None:
        sampling = ", ".join(f"{k} {v}" for k, v in dataclasses.asdict(event.sampling).items())
        prompt = inert_line(event.system_prompt)[:80] or "(none)"
        self.log_pane.add("info", f"Chat settings: {sampling}; system prompt: {prompt}")
        self._count_budget()

    def on_text_area_changed(self, event: PromptInput.Changed) -> None:
        """Count the context budget once typing pauses (on the session's count lane)."""
        if event.text_area is self.prompt:
            if self._count_timer is not None:
                self._count_timer.stop()
            self._count_timer = self.set_timer(self.COUNT_AFTER_SECONDS, self._count_budget)

    def _count_budget(self) -> None:
        self._count_timer = None
        self.session.count_budget(self.prompt.text)

    def on_prompt_input_edit_requested(self, message: PromptInput.EditRequested) -> None:
        if message.prompt is self.prompt:
            self.action_edit_last()

    def action_edit_last(self) -> None:
        """F2 (or Up in an empty message box): the last message, to edit and resend."""
        text = self.session.last_message_text()
        if not text:
            self._notify("There is no message to edit yet.", "Edit", timeout=3)
            return
        self._editing = True
        self.prompt.load_text(text)
        self.prompt.move_cursor(self.prompt.document.end)
        self.prompt.border_title = "Edit your last message · Enter resends · Esc cancels"
        self.prompt.focus()

    def _stop_editing(self) -> None:
        if self._editing:
            self._editing = False
            self.prompt.border_title = "Message"

    def action_version(self, step: int) -> None:
        """F3 / F4: an older or newer version of the last reply."""
        self._attempt(self.session.page_version, step)

    def action_chats(self) -> None:
        """ctrl+t: the kept chats."""
        if self.app.screen is self:
            self.app.push_screen(ChatsScreen(self.session), self._chat_chosen)

    def _chat_chosen(self, chat_id: int | None) -> None:
        self.prompt.focus()
        if chat_id is not None:
            self._attempt(self.session.open_chat, chat_id)

    def action_settings(self) -> None:
        """ctrl+g: this chat's system prompt and sampling."""
        if self.app.screen is self:
            screen = SettingsScreen(self.session.chat_settings(),
                                    self.session.config.config.presets, self._save_preset)
            self.app.push_screen(screen, self._settings_chosen)

    def _save_preset(self, name: str, prompt: str) -> str:
        try:
            save_preset(self.session.config, name, prompt)
        except ConfigError as exc:
            return exc.message
        return ""

    def _settings_chosen(self, settings: ChatSettings | None) -> None:
        self.prompt.focus()
        if settings is not None:
            self.session.update_settings(settings.system_prompt, settings.sampling)
            self._notify("They apply from the next reply and are kept with this chat.",
                         "Settings applied", timeout=4)

    def action_export(self) -> None:
        """ctrl+s: this chat as Markdown, into the folder PyChat was started in."""
        self.session.history.export(Path.cwd())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The edit and version keys are shown only when they can do something."""
        if action == "edit_last":
            return bool(self.session.conversation.turns)
        if action == "version":
            last = self.session.conversation.last_reply()
            return last is not None and last.versions > 1
        return True
