"""The conversation being held: a list of turns plus the system prompt (no UI code)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pychat.engine.base import ChatMessage


@dataclass
class Conversation:
    """Turns of one chat. The system prompt is kept apart and sent first."""

    system_prompt: str = ""
    turns: list[ChatMessage] = field(default_factory=list)

    def add_user(self, text: str) -> None:
        self.turns.append({"role": "user", "content": text})

    def add_assistant(self, text: str) -> None:
        self.turns.append({"role": "assistant", "content": text})

    def messages(self) -> list[ChatMessage]:
        """What to send to the model: system prompt first, then every turn."""
        system: list[ChatMessage] = (
            [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        )
        return system + self.turns

    def pop_last_reply(self) -> ChatMessage | None:
        """Remove and return the last assistant turn (for regenerate)."""
        if self.turns and self.turns[-1]["role"] == "assistant":
            return self.turns.pop()
        return None

    @property
    def awaiting_reply(self) -> bool:
        """True when the last turn is the user's."""
        return bool(self.turns) and self.turns[-1]["role"] == "user"

    def clear(self) -> None:
        self.turns.clear()
