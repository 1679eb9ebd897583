"""The session layer on the FakeBackend: states, intents, recovery from every failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from pychat.errors import ModelError, Refused
from pychat.session import ChatSession, ModelState, ReplyState
from pychat.session.conversation import Conversation
from pychat.session.events import (
    ChatCleared,
    ModelLoaded,
    ModelLoadFailed,
    ModelsListed,
    Notice,
    ReplyAnswering,
    ReplyFinished,
    ReplyNote,
    ReplyRemoved,
    StateChanged,
    TextReceived,
    VramSampled,
    WorkerFailed,
)
from tests.support.fake_backend import FakeBackend
from tests.support.fake_nvml import FakeGpu, FakeNvml
from tests.support.session import Recorder, fake_session

UNEXPECTED = [RuntimeError("boom"), MemoryError(), KeyError("gone")]
UNEXPECTED_IDS = ["RuntimeError", "MemoryError", "KeyError"]


def ready(session: ChatSession, recorder: Recorder, name: str = "one.gguf") -> None:
    session.start(session.library.models_dir / name, poll_vram=None)
    recorder.wait_for(StateChanged, lambda e: e.model is ModelState.READY)


def answer(session: ChatSession, recorder: Recorder, text: str) -> ReplyFinished:
    mark = recorder.mark()
    session.send(text)
    return recorder.wait_for(ReplyFinished, after=mark)


def reply_text(recorder: Recorder, reply_id: int) -> str:
    return "".join(e.text for e in recorder.of(TextReceived) if e.reply_id == reply_id)


def test_a_message_is_answered_and_the_states_follow(tmp_path: Path) -> None:
    session, recorder = fake_session(tmp_path)
    ready(session, recorder)
    finished = answer(session, recorder, "Hello")
    assert finished.note == "" and finished.error == ""
    assert reply_text(recorder, finished.reply_id) == session.backend.reply
    states = [(e.model, e.reply) for e in recorder.of(StateChanged)]
    assert states[-2:] == [(ModelState.READY, ReplyState.ANSWERING),
                           (ModelState.READY, ReplyState.IDLE)]
    assert [(t.role, t.text) for t in session.conversation.turns] == [
        ("user", "Hello"), ("assistant", session.backend.reply)]
    assert session.backend.requests[-1][-1] == {"role": "user", "content": "Hello"}


def test_a_message_sent_while_loading_waits_then_is_answered(tmp_path: Path) -> None:
    backend = FakeBackend()
    backend.load_gate.clear()
    session, recorder = fake_session(tmp_path, backend)
    session.start(session.library.models_dir / "one.gguf", poll_vram=None)
    session.send("Hi there")
    note = recorder.wait_for(ReplyNote)
    assert "Waiting for the model" in note.note
    assert session.reply_state is ReplyState.WAITING_FOR_MODEL
    with pytest.raises(Refused, match="still waiting for the model"):
        session.send("another")
    backend.load_gate.set()
    answering = recorder.wait_for(ReplyAnswering)
    assert answering.title == "one.gguf"
    assert recorder.wait_for(ReplyFinished).error == ""


def test_stop_keeps_the_partial_reply_and_the_chat_goes_on(tmp_path: Path) -> None:
    session, recorder = fake_session(tmp_path, FakeBackend(tokens_per_second=20))
    ready(session, recorder)
    session.send("Tell me a story")
    recorder.wait_for(TextReceived)
    with pytest.raises(Refused, match="Still answering"):
        session.send("too soon")
    session.stop()
    finished = recorder.wait_for(ReplyFinished)
    assert finished.note == "■ stopped" and finished.stats.finish_reason == "cancelled"
    text = reply_text(recorder, finished.reply_id)
    assert text and session.conversation.turns[-1].text == text
    assert session.conversation.turns[-1].state == "stopped"
    session.backend.tokens_per_second = 1000
    assert answer(session, recorder, "Again").error == ""


def test_stop_while_waiting_for_a_model(tmp_path: Path) -> None:
    backend = FakeBackend()
    backend.load_gate.clear()
    session, recorder = fake_session(tmp_path, backend)
    session.start(session.library.models_dir / "one.gguf", poll_vram=None)
    session.send("Hello?")
    session.stop()
    assert recorder.wait_for(ReplyFinished).note == "■ stopped"
    assert session.reply_state is ReplyState.IDLE
    backend.load_gate.set()
    recorder.wait_for(StateChanged, lambda e: e.model is ModelState.READY)
    finished = answer(session, recorder, "Now?")
    assert finished.error == ""
    # The unanswered message and the new one reach the model as one user turn.
    assert session.backend.requests[-1][-1]["content"] == "Hello?\n\nNow?"


def test_a_message_too_long_for_the_context_then_a_short_one(tmp_path: Path) -> None:
    config = '[models."one.gguf"]\nn_ctx = 128\n[sampling]\nmax_tokens = 8\n'
    session, recorder = fake_session(tmp_path, config=config)
    ready(session, recorder)
    failed = answer(session, recorder, "word " * 200)
    assert "The message needs" in failed.error and "only 120 fit" in failed.error
    assert failed.note.startswith("⚠ The message needs")
    assert session.reply_state is ReplyState.IDLE
    short = answer(session, recorder, "short")
    assert short.error == ""
    assert all("word word" not in m["content"] for m in session.backend.requests[-1])


def test_a_system_prompt_longer_than_the_context_says_so(tmp_path: Path) -> None:
    config = ('system_prompt = "' + "rule " * 200 + '"\n'
              '[models."one.gguf"]\nn_ctx = 128\n[sampling]\nmax_tokens = 8\n')
    session, recorder = fake_session(tmp_path, config=config)
    ready(session, recorder)
    failed = answer(session, recorder, "hi")
    assert "The system prompt alone needs" in failed.error
    assert failed.error_title == "System prompt too long"
    assert session.reply_state is ReplyState.IDLE
    # Not stuck: the next message is taken (and honestly refused for the same reason).
    assert "system prompt" in answer(session, recorder, "hello").error


@pytest.mark.parametrize("error", UNEXPECTED, ids=UNEXPECTED_IDS)
def test_a_failing_reply_worker_is_reported_and_the_chat_goes_on(
        tmp_path: Path, error: BaseException) -> None:
    session, recorder = fake_session(tmp_path)
    ready(session, recorder)
    session.backend.stream_error, session.backend.fail_after = error, 3
    finished = answer(session, recorder, "Hello")
    failure = recorder.wait_for(WorkerFailed)
    assert failure.job == "reply" and type(error).__name__ in failure.message
    assert "Traceback" in failure.details
    assert finished.note.startswith(f"⚠ error: {type(error).__name__}")
    assert reply_text(recorder, finished.reply_id) != ""  # the text before it broke stays
    assert answer(session, recorder, "Again").error == ""


@pytest.mark.parametrize("error", UNEXPECTED, ids=UNEXPECTED_IDS)
def test_a_failing_load_worker_rolls_back_and_the_chat_goes_on(
        tmp_path: Path, error: BaseException) -> None:
    session, recorder = fake_session(tmp_path)
    ready(session, recorder)
    mark = recorder.mark()
    session.backend.load_error = error
    session.load(session.library.models_dir / "two.gguf")
    assert recorder.wait_for(WorkerFailed, after=mark).job == "load"
    assert recorder.wait_for(ModelLoadFailed, after=mark).ref.name == "two.gguf"
    assert recorder.wait_for(ModelLoaded, after=mark).rolled_back
    recorder.wait_for(StateChanged, lambda e: e.model is ModelState.READY, after=mark)
    assert answer(session, recorder, "Still there?").error == ""
    assert session.model is not None and session.model.spec.name == "one.gguf"


def test_a_model_llama_cpp_refuses_rolls_back_without_a_traceback(tmp_path: Path) -> None:
    session, recorder = fake_session(tmp_path)
    session.backend.refuse["two.gguf"] = "llama.cpp could not load two.gguf: corrupted"
    ready(session, recorder)
    session.load(session.library.models_dir / "two.gguf")
    failed = recorder.wait_for(ModelLoadFailed)
    assert failed.message == "llama.cpp could not load two.gguf: corrupted"
    assert recorder.wait_for(ModelLoaded, lambda e: e.rolled_back).loaded.spec.name == "one.gguf"
    assert recorder.of(WorkerFailed) == []


def test_a_start_up_model_that_fails_is_replaced(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pychat.engine.embedded.EmbeddedModel.installed", lambda self: False)
    session, recorder = fake_session(tmp_path)
    session.backend.refuse["one.gguf"] = "llama.cpp could not load one.gguf: bad"
    session.start(session.library.models_dir / "one.gguf", poll_vram=None)
    session.send("hello")
    loaded = recorder.wait_for(ModelLoaded)
    assert loaded.instead_of == "one.gguf" and loaded.loaded.spec.name == "two.gguf"
    assert recorder.wait_for(ReplyAnswering).title == "two.gguf"
    assert recorder.wait_for(ReplyFinished).error == ""


def test_nothing_loads_at_start_and_the_message_says_how_to_get_a_model(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pychat.engine.embedded.EmbeddedModel.installed", lambda self: False)
    session, recorder = fake_session(tmp_path, models=("one.gguf",))
    session.backend.refuse["one.gguf"] = "llama.cpp could not load one.gguf: bad"
    session.start(session.library.models_dir / "one.gguf", poll_vram=None)
    recorder.wait_for(StateChanged, lambda e: e.model is ModelState.NONE)
    session.send("hello")
    assert "No model loaded — press ctrl+o" in recorder.wait_for(ReplyNote).note
    assert session.reply_state is ReplyState.WAITING_FOR_MODEL


@pytest.mark.parametrize("error", UNEXPECTED, ids=UNEXPECTED_IDS)
def test_a_failing_listing_worker_is_reported_and_the_chat_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    session, recorder = fake_session(tmp_path)
    ready(session, recorder)

    def broken(*args: object) -> None:
        raise error

    monkeypatch.setattr(session.library, "listing", broken)
    session.list_models()
    assert recorder.wait_for(WorkerFailed).job == "listing"
    assert recorder.wait_for(Notice).title == "Could not list the models"
    monkeypatch.undo()
    session.list_models()
    listed = recorder.wait_for(ModelsListed)
    assert {i.file_name for i in listed.listing.infos} >= {"one.gguf", "two.gguf"}
    assert answer(session, recorder, "Hello").error == ""


@pytest.mark.parametrize("error", UNEXPECTED, ids=UNEXPECTED_IDS)
def test_a_failing_vram_worker_is_reported_and_the_chat_goes_on(
        tmp_path: Path, error: BaseException) -> None:
    board = FakeGpu()
    session, recorder = fake_session(tmp_path, nvml=FakeNvml([board]))
    session.start(session.library.models_dir / "one.gguf", poll_vram=0.01)
    recorder.wait_for(VramSampled)
    board.fault = error
    failure = recorder.wait_for(WorkerFailed)
    assert failure.job == "vram" and type(error).__name__ in failure.message
    board.fault = None
    recorder.wait_for(StateChanged, lambda e: e.model is ModelState.READY)
    assert answer(session, recorder, "Hello").error == ""


def test_regenerate_replaces_the_last_reply(tmp_path: Path) -> None:
    session, recorder = fake_session(tmp_path)
    ready(session, recorder)
    first = answer(session, recorder, "Hello")
    mark = recorder.mark()
    session.regenerate()
    assert recorder.wait_for(ReplyRemoved, after=mark).reply_id == first.reply_id
    second = recorder.wait_for(ReplyFinished, after=mark)
    assert second.reply_id != first.reply_id and second.error == ""
    assert [t.role for t in session.conversation.turns] == ["user", "assistant"]
    session.new_chat()
    with pytest.raises(Refused, match="no reply to regenerate"):
        session.regenerate()


def test_a_new_chat_while_answering(tmp_path: Path) -> None:
    session, recorder = fake_session(tmp_path, FakeBackend(tokens_per_second=20))
    ready(session, recorder)
    session.send("A long one")
    recorder.wait_for(TextReceived)
    session.new_chat()
    recorder.wait_for(ChatCleared)
    assert session.conversation.turns == [] and session.reply_state is ReplyState.IDLE
    session.backend.tokens_per_second = 1000
    finished = answer(session, recorder, "Fresh start")
    assert finished.error == ""
    assert session.backend.requests[-1][-1]["content"] == "Fresh start"
    assert len(session.backend.requests[-1]) == 2  # system prompt + the new message


def test_reply_text_from_the_backend_is_made_inert(tmp_path: Path) -> None:
    hostile = ("ok \x1b]52;c;SGVsbG8=\x07 title \x1b]0;PWNED\x07 csi \x9b31m "
               "bidi \u202eevil\u202c [red]x[/red] [@click=app.quit]q[/]\n\tend\r\n")
    session, recorder = fake_session(tmp_path, FakeBackend(reply=hostile))
    ready(session, recorder)
    finished = answer(session, recorder, "Hello")
    text = reply_text(recorder, finished.reply_id)
    assert not any(c in text for c in "\x1b\x07\x9b\u202e\u202c\r")
    assert "]52;c;SGVsbG8=" in text and "[red]x[/red]" in text and "[@click=app.quit]" in text
    assert "\n\tend" in text
    assert session.conversation.turns[-1].text == text


def test_model_errors_that_reach_events_are_inert(tmp_path: Path) -> None:
    session, recorder = fake_session(tmp_path)
    session.backend.load_error = ModelError("llama.cpp said \x1b]0;PWNED\x07 [/oops]")
    session.start(session.library.models_dir / "one.gguf", poll_vram=None, fallback=False)
    failed = recorder.wait_for(ModelLoadFailed)
    assert failed.message == "llama.cpp said ]0;PWNED [/oops]"


def test_conversation_sends_alternating_turns() -> None:
    chat = Conversation("Be brief.")
    chat.add_user("first")
    chat.add_reply(1, "", "error")
    chat.add_user("second")
    chat.add_reply(2, "answer")
    chat.add_user("too long")
    chat.exclude_last_user()
    chat.add_user("third")
    assert chat.messages() == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first\n\nsecond"},
        {"role": "assistant", "content": "answer"},
        {"role": "user", "content": "third"},
    ]
    assert chat.has_question
