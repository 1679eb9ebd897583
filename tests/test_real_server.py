"""The remote backend against a real OpenAI-compatible server (llama-cpp-python's, serving
the default model): streaming, stop, a key, the command line, and the app switching
between the server and a local model, then losing the server mid-reply."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pychat.app import PyChatApp, Startup
from pychat.config import Sampling, ServerSettings
from pychat.engine.base import LoadSpec, ModelRef
from pychat.engine.remote import RemoteBackend
from pychat.errors import BackendUnavailable
from tests.support.app import SIZE, idle, note, pick, ready, replies, wait_for
from tests.support.fake_backend import FakeBackend
from tests.support.llama_server import LlamaServer
from tests.support.session import fake_session

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(smollm_model: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[LlamaServer]:
    """One server for the tests that leave it running (started once: ~3 s)."""
    server = LlamaServer(smollm_model, tmp_path_factory.mktemp("server") / "server.log")
    yield server
    server.kill()


def remote(server: LlamaServer, **settings: object) -> RemoteBackend:
    backend = RemoteBackend("local", ServerSettings(base_url=server.url, **settings))
    backend.load(LoadSpec(ModelRef.remote("local"), n_ctx=0))
    return backend


def test_a_reply_streams_from_the_real_server(served: LlamaServer) -> None:
    backend = remote(served)
    assert backend.loaded is not None and backend.loaded.spec.ref.model_id == "smollm"
    assert "llama-cpp-python" in backend.loaded.location
    assert not backend.capabilities.concurrent_calls  # it cancels a stream on any request
    stream = backend.stream_chat([{"role": "user", "content": "What is the capital of "
                                   "France?"}], Sampling(temperature=0.0, max_tokens=24))
    text = "".join(stream)
    assert text.strip()
    stats = stream.stats
    assert stats.finish_reason in ("stop", "length") and stats.completion_tokens > 0
    assert stats.time_to_first_token > 0
    # Counted through its tokenizer (the template's share estimated).
    assert 8 < backend.count_tokens([{"role": "user", "content": "Hello there, friend."}]) < 40
    backend.shutdown()


def test_stop_ends_a_real_reply_at_once_and_the_server_goes_on(served: LlamaServer) -> None:
    backend = remote(served)
    cancel = threading.Event()
    stream = backend.stream_chat([{"role": "user", "content": "Tell me a very long story."}],
                                 Sampling(max_tokens=400), cancel)
    pieces = iter(stream)
    next(pieces)
    cancel.set()  # Escape
    started = time.monotonic()
    list(pieces)
    assert time.monotonic() - started < 1.0
    assert stream.stats.finish_reason == "cancelled"
    again = backend.stream_chat([{"role": "user", "content": "Say hi."}],
                                Sampling(max_tokens=8))
    assert "".join(again).strip()
    backend.shutdown()


def test_a_key_is_needed_and_a_wrong_one_is_named(smollm_model: Path, tmp_path: Path) -> None:
    server = LlamaServer(smollm_model, tmp_path / "server.log", api_key="sesame")
    try:
        good = RemoteBackend("keyed", ServerSettings(base_url=server.url,
                                                     api_key_env="SERVER_KEY"),
                             environ={"SERVER_KEY": "sesame"})
        good.load(LoadSpec(ModelRef.remote("keyed"), n_ctx=0))
        wrong = RemoteBackend("keyed", ServerSettings(base_url=server.url,
                                                      api_key_env="SERVER_KEY"),
                              environ={"SERVER_KEY": "nope"})
        with pytest.raises(BackendUnavailable) as info:
            wrong.load(LoadSpec(ModelRef.remote("keyed"), n_ctx=0))
        assert "$SERVER_KEY" in info.value.message and "nope" not in info.value.message
    finally:
        server.kill()


def ask(folder: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pychat", "ask", *args], cwd=folder,
                          capture_output=True, text=True, timeout=timeout,
                          env=os.environ.copy())


def test_ask_through_a_server_and_with_the_server_gone(smollm_model: Path,
                                                       tmp_path: Path) -> None:
    server = LlamaServer(smollm_model, tmp_path / "server.log")
    (tmp_path / "config.toml").write_text(
        f'[servers.local]\nbase_url = "{server.url}"\nconnect_timeout = 2.0\n'
        '[sampling]\ntemperature = 0.0\nmax_tokens = 16\n')
    try:
        result = ask(tmp_path, "--server", "local", "--stats", "Say hello.")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() and "tok/s" in result.stderr
    finally:
        server.kill()
    started = time.monotonic()
    gone = ask(tmp_path, "--server", "local", "Say hello.", timeout=30)
    assert time.monotonic() - started < 10
    assert gone.returncode == 1 and gone.stdout == ""
    assert gone.stderr.count("\n") == 1 and gone.stderr.startswith("pychat: cannot reach local")
    assert "Traceback" not in gone.stderr


async def test_the_app_switches_server_local_server_and_survives_losing_it(
        smollm_model: Path, tmp_path: Path) -> None:
    server = LlamaServer(smollm_model, tmp_path / "server.log")
    try:
        session, _ = fake_session(
            tmp_path, FakeBackend(reply="Local answer."),
            config=f'[servers.local]\nbase_url = "{server.url}"\nconnect_timeout = 2.0\n'
                   '[sampling]\nmax_tokens = 24\n')
        session.flush_seconds = 0.02
        app = PyChatApp(session, Startup(ModelRef.remote("local")))
        async with app.run_test(size=SIZE) as pilot:
            screen = app.main_screen
            await wait_for(pilot, lambda: ready(app), timeout=30)
            assert screen.status.model == "smollm @ local"
            assert "not visible here" in str(screen.vram.query_one("#vram-text").render())

            async def send(text: str, count: int) -> None:
                screen.prompt.text = text
                await pilot.press("enter")
                await wait_for(pilot, lambda: idle(app) and len(replies(app)) == count
                               and bool(note(replies(app)[-1])), timeout=60)

            await send("Hello server", 1)
            await pick(pilot, app, "one", "0", "512", keys=False)
            await wait_for(pilot, lambda: ready(app) and screen.status.model == "one.gguf")
            await send("Hello local", 2)
            await pick(pilot, app, "smollm @", "", "0", keys=False)
            await wait_for(pilot, lambda: ready(app) and screen.status.model == "smollm @ local")
            await send("Back again", 3)
            assert [r.title for r in replies(app)] == ["smollm @ local", "one.gguf",
                                                       "smollm @ local"]
            assert len(session.conversation.turns) == 6
            # The server dies mid-reply: one clear line, the text so far and the chat stay.
            screen.prompt.text = "Tell me a long story about a lighthouse."
            session.sampling = Sampling(max_tokens=300)
            await pilot.press("enter")
            await wait_for(pilot, lambda: len(replies(app)) == 4
                           and len(replies(app)[3].text) > 10, timeout=60)
            server.kill()
            await wait_for(pilot, lambda: idle(app) and "⚠" in note(replies(app)[3]),
                           timeout=30)
            assert "local" in note(replies(app)[3]) and "Traceback" not in note(replies(app)[3])
            assert len(session.conversation.turns) == 8
            assert session.conversation.turns[-1].text == replies(app)[3].text
    finally:
        server.kill()
