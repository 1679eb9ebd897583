"""The main screen's kept-chat commands and events: the chat list, this chat's settings,
export, edit and resend, versions and the context budget as the user types.

``KeptChats`` is a helper of the main screen, which owns the panes, runs the actions of
the command table and routes the session's events here; what it needs of that screen is
the ``ChatScreen`` protocol (``ui/host.py``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from textual.content import Content
from textual.timer import Timer

from pychat import instrument
from pychat.commands import key_label
from pychat.errors import ConfigError
from pychat.session import events as ev
from pychat.session.history import ChatSettings
from pychat.text import inert_line
from pychat.ui.host import ChatScreen, Route


class KeptChats:
    """Kept chats on the main screen (see the module docstring)."""

    COUNT_AFTER_SECONDS = 0.3
    """The context budget is counted once typing pauses this long."""

    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen
        self.session = screen.session
        self.editing: int | None = None
        """The position of the message the box holds, to be resent in its place."""
        self._count_timer: Timer | None = None

    # ------------------------------------------------------------------ events

    def routes(self) -> dict[type[ev.Event], Route]:
        """The session's events about kept chats, and what shows them."""
        return {ev.ChatOpened: self.chat_opened,
                ev.ChatSaved: lambda e: self.show_title(e.title),
                ev.ChatsFound: self.chats_found,
                ev.ExchangeShown: self.exchange_shown,
                ev.SettingsChanged: self.settings_changed}

    async def chat_opened(self, event: ev.ChatOpened) -> None:
        screen = self.screen
        await screen.chat.show_chat(event.turns, event.model)
        instrument.trace("chat_opened", turns=len(event.turns), mounted=screen.chat.mounted)
        self.show_title(event.title)
        self.stop_editing()
        self.count_budget()
        screen.refresh_bindings()
        screen.prompt.focus()
        edit = key_label("chat.edit_last", screen.keymap)
        screen.tell(f"{len(event.turns)} messages · {edit} edits your last message",
                    f"Resumed “{event.title}”", timeout=4)

    def show_title(self, title: str) -> None:
        # Content, not a str: Textual parses a str title as markup, and a first message
        # holding "[/b]" ended the app (a MarkupError); "[red]" vanished from it.
        self.screen.chat.border_title = Content(f"Chat · {title}" if title else "Chat")

    def chats_found(self, event: ev.ChatsFound) -> None:
        from pychat.ui.chats_screen import ChatsScreen

        for screen in self.screen.app.screen_stack:
            if isinstance(screen, ChatsScreen):
                screen.show(event)

    async def exchange_shown(self, event: ev.ExchangeShown) -> None:
        screen = self.screen
        await screen.chat.replace_exchange(event.position, event.user, event.reply,
                                           screen.status.model)
        older, newer = (key_label(f"chat.{which}_version", screen.keymap)
                        for which in ("older", "newer"))
        screen.tell(f"{event.note} · {older} older · {newer} newer", "Versions", timeout=3)
        self.count_budget()

    def settings_changed(self, event: ev.SettingsChanged) -> None:
        sampling = ", ".join(f"{k} {v}" for k, v in dataclasses.asdict(event.sampling).items())
        prompt = inert_line(event.system_prompt)[:80] or "(none)"
        self.screen.log_pane.add("info", f"Chat settings: {sampling}; system prompt: {prompt}")
        self.count_budget()

    # ------------------------------------------------------------------ the budget

    def typing_paused_later(self) -> None:
        """Count the context budget once typing pauses (on the session's count lane)."""
        if self._count_timer is not None:
            self._count_timer.stop()
        self._count_timer = self.screen.set_timer(self.COUNT_AFTER_SECONDS, self.count_budget)

    def count_budget(self) -> None:
        self._count_timer = None
        self.session.count_budget(self.screen.prompt.text)

    # ------------------------------------------------------------------ commands

    def edit_last(self) -> None:
        """The last message into the message box, to edit and resend."""
        position = self.session.conversation.last_user_position()
        if position is None:
            self.screen.tell("There is no message to edit yet.", "Edit", timeout=3)
            return
        self.edit_at(position)

    def edit_at(self, position: int) -> None:
        """The message at ``position`` into the message box, to edit and send again in its
        place (what followed it leaves the chat, kept as earlier versions)."""
        turns = self.session.conversation.turns
        if not 0 <= position < len(turns) or turns[position].role != "user":
            self.screen.tell("Only a message you sent can be edited.", "Edit", timeout=3)
            return
        prompt = self.screen.prompt
        self.editing = position
        prompt.load_text(turns[position].text)
        prompt.move_cursor(prompt.document.end)
        last = position == self.session.conversation.last_user_position()
        which = "your last message" if last else f"message {position + 1} (what follows it " \
            "goes)"
        prompt.border_title = f"Edit {which} · Enter resends · Esc cancels"
        prompt.focus()

    def stop_editing(self) -> None:
        if self.editing is not None:
            self.editing = None
            self.screen.prompt.border_title = "Message"

    def open_list(self) -> None:
        """The chat list; the chosen chat is resumed."""
        from pychat.ui.chats_screen import ChatsScreen  # modal screens: when first opened

        app = self.screen.app
        if app.screen is self.screen:
            app.push_screen(ChatsScreen(self.session), self._chat_chosen)

    def _chat_chosen(self, chat_id: int | None) -> None:
        self.screen.prompt.focus()
        if chat_id is not None:
            self.screen.attempt(self.session.open_chat, chat_id)

    def open_settings(self) -> None:
        """This chat's system prompt, presets and sampling."""
        from pychat.ui.settings_screen import SettingsScreen

        app = self.screen.app
        if app.screen is self.screen:
            form = SettingsScreen(self.session.chat_settings(), self.session.config.presets,
                                  self._save_preset)
            app.push_screen(form, self._settings_chosen)

    def _save_preset(self, name: str, prompt: str) -> str:
        try:
            from pychat.config_writer import save_preset  # tomlkit: only when saving

            save_preset(self.session.config_file, name, prompt)
        except ConfigError as exc:
            return exc.message
        return ""

    def _settings_chosen(self, settings: ChatSettings | None) -> None:
        self.screen.prompt.focus()
        if settings is not None:
            self.session.update_settings(settings.system_prompt, settings.sampling)
            self.screen.tell("They apply from the next reply and are kept with this chat.",
                             "Settings applied", timeout=4)

    def export(self) -> None:
        """This chat as Markdown, into the folder PyChat was started in."""
        self.session.history.export(Path.cwd())

    def can_edit(self) -> bool:
        return bool(self.session.conversation.turns)

    def can_page_versions(self) -> bool:
        last = self.session.conversation.last_reply()
        return last is not None and last.versions > 1
