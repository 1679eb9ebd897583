"""ctrl+t: the kept chats. Search as you type (titles and message text), Enter to resume,
F2 to rename, F8 to delete (after a yes)."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from pychat.session import ChatSession
from pychat.session.events import ChatsFound
from pychat.store import ChatSummary
from pychat.text import inert_line
from pychat.ui.bindings import bindings
from pychat.ui.dialogs import AskText, Confirm
from pychat.ui.field import Field
from pychat.ui.modals import DismissOnce


def when(timestamp: float, now: float | None = None) -> str:
    """"14:05" today, "Mon 14:05" this week, "2026-11-02" before."""
    now = time.time() if now is None else now
    moment, today = time.localtime(timestamp), time.localtime(now)
    if moment[:3] == today[:3]:
        return time.strftime("%H:%M", moment)
    if 0 <= now - timestamp < 6 * 86400:
        return time.strftime("%a %H:%M", moment)
    return time.strftime("%Y-%m-%d", moment)


def chat_label(chat: ChatSummary, current: bool) -> Text:
    """A chat's line (and its matching text, for a search); never markup."""
    mark = "● " if current else "  "
    label = Text(f"{mark}{chat.title or 'Untitled'}", style="bold" if current else "")
    details = [when(chat.updated)]
    if chat.model:
        details.append(chat.model)
    if chat.messages:
        details.append(f"{chat.messages} messages")
    label.append("\n    " + " · ".join(inert_line(d) for d in details), style="dim")
    if chat.snippet:
        label.append("\n    " + inert_line(chat.snippet))
    return label


class ChatsScreen(ModalScreen[int | None], DismissOnce):
    """The chat list. Results come from the history's lane as ``ChatsFound`` (the main
    screen hands them to ``show``); only those for the text now in the box are shown."""

    BINDINGS = bindings("chats")

    def __init__(self, session: ChatSession) -> None:
        super().__init__()
        self.session = session
        self.history = session.history
        self.chats: list[ChatSummary] = []
        self.search = Field(placeholder="type to search titles and messages",
                            id="chats-search", max_length=200)
        self.options = OptionList(id="chats-list")
        self.status = Static("Reading the history…", id="chats-status", markup=False)

    def compose(self) -> ComposeResult:
        with Vertical(id="chats-box"):
            yield self.search
            yield self.options
            yield self.status
            yield Static("Enter open · ↑↓ choose · F2 rename · F8 delete · Esc close",
                         classes="hint")

    def on_mount(self) -> None:
        self.query_one("#chats-box").border_title = "Chats"  # the box has the border
        self.search.focus()
        self.history.find("")

    def on_input_changed(self, event: Input.Changed) -> None:
        self.history.find(event.value)

    def show(self, found: ChatsFound) -> None:
        """Results for a search; stale ones (the box changed since) are dropped."""
        if found.query != self.search.value or not self.is_attached:
            return
        chosen = self.selected
        self.chats = found.chats
        self.options.clear_options()
        self.options.add_options(Option(chat_label(c, c.id == found.current))
                                 for c in found.chats)
        if found.chats:
            ids = [c.id for c in found.chats]
            keep = chosen.id if chosen is not None and chosen.id in ids else found.current
            self.options.highlighted = ids.index(keep) if keep in ids else 0
        if not self.history.saved:
            self.status.update("Chats are kept in memory only this time: the history "
                               "file cannot be used (see the log, ctrl+l).")
        elif found.chats:
            what = "match" if found.query.strip() else "kept"
            self.status.update(f"{len(found.chats)} chats {what}")
        else:
            self.status.update("No chat matches." if found.query.strip()
                               else "No chats yet: what you send is kept here.")

    @property
    def selected(self) -> ChatSummary | None:
        index = self.options.highlighted
        return self.chats[index] if index is not None and index < len(self.chats) else None

    def action_move(self, step: int) -> None:
        if self.chats:
            self.options.highlighted = ((self.options.highlighted or 0) + step) % len(self.chats)

    # Enter is not a priority binding, so that a search typed and Enter pressed in one
    # burst opens what the search found: the focused box or list handles Enter in order.
    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input is self.search:
            event.stop()
            self.action_open()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        chat = self.selected
        if chat is not None and self.is_attached:
            self.dismiss(chat.id)

    def action_close(self) -> None:
        if self.is_attached:
            self.dismiss(None)

    def action_rename(self) -> None:
        chat = self.selected
        if chat is None:
            return

        def renamed(title: str | None) -> None:
            if title and title.strip():
                self.history.rename(chat.id, title.strip())
                self.history.find(self.search.value)

        self.app.push_screen(AskText("New title for this chat:", chat.title), renamed)

    def action_delete(self) -> None:
        chat = self.selected
        if chat is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.session.delete_chat(chat.id)
                self.history.find(self.search.value)

        self.app.push_screen(Confirm(f"Delete the chat “{chat.title}” and all its "
                                     "messages? This cannot be undone."), answered)
