"""Errors that carry a message meant for the user (shown in the UI or on stderr)."""

from __future__ import annotations


class PyChatError(Exception):
    """An error with a one-line, user-facing message and a short title."""

    title = "Error"

    def __init__(self, message: str, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if title is not None:
            self.title = title

    def __str__(self) -> str:
        return self.message


class ConfigError(PyChatError):
    """The configuration file could not be read or is invalid."""

    title = "Configuration error"


class ModelError(PyChatError):
    """A model file is missing, unreadable, or llama.cpp refused to load it."""

    title = "Model error"


class ContextOverflowError(PyChatError):
    """The prompt cannot fit in the model's context window, whatever is left out."""

    title = "Message too long"

    def __init__(self, message: str, part: str = "message") -> None:
        super().__init__(message, "System prompt too long" if part == "system" else None)
        self.part = part
        """What does not fit: "message" (the newest one) or "system" (the system prompt)."""


class BackendUnavailable(PyChatError):
    """A server could not be reached or refused the request (down, wrong key, busy…)."""

    title = "Server unavailable"


class GenerationError(PyChatError):
    """llama.cpp failed while generating a reply."""

    title = "Generation failed"


class Refused(PyChatError):
    """An intent that cannot be carried out now (a reply is still being answered, …)."""

    title = "Not now"
