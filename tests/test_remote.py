"""The OpenAI-compatible backend against a server that misbehaves on demand: every failure
is one clear message, a stop ends even a stalled read at once, the key goes only where it
belongs, and reasoning stays apart from the reply."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest

from pychat.config import Sampling, ServerSettings
from pychat.engine.base import LoadSpec, ModelRef, Thinking
from pychat.engine.remote import RemoteBackend
from pychat.engine.sse import sse_data
from pychat.errors import BackendUnavailable, ContextOverflowError, GenerationError, ModelError
from tests.support.fault_server import (
    HANG,
    MODELS,
    FaultServer,
    Script,
    chunk,
    reply,
    sse,
)

QUICK = Sampling(max_tokens=32)


@pytest.fixture
def server() -> Iterator[FaultServer]:
    fault = FaultServer()
    yield fault
    fault.close()


def backend_for(server: FaultServer, **settings: object) -> RemoteBackend:
    options: dict = {"base_url": server.url, "connect_timeout": 2.0, **settings}
    return RemoteBackend("fault", ServerSettings(**options), environ={"FAULT_KEY": "s3cret",
                                                                      "OPENAI_API_KEY": "no"})


def loaded(server: FaultServer, model: str = "tiny-chat", **settings: object) -> RemoteBackend:
    backend = backend_for(server, **settings)
    backend.load(LoadSpec(ModelRef.remote("fault", model), n_ctx=0))
    return backend


def answer(backend: RemoteBackend, text: str = "hi") -> tuple[str, list[str], object]:
    stream = backend.stream_chat([{"role": "user", "content": text}], QUICK)
    pieces = list(stream)
    reply_text = "".join(p for p in pieces if not isinstance(p, Thinking))
    thinking = [str(p) for p in pieces if isinstance(p, Thinking)]
    return reply_text, thinking, stream.stats


def test_sse_events_skip_keepalives_and_join_data_lines() -> None:
    lines = [": ping", "", "event: message", "data: one", "data: two", "", "data: [DONE]"]
    assert list(sse_data(lines)) == ["one\ntwo", "[DONE]"]


def test_a_reply_streams_with_usage_and_reasoning_apart(server: FaultServer) -> None:
    server.scripts["/v1/chat/completions"] = Script(pieces=sse(
        chunk(reasoning="Let me think. "), chunk(reasoning="Paris."), chunk("The capital "),
        chunk("is Paris."), chunk(finish="stop"),
        chunk(usage={"prompt_tokens": 12, "completion_tokens": 5}), keepalive=True))
    backend = loaded(server)
    text, thinking, stats = answer(backend)
    assert text == "The capital is Paris."
    assert "".join(thinking) == "Let me think. Paris."
    assert stats.prompt_tokens == 12 and stats.completion_tokens == 5  # the server's count
    assert stats.finish_reason == "stop" and stats.time_to_first_token > 0
    body = server.chats()[-1]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["model"] == "tiny-chat" and body["max_tokens"] == 32
    assert "top_k" not in body  # an unknown server gets only the standard fields
    backend.shutdown()


def test_the_first_model_is_taken_and_an_unknown_one_is_refused(server: FaultServer) -> None:
    backend = backend_for(server)
    first = backend.load(LoadSpec(ModelRef.remote("fault"), n_ctx=0))
    assert first.spec.ref.model_id == "tiny-chat" and first.n_ctx == 4096
    assert "assumed" in first.location and "fault (http://127.0.0.1" in first.location
    with pytest.raises(ModelError, match="no model “nope”; it offers: tiny-chat, other-model"):
        backend.load(LoadSpec(ModelRef.remote("fault", "nope"), n_ctx=0))


def test_n_ctx_comes_from_llama_servers_props(server: FaultServer) -> None:
    server.scripts["/props"] = Script(pieces=[json.dumps(
        {"default_generation_settings": {"n_ctx": 8192}}).encode()])
    backend = loaded(server)
    assert backend.loaded is not None and backend.loaded.n_ctx == 8192
    assert "llama-server" in backend.loaded.location and "(/props)" in backend.loaded.location
    server.scripts["/v1/chat/completions"] = Script(pieces=reply("ok"))
    answer(backend)
    assert server.chats()[-1]["top_k"] == 40  # llama-server takes its own sampler fields


@pytest.mark.parametrize(("script", "kind", "said"), [
    (Script(401, pieces=[b'{"error": {"message": "bad key"}}']), BackendUnavailable,
     "refused the request (401): check $FAULT_KEY"),
    (Script(403, pieces=[b'{"detail": "forbidden"}']), BackendUnavailable,
     "(403): check $FAULT_KEY"),
    (Script(404, pieces=[b'{"error": "model not found"}']), BackendUnavailable,
     "no model “tiny-chat” there"),
    (Script(429, {"retry-after": "17", "content-type": "application/json"},
            [b'{"error": {"message": "slow down"}}']), BackendUnavailable,
     "wait 17 s (Retry-After)"),
    (Script(500, pieces=[b'{"error": {"message": "CUDA out of memory"}}']), GenerationError,
     "failed (500): “CUDA out of memory”"),
    (Script(502, {"content-type": "text/html"}, [b"<html><title>Bad Gateway</title></html>"]),
     GenerationError, "an HTML page titled “Bad Gateway” (a proxy or a wrong base_url?)"),
    (Script(503, {"content-type": "text/plain"}, [b"upstream \x1b[31mdown"]), GenerationError,
     "“upstream [31mdown”"),
    (Script(400, pieces=[b'{"error": {"message": "the request exceeds the available context '
                         b'size, try increasing it"}}']), ContextOverflowError,
     "does not fit the model's context"),
])
def test_each_error_status_is_one_clear_message(server: FaultServer, script: Script,
                                                 kind: type, said: str) -> None:
    backend = loaded(server, api_key_env="FAULT_KEY")
    server.scripts["/v1/chat/completions"] = script
    with pytest.raises(kind) as info:
        answer(backend)
    message = info.value.message
    assert said in message, message
    assert "s3cret" not in message and "\x1b" not in message


@pytest.mark.parametrize(("pieces", "cut", "said"), [
    (sse("{oops"), False, "a stream that is not JSON: “{oops”"),
    (sse('"just a string"'), False, "not an object"),
    (sse(chunk("Half a"), {"error": {"message": "model crashed"}}), False,
     "stopped with an error: “model crashed”"),
    (sse(chunk("Half a"), done=False), True, "mid-reply"),
    (sse(chunk("Half a"), done=False), False, "ended the stream mid-reply"),
])
def test_a_broken_stream_is_told_and_keeps_the_text_so_far(
        server: FaultServer, pieces: list[bytes], cut: bool, said: str) -> None:
    backend = loaded(server)
    server.scripts["/v1/chat/completions"] = Script(
        headers={"content-type": "text/event-stream"}, pieces=pieces, cut=cut)
    stream = backend.stream_chat([{"role": "user", "content": "hi"}], QUICK)
    received: list[str] = []
    with pytest.raises(GenerationError) as info:
        for piece in stream:
            received.append(piece)
    assert said in info.value.message, info.value.message
    if "Half a" in json.dumps([p.decode() for p in pieces]):
        assert "".join(received) == "Half a"
    assert stream.stats.finish_reason == "error"


@pytest.mark.slow  # waits out a 1 s timeout
def test_no_first_byte_in_time_is_told_and_takes_that_long(server: FaultServer) -> None:
    backend = loaded(server, first_byte_timeout=1.0)
    server.scripts["/v1/chat/completions"] = Script(
        headers={"content-type": "text/event-stream"}, pieces=[HANG])
    started = time.monotonic()
    with pytest.raises(GenerationError, match="sent no reply within 1 s"):
        answer(backend)
    assert time.monotonic() - started < 5


@pytest.mark.slow  # waits out a 1 s timeout
def test_a_stall_mid_reply_is_told(server: FaultServer) -> None:
    backend = loaded(server, chunk_timeout=1.0)
    server.scripts["/v1/chat/completions"] = Script(
        headers={"content-type": "text/event-stream"}, pieces=[*sse(chunk("Hel"), done=False),
                                                               HANG])
    with pytest.raises(GenerationError, match="stopped sending for 1 s mid-reply"):
        answer(backend)


def test_stop_ends_a_stalled_read_at_once_from_another_thread(server: FaultServer) -> None:
    backend = loaded(server)
    server.scripts["/v1/chat/completions"] = Script(
        headers={"content-type": "text/event-stream"}, pieces=[*sse(chunk("Hel"), done=False),
                                                               HANG])
    cancel = threading.Event()
    stream = backend.stream_chat([{"role": "user", "content": "hi"}], QUICK, cancel)
    pieces = iter(stream)
    assert next(pieces) == "Hel"
    stopped_at: list[float] = []

    def stop() -> None:
        time.sleep(0.3)
        stopped_at.append(time.monotonic())
        stream.close()  # what Escape does, from the UI's thread

    threading.Thread(target=stop).start()
    rest = list(pieces)  # blocked in a read of a stream that sends nothing
    ended = time.monotonic()
    assert rest == [] and stream.stats.finish_reason == "cancelled"
    assert ended - stopped_at[0] < 1.0
    assert not backend.streaming


def test_stop_before_the_first_byte_ends_the_wait(server: FaultServer) -> None:
    backend = loaded(server)
    server.scripts["/v1/chat/completions"] = Script(
        headers={"content-type": "text/event-stream"}, pieces=[HANG])
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    stream = backend.stream_chat([{"role": "user", "content": "hi"}], QUICK, cancel)
    assert list(stream) == [] and stream.stats.finish_reason == "cancelled"
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(("url", "said"), [
    ("http://127.0.0.1:9/v1", "the connection was refused (is the server running?)"),
    ("http://pychat-nowhere.invalid/v1", "does not resolve (DNS)"),
])
def test_an_unreachable_server_is_one_line(url: str, said: str) -> None:
    backend = RemoteBackend("gone", ServerSettings(base_url=url, connect_timeout=2.0))
    started = time.monotonic()
    with pytest.raises(BackendUnavailable) as info:
        backend.load(LoadSpec(ModelRef.remote("gone"), n_ctx=0))
    assert said in info.value.message and info.value.message.startswith("cannot reach gone")
    assert time.monotonic() - started < 10


def test_tls_to_a_plain_server_fails_clearly(server: FaultServer) -> None:
    url = server.url.replace("http://", "https://")
    backend = RemoteBackend("tls", ServerSettings(base_url=url, connect_timeout=2.0))
    with pytest.raises(BackendUnavailable, match="cannot reach tls"):
        backend.load(LoadSpec(ModelRef.remote("tls"), n_ctx=0))


def test_not_json_and_html_listings_are_told(server: FaultServer) -> None:
    server.scripts["/v1/models"] = Script(headers={"content-type": "text/html"},
                                          pieces=[b"<html>login</html>"])
    with pytest.raises(BackendUnavailable, match="not JSON"):
        backend_for(server).load(LoadSpec(ModelRef.remote("fault"), n_ctx=0))
    server.scripts["/v1/models"] = Script(pieces=[b'{"models": []}'])
    with pytest.raises(BackendUnavailable, match="holds no list of models"):
        backend_for(server).load(LoadSpec(ModelRef.remote("fault"), n_ctx=0))


def test_the_key_goes_to_its_server_only(server: FaultServer) -> None:
    other = FaultServer()
    try:
        with_key = loaded(server, api_key_env="FAULT_KEY")
        without = loaded(other)
        for backend, fault in ((with_key, server), (without, other)):
            fault.scripts["/v1/chat/completions"] = Script(pieces=reply("ok"))
            answer(backend)
        sent = [headers.get("Authorization") for _, headers, _ in server.requests]
        assert set(sent) == {"Bearer s3cret"}
        # No key named: none sent, OPENAI_API_KEY in the environment included.
        assert all("Authorization" not in headers for _, headers, _ in other.requests)
    finally:
        other.close()


def test_a_missing_key_variable_is_named() -> None:
    backend = RemoteBackend("hf", ServerSettings(base_url="https://router.invalid/v1",
                                                 api_key_env="HF_TOKEN"), environ={})
    with pytest.raises(BackendUnavailable, match=r"\$HF_TOKEN is not set: it holds the key"):
        backend.load(LoadSpec(ModelRef.remote("hf"), n_ctx=0))


def test_nothing_is_asked_of_a_server_while_it_streams(server: FaultServer) -> None:
    """llama-cpp-python's server cancels a streaming reply when any other request comes."""
    backend = loaded(server)
    server.scripts["/v1/chat/completions"] = Script(
        headers={"content-type": "text/event-stream"}, pieces=reply("a", "b", "c"),
        pause=0.2)
    stream = backend.stream_chat([{"role": "user", "content": "hi"}], QUICK)
    pieces = iter(stream)
    assert next(pieces) == "a" and backend.streaming
    before = len(server.requests)
    assert backend.list_models() == ["tiny-chat", "other-model"]  # the last list, not asked
    assert backend.count_tokens([{"role": "user", "content": "x" * 400}]) > 50  # estimated
    assert len(server.requests) == before
    assert "".join(pieces) == "bc"
    assert not backend.streaming
    assert MODELS.status == 200


CONTINUED = [{"role": "user", "content": "Count"}, {"role": "assistant", "content": "1, 2,"}]


def test_thinking_off_and_continuing_go_to_the_servers_that_take_them(
        server: FaultServer) -> None:
    server.scripts["/v1/chat/completions"] = Script(pieces=reply(" 3"))
    no_thinking = Sampling(max_tokens=8, thinking=False)
    plain = loaded(server)  # an OpenAI-compatible server of unknown kind
    assert not plain.capabilities.thinking_switch and not plain.capabilities.continues_replies
    list(plain.stream_chat([CONTINUED[0]], no_thinking))
    assert "chat_template_kwargs" not in server.chats()[-1]
    plain.shutdown()
    server.scripts["/props"] = Script(pieces=[json.dumps(
        {"default_generation_settings": {"n_ctx": 8192}}).encode()])
    llama_server = loaded(server)
    assert llama_server.capabilities.thinking_switch
    assert llama_server.capabilities.continues_replies
    list(llama_server.stream_chat(CONTINUED, no_thinking))
    body = server.chats()[-1]
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    assert body["messages"][-1] == CONTINUED[-1]  # llama-server continues it itself
    assert "continue_final_message" not in body
    llama_server.shutdown()
    del server.scripts["/props"]
    server.scripts["/v1/models"] = Script(pieces=[json.dumps({"object": "list", "data": [
        {"id": "tiny-chat", "object": "model", "max_model_len": 2048}]}).encode()])
    vllm = loaded(server)
    list(vllm.stream_chat(CONTINUED, Sampling(max_tokens=8)))
    body = server.chats()[-1]
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
    assert "chat_template_kwargs" not in body  # thinking on: nothing to switch off
    vllm.shutdown()


def test_a_continued_reply_drops_the_servers_echo_of_what_it_continues(
        server: FaultServer) -> None:
    """The real llama-server starts a continued stream with the text it was given."""
    server.scripts["/props"] = Script(pieces=[json.dumps(
        {"default_generation_settings": {"n_ctx": 8192}}).encode()])
    backend = loaded(server)
    given = CONTINUED[-1]["content"]
    for pieces in ([given[:3], given[3:] + " and", " more"], [given + " and more"]):
        server.scripts["/v1/chat/completions"] = Script(pieces=reply(*pieces))
        assert "".join(backend.stream_chat(CONTINUED, QUICK)) == " and more"
    # A server that sends only what is new keeps all of it.
    server.scripts["/v1/chat/completions"] = Script(pieces=reply(" and", " more"))
    assert "".join(backend.stream_chat(CONTINUED, QUICK)) == " and more"
    backend.shutdown()


@pytest.mark.parametrize(("pieces", "expected"), [
    (["The cap", "ital is", " Paris."], " Paris."),        # the echo, split anywhere
    (["The capital is Paris."], " Paris."),
    (["The capital is"], ""),                              # echo, then nothing new
    ([" Paris."], " Paris."),                              # no echo at all
    (["Paris, the capital"], "Paris, the capital"),        # starts like it, then differs
])
def test_without_echo(pieces: list[str], expected: str) -> None:
    from pychat.engine.remote import without_echo

    reasoning = Thinking("hmm")
    out = list(without_echo(iter([reasoning, *pieces]), "The capital is "))
    assert out[0] is reasoning  # reasoning passes untouched
    assert "".join(out[1:]) == expected


@pytest.mark.parametrize(("name", "shown"), [
    ("/models/SmolLM2-135M-Instruct.Q4_1.gguf @ gpu-box",   # llama-server's default id
     "SmolLM2-135M-Instruct.Q4_1.gguf @ gpu-box"),
    ("C:\\models\\llama3.gguf @ pc", "llama3.gguf @ pc"),
    ("mistralai/Mistral-7B-Instruct-v0.3 @ hf", "mistralai/Mistral-7B-Instruct-v0.3 @ hf"),
    ("llama3.1:8b @ ollama", "llama3.1:8b @ ollama"),
    ("/models/local.gguf", "/models/local.gguf"),             # not a server's model
])
def test_a_servers_model_named_by_its_path_is_shown_by_its_file_name(name: str,
                                                                    shown: str) -> None:
    from pychat.engine.base import shown_name

    assert shown_name(name) == shown
