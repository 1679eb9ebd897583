"""The backend interface and the value types that cross it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, TypedDict

from pychat.config import Sampling
from pychat.text import inert_line

SamplingParams = Sampling
"""Sampling settings are the config's own typed table."""


class ChatMessage(TypedDict):
    """One turn of a conversation, in the OpenAI shape llama.cpp's templates expect."""

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class LoadSpec:
    """Everything needed to load one model."""

    path: Path
    gpu_layers: int = 0
    """Resolved layer count: 0 = CPU, -1 = all."""
    n_ctx: int = 4096
    chat_format: str = ""
    n_threads: int = 0
    use_mlock: bool = False
    use_mmap: bool = True
    flash_attn: bool = False

    @property
    def name(self) -> str:
        """The model's file name, as shown (the config key is ``path.name``)."""
        return inert_line(self.path.name)


@dataclass
class LoadedModel:
    """What the engine reports after a successful load."""

    spec: LoadSpec
    n_ctx: int
    """The context size llama.cpp actually allocated."""
    chat_format: str
    """Where the prompt format came from, e.g. ``gemma`` or ``gguf template``."""
    load_seconds: float
    offloaded_layers: int
    n_layer: int


FinishReason = Literal["stop", "length", "cancelled", "error"]


@dataclass
class GenerationStats:
    """Numbers about one reply."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    time_to_first_token: float = 0.0
    """Seconds from the request to the first token of text."""
    decode_seconds: float = 0.0
    """Seconds from the first token to the last."""
    finish_reason: FinishReason = "stop"
    dropped_messages: int = 0
    """Old turns left out of the prompt so it fits the context window."""

    @property
    def tokens_per_second(self) -> float:
        """Completion speed after the first token (0 when unknown)."""
        if self.completion_tokens < 2 or self.decode_seconds <= 0:
            return 0.0
        return (self.completion_tokens - 1) / self.decode_seconds

    @property
    def context_used(self) -> int:
        """Tokens of context the conversation now occupies."""
        return self.prompt_tokens + self.completion_tokens


ProgressCallback = Callable[[float], None]
LogCallback = Callable[[str, str], None]
"""Receives (level, line); level is one of debug, info, warning, error."""


@dataclass
class ChatStream:
    """A reply being generated: iterate for text pieces, then read ``stats``."""

    pieces: Iterator[str]
    stats: GenerationStats = field(default_factory=GenerationStats)

    def __iter__(self) -> Iterator[str]:
        return self.pieces

    def close(self) -> None:
        """Stop generating and release the model (safe to call twice)."""
        close = getattr(self.pieces, "close", None)
        if close is not None:
            close()


class Backend(Protocol):
    """A source of chat replies: local llama.cpp now, a remote server later, a fake in tests.

    Capabilities are flags, never ``isinstance`` checks. Implementations are not expected
    to be thread-safe for concurrent calls from several threads, except ``close`` and
    ``shutdown``, which wait for a call in progress; the session calls the rest from one
    worker thread at a time.
    """

    reports_vram: bool
    """True when the VRAM a loaded model takes can be measured (a local GPU backend)."""

    @property
    def can_offload(self) -> bool:
        """True when this backend can put layers on a GPU."""
        ...

    @property
    def loaded(self) -> LoadedModel | None:
        """The model in memory, if any."""
        ...

    def set_log_callback(self, log: LogCallback) -> None:
        """Send the engine's log lines to ``log`` (from any thread)."""
        ...

    def load(self, spec: LoadSpec, progress: ProgressCallback | None = None) -> LoadedModel:
        """Load ``spec`` in place of the current model. Raises ModelError."""
        ...

    def close(self) -> None:
        """Free the current model now."""
        ...

    def shutdown(self, timeout: float = 2.0) -> None:
        """Free everything; wait at most ``timeout`` seconds for a call in progress."""
        ...

    def count_tokens(self, messages: list[ChatMessage]) -> int:
        """Prompt tokens ``messages`` take with the loaded model's format."""
        ...

    def stream_chat(self, messages: list[ChatMessage], sampling: SamplingParams,
                    cancel: threading.Event | None = None) -> ChatStream:
        """Start a reply: iterate the result for text pieces, then read its ``stats``.

        Raises (at the first piece at the latest) ContextOverflowError when the messages
        cannot fit, GenerationError when the engine fails.
        """
        ...
