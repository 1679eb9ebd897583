"""The llama-cpp-python backend.

One ``Llama`` object is not thread-safe, so every call on it (load, tokenize, generate,
close) happens under one lock. Replies are generated with ``Llama.generate`` and decoded
one token at a time: llama-cpp-python's own streaming API re-decodes the whole reply on
every token, which slows long replies down.

Reproducible seeds: ``generate`` reuses the cached prefix of the last prompt and evaluates
only the rest, in a smaller batch whose logits differ slightly from a whole-prompt
evaluation, so the same seed could give another reply on the next call (measured on an AMD
EPYC, 3 of 3 calls). With ``seed >= 0`` the cache is dropped first and the whole prompt is
evaluated, as in a fresh process; with ``seed = -1`` the cache is kept (faster replies).
"""

from __future__ import annotations

import atexit
import codecs
import contextlib
import ctypes
import os
import re
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pychat.engine import logs
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
from pychat.engine.formats import StopMatcher, named_formatter
from pychat.errors import GenerationError, ModelError
from pychat.files import file_problem, open_regular
from pychat.text import inert_line

GGUF_MAGIC = b"GGUF"
_DEFAULT_SEED = 0xFFFFFFFF  # LLAMA_DEFAULT_SEED: a fresh random seed
_CONTROL_ATTR = 1 << 3  # LLAMA_TOKEN_ATTR_CONTROL


def check_model_file(path: Path) -> None:
    """Raise ModelError with a plain reason when ``path`` is not a readable GGUF file.

    Looks before it opens: a FIFO, a device or a looping link is refused, not waited on."""
    if not os.path.lexists(path):
        raise ModelError(f"Model file not found: {inert_line(str(path))}")
    problem = file_problem(path)
    if problem:
        raise ModelError(f"{inert_line(path.name)} cannot be loaded: {problem}")
    try:
        fd = open_regular(path)
        try:
            head = os.read(fd, 4)
        finally:
            os.close(fd)
    except OSError as exc:
        raise ModelError(f"Cannot read {inert_line(str(path))}: {exc.strerror or exc}") from exc
    if head != GGUF_MAGIC:
        raise ModelError(f"{inert_line(path.name)} is not a GGUF model file (it does not "
                         "start with the GGUF signature)")


def _return_freed_memory() -> None:
    """Hand memory freed by llama.cpp back to the OS (glibc keeps it otherwise).

    Measured here: 20 switches between two models grew RSS by 26.6 MiB without this and
    by 0.2 MiB with it.
    """
    if sys.platform != "linux":
        return
    with contextlib.suppress(OSError, AttributeError):  # not glibc (musl, …): nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def turn_end_tokens(llm: Any) -> list[int]:
    """Tokens that end or start a turn (end-of-generation and control tokens) in ``llm``'s
    vocabulary: what a benchmark suppresses to get a reply of the length it asks for
    that still reads like one reply, not a run of new turns."""
    import llama_cpp

    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    return [token for token in range(llama_cpp.llama_vocab_n_tokens(vocab))
            if llama_cpp.llama_vocab_is_eog(vocab, token)
            or llama_cpp.llama_vocab_get_attr(vocab, token) & _CONTROL_ATTR]


def turn_end_suppressor(llm: Any) -> Any:
    """A logits processor that makes every token ending or starting a turn in ``llm``'s
    vocabulary impossible to sample: the reply goes on as one reply until max_tokens
    (benchmarks; a raw loop in ``bench/`` uses the same one)."""
    import numpy as np
    from llama_cpp import LogitsProcessorList

    ids = np.array(turn_end_tokens(llm), dtype=np.intc)

    def suppress(_input_ids: Any, scores: Any) -> Any:
        scores[ids] = -np.inf
        return scores

    return LogitsProcessorList([suppress])


_live_backends: weakref.WeakSet[LlamaBackend] = weakref.WeakSet()


@atexit.register
def _close_at_exit() -> None:
    """Free models before the interpreter tears down the modules ``Llama.__del__`` needs
    (otherwise it prints a traceback at exit)."""
    for backend in list(_live_backends):
        backend.shutdown(timeout=0.5)


class LlamaBackend:
    """Runs GGUF models in-process through llama-cpp-python."""

    def __init__(self, log: LogCallback | None = None, *, quiet: bool = False,
                 show_debug: bool = False, ignore_eos: bool = False) -> None:
        self._log_callback = log or (lambda level, line: None)
        self.quiet = quiet
        """No screen paints on fd 1 and 2 (``pychat ask``): llama-cpp-python's
        ``verbose=False`` may point them at /dev/null during a load. In the TUI that would
        blank the screen, so there verbose stays on and its prints reach Textual's print
        capture, which the app routes to the log pane."""
        self.show_debug = show_debug
        """Pass llama.cpp's debug lines on too (``pychat --debug``): a load logs ~1200
        of them, and handing each to the UI slowed loads in the app by half."""
        self.ignore_eos = ignore_eos
        """Benchmarks only: generate until max_tokens; the tokens that end or start a turn
        are suppressed, so the reply goes on as one reply."""
        self._lock = threading.RLock()
        self._llm: Any = None
        self._loaded: LoadedModel | None = None
        self._formatter: Any = None
        self._vocab: Any = None
        self._suppressor: Any = None
        self._merge_system = False
        self._thinking_switch = False
        """The model's template reads ``enable_thinking`` (Qwen3, SmolLM3 …)."""
        self._stop_ids: set[int] = set()
        self._recent_errors: deque[str] = deque(maxlen=8)
        self._progress: ProgressCallback | None = None
        logs.add_listener(self._on_llama_log)
        _live_backends.add(self)

    # ------------------------------------------------------------------ plumbing

    def _on_llama_log(self, level: str, line: str) -> None:
        if level in ("warning", "error"):
            self._recent_errors.append(line.strip())
        if set(line.strip()) == {"."}:
            return  # the load progress dots: shown as a progress bar, not as text
        self._log(level, line)

    def _log(self, level: str, line: str) -> None:
        if level != "debug" or self.show_debug:
            self._log_callback(level, line)

    def set_log_callback(self, log: LogCallback) -> None:
        """Send llama.cpp's lines and the engine's own notes to ``log`` from now on."""
        self._log_callback = log

    @property
    def can_offload(self) -> bool:
        """True when this llama.cpp build has a GPU backend."""
        import llama_cpp

        return bool(llama_cpp.llama_supports_gpu_offload())

    @property
    def capabilities(self) -> Capabilities:
        """Local GGUF files, counted exactly with their own template; GPU offload and VRAM
        readings when the build has a GPU backend."""
        offload = self.can_offload
        return Capabilities(local_files=True, can_offload=offload, reports_vram=offload,
                            exact_token_count=True, lists_models=False,
                            concurrent_calls=True, thinking_switch=self._thinking_switch,
                            continues_replies=True)

    def list_models(self, timeout: float = 2.0) -> list[str]:
        """Local files are found on disk by the library: nothing to ask here."""
        return []

    @property
    def loaded(self) -> LoadedModel | None:
        """The model in memory, if any."""
        return self._loaded

    @property
    def llama(self) -> Any:
        """The ``llama_cpp.Llama`` in use (None without a model): for benchmarks and tests
        that compare against raw llama.cpp. Calls on it must not overlap ours."""
        return self._llm

    def close(self) -> None:
        """Free the model and its context now (``del`` alone is not enough)."""
        with self._lock:
            if self._llm is not None:
                self._llm.close()
                self._llm = None
                self._loaded = None
                self._formatter = None
                self._vocab = None
                self._suppressor = None
                _return_freed_memory()

    def shutdown(self, timeout: float = 2.0) -> None:
        """Close the model and stop receiving llama.cpp log lines.

        Waits at most ``timeout`` seconds for a load in progress: at exit the process
        frees the memory anyway, and quitting must not hang.
        """
        logs.remove_listener(self._on_llama_log)
        if self._lock.acquire(timeout=timeout):
            try:
                self.close()
            finally:
                self._lock.release()

    # ------------------------------------------------------------------ loading

    def load(self, spec: LoadSpec, progress: ProgressCallback | None = None) -> LoadedModel:
        """Load ``spec``, replacing the current model. Raises ModelError."""
        check_model_file(spec.path)
        logs.install()
        import llama_cpp
        from llama_cpp import Llama

        with self._lock:
            self.close()
            self._recent_errors.clear()
            started = time.perf_counter()
            logs.set_progress_listener(progress)
            n_batch, n_ubatch = spec.batch_sizes()
            try:
                llm = Llama(
                    model_path=str(spec.path),
                    n_gpu_layers=spec.gpu_layers,
                    n_ctx=spec.n_ctx,
                    n_threads=spec.n_threads or None,
                    use_mlock=spec.use_mlock,
                    use_mmap=spec.use_mmap,
                    flash_attn=spec.flash_attn,
                    n_batch=n_batch,
                    n_ubatch=n_ubatch,
                    verbose=not self.quiet,
                )
            except (ValueError, RuntimeError, OSError) as exc:
                raise ModelError(self._load_failure(spec, exc)) from exc
            finally:
                logs.set_progress_listener(None)
            llm.verbose = False  # no per-request prints on stderr from here on
            vocab = llama_cpp.llama_model_get_vocab(llm.model)
            try:
                formatter, label, merge_system = self._make_formatter(llm, vocab, spec)
            except ModelError:
                llm.close()
                raise
            self._llm, self._formatter, self._merge_system = llm, formatter, merge_system
            template = llm.metadata.get("tokenizer.chat_template") or ""
            self._thinking_switch = label == "GGUF template" and "enable_thinking" in template
            self._vocab = vocab
            if self.ignore_eos:  # benchmarks: scan the vocabulary now, not in a reply
                self._turn_end_suppressor()
            self._stop_ids = {llm.token_eos()}
            n_layer = int(llama_cpp.llama_model_n_layer(llm.model))
            offloaded = 0
            if self.can_offload and spec.gpu_layers != 0:
                offloaded = n_layer + 1 if spec.gpu_layers < 0 else min(spec.gpu_layers,
                                                                       n_layer + 1)
            self._loaded = LoadedModel(
                spec=spec, n_ctx=llm.n_ctx(), chat_format=label,
                load_seconds=time.perf_counter() - started,
                offloaded_layers=offloaded, n_layer=n_layer,
            )
            if progress:
                progress(1.0)
            return self._loaded

    def _turn_end_suppressor(self) -> Any:
        """Benchmarks only: the processor that keeps a reply going, built once per model
        (scanning a 262k-token vocabulary takes ~0.3 s)."""
        if self._suppressor is None:
            self._suppressor = turn_end_suppressor(self._llm)
        return self._suppressor

    def _load_failure(self, spec: LoadSpec, exc: Exception) -> str:
        lines = list(self._recent_errors)
        specific = [line for line in lines if "error loading model" in line
                    or "out of memory" in line.lower() or "alloc" in line.lower()]
        general = [line for line in lines if "error" in line.lower() or "fail" in line.lower()]
        reason = (specific or general or [str(exc)])[-1]
        reason = re.sub(r"^\w+: (error loading model: )?", "", reason)
        hint = ""
        if "out of memory" in reason.lower() or "alloc" in reason.lower():
            hint = f" — try fewer GPU layers than {spec.gpu_layers} or a smaller n_ctx"
        return f"llama.cpp could not load {spec.name}: {reason}{hint}"

    def _token_text(self, vocab: Any, token: int) -> str:
        import llama_cpp

        if token < 0:
            return ""
        return llama_cpp.llama_vocab_get_text(vocab, token).decode("utf-8", errors="replace")

    def _make_formatter(self, llm: Any, vocab: Any, spec: LoadSpec) -> tuple[Any, str, bool]:
        """Pick the prompt format: setting > GGUF template > architecture guess."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        name = spec.chat_format
        template = llm.metadata.get("tokenizer.chat_template")
        if not name and template:
            eos, bos = llm.token_eos(), llm.token_bos()
            formatter = Jinja2ChatFormatter(
                template=template, eos_token=self._token_text(vocab, eos),
                bos_token=self._token_text(vocab, bos), stop_token_ids=[eos],
            )
            return formatter, "GGUF template", False
        if not name:
            arch = llm.metadata.get("general.architecture", "")
            name = "gemma" if arch.startswith("gemma") else "llama-2"
            self._log("warning", f"{spec.name} has no chat template; using '{name}'. "
                      "Set chat_format for this model if replies look wrong.")
        return named_formatter(name), name, name == "gemma"

    # ------------------------------------------------------------------ prompts

    def prompt_tokens(self, messages: list[ChatMessage], thinking: bool = True) -> list[int]:
        """The prompt tokens for ``messages`` in the loaded model's format, as a request
        with ``thinking`` on or off would send them."""
        with self._lock:
            self._require_model()
            return self._prompt_tokens(messages, thinking)[0]

    def _prompt_tokens(self, messages: list[ChatMessage], thinking: bool = True
                       ) -> tuple[list[int], list[str]]:
        """Format and tokenize ``messages``; return (tokens, stop strings).

        Messages that end with the assistant's are a reply to continue: the others are
        formatted up to the assistant's turn opening, and its text follows as it is.
        ``thinking`` False asks a template that has the switch not to think."""
        llm = self._llm
        partial = ""
        if messages and messages[-1]["role"] == "assistant":
            partial, messages = messages[-1]["content"], list(messages[:-1])
        if self._merge_system and messages and messages[0]["role"] == "system":
            # Gemma's format has no system turn: prefix it to the first user turn instead.
            system, rest = messages[0]["content"], list(messages[1:])
            if rest and system:
                rest[0] = {"role": rest[0]["role"],
                           "content": f"{system}\n\n{rest[0]['content']}"}
            messages = rest
        options = {} if thinking or not self._thinking_switch else {"enable_thinking": False}
        try:
            result = self._formatter(messages=messages, **options)
        except Exception as exc:  # jinja2 errors from the model's own template
            raise GenerationError(f"The model's chat template failed: {exc}") from exc
        prompt: str = result.prompt + partial
        bos = llm.token_bos()
        starts_with_bos = bos >= 0 and prompt.startswith(self._token_text(self._vocab, bos))
        add_bos = not (result.added_special or starts_with_bos)
        tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True)
        stops = result.stop or []
        return tokens, [stops] if isinstance(stops, str) else list(stops)

    def count_tokens(self, messages: list[ChatMessage]) -> int:
        """Prompt tokens ``messages`` would take with the loaded model's format."""
        return len(self.prompt_tokens(messages))

    def _require_model(self) -> Any:
        if self._llm is None:
            raise GenerationError("No model is loaded.")
        return self._llm

    def _split_stops(self, stops: list[str]) -> tuple[set[int], list[str]]:
        """Stop strings that are one special token become token ids; others stay text."""
        ids, texts = set(), []
        for stop in stops:
            tokens = self._llm.tokenize(stop.strip().encode("utf-8"), add_bos=False,
                                        special=True)
            if len(tokens) == 1:
                ids.add(tokens[0])
            else:
                texts.append(stop)
        return ids, texts

    # ------------------------------------------------------------------ generation

    def stream_chat(self, messages: list[ChatMessage], sampling: SamplingParams,
                    cancel: threading.Event | None = None) -> ChatStream:
        """Start a reply; iterate the result for text pieces, then read its ``stats``."""
        stats = GenerationStats()
        pieces = self._generate(list(messages), sampling, cancel or threading.Event(), stats)
        return ChatStream(pieces, stats)

    def _piece(self, vocab: Any, token: int, buffer: Any) -> bytes:
        import llama_cpp

        n = llama_cpp.llama_token_to_piece(vocab, token, buffer, len(buffer), 0, False)
        if n < 0:  # piece longer than the buffer
            bigger = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(vocab, token, bigger, -n, 0, False)
            return bigger.raw[:n]
        return buffer.raw[:n]

    def _generate(self, messages: list[ChatMessage], sampling: SamplingParams,
                  cancel: threading.Event, stats: GenerationStats) -> Iterator[str]:
        import llama_cpp

        requested = time.perf_counter()
        with self._lock:
            llm = self._require_model()
            n_ctx = llm.n_ctx()
            budget = n_ctx - reply_reserve(n_ctx, sampling.max_tokens)
            kept, dropped, _ = fit_messages(
                messages, lambda m: len(self._prompt_tokens(m, sampling.thinking)[0]), budget)
            if dropped:
                self._log("info", f"Context: left out the {dropped} oldest message(s) so "
                          f"the prompt fits n_ctx={n_ctx}.")
            tokens, stop_strings = self._prompt_tokens(kept, sampling.thinking)
            stop_ids, stop_texts = self._split_stops(stop_strings)
            stop_ids |= self._stop_ids
            stats.prompt_tokens, stats.dropped_messages = len(tokens), dropped
            room = n_ctx - len(tokens)
            limit = min(room, sampling.max_tokens) if sampling.max_tokens > 0 else room
            if sampling.seed >= 0:
                llm.reset()  # evaluate the whole prompt: the same seed, the same reply
                llm.set_seed(sampling.seed)
            else:
                llm.set_seed(_DEFAULT_SEED)
            vocab = self._vocab
            ignore_eos = self.ignore_eos
            buffer = ctypes.create_string_buffer(256)
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            matcher = StopMatcher([] if ignore_eos else stop_texts)
            tokens_out = llm.generate(
                tokens, top_k=sampling.top_k, top_p=sampling.top_p,
                temp=sampling.temperature, repeat_penalty=sampling.repeat_penalty,
                logits_processor=self._turn_end_suppressor() if ignore_eos else None,
            )
            first_at = last_at = 0.0
            stats.finish_reason = "length"
            try:
                for token in tokens_out:
                    last_at = time.perf_counter()
                    if stats.completion_tokens == 0:
                        first_at = last_at
                        stats.time_to_first_token = first_at - requested
                    # A control token (end or start of a turn) inside a reply means the
                    # model is done, even when the template names no stop for it.
                    if not ignore_eos and (
                            token in stop_ids or llama_cpp.llama_vocab_is_eog(vocab, token)
                            or llama_cpp.llama_vocab_get_attr(vocab, token) & _CONTROL_ATTR):
                        stats.finish_reason = "stop"
                        break
                    stats.completion_tokens += 1
                    piece = decoder.decode(self._piece(vocab, token, buffer))
                    text, hit = matcher.push(piece)
                    if text:
                        yield text
                    if hit:
                        stats.finish_reason = "stop"
                        break
                    if cancel.is_set():
                        stats.finish_reason = "cancelled"
                        break
                    if stats.completion_tokens >= limit:
                        break
                tail = matcher.flush() + decoder.decode(b"", final=True)
                if tail and stats.finish_reason != "stop":
                    yield tail
            except RuntimeError as exc:
                stats.finish_reason = "error"
                raise GenerationError(f"llama.cpp failed while generating: {exc}") from exc
            finally:
                tokens_out.close()
                stats.decode_seconds = max(last_at - first_at, 0.0)
