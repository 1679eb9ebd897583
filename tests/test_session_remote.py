"""The session with a local (fake) backend and a server that misbehaves on demand:
switching keeps the chat, a failed switch rolls back, a server down at start leaves local
models usable, a server's failure closes the reply and the next message is answered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pychat.engine.base import ModelRef
from pychat.errors import Refused
from pychat.session import ChatSession, ModelState
from pychat.session.events import (
    ModelLoaded,
    ModelLoadFailed,
    ModelsListed,
    Notice,
    ReplyFinished,
    StateChanged,
    TextReceived,
    ThinkingReceived,
)
from tests.support.fault_server import FaultServer, Script, chunk, reply, sse
from tests.support.session import Recorder, fake_session


@pytest.fixture
def server() -> Iterator[FaultServer]:
    fault = FaultServer()
    yield fault
    fault.close()


def with_server(tmp_path: Path, url: str) -> tuple[ChatSession, Recorder]:
    return fake_session(tmp_path, config=f'[servers.box]\nbase_url = "{url}"\n'
                                         'connect_timeout = 2.0\n')


def loaded(recorder: Recorder, name: str, after: int = 0) -> ModelLoaded:
    return recorder.wait_for(ModelLoaded, lambda e: e.loaded.spec.name == name, after=after)


def answer(session: ChatSession, recorder: Recorder, text: str) -> ReplyFinished:
    mark = recorder.mark()
    session.send(text)
    return recorder.wait_for(ReplyFinished, after=mark)


def test_local_to_server_and_back_keeps_the_chat(tmp_path: Path, server: FaultServer) -> None:
    server.scripts["/v1/chat/completions"] = Script(pieces=reply("From ", "the ", "server."))
    session, recorder = with_server(tmp_path, server.url)
    session.start(session.library.models_dir / "one.gguf", poll_vram=None)
    loaded(recorder, "one.gguf")
    answer(session, recorder, "Hello local")
    mark = recorder.mark()
    session.load(ModelRef.remote("box", "tiny-chat"))
    remote = loaded(recorder, "tiny-chat @ box", mark)
    assert remote.info is None and "box (http://127.0.0.1" in remote.loaded.location
    finished = answer(session, recorder, "Hello server")
    assert finished.error == ""
    # The server was sent the whole conversation so far, local turns included.
    sent = server.chats()[-1]["messages"]
    assert [m["content"] for m in sent if m["role"] != "system"] == [
        "Hello local", session.backend.reply, "Hello server"]
    mark = recorder.mark()
    session.load(session.library.models_dir / "two.gguf")
    loaded(recorder, "two.gguf", mark)
    answer(session, recorder, "Back home")
    turns = session.conversation.turns
    assert [t.model for t in turns if t.role == "assistant"] == [
        "one.gguf", "tiny-chat @ box", "two.gguf"]
    assert turns[3].text == "From the server."
    session.shutdown()


def test_a_server_that_is_down_rolls_back_to_the_local_model(tmp_path: Path) -> None:
    session, recorder = with_server(tmp_path, "http://127.0.0.1:9/v1")
    session.start(session.library.models_dir / "one.gguf", poll_vram=None)
    loaded(recorder, "one.gguf")
    mark = recorder.mark()
    session.load(ModelRef.remote("box"))
    failed = recorder.wait_for(ModelLoadFailed, after=mark)
    assert failed.ref == ModelRef.remote("box") and "connection was refused" in failed.message
    back = recorder.wait_for(ModelLoaded, after=mark)
    assert back.rolled_back and back.loaded.spec.name == "one.gguf"
    assert answer(session, recorder, "Still here?").error == ""
    session.shutdown()


def test_a_server_down_at_start_leaves_a_local_model(tmp_path: Path) -> None:
    from pychat.engine.embedded import EMBEDDED

    session, recorder = with_server(tmp_path, "http://127.0.0.1:9/v1")
    session.start(ModelRef.remote("box"), poll_vram=None)
    failed = recorder.wait_for(ModelLoadFailed)
    assert "cannot reach box" in failed.message
    if any(model.installed() for model in EMBEDDED):  # the local fallback is an embedded one
        settled = recorder.wait_for(StateChanged, lambda e: e.model is not ModelState.LOADING)
        assert settled.model is ModelState.READY
    session.shutdown()


def test_a_servers_failure_closes_the_reply_and_the_next_is_answered(
        tmp_path: Path, server: FaultServer) -> None:
    session, recorder = with_server(tmp_path, server.url)
    session.start(ModelRef.remote("box", "tiny-chat"), poll_vram=None)
    loaded(recorder, "tiny-chat @ box")
    server.scripts["/v1/chat/completions"] = Script(
        headers={"content-type": "text/event-stream"},
        pieces=sse(chunk("Half "), {"error": {"message": "model crashed"}}))
    failed = answer(session, recorder, "Go")
    assert "model crashed" in failed.error and failed.note.startswith("⚠")
    assert session.conversation.turns[-1].text == "Half "  # the partial reply is kept
    server.scripts["/v1/chat/completions"] = Script(
        pieces=sse(chunk(reasoning="Hmm. "), chunk("Fine now."), chunk(finish="stop")))
    fine = answer(session, recorder, "Again")
    assert fine.error == ""
    assert "".join(e.text for e in recorder.of(TextReceived)
                   if e.reply_id == fine.reply_id) == "Fine now."
    assert [e.text for e in recorder.of(ThinkingReceived)] == ["Hmm. "]
    # The reasoning is not part of the chat: never sent back to the model.
    answer(session, recorder, "Third")
    assert all("Hmm." not in m["content"] for m in server.chats()[-1]["messages"])
    session.shutdown()


def test_the_listing_names_each_servers_models_or_why_not(tmp_path: Path,
                                                           server: FaultServer) -> None:
    session, recorder = fake_session(tmp_path, config=(
        f'[servers.box]\nbase_url = "{server.url}"\n'
        '[servers.gone]\nbase_url = "http://127.0.0.1:9/v1"\nconnect_timeout = 1.0\n'))
    session.list_models()
    listing = recorder.wait_for(ModelsListed).listing
    servers = {s.name: s for s in listing.servers}
    assert servers["box"].models == ["tiny-chat", "other-model"] and not servers["box"].error
    assert servers["gone"].models == [] and "connection was refused" in servers["gone"].error
    assert [i.file_name for i in listing.infos][:2] == ["one.gguf", "two.gguf"]
    session.shutdown()


def test_a_kept_chat_held_on_a_server_goes_back_to_it(tmp_path: Path,
                                                      server: FaultServer) -> None:
    server.scripts["/v1/chat/completions"] = Script(pieces=reply("Remote answer."))
    session, recorder = with_server(tmp_path, server.url)
    session.start(ModelRef.remote("box", "other-model"), poll_vram=None)
    loaded(recorder, "other-model @ box")
    answer(session, recorder, "Remember me")
    assert session.history.wait()
    chat_id = session.history.chat_id
    assert chat_id is not None
    mark = recorder.mark()
    session.load(session.library.models_dir / "one.gguf")
    loaded(recorder, "one.gguf", mark)
    session.new_chat()
    mark = recorder.mark()
    session.open_chat(chat_id)
    loaded(recorder, "other-model @ box", mark)
    assert not [n for n in recorder.of(Notice) if n.title == "Its model is gone"]
    session.shutdown()


def test_continue_is_refused_with_why_where_the_server_cannot(
        tmp_path: Path, server: FaultServer) -> None:
    server.scripts["/v1/chat/completions"] = Script(pieces=reply("Half ", "an ", "answer"))
    session, recorder = with_server(tmp_path, server.url)
    session.start(ModelRef.remote("box", "tiny-chat"), poll_vram=None)
    loaded(recorder, "tiny-chat @ box")
    answer(session, recorder, "Go on")
    asked = len(server.chats())
    with pytest.raises(Refused, match="cannot continue a reply: this server does not take"):
        session.continue_reply()
    assert len(server.chats()) == asked  # nothing was sent
    assert session.conversation.turns[-1].text == "Half an answer"  # the reply is kept
    session.shutdown()
