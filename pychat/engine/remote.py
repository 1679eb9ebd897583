"""Chatting through an OpenAI-compatible server: llama-server, vLLM, Ollama's ``/v1``, LM
Studio, llama-cpp-python's server, a hosted router.

- Replies stream as Server-Sent Events over ``httpx``, read line by line; ``:`` keep-alives
  are skipped, ``reasoning_content`` comes out as ``Thinking`` pieces, apart from the text.
- Timeouts are ours: connecting, the first byte (long: a long prompt on a busy server takes
  minutes), and between two pieces. A watchdog thread ends a read that waits too long, or
  at once when the reply is stopped: it shuts the socket down, which wakes a blocked read.
  Each streamed reply gets a connection of its own for that reason. No request is retried:
  a retry would run the whole prompt again.
- What a server offers is probed when its model loads, never while it streams to us:
  llama-cpp-python's server cancels a streaming reply when any other request arrives.
- The key comes from the environment variable the config names, goes to that server only,
  and is never part of a message, a log line or an event.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from pychat.config import Sampling, ServerSettings
from pychat.engine.base import (
    Capabilities,
    ChatMessage,
    ChatStream,
    GenerationStats,
    LoadedModel,
    LoadSpec,
    LogCallback,
    ModelRef,
    ProgressCallback,
    SamplingParams,
    Thinking,
)
from pychat.engine.context import fit_messages, reply_reserve
from pychat.engine.server_errors import json_error_message, network_error, shown, status_error
from pychat.engine.sse import DONE, sse_data
from pychat.errors import BackendUnavailable, GenerationError, ModelError, PyChatError

DEFAULT_N_CTX = 4096
"""The context assumed when neither the server nor the config says."""
MESSAGE_OVERHEAD = 4
"""Tokens a chat template adds per message, for the estimate."""
MAX_ERROR_BODY = 65536
_json: Any = None


def _loads(text: str) -> Any:
    global _json
    if _json is None:
        import json as _json
    return _json.loads(text)


@dataclass
class ServerFacts:
    """What a server turned out to offer, probed once its model loads."""

    kind: str = "OpenAI-compatible"
    """llama-server, vLLM, llama-cpp-python or OpenAI-compatible (anything else)."""
    n_ctx: int = 0
    n_ctx_from: str = ""
    count: str = ""
    """How prompts are counted: "apply-template" (exact, llama-server), "vllm" (exact),
    "extras" (llama-cpp-python: the text tokenized, the template estimated) or ""."""

    @property
    def template_kwargs(self) -> bool:
        """True for servers that take ``chat_template_kwargs`` (``enable_thinking``) and
        continue a final assistant message (llama-server, vLLM)."""
        return self.kind in ("llama-server", "vLLM")

    @property
    def sampler_extras(self) -> bool:
        """True when top_k and the repeat penalty may be sent (others reject unknown
        fields, OpenAI among them)."""
        return self.kind in ("llama-server", "llama-cpp-python", "vLLM")


class Watchdog:
    """Ends a streamed reply's read from another thread: at once when the reply is
    cancelled, or when the server sends nothing for too long — ``first_byte`` seconds for
    its first line (prompt processing), ``between`` seconds between two lines after it
    (keep-alive comments count: the server is alive)."""

    def __init__(self, cancel: threading.Event, first_byte: float, between: float) -> None:
        self.cancel = cancel
        self.first_byte, self.between = first_byte, between
        self.expired = ""
        """Which wait ran out ("first byte" or "between"); "" when none did."""
        self._heard = False
        self._deadline = time.monotonic() + first_byte
        self._socket: socket.socket | None = None
        self._done = threading.Event()
        threading.Thread(target=self._watch, name="pychat-watchdog", daemon=True).start()

    def trace(self, event: str, info: Mapping[str, Any]) -> None:
        """httpcore's trace callback: keeps the socket of the new connection."""
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            stream = info.get("return_value")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None:
                self._socket = sock
                if self.cancel.is_set():
                    self._cut()

    def alive(self) -> None:
        """A line came: the next one has ``between`` seconds."""
        self._heard = True
        self._deadline = time.monotonic() + self.between

    def stop(self) -> None:
        """The reply ended: the watchdog goes."""
        self._done.set()

    def _watch(self) -> None:
        while not self._done.is_set():
            left = self._deadline - time.monotonic()
            if left <= 0:
                self.expired = "between" if self._heard else "first byte"
                self._cut()
                return
            if self.cancel.wait(min(left, 0.25)):
                self._cut()
                return

    def _cut(self) -> None:
        """Wake the blocked read: a socket shut down reads end-of-file at once."""
        sock = self._socket
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed: nothing left to wake
                sock.shutdown(socket.SHUT_RDWR)


def without_echo(pieces: Iterator[str], continued: str) -> Iterator[str]:
    """A continued reply's pieces without the server's echo of the text it continued.
    llama-server (the llama.cpp of llama-cpp-python 0.3.36, seen here) starts the stream
    with the assistant text it was given, then goes on; vLLM sends only what is new. The
    echo is dropped where it is there, and nothing is dropped where it is not."""
    core = continued.rstrip()
    held: str | None = "" if core else None
    for piece in pieces:
        if held is None or isinstance(piece, Thinking):
            yield piece
            continue
        held += piece
        if core.startswith(held):
            continue  # still all echo so far
        rest = held[len(core):] if held.startswith(core) else held
        held = None
        if rest:
            yield rest
    # A stream that ended inside the echo wrote nothing new.


class RemoteBackend:
    """One OpenAI-compatible server, behind the Backend interface."""

    def __init__(self, name: str, settings: ServerSettings, log: LogCallback | None = None,
                 *, environ: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.settings = settings
        self.environ = os.environ if environ is None else environ
        self._log_callback = log or (lambda level, line: None)
        self._client: Any = None
        self._lock = threading.Lock()
        self._alone = threading.Lock()
        """Held while a reply streams: other requests (counting, listing) then give way —
        some servers cancel a streaming reply when any other request arrives."""
        self._loaded: LoadedModel | None = None
        self._streaming = 0
        self._facts = ServerFacts()
        self._chars_per_token = 4.0
        self._listed: list[str] = []

    # ------------------------------------------------------------------ plumbing

    @property
    def base_url(self) -> str:
        return self.settings.base_url.rstrip("/")

    @property
    def root_url(self) -> str:
        """The server's root: the base URL without its ``/v1`` (llama-server's /props,
        /tokenize; llama-cpp-python's /extras)."""
        base = self.base_url
        return base[:-3] if base.endswith("/v1") else base

    @property
    def label(self) -> str:
        """"gpu-box (http://10.0.0.5:8080/v1)": the server as messages name it."""
        parts = urlsplit(self.settings.base_url)
        return f"{self.name} ({parts.scheme}://{parts.netloc}{parts.path.rstrip('/')})"

    @property
    def capabilities(self) -> Capabilities:
        facts = self._facts
        return Capabilities(local_files=False, can_offload=False, reports_vram=False,
                            exact_token_count=facts.count in ("apply-template", "vllm"),
                            lists_models=True,
                            concurrent_calls=facts.kind != "llama-cpp-python",
                            thinking_switch=facts.template_kwargs,
                            continues_replies=facts.template_kwargs)

    @property
    def can_offload(self) -> bool:
        return False

    @property
    def loaded(self) -> LoadedModel | None:
        return self._loaded

    @property
    def streaming(self) -> bool:
        """True while a reply streams from this server."""
        return self._streaming > 0

    def set_log_callback(self, log: LogCallback) -> None:
        self._log_callback = log

    def _log(self, level: str, line: str) -> None:
        self._log_callback(level, line)

    def _key(self) -> str:
        variable = self.settings.api_key_env
        if not variable:
            return ""
        key = self.environ.get(variable, "")
        if not key:
            raise BackendUnavailable(f"${variable} is not set: it holds the key for "
                                     f"{self.name}. Set it and try again.", "No key")
        return key

    def _headers(self) -> dict[str, str]:
        key = self._key()
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _timeout(self, read: float | None) -> Any:
        import httpx

        return httpx.Timeout(connect=self.settings.connect_timeout, read=read, write=30.0,
                             pool=self.settings.connect_timeout)

    def _tls(self) -> Any:
        """The TLS check, made once: building it reads the CA bundle (44 ms here), and each
        streamed reply opens a client of its own."""
        if self._tls_context is None:
            import httpx

            self._tls_context = httpx.create_ssl_context() if self.settings.verify_tls \
                else False
        return self._tls_context

    _tls_context: Any = None

    def _http(self) -> Any:
        """The pooled client for short requests (listing, counting, probing)."""
        if self._client is None:
            import httpx

            # trust_env=False: no credentials from ~/.netrc or the environment are added
            # to a request to this host; only the key named in the config is sent.
            self._client = httpx.Client(verify=self._tls(), trust_env=False,
                                        follow_redirects=False)
        return self._client

    def _request(self, method: str, url: str, timeout: float, json: Any = None) -> Any:
        """A short request: the response (any status), or BackendUnavailable."""
        import httpx

        try:
            return self._http().request(method, url, json=json, headers=self._headers(),
                                        timeout=self._timeout(timeout))
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ConnectTimeout):
                raise network_error(self.label, exc, self.settings.connect_timeout) from exc
            raise BackendUnavailable(f"{self.label} did not answer within {timeout:g} s.",
                                     "Server unavailable") from exc
        except httpx.HTTPError as exc:
            raise network_error(self.label, exc, self.settings.connect_timeout) from exc

    def _check(self, response: Any, model: str = "") -> Any:
        """The JSON of a successful answer; an error status or a body that is not JSON
        raises a PyChatError saying so."""
        if response.status_code >= 400:
            raise status_error(self.label, response.status_code,
                               response.content[:MAX_ERROR_BODY],
                               response.headers.get("content-type", ""),
                               response.headers.get("retry-after"),
                               self.settings.api_key_env, model)
        try:
            return _loads(response.text)
        except ValueError as exc:
            raise BackendUnavailable(f"{self.label} answered with something that is not "
                                     f"JSON: “{shown(response.text, 120)}” (a wrong "
                                     "base_url?).", "Not an API") from exc

    # ------------------------------------------------------------------ models

    def list_models(self, timeout: float = 2.0) -> list[str]:
        """The model ids the server lists (its ``/models``). While it streams a reply to
        us the last list is given instead: asking would cancel that reply on some
        servers."""
        if not self._alone.acquire(blocking=False):
            return list(self._listed)
        try:
            data = self._check(self._request("GET", f"{self.base_url}/models", timeout))
        finally:
            self._alone.release()
        entries = data.get("data") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise BackendUnavailable(f"{self.label}'s /models answer holds no list of models.",
                                     "Not an API")
        ids = [str(e.get("id")) for e in entries if isinstance(e, dict) and e.get("id")]
        self._listed = [shown(i, 200) for i in ids]
        self._model_entries = {str(e.get("id")): e for e in entries if isinstance(e, dict)}
        return list(self._listed)

    _model_entries: dict[str, Any] = {}

    def load(self, spec: LoadSpec, progress: ProgressCallback | None = None) -> LoadedModel:
        """Check that the server answers and offers the model, and learn its context size
        and how to count tokens. Raises BackendUnavailable or ModelError."""
        started = time.perf_counter()
        self.close()
        ids = self.list_models(timeout=self.settings.connect_timeout + 10)
        latency = time.perf_counter() - started
        wanted = spec.ref.model_id or self.settings.model
        if wanted and ids and wanted not in ids:
            offered = ", ".join(ids[:8]) + (" …" if len(ids) > 8 else "")
            raise ModelError(f"{self.label} has no model “{shown(wanted, 80)}”; it offers: "
                             f"{offered}.", "Unknown model")
        model_id = wanted or (ids[0] if ids else "")
        if not model_id:
            raise ModelError(f"{self.label} lists no models: name one with model = \"…\" in "
                             f"[servers.{self.name}].", "No model")
        self._facts = self._probe(model_id)
        n_ctx = spec.n_ctx or self.settings.n_ctx or self._facts.n_ctx or DEFAULT_N_CTX
        source = "config" if (spec.n_ctx or self.settings.n_ctx) else \
            (self._facts.n_ctx_from or "assumed: the server does not say")
        ref = ModelRef.remote(self.name, model_id)
        self._loaded = LoadedModel(
            spec=replace(spec, ref=ref, n_ctx=n_ctx), n_ctx=n_ctx,
            chat_format=f"the server's template ({self._facts.kind})",
            load_seconds=time.perf_counter() - started, offloaded_layers=0, n_layer=0,
            location=f"{self.label}, {self._facts.kind}, n_ctx {n_ctx} ({source}), answered "
                     f"in {latency * 1000:.0f} ms")
        if progress:
            progress(1.0)
        return self._loaded

    def _probe(self, model_id: str) -> ServerFacts:
        """What kind of server this is, its context size, and how it counts tokens; each
        probe may fail (404 and the like) without harm."""
        facts = ServerFacts()
        entry = self._model_entries.get(model_id, {})
        if isinstance(entry.get("max_model_len"), int):  # vLLM lists it with the model
            facts.kind, facts.n_ctx, facts.n_ctx_from = "vLLM", entry["max_model_len"], \
                "max_model_len"
        props = self._try("GET", f"{self.root_url}/props")
        if isinstance(props, dict) and ("default_generation_settings" in props
                                        or "n_ctx" in props):
            facts.kind = "llama-server"
            settings = props.get("default_generation_settings") or {}
            n_ctx = props.get("n_ctx") or settings.get("n_ctx")
            if isinstance(n_ctx, int) and n_ctx > 0:
                facts.n_ctx, facts.n_ctx_from = n_ctx, "/props"
        probe: list[ChatMessage] = [{"role": "user", "content": "hello"}]
        if facts.kind == "llama-server" and self._apply_template(probe) is not None:
            facts.count = "apply-template"
        elif facts.kind == "vLLM" and self._vllm_count(probe, model_id) is not None:
            facts.count = "vllm"
        elif self._extras_count("hello", model_id) is not None:
            facts.kind, facts.count = "llama-cpp-python", "extras"
        return facts

    def _try(self, method: str, url: str, json: Any = None) -> Any:
        """A probe's JSON answer, or None for any failure."""
        try:
            response = self._request(method, url, 5.0, json)
        except PyChatError:
            return None
        if response.status_code >= 400:
            return None
        try:
            return _loads(response.text)
        except ValueError:
            return None

    def _apply_template(self, messages: list[ChatMessage]) -> int | None:
        """llama-server: the prompt its template makes, tokenized."""
        applied = self._try("POST", f"{self.root_url}/apply-template", {"messages": messages})
        prompt = applied.get("prompt") if isinstance(applied, dict) else None
        if not isinstance(prompt, str):
            return None
        tokens = self._try("POST", f"{self.root_url}/tokenize",
                           {"content": prompt, "add_special": True, "parse_special": True})
        found = tokens.get("tokens") if isinstance(tokens, dict) else None
        return len(found) if isinstance(found, list) else None

    def _vllm_count(self, messages: list[ChatMessage], model_id: str) -> int | None:
        answer = self._try("POST", f"{self.root_url}/tokenize",
                           {"model": model_id, "messages": messages})
        count = answer.get("count") if isinstance(answer, dict) else None
        return count if isinstance(count, int) else None

    def _extras_count(self, text: str, model_id: str) -> int | None:
        answer = self._try("POST", f"{self.root_url}/extras/tokenize/count",
                           {"input": text, "model": model_id})
        count = answer.get("count") if isinstance(answer, dict) else None
        return count if isinstance(count, int) else None

    def close(self) -> None:
        """Forget the model (a server's memory is the server's)."""
        self._loaded = None

    def shutdown(self, timeout: float = 2.0) -> None:
        self.close()
        client, self._client = self._client, None
        if client is not None:
            client.close()

    # ------------------------------------------------------------------ counting

    def count_tokens(self, messages: list[ChatMessage]) -> int:
        """Exact where the server counts (llama-server, vLLM), else an estimate from the
        characters at a rate learned from the server's own counts. Never asks a server
        while it streams to us (it would cancel the reply on some)."""
        loaded = self._loaded
        if loaded is None:
            raise GenerationError("No model is loaded.")
        if self._facts.count and self._alone.acquire(blocking=False):
            try:
                exact = self._exact_count(messages, loaded.spec.ref.model_id)
            finally:
                self._alone.release()
            if exact is not None:
                return exact
        return self.estimate(messages)

    def _exact_count(self, messages: list[ChatMessage], model_id: str) -> int | None:
        count = self._facts.count
        if count == "apply-template":
            return self._apply_template(messages)
        if count == "vllm":
            return self._vllm_count(messages, model_id)
        if count == "extras":
            text = "\n".join(m["content"] for m in messages)
            tokens = self._extras_count(text, model_id)
            return None if tokens is None else tokens + MESSAGE_OVERHEAD * len(messages)
        return None

    def estimate(self, messages: list[ChatMessage]) -> int:
        """Tokens ``messages`` probably take: characters at the learned rate, plus the
        template's few tokens per message."""
        chars = sum(len(m["content"]) for m in messages)
        return int(chars / self._chars_per_token) + MESSAGE_OVERHEAD * len(messages) + 3

    def calibrate(self, messages: list[ChatMessage], prompt_tokens: int) -> None:
        """Learn characters per token from the server's own count of a prompt."""
        chars = sum(len(m["content"]) for m in messages)
        body = prompt_tokens - MESSAGE_OVERHEAD * len(messages) - 3
        if chars >= 200 and body > 0:
            self._chars_per_token = min(8.0, max(1.0, chars / body))

    # ------------------------------------------------------------------ replies

    def stream_chat(self, messages: list[ChatMessage], sampling: SamplingParams,
                    cancel: threading.Event | None = None) -> ChatStream:
        """Start a reply; iterate for text (and ``Thinking``) pieces, then read ``stats``.
        ``close()`` on the result ends it at once from any thread."""
        cancel = cancel or threading.Event()
        stats = GenerationStats()
        return ChatStream(self._generate(list(messages), sampling, cancel, stats), stats,
                          stop=cancel.set)

    def _body(self, messages: list[ChatMessage], sampling: Sampling, model_id: str
              ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model_id, "messages": messages, "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": sampling.temperature, "top_p": sampling.top_p}
        if sampling.max_tokens > 0:
            body["max_tokens"] = sampling.max_tokens
        if sampling.seed >= 0:
            body["seed"] = sampling.seed
        if self._facts.sampler_extras:
            body["top_k"] = sampling.top_k
            key = "repetition_penalty" if self._facts.kind == "vLLM" else "repeat_penalty"
            body[key] = sampling.repeat_penalty
        if not sampling.thinking and self._facts.template_kwargs:
            body["chat_template_kwargs"] = {"enable_thinking": False}
        if messages and messages[-1]["role"] == "assistant" and self._facts.kind == "vLLM":
            body["continue_final_message"], body["add_generation_prompt"] = True, False
        return body

    def _generate(self, messages: list[ChatMessage], sampling: Sampling,
                  cancel: threading.Event, stats: GenerationStats) -> Iterator[str]:
        loaded = self._loaded
        if loaded is None:
            raise GenerationError("No model is loaded.")
        n_ctx = loaded.n_ctx
        budget = n_ctx - reply_reserve(n_ctx, sampling.max_tokens)
        kept, dropped, tokens = fit_messages(messages, self.count_tokens, budget)
        stats.prompt_tokens, stats.dropped_messages = tokens, dropped
        if dropped:
            self._log("info", f"Context: left out the {dropped} oldest message(s) so the "
                      f"prompt fits n_ctx={n_ctx}.")
        body = self._body(kept, sampling, loaded.spec.ref.model_id)
        watchdog = Watchdog(cancel, self.settings.first_byte_timeout,
                            self.settings.chunk_timeout)
        with self._alone, self._lock_streaming():
            try:
                reply = self._read_reply(body, watchdog, cancel, stats, kept)
                if kept and kept[-1]["role"] == "assistant":  # continuing that reply
                    reply = without_echo(reply, kept[-1]["content"])
                yield from reply
            finally:
                watchdog.stop()

    @contextlib.contextmanager
    def _lock_streaming(self) -> Iterator[None]:
        with self._lock:
            self._streaming += 1
        try:
            yield
        finally:
            with self._lock:
                self._streaming -= 1

    def _read_reply(self, body: dict[str, Any], watchdog: Watchdog, cancel: threading.Event,
                    stats: GenerationStats, kept: list[ChatMessage]) -> Iterator[str]:
        import httpx

        requested = time.perf_counter()
        first_at = last_at = 0.0
        pieces = 0
        ended = False
        stats.finish_reason = "stop"
        # A client of its own: a new connection, whose socket the watchdog can shut down.
        client = httpx.Client(verify=self._tls(), trust_env=False, follow_redirects=False,
                              limits=httpx.Limits(max_keepalive_connections=0))
        try:
            request = client.build_request(
                "POST", f"{self.base_url}/chat/completions", json=body,
                headers=self._headers(), timeout=self._timeout(None),
                extensions={"trace": watchdog.trace})
            response = client.send(request, stream=True)
            try:
                if response.status_code >= 400:
                    error_body = response.read()[:MAX_ERROR_BODY]
                    raise status_error(self.label, response.status_code, error_body,
                                       response.headers.get("content-type", ""),
                                       response.headers.get("retry-after"),
                                       self.settings.api_key_env, body["model"])
                for data in sse_data(self._lines(response, watchdog)):
                    if data.strip() == DONE:
                        ended = True
                        break
                    event = self._event(data)
                    text, thinking, finish = self._delta(event, stats)
                    if thinking:
                        yield Thinking(thinking)
                    if text:
                        last_at = time.perf_counter()
                        if not pieces:
                            first_at = last_at
                            stats.time_to_first_token = first_at - requested
                        pieces += 1
                        if not stats.completion_tokens or not self._usage_seen:
                            stats.completion_tokens = pieces
                        yield text
                    if finish:
                        stats.finish_reason = "length" if finish == "length" else "stop"
                        ended = True
            finally:
                response.close()
        except PyChatError:
            stats.finish_reason = "error"
            raise
        except (httpx.HTTPError, OSError) as exc:
            if cancel.is_set():
                stats.finish_reason = "cancelled"
                return
            if watchdog.expired:
                stats.finish_reason = "error"
                raise self._silence(watchdog, pieces) from exc
            stats.finish_reason = "error"
            if pieces or isinstance(exc, httpx.ReadError | httpx.RemoteProtocolError):
                raise GenerationError(f"{self.label} closed the connection mid-reply "
                                      f"({shown(str(exc) or type(exc).__name__, 120)}).",
                                      "Reply cut") from exc
            raise network_error(self.label, exc, self.settings.connect_timeout) from exc
        finally:
            stats.decode_seconds = max(last_at - first_at, 0.0)
            client.close()
        if cancel.is_set():
            stats.finish_reason = "cancelled"
            return
        if watchdog.expired:
            stats.finish_reason = "error"
            raise self._silence(watchdog, pieces)
        if not ended:
            stats.finish_reason = "error"
            raise GenerationError(f"{self.label} ended the stream mid-reply (no [DONE] and no "
                                  "finish reason).", "Reply cut")
        if stats.prompt_tokens and self._usage_seen:
            self.calibrate(kept, stats.prompt_tokens)

    _usage_seen = False

    def _lines(self, response: Any, watchdog: Watchdog) -> Iterator[str]:
        for line in response.iter_lines():
            watchdog.alive()
            yield line

    def _event(self, data: str) -> dict[str, Any]:
        """One event's JSON; an error object in the stream is the server's error."""
        try:
            event = _loads(data)
        except ValueError as exc:
            raise GenerationError(f"{self.label} sent a stream that is not JSON: "
                                  f"“{shown(data, 120)}”.", "Malformed stream") from exc
        if not isinstance(event, dict):
            raise GenerationError(f"{self.label} sent a stream event that is not an object: "
                                  f"“{shown(data, 120)}”.", "Malformed stream")
        if "error" in event:
            message = json_error_message(event) or str(event.get("error"))
            raise GenerationError(f"{self.label} stopped with an error: "
                                  f"“{shown(message)}”.", "Server error")
        return event

    def _delta(self, event: dict[str, Any], stats: GenerationStats
               ) -> tuple[str, str, str]:
        """(text, thinking, finish reason) of one chunk; its usage goes into ``stats``."""
        usage = event.get("usage")
        if isinstance(usage, dict):
            prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
            if isinstance(prompt, int):
                stats.prompt_tokens = prompt
            if isinstance(completion, int):
                stats.completion_tokens = completion
                self._usage_seen = True
        timings = event.get("timings")
        if isinstance(timings, dict) and "predicted_per_second" in timings:
            self._log("info", f"{self.name}: llama-server timings: prompt "
                      f"{timings.get('prompt_n', '?')} tokens in "
                      f"{timings.get('prompt_ms', 0):.0f} ms, "
                      f"{timings.get('predicted_per_second', 0):.1f} tok/s")
        choices = event.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return "", "", ""
        choice = choices[0]
        raw = choice.get("delta")
        delta: dict[str, Any] = raw if isinstance(raw, dict) else {}
        text = delta.get("content")
        thinking = delta.get("reasoning_content") or delta.get("reasoning")
        finish = choice.get("finish_reason")
        return (text if isinstance(text, str) else "",
                thinking if isinstance(thinking, str) else "",
                finish if isinstance(finish, str) else "")

    def _silence(self, watchdog: Watchdog, pieces: int) -> GenerationError:
        if not pieces:
            return GenerationError(f"{self.label} sent no reply within "
                                   f"{watchdog.first_byte:g} s (first_byte_timeout).",
                                   "No answer")
        return GenerationError(f"{self.label} stopped sending for {watchdog.between:g} s "
                               "mid-reply (chunk_timeout).", "Reply cut")


RemoteFactory = Callable[[str, ServerSettings], RemoteBackend]
