"""The backend interface and the value types that cross it."""

from __future__ import annotations

import contextlib
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


REMOTE_MARK = " @ "
"""Between a server's model and the server's name, as shown and kept: "llama3 @ gpu-box"."""


def shown_name(name: str) -> str:
    """A model's name as the panes show it. llama-server's default id for its model is the
    path of its ``-m`` file: a server's model id that is a GGUF path is cut to the file's
    name ("SmolLM2.gguf @ gpu-box"). The full id stays what is kept and sent."""
    model, mark, server = name.rpartition(REMOTE_MARK)
    if mark and model.lower().endswith(".gguf"):
        return model.replace("\\", "/").rsplit("/", 1)[-1] + mark + server
    return name


@dataclass(frozen=True)
class ModelRef:
    """A model PyChat can chat with: a local GGUF file, or a model a server offers."""

    path: Path | None = None
    """The local file (None for a server's model)."""
    server: str = ""
    """The name of the server in ``[servers.NAME]`` ("" for a local file)."""
    model_id: str = ""
    """The server's id for the model ("" = the first one the server lists)."""

    @classmethod
    def local(cls, path: Path) -> ModelRef:
        return cls(path=path)

    @classmethod
    def remote(cls, server: str, model_id: str = "") -> ModelRef:
        return cls(server=server, model_id=model_id)

    @property
    def is_remote(self) -> bool:
        return self.path is None

    @property
    def name(self) -> str:
        """How the model is shown and kept with each reply: the file name, or
        "model @ server"."""
        if self.path is not None:
            return inert_line(self.path.name)
        return inert_line(f"{self.model_id or '(first model)'}{REMOTE_MARK}{self.server}")

    @property
    def file(self) -> Path:
        """The local file; asking a server's model for one is a bug."""
        if self.path is None:
            raise ValueError(f"{self.name} is a server's model, not a file")
        return self.path


def as_ref(model: ModelRef | Path) -> ModelRef:
    """A model named either way: a reference, or the path of a local file."""
    return model if isinstance(model, ModelRef) else ModelRef.local(model)


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do, as flags the session and the UI ask instead of checking
    which class it is."""

    local_files: bool = False
    """It loads GGUF files from this machine (the picker's fit lines, memory checks)."""
    can_offload: bool = False
    """It can put layers on a GPU here."""
    reports_vram: bool = False
    """The VRAM its model takes can be measured here."""
    exact_token_count: bool = False
    """``count_tokens`` is exact (else an estimate, calibrated as replies come)."""
    lists_models: bool = False
    """``list_models`` asks a server for the models it offers."""
    concurrent_calls: bool = True
    """A second request (listing, counting) may be made while a reply streams; False for
    servers that cancel a streaming reply when any other request arrives."""
    thinking_switch: bool = False
    """Thinking can be turned off (``enable_thinking`` in the model's chat template)."""
    continues_replies: bool = False
    """A reply can be continued: the last message may be the assistant's, unfinished."""


@dataclass(frozen=True)
class LoadSpec:
    """Everything needed to load one model."""

    ref: ModelRef
    gpu_layers: int = 0
    """Resolved layer count: 0 = CPU, -1 = all."""
    n_ctx: int = 4096
    chat_format: str = ""
    n_threads: int = 0
    use_mlock: bool = False
    use_mmap: bool = True
    flash_attn: bool = False
    n_batch: int = 0
    """Prompt tokens per llama_decode call; 0 = 512."""
    n_ubatch: int = 0
    """Tokens computed at once (sizes the compute buffer); 0 = 128 on the CPU, 512 with
    layers on the GPU (``batch_sizes``)."""

    def batch_sizes(self) -> tuple[int, int]:
        """(n_batch, n_ubatch) as loaded. On the CPU a 128-token ubatch processed a
        2,000-token prompt as fast as 512 (bench: batch) with a compute buffer ~40 MiB
        smaller; a GPU wants bigger ubatches for prompt speed."""
        ubatch = self.n_ubatch or (512 if self.gpu_layers else 128)
        batch = self.n_batch or 512
        return max(batch, ubatch), ubatch

    @property
    def name(self) -> str:
        """The model's name, as shown and kept (a local file's is ``path.name``)."""
        return self.ref.name

    @property
    def path(self) -> Path:
        """The local file (for the local backend)."""
        return self.ref.file


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
    location: str = ""
    """Where it runs, when not on this machine: "gpu-box (http://10.0.0.5:8080/v1), 23 ms"."""


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

    stop: Callable[[], None] | None = None
    """Ends the reply from any thread, a stalled read included (a server's stream)."""

    def close(self) -> None:
        """Stop generating and release the model (safe to call twice, and from any thread
        when the backend gives ``stop``: the reply thread's read ends at once)."""
        if self.stop is not None:
            self.stop()
        close = getattr(self.pieces, "close", None)
        if close is not None:
            # "generator already executing": closed from another thread while it reads;
            # ``stop`` has ended that read, and the reading thread closes it itself.
            with contextlib.suppress(ValueError):
                close()


class Thinking(str):
    """A piece of the model's reasoning (a server's ``reasoning_content``), kept apart from
    the reply's text and never sent back to the model."""


class Backend(Protocol):
    """A source of chat replies: local llama.cpp now, a remote server later, a fake in tests.

    Capabilities are flags, never ``isinstance`` checks. Implementations are not expected
    to be thread-safe for concurrent calls from several threads, except ``close`` and
    ``shutdown``, which wait for a call in progress; the session calls the rest from one
    worker thread at a time.
    """

    @property
    def capabilities(self) -> Capabilities:
        """What this backend can do (see ``Capabilities``)."""
        ...

    @property
    def can_offload(self) -> bool:
        """True when this backend can put layers on a GPU."""
        ...

    def list_models(self, timeout: float = 2.0) -> list[str]:
        """The models this backend offers by id ([] for local files, which the library
        finds on disk). Raises BackendUnavailable with the reason."""
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
