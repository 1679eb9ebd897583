"""The remote backend against llama.cpp's own ``llama-server`` (the C++ server most users
run on a GPU box), serving the default model: what it is told apart by (/props), exact
counts (/apply-template + /tokenize) that match the usage it reports, a continued reply
without its echo, stop, and thinking off. llama-server is not on PyPI: these tests run
where PYCHAT_LLAMA_SERVER names a binary (or one is on PATH), and say so where not."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pychat.config import Sampling, ServerSettings
from pychat.engine.base import LoadSpec, ModelRef, shown_name
from pychat.engine.remote import RemoteBackend
from tests.support.llama_server import LLAMA_SERVER_BIN, LlamaServer

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not LLAMA_SERVER_BIN, reason="no llama-server here: build llama.cpp's server "
    "(cmake -DLLAMA_BUILD_SERVER=ON) and set PYCHAT_LLAMA_SERVER to it")]

ASKED = [{"role": "system", "content": "You are terse."},
         {"role": "user", "content": "Name three colours, please."}]


@pytest.fixture(scope="module")
def served(smollm_model: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[LlamaServer]:
    server = LlamaServer(smollm_model, tmp_path_factory.mktemp("llama-server") / "log",
                         n_ctx=4096, native=True)
    yield server
    server.kill()


@pytest.fixture
def backend(served: LlamaServer) -> Iterator[RemoteBackend]:
    remote = RemoteBackend("gpu-box", ServerSettings(base_url=served.url))
    remote.load(LoadSpec(ModelRef.remote("gpu-box"), n_ctx=0))
    yield remote
    remote.shutdown()


def test_it_is_told_apart_and_counts_exactly_what_it_reports(backend: RemoteBackend,
                                                            smollm_model: Path) -> None:
    loaded = backend.loaded
    assert loaded is not None and loaded.n_ctx == 4096
    assert "llama-server" in loaded.location and "(/props)" in loaded.location
    capabilities = backend.capabilities
    assert capabilities.exact_token_count and capabilities.continues_replies
    # Its model id is the path of its -m file; the panes show the file's name.
    assert loaded.spec.ref.model_id.endswith(smollm_model.name)
    assert shown_name(loaded.spec.name) == f"{smollm_model.name} @ gpu-box"
    counted = backend.count_tokens(ASKED)
    stream = backend.stream_chat(ASKED, Sampling(temperature=0.0, max_tokens=16))
    assert "".join(stream).strip()
    stats = stream.stats
    assert stats.prompt_tokens == counted  # its usage, against our count beforehand
    assert stats.completion_tokens > 0 and stats.finish_reason in ("stop", "length")


def test_a_continued_reply_brings_only_what_is_new(backend: RemoteBackend) -> None:
    given = "Red, green and"
    continued = [*ASKED, {"role": "assistant", "content": given}]
    text = "".join(backend.stream_chat(continued, Sampling(temperature=0.0, max_tokens=12)))
    assert text.strip()
    assert (given + text).count(given) == 1, text  # llama-server echoes it: dropped


def test_stop_ends_the_reply_at_once_and_thinking_off_is_taken(
        backend: RemoteBackend) -> None:
    cancel = threading.Event()
    stream = backend.stream_chat([{"role": "user", "content": "Tell me a very long story."}],
                                 Sampling(max_tokens=400), cancel)
    pieces = iter(stream)
    next(pieces)
    cancel.set()
    started = time.monotonic()
    list(pieces)
    assert time.monotonic() - started < 1.0
    assert stream.stats.finish_reason == "cancelled"
    # chat_template_kwargs (thinking off) is accepted, and the server answers again.
    again = backend.stream_chat(ASKED, Sampling(max_tokens=8, thinking=False))
    assert "".join(again).strip()
