"""The backend interface and the value types that cross it."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, TypedDict

from pychat.config import Sampling

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
        """The model's file name, used as its display name and config key."""
        return self.path.name


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
    """A source of chat replies (local llama.cpp now, remote HTTP later)."""

    can_offload: bool
    """True when this backend can put layers on a GPU."""
    reports_vram: bool
    """True when the VRAM the model takes can be measured for this backend."""

    @property
    def loaded(self) -> LoadedModel | None: ...

    def load(self, spec: LoadSpec, progress: ProgressCallback | None = None) -> LoadedModel: ...

    def close(self) -> None: ...

    def stream_chat(self, messages: list[ChatMessage], sampling: SamplingParams,
                    cancel: threading.Event | None = None) -> ChatStream: ...

    def astream_chat(self, messages: list[ChatMessage], sampling: SamplingParams,
                     cancel: threading.Event | None = None) -> AsyncIterator[str]: ...
