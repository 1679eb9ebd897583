"""The conversation being held: the system prompt and the turns, as the user saw them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, cast

from pychat.engine.base import ChatMessage
from pychat.store import StoredMessage

TurnState = Literal["ok", "stopped", "error", "excluded"]
"""ok: a normal turn; stopped / error: a reply that was stopped or broke off; excluded: a
user message that could never fit the context, kept on screen but not sent again."""


@dataclass
class Turn:
    """One message of the chat."""

    role: Literal["user", "assistant"]
    text: str
    state: TurnState = "ok"
    reply_id: int = 0
    """For assistant turns: the reply that produced it (0 for one read from the history)."""
    message_id: int = 0
    """Its row in the history (0 until saved)."""
    version: int = 1
    versions: int = 1
    """How many versions its position has (a reply regenerated twice has 3)."""
    model: str = ""
    """For replies: the model that wrote it."""
    thinking: str = ""
    """For replies: the model's reasoning, shown apart and never sent back."""


def stored_turn(message: StoredMessage) -> Turn:
    """A turn as the history kept it (a reply cut by a crash reads as stopped)."""
    state = message.state if message.state in ("ok", "stopped", "error", "excluded") else "ok"
    return Turn("user" if message.role == "user" else "assistant", message.text,
                cast(TurnState, state), 0, message.id, message.version, message.versions,
                message.model, message.thinking)


@dataclass
class Conversation:
    """Turns of one chat. The system prompt is kept apart and sent first."""

    system_prompt: str = ""
    turns: list[Turn] = field(default_factory=list)

    def add_user(self, text: str) -> Turn:
        turn = Turn("user", text)
        self.turns.append(turn)
        return turn

    def add_reply(self, reply_id: int, text: str, state: TurnState = "ok",
                  thinking: str = "") -> Turn:
        turn = Turn("assistant", text, state, reply_id, thinking=thinking)
        self.turns.append(turn)
        return turn

    def messages(self) -> list[ChatMessage]:
        """What to send to the model: the system prompt, then the turns.

        Excluded messages and empty replies are left out, and turns of the same role that
        end up next to each other (a message sent after a reply that failed before its
        first word) are joined, so strict templates still see user and assistant alternate.
        """
        return self.sent()[0]

    def sent(self) -> tuple[list[ChatMessage], list[int]]:
        """``messages()`` and, for each of them, the position of the first turn in it (-1
        for the system prompt): where the sent context starts when old ones are left out."""
        sent: list[ChatMessage] = []
        positions: list[int] = []
        for position, turn in enumerate(self.turns):
            if turn.state == "excluded" or not turn.text:
                continue
            if sent and sent[-1]["role"] == turn.role:
                sent[-1] = {"role": turn.role, "content": f"{sent[-1]['content']}\n\n{turn.text}"}
            else:
                sent.append({"role": turn.role, "content": turn.text})
                positions.append(position)
        if self.system_prompt:
            return [{"role": "system", "content": self.system_prompt}, *sent], [-1, *positions]
        return sent, positions

    def asked(self, position: int) -> Turn | None:
        """The turn before ``position``: the message a reply there answers."""
        return self.turns[position - 1] if 0 < position <= len(self.turns) else None

    def last_user_position(self) -> int | None:
        """Where the last message the user sent is."""
        return next((i for i in range(len(self.turns) - 1, -1, -1)
                     if self.turns[i].role == "user"), None)

    def last_reply(self) -> Turn | None:
        """The last turn, when it is a reply."""
        return self.turns[-1] if self.turns and self.turns[-1].role == "assistant" else None

    def pop_last_reply(self) -> Turn | None:
        """Remove and return the last turn when it is a reply (for regenerate)."""
        return self.turns.pop() if self.last_reply() else None

    def exclude_last_user(self) -> None:
        """The newest user message can never fit: keep it, but stop sending it."""
        for turn in reversed(self.turns):
            if turn.role == "user":
                turn.state = "excluded"
                return

    @property
    def has_question(self) -> bool:
        """True when what would be sent ends with a user message (a reply can start)."""
        messages = self.messages()
        return bool(messages) and messages[-1]["role"] == "user"

    def clear(self) -> None:
        self.turns.clear()
