"""What the session tells its listener: plain objects named for what happened.

The session emits them from whichever thread did the work, in the order things happened;
the TUI wraps each in one Textual message, ``pychat ask`` reads them from a queue. Every
string in an event that came from outside PyChat (model output, file names, GGUF metadata,
llama.cpp lines, error text) has passed ``pychat.text.inert`` already.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal

from pychat.config import Sampling
from pychat.engine.base import GenerationStats, LoadedModel, LoadSpec, ModelRef
from pychat.engine.models import ModelInfo
from pychat.gpu import VramSample
from pychat.library import ModelListing
from pychat.session.conversation import Turn
from pychat.store import ChatSummary

Severity = Literal["information", "warning", "error"]


class ModelState(Enum):
    """Where the model is."""

    NONE = "no model"
    LOADING = "loading"
    READY = "ready"


class ReplyState(Enum):
    """Where the reply is: idle → (waiting for model →) answering → (stopping →) idle."""

    IDLE = "idle"
    WAITING_FOR_MODEL = "waiting for model"
    ANSWERING = "answering"
    STOPPING = "stopping"


@dataclass(frozen=True)
class Event:
    """Base class of everything the session emits."""

    replaceable = False
    """True for snapshots (VRAM samples): a newer one may replace one not yet handled."""


@dataclass(frozen=True)
class StateChanged(Event):
    """The model or reply state changed."""

    model: ModelState
    reply: ReplyState


@dataclass(frozen=True)
class LogLine(Event):
    """A line for the log."""

    level: str
    """debug, info, warning or error."""
    text: str
    source: str = "app"


@dataclass(frozen=True)
class Notice(Event):
    """Something the user should see at once (a toast), beside the log."""

    title: str
    message: str
    severity: Severity = "information"


@dataclass(frozen=True)
class WorkerFailed(Event):
    """A worker raised something unexpected; the session has recovered from it."""

    job: str
    """reply, load, listing or vram."""
    message: str
    details: str
    """The traceback, for the log."""


# ---------------------------------------------------------------------------- the chat


@dataclass(frozen=True)
class MessageSent(Event):
    """The user's message joined the conversation at ``position``."""

    text: str
    position: int = 0


@dataclass(frozen=True)
class ReplyStarted(Event):
    """A reply appeared (it may wait for the model before any text)."""

    reply_id: int
    title: str
    """Who answers: the model's file name."""
    position: int = 0
    text: str = ""
    """What the reply already holds (a reply being continued)."""
    thinking: str = ""


@dataclass(frozen=True)
class ReplyAnswering(Event):
    """The model started on a reply (at once, or after waiting for a load)."""

    reply_id: int
    title: str


@dataclass(frozen=True)
class ReplyNote(Event):
    """A line to show under a reply while it has no final note yet."""

    reply_id: int
    note: str


@dataclass(frozen=True)
class TextReceived(Event):
    """A batch of reply text, already made inert."""

    reply_id: int
    text: str


@dataclass(frozen=True)
class ThinkingReceived(Event):
    """A batch of the model's reasoning for a reply (never part of the reply's text, never
    sent back to the model), already made inert."""

    reply_id: int
    text: str
    seconds: float = 0.0
    """How long the model has been thinking so far."""
    pieces: int = 0
    """Pieces (about tokens) of reasoning so far."""


@dataclass(frozen=True)
class ReplyFinished(Event):
    """A reply ended: completed, stopped or failed (``error`` says why)."""

    reply_id: int
    stats: GenerationStats
    note: str
    """"■ stopped", "⚠ error: …", "(reply cut at max_tokens)" or ""."""
    error: str = ""
    error_title: str = ""


@dataclass(frozen=True)
class ReplyRemoved(Event):
    """A reply left the conversation (it is being regenerated); it was at ``position``."""

    reply_id: int
    position: int = -1


@dataclass(frozen=True)
class ChatCleared(Event):
    """A new, empty chat began."""


@dataclass(frozen=True)
class ChatOpened(Event):
    """A stored chat was opened: show these turns (they are a copy)."""

    chat_id: int
    title: str
    turns: list[Turn]
    model: str
    """The model the chat was held with."""


@dataclass(frozen=True)
class ChatSaved(Event):
    """The chat was given a place in the history (its first message was saved)."""

    chat_id: int
    title: str


@dataclass(frozen=True)
class ChatsFound(Event):
    """Chats matching ``query`` (all of them, newest first, for "")."""

    query: str
    chats: list[ChatSummary]
    current: int | None


@dataclass(frozen=True)
class TurnsTruncated(Event):
    """Everything from ``position`` on left the chat (the last message is being edited)."""

    position: int


@dataclass(frozen=True)
class ExchangeShown(Event):
    """Another version of the last exchange is shown: the message at ``position`` and the
    reply after it."""

    position: int
    user: Turn
    reply: Turn
    note: str


@dataclass(frozen=True)
class ContextStart(Event):
    """The last request left out the turns before ``position`` to fit the context."""

    position: int


@dataclass(frozen=True)
class SettingsChanged(Event):
    """The chat's system prompt or sampling changed."""

    system_prompt: str
    sampling: Sampling


@dataclass(frozen=True)
class BudgetCounted(Event):
    """The next request would use ``tokens`` of ``n_ctx`` (with the draft being typed),
    leaving out the ``dropped`` oldest messages; ``overflow``: the draft cannot fit."""

    tokens: int
    n_ctx: int
    dropped: int = 0
    overflow: bool = False


# ---------------------------------------------------------------------------- models


@dataclass(frozen=True)
class ModelLoading(Event):
    """A load started."""

    spec: LoadSpec
    info: ModelInfo | None
    """The GGUF file's header (None for a server's model)."""
    choice: tuple[int | str, int]
    """The gpu_layers (maybe "auto") and n_ctx as the user chose them."""


@dataclass(frozen=True)
class LoadProgress(Event):
    """Load progress from 0 to 1."""

    fraction: float
    replaceable = True


@dataclass(frozen=True)
class ModelLoaded(Event):
    """A model is loaded and ready to answer."""

    loaded: LoadedModel
    info: ModelInfo | None
    choice: tuple[int | str, int]
    vram_estimate: int | None = None
    """Estimated VRAM of what was offloaded (None when nothing was)."""
    vram_used: int | None = None
    """VRAM this process held after the load (None without NVML)."""
    rolled_back: bool = False
    """True when this is the previous model, reloaded after a failed switch."""
    instead_of: str = ""
    """The model that failed at start-up, when this one was loaded in its place."""


@dataclass(frozen=True)
class ModelLoadFailed(Event):
    """A load failed; ``ref`` is the model that could not be loaded."""

    ref: ModelRef
    message: str
    title: str = "Model error"


@dataclass(frozen=True)
class ModelsListed(Event):
    """The model list the picker asked for."""

    listing: ModelListing


@dataclass(frozen=True)
class VramSampled(Event):
    """A fresh reading from the GPU monitor."""

    sample: VramSample
    replaceable = True
