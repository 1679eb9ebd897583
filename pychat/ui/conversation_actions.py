"""The main screen's commands on the conversation itself: browse it block by block, copy
a reply or a code block, fold reasoning, continue a reply, fork the chat, write the
message in an external editor. A helper of the main screen (``ChatScreen``)."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path

from pychat import instrument
from pychat.blocks import code_blocks
from pychat.session import events as ev
from pychat.ui.block_cursor import Block
from pychat.ui.chat_pane import ChatPane
from pychat.ui.clipboard import copy_text
from pychat.ui.host import ChatScreen, Route


class ConversationActions:
    """The conversation's commands (see the module docstring)."""

    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen
        self.session = screen.session

    def routes(self) -> dict[type[ev.Event], Route]:
        """The session's events about the conversation, and what shows them."""
        chat = self.screen.chat
        return {
            ev.MessageSent: lambda e: chat.add_user(e.text, e.position),
            ev.ReplyStarted: lambda e: chat.start_reply(e.reply_id, e.title, e.position,
                                                        e.text, e.thinking),
            ev.ReplyAnswering: lambda e: chat.answering(e.reply_id, e.title),
            ev.ReplyNote: lambda e: chat.set_note(e.reply_id, e.note),
            ev.TextReceived: lambda e: chat.append(e.reply_id, e.text),
            ev.ThinkingReceived: lambda e: chat.add_thinking(e.reply_id, e.text, e.seconds,
                                                             e.pieces),
            ev.ReplyFinished: self.reply_finished,
            ev.ReplyRemoved: lambda e: chat.remove_reply(e.reply_id, e.position),
            ev.ChatCleared: self.chat_cleared,
            ev.TurnsTruncated: lambda e: chat.truncate(e.position),
            ev.ContextStart: lambda e: chat.mark_context_start(e.position),
        }

    async def reply_finished(self, event: ev.ReplyFinished) -> None:
        screen, stats = self.screen, event.stats
        instrument.trace("finished", tokens=stats.completion_tokens,
                         ttft=stats.time_to_first_token, decode_seconds=stats.decode_seconds,
                         reason=stats.finish_reason)
        await screen.chat.finish(event.reply_id, stats, event.note)
        screen.status.show_stats(stats)
        screen.count_budget()
        screen.refresh_bindings()  # edit and versions keys may apply now
        if event.error:
            screen.log_pane.add("error", event.error)
            screen.tell(event.error, event.error_title or "Reply failed", "error")

    async def chat_cleared(self, event: ev.ChatCleared) -> None:
        await self.screen.chat.clear()
        self.screen.new_chat_shown()

    async def browse(self) -> None:
        if not await self.screen.chat.browse():
            self.screen.tell("Nothing to browse yet: send a message first.", "Browse",
                             timeout=3)

    def copy_last(self, what: str) -> None:
        """The last reply, or its last code block (without fences)."""
        last = self.session.conversation.last_reply()
        if last is None or not last.text.strip():
            self.screen.tell("There is no reply to copy yet.", "Copy", timeout=3)
            return
        if what == "code":
            codes = code_blocks(last.text)
            if not codes:
                self.screen.tell("The last reply has no code block.", "Copy", timeout=3)
                return
            copy_text(self.screen.app, codes[-1].code)
        else:
            copy_text(self.screen.app, last.text)

    def toggle_thinking(self) -> None:
        if not self.screen.chat.toggle_last_thinking():
            self.screen.tell("The last reply shows no reasoning.", "Thinking", timeout=3)

    def continue_reply(self) -> None:
        self.screen.attempt(self.session.continue_reply)

    def fork_last(self) -> None:
        self.screen.attempt(self.session.fork, len(self.session.conversation.turns) - 1)

    def block_chosen(self, message: ChatPane.BlockChosen) -> None:
        """What the user asked for on the block under the cursor."""
        block, action, screen = message.block, message.action, self.screen
        if action == "back" or block is None:
            screen.prompt.focus()
            return
        if action == "copy":
            copy_text(screen.app, block.text)
        elif action == "to_box":
            screen.prompt.insert(block.text)
            screen.prompt.focus()
        elif action == "edit":
            self._edit(block)
        elif action == "fork":
            screen.attempt(self.session.fork, block.position)
        elif action == "export":
            chat = self.session.history.chat_id or "new"
            self.session.export_text(block.text, f"chat-{chat}-{block.position + 1}-"
                                                 f"{block.kind}{block.index + 1}")
        elif action == "view":
            from pychat.ui.code_viewer import CodeViewer  # modal screens: when first opened

            codes = code_blocks(screen.chat.entries[block.position].text)
            language = codes[block.index].language if block.index < len(codes) else ""
            screen.app.push_screen(CodeViewer(block.text, language, block.label.split(" · ")[0]))

    def _edit(self, block: Block) -> None:
        if block.kind != "message" or self.screen.chat.entries[block.position].role != "user":
            self.screen.tell("Only a message you sent can be edited and sent again; copy a "
                             "reply into the box with i.", "Edit", timeout=4)
            return
        self.screen.edit_at(block.position)

    def editor(self) -> None:
        """The message box's text in $VISUAL or $EDITOR, the app suspended meanwhile; the
        edited text comes back. Any failure keeps the draft and says why."""
        screen = self.screen
        command = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        if not command:
            screen.tell("Set $VISUAL or $EDITOR to the editor you want (export "
                        "EDITOR=nano): the draft stays.", "No editor", "warning")
            return
        draft = screen.prompt.text
        handle, name = tempfile.mkstemp(prefix="pychat-message-", suffix=".md")
        path = Path(name)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(draft)
            try:
                with screen.app.suspend():
                    code = subprocess.call([*shlex.split(command), str(path)])
            except (OSError, ValueError) as exc:
                screen.tell(f"{command} did not start ({exc}): the draft stays.",
                            "Editor failed", "error")
                return
            except Exception as exc:  # noqa: BLE001 - SuspendNotSupported and the like
                screen.tell(f"This terminal cannot hand over to an editor "
                            f"({type(exc).__name__}): the draft stays.", "Editor failed",
                            "error")
                return
            if code != 0:
                screen.tell(f"{command} exited with {code}: the draft stays as it was.",
                            "Editor failed", "warning")
                return
            text = path.read_text(encoding="utf-8", errors="replace").rstrip("\n")
        finally:
            path.unlink(missing_ok=True)
        screen.prompt.load_text(text)
        screen.prompt.move_cursor(screen.prompt.document.end)
        screen.prompt.focus()
