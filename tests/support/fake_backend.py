"""A stand-in for ``LlamaBackend`` in UI and session tests: no llama.cpp, scripted replies.

It has the real backend's public names and signatures (``tests/test_fakes.py`` checks them),
raises the same exception classes, checks model files the same way before a "load", and
fits the conversation into the context with the real ``fit_messages`` (one token per word),
so overflow errors read as they do with a real model.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pychat import instrument
from pychat.engine.base import (
    Capabilities,
    ChatMessage,
    ChatStream,
    GenerationStats,
    LoadedModel,
    LoadSpec,
    LogCallback,
    ProgressCallback,
    SamplingParams,
)
from pychat.engine.context import fit_messages, reply_reserve
from pychat.engine.llama import check_model_file
from pychat.errors import ModelError

DEFAULT_REPLY = "Hello! I am the fake model. I answer quickly and always the same way."


class FakeBackend:
    """Loads instantly (or when ``load_gate`` is set), streams ``reply`` word by word at
    ``tokens_per_second``, and raises ``load_error`` / ``stream_error`` when told to."""

    def __init__(self, reply: str = DEFAULT_REPLY, tokens_per_second: float = 400.0,
                 n_layer: int = 4) -> None:
        self.reply = reply
        self.tokens_per_second = tokens_per_second
        self.n_layer = n_layer
        self.quiet = False
        self.offload = False
        """What ``can_offload`` answers."""
        self.thinking_switch = False
        """The model's template reads ``enable_thinking`` (``capabilities``)."""
        self.load_gate = threading.Event()
        """Loads wait until this is set (set from the start; clear it to hold loads)."""
        self.load_gate.set()
        self.load_error: BaseException | None = None
        """Raised by the next load (then forgotten)."""
        self.refuse: dict[str, str] = {}
        """File name → the ModelError message a load of it raises, as llama.cpp would."""
        self.stream_error: BaseException | None = None
        """Raised by the next reply after ``fail_after`` pieces (then forgotten)."""
        self.fail_after = 0
        self.loads: list[LoadSpec] = []
        self.requests: list[list[ChatMessage]] = []
        """The messages each reply was generated from (after fitting the context)."""
        self.samplings: list[SamplingParams] = []
        self._log: LogCallback = lambda level, line: None
        self._loaded: LoadedModel | None = None
        self._lock = threading.RLock()

    @property
    def can_offload(self) -> bool:
        return self.offload

    @property
    def capabilities(self) -> Capabilities:
        # A local model continues a reply, as LlamaBackend's do.
        return Capabilities(local_files=True, can_offload=self.offload, reports_vram=False,
                            exact_token_count=True, thinking_switch=self.thinking_switch,
                            continues_replies=True)

    @property
    def loaded(self) -> LoadedModel | None:
        return self._loaded

    def list_models(self, timeout: float = 2.0) -> list[str]:
        return []

    @property
    def llama(self) -> Any:
        return None  # there is no llama.cpp behind the fake

    def set_log_callback(self, log: LogCallback) -> None:
        self._log = log

    def load(self, spec: LoadSpec, progress: ProgressCallback | None = None) -> LoadedModel:
        self.load_gate.wait()
        with self._lock:
            self.close()
            self.loads.append(spec)
            check_model_file(spec.path)
            error, self.load_error = self.load_error, None
            if error is not None:
                raise error
            if spec.path.name in self.refuse:
                raise ModelError(self.refuse[spec.path.name])
            self._log("info", f"fake: loading {spec.path}")
            if progress:
                progress(0.5)
                progress(1.0)
            n_ctx = spec.n_ctx or 4096
            offloaded = 0
            if self.offload and spec.gpu_layers:
                offloaded = self.n_layer + 1 if spec.gpu_layers < 0 else min(
                    spec.gpu_layers, self.n_layer + 1)
            self._loaded = LoadedModel(spec, n_ctx, spec.chat_format or "GGUF template",
                                       0.01, offloaded, self.n_layer)
            return self._loaded

    def close(self) -> None:
        with self._lock:
            self._loaded = None

    def shutdown(self, timeout: float = 2.0) -> None:
        if self._lock.acquire(timeout=timeout):
            try:
                self.close()
            finally:
                self._lock.release()

    def prompt_tokens(self, messages: list[ChatMessage], thinking: bool = True) -> list[int]:
        """One token per word, four per turn for its markers (the fake has no template
        to switch thinking off in)."""
        return list(range(sum(len(m["content"].split()) + 4 for m in messages)))

    def count_tokens(self, messages: list[ChatMessage]) -> int:
        return len(self.prompt_tokens(messages))

    def stream_chat(self, messages: list[ChatMessage], sampling: SamplingParams,
                    cancel: threading.Event | None = None) -> ChatStream:
        stats = GenerationStats()
        return ChatStream(self._generate(list(messages), sampling, cancel or threading.Event(),
                                         stats), stats)

    def _generate(self, messages: list[ChatMessage], sampling: SamplingParams,
                  cancel: threading.Event, stats: GenerationStats) -> Iterator[str]:
        started = time.perf_counter()
        with self._lock:
            if self._loaded is None:
                from pychat.errors import GenerationError

                raise GenerationError("No model is loaded.")
            n_ctx = self._loaded.n_ctx
            budget = n_ctx - reply_reserve(n_ctx, sampling.max_tokens)
            kept, dropped, tokens = fit_messages(messages, self.count_tokens, budget)
            self.requests.append(kept)
            self.samplings.append(sampling)
            stats.prompt_tokens, stats.dropped_messages = tokens, dropped
            error, self.stream_error = self.stream_error, None
            pieces = re.findall(r"\S+\s*", self.reply)
            limit = sampling.max_tokens or len(pieces)
            stats.finish_reason = "stop" if limit >= len(pieces) else "length"
            first = 0.0
            for number, piece in enumerate(pieces[:limit]):
                if error is not None and number == self.fail_after:
                    stats.finish_reason = "error"
                    raise error
                # On a schedule, not a sleep per piece: a late piece does not delay the
                # next, so the rate asked for is the rate delivered (when the CPU allows).
                due = started + (number + 1) / self.tokens_per_second
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                if number == 0:
                    first = time.perf_counter()
                    stats.time_to_first_token = first - started
                stats.completion_tokens += 1
                stats.decode_seconds = time.perf_counter() - first
                if number == limit - 1 or number == len(pieces) - 1:
                    instrument.trace("source_last", tokens=stats.completion_tokens)
                yield piece
                if cancel.is_set():
                    stats.finish_reason = "cancelled"
                    return
            if error is not None:
                raise error


def fake_model_file(folder: Path, name: str) -> Path:
    """A file that passes the GGUF signature check (the fake never reads the rest)."""
    path = folder / name
    path.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + bytes(16))
    return path
