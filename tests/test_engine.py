"""The llama.cpp backend on real GGUF files: the demo model and tiny models written here."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pychat.config import Sampling
from pychat.engine import logs
from pychat.engine.base import ChatMessage, LoadSpec, ModelRef
from pychat.engine.formats import StopMatcher
from pychat.engine.llama import LlamaBackend
from pychat.errors import ContextOverflowError, ModelError
from tests.support.gguf import write_tiny_llama

pytestmark = pytest.mark.slow
SHORT = Sampling(seed=7, max_tokens=24, temperature=0.0)


@pytest.fixture(scope="module")
def log_lines() -> list[tuple[str, str]]:
    return []


@pytest.fixture(scope="module")
def demo_backend(demo_model: Path, log_lines: list[tuple[str, str]]
                 ) -> Iterator[LlamaBackend]:
    backend = LlamaBackend(log=lambda level, line: log_lines.append((level, line)))
    backend.load(LoadSpec(ModelRef.local(demo_model), n_ctx=1024, chat_format="gemma"))
    yield backend
    backend.shutdown()


def chat(text: str) -> list[ChatMessage]:
    return [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": text}]


def test_load_reports_the_model(demo_backend: LlamaBackend) -> None:
    loaded = demo_backend.loaded
    assert loaded is not None
    assert loaded.n_ctx == 1024 and loaded.n_layer == 18
    assert loaded.chat_format == "gemma" and loaded.load_seconds > 0


def test_stream_yields_text_and_stats(demo_backend: LlamaBackend) -> None:
    stream = demo_backend.stream_chat(chat("Say hello"), SHORT)
    pieces = list(stream)
    stats = stream.stats
    assert "".join(pieces).strip()
    assert len(pieces) >= 2
    assert stats.prompt_tokens > 5
    assert 1 <= stats.completion_tokens <= SHORT.max_tokens
    assert stats.time_to_first_token > 0 and stats.decode_seconds > 0
    assert stats.tokens_per_second > 0
    assert stats.finish_reason in ("stop", "length")


def test_same_seed_same_reply_whatever_the_prompt_cache_holds(
        demo_backend: LlamaBackend, demo_model: Path) -> None:
    """With seed >= 0 the reply depends on the seed, the model and the messages only: the
    second call (whose prompt prefix is cached), a call after other prompts, and a fresh
    backend in the same process all give the same text. Equality on one machine is what is
    promised, so this holds on any CPU; no text is compared with a fixed string."""
    sampling = Sampling(seed=3, max_tokens=16, temperature=0.8)
    messages = chat("Name a colour")
    first = "".join(demo_backend.stream_chat(messages, sampling))
    second = "".join(demo_backend.stream_chat(messages, sampling))
    longer = messages + [{"role": "assistant", "content": first},
                         {"role": "user", "content": "Another one"}]
    "".join(demo_backend.stream_chat(longer, Sampling(seed=-1, max_tokens=8)))
    third = "".join(demo_backend.stream_chat(messages, sampling))
    fresh = LlamaBackend()
    try:
        fresh.load(LoadSpec(ModelRef.local(demo_model), n_ctx=1024, chat_format="gemma"))
        from_fresh = "".join(fresh.stream_chat(messages, sampling))
    finally:
        fresh.shutdown()
    assert first and first == second == third == from_fresh


def test_incremental_decoding_matches_whole_detokenize(demo_backend: LlamaBackend) -> None:
    """Token-by-token decoding must give exactly what decoding all tokens at once gives."""
    sampling = Sampling(seed=11, max_tokens=48, temperature=0.0)
    streamed = "".join(demo_backend.stream_chat(chat("Count to ten in words"), sampling))
    llm = demo_backend.llama
    tokens = demo_backend.prompt_tokens(chat("Count to ten in words"))
    generated = []
    for token in llm.generate(tokens, top_k=40, top_p=0.95, temp=0.0, repeat_penalty=1.1):
        if llm.token_is_eog(token) if hasattr(llm, "token_is_eog") else token == llm.token_eos():
            break
        generated.append(token)
        if len(generated) == len(streamed.encode()) or len(generated) >= 48:
            break
    whole = llm.detokenize(generated).decode("utf-8", errors="replace")
    assert whole.startswith(streamed[: len(whole)]) or streamed.startswith(whole)


def test_stop_within_one_token_keeps_partial_text(demo_backend: LlamaBackend) -> None:
    cancel = threading.Event()
    stream = demo_backend.stream_chat(chat("Write a long story"),
                                      Sampling(seed=1, max_tokens=500), cancel)
    received = []
    for piece in stream:
        received.append(piece)
        if len(received) == 3:
            cancel.set()
    assert stream.stats.finish_reason == "cancelled"
    assert len(received) == 3  # nothing after the token during which stop was asked
    assert stream.stats.completion_tokens <= 4
    assert "".join(received)


def test_an_abandoned_stream_frees_the_backend(demo_backend: LlamaBackend) -> None:
    stream = demo_backend.stream_chat(chat("Hi"), SHORT)
    next(iter(stream))
    stream.close()
    counted: list[int] = []
    other = threading.Thread(target=lambda: counted.append(demo_backend.count_tokens(chat("x"))))
    other.start()
    other.join(timeout=5)
    assert counted, "another thread could not use the backend after the stream was closed"


def test_overflow_drops_oldest_turns_but_keeps_system(demo_backend: LlamaBackend,
                                                      log_lines: list[tuple[str, str]]) -> None:
    history = [{"role": "system", "content": "SYSTEM-MARKER be brief."}]
    for i in range(60):
        history.append({"role": "user", "content": f"Question {i}: " + "words " * 20})
        history.append({"role": "assistant", "content": f"Answer {i}: " + "more " * 20})
    history.append({"role": "user", "content": "Last question?"})
    # A large reply reserve keeps the prompt that is evaluated short (and the test quick).
    stream = demo_backend.stream_chat(history, Sampling(seed=-1, max_tokens=512))
    next(iter(stream))
    stream.close()
    dropped = stream.stats.dropped_messages
    assert dropped > 0 and dropped % 2 == 0  # whole question/answer pairs
    kept = [history[0], *history[1 + dropped:]]
    assert kept[1]["role"] == "user" and kept[-1]["content"] == "Last question?"
    # What was sent is exactly the system prompt plus the newest turns.
    assert stream.stats.prompt_tokens == demo_backend.count_tokens(kept)
    assert stream.stats.prompt_tokens <= 1024
    assert any("left out" in line for _, line in log_lines)


def test_message_longer_than_context_is_a_clear_error(demo_backend: LlamaBackend) -> None:
    with pytest.raises(ContextOverflowError, match="The message needs .* larger n_ctx") as info:
        list(demo_backend.stream_chat(chat("word " * 2000), SHORT))
    assert info.value.part == "message"


def test_a_system_prompt_longer_than_the_context_is_named(demo_backend: LlamaBackend) -> None:
    messages = [{"role": "system", "content": "rule " * 2000},
                {"role": "user", "content": "hi"}]
    with pytest.raises(ContextOverflowError, match="The system prompt alone needs") as info:
        list(demo_backend.stream_chat(messages, SHORT))
    assert info.value.part == "system"


def test_ignore_eos_generates_the_length_asked_for(model_dir: Path) -> None:
    """Benchmarks force the reply length so a run does not depend on where the sampled
    text happens to end on this CPU."""
    backend = LlamaBackend(ignore_eos=True)
    try:
        backend.load(LoadSpec(ModelRef.local(model_dir / "tiny-gqa.gguf"), n_ctx=256))
        stream = backend.stream_chat([{"role": "user", "content": "hello"}],
                                     Sampling(seed=1, max_tokens=60))
        list(stream)
        assert stream.stats.completion_tokens == 60 and stream.stats.finish_reason == "length"
    finally:
        backend.shutdown()


def test_llama_cpp_lines_reach_the_callback_not_the_terminal(
        demo_backend: LlamaBackend, log_lines: list[tuple[str, str]],
        capfd: pytest.CaptureFixture[str]) -> None:
    assert any("llama_model_loader" in line for _, line in log_lines)
    demo_backend.load(LoadSpec(ModelRef.local(demo_backend.loaded.spec.path), n_ctx=1024, chat_format="gemma"))
    out, err = capfd.readouterr()
    assert "llama_model_loader" not in out + err


def test_debug_lines_only_when_asked(model_dir: Path) -> None:
    """A load logs ~1200 debug lines (create_tensor, …); the UI gets them only with
    --debug, info lines always."""
    for debug in (False, True):
        seen: list[tuple[str, str]] = []
        backend = LlamaBackend(log=lambda level, line, seen=seen: seen.append((level, line)),
                               show_debug=debug)
        try:
            backend.load(LoadSpec(ModelRef.local(model_dir / "tiny-gqa.gguf"), n_ctx=256))
        finally:
            backend.shutdown()
        assert any("llama_model_loader" in line for _, line in seen)
        debug_lines = [line for level, line in seen if level == "debug"]
        if debug:
            assert any("create_tensor" in line for line in debug_lines)
        else:
            assert debug_lines == []


def test_gguf_template_and_switching_models(model_dir: Path) -> None:
    backend = LlamaBackend()
    try:
        progress: list[float] = []
        first = backend.load(LoadSpec(ModelRef.local(model_dir / "tiny-gqa.gguf"), n_ctx=256), progress.append)
        assert first.chat_format == "GGUF template" and first.n_layer == 2
        assert progress and progress[-1] == 1.0
        text = "".join(backend.stream_chat([{"role": "user", "content": "hello"}], SHORT))
        assert isinstance(text, str)
        second = backend.load(LoadSpec(ModelRef.local(model_dir / "tiny-mha.gguf"), n_ctx=512,
                                       chat_format="chatml"))
        assert second.n_layer == 3 and second.n_ctx == 512 and second.chat_format == "chatml"
        assert backend.loaded is second
    finally:
        backend.shutdown()


@pytest.mark.parametrize(("name", "message"), [
    ("missing.gguf", "Model file not found"),
    ("notes.gguf", "is not a GGUF model file"),
    ("corrupt.gguf", "llama.cpp could not load corrupt.gguf"),
    ("alien.gguf", "llama.cpp could not load alien.gguf: .*frobnicator"),
])
def test_bad_model_files_give_clear_errors(model_dir: Path, name: str, message: str) -> None:
    backend = LlamaBackend()
    try:
        with pytest.raises(ModelError, match=message):
            backend.load(LoadSpec(ModelRef.local(model_dir / name), n_ctx=128))
        assert backend.loaded is None
    finally:
        backend.shutdown()


def test_unknown_chat_format(model_dir: Path) -> None:
    backend = LlamaBackend()
    try:
        with pytest.raises(ModelError, match="Unknown chat_format 'klingon'.*chatml"):
            backend.load(LoadSpec(ModelRef.local(model_dir / "tiny-gqa.gguf"), n_ctx=128, chat_format="klingon"))
    finally:
        backend.shutdown()


def test_stop_matcher_holds_back_partial_stop_strings() -> None:
    matcher = StopMatcher(["</s>"])
    assert matcher.push("Hello <") == ("Hello ", False)
    assert matcher.push("/") == ("", False)
    assert matcher.push("s> tail") == ("", True)
    other = StopMatcher(["###"])
    assert other.push("a#b") == ("a#b", False)
    assert other.push("##") == ("", False)
    assert other.flush() == "##"


def test_log_fragments_join_into_lines() -> None:
    seen: list[tuple[str, str]] = []

    def listener(level: str, line: str) -> None:
        seen.append((level, line))

    logs.add_listener(listener, replay=False)
    try:
        logs.feed(3, "first part ")
        logs.feed(5, "continued\nsecond")
        logs.feed(5, " line\n")
    finally:
        logs.remove_listener(listener)
    assert ("warning", "first part continued") in seen
    assert ("warning", "second line") in seen


def test_switches_do_not_grow_memory(demo_model: Path, model_dir: Path) -> None:
    """Without malloc_trim after close(), 20 switches grew RSS by 26.6 MiB (1.3 per
    switch); 12 switches would show ~16 MiB."""
    import psutil

    backend = LlamaBackend()
    process = psutil.Process()
    specs = [LoadSpec(ModelRef.local(demo_model), n_ctx=2048, chat_format="gemma"),
             LoadSpec(ModelRef.local(model_dir / "tiny-gqa.gguf"), n_ctx=512)]
    try:
        for spec in specs:  # warm up: first loads allocate for good
            backend.load(spec)
        before = process.memory_info().rss
        for i in range(12):
            backend.load(specs[i % 2])
        growth = process.memory_info().rss - before
    finally:
        backend.shutdown()
    print(f"RSS growth over 12 switches: {growth / 2**20:.1f} MiB")
    assert growth < 10 * 2**20


def test_a_reply_is_continued_from_its_text_with_its_turn_left_open(
        demo_backend: LlamaBackend) -> None:
    llm = demo_backend.llama
    asked = chat("Name a colour.")
    opening = llm.detokenize(demo_backend.prompt_tokens(asked)).decode()
    partial = "The colour I would name is"
    continued = llm.detokenize(demo_backend.prompt_tokens(
        [*asked, {"role": "assistant", "content": partial}])).decode()
    assert continued == opening + partial  # no end of turn: the model goes on from there
    text = "".join(demo_backend.stream_chat([*asked, {"role": "assistant", "content": partial}],
                                            SHORT))
    assert isinstance(text, str)


THINKING_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and not enable_thinking %}<think>\n\n</think>\n\n"
    "{% endif %}{% endif %}")


def test_thinking_off_reaches_a_template_that_reads_the_switch(tmp_path: Path) -> None:
    switch = write_tiny_llama(tmp_path / "thinks.gguf", template=THINKING_TEMPLATE)
    plain = write_tiny_llama(tmp_path / "plain.gguf")
    backend = LlamaBackend()
    asked: list[ChatMessage] = [{"role": "user", "content": "hello"}]
    try:
        backend.load(LoadSpec(ModelRef.local(switch), n_ctx=256))
        assert backend.capabilities.thinking_switch
        assert backend.capabilities.continues_replies
        off = backend.llama.detokenize(backend.prompt_tokens(asked, thinking=False)).decode()
        on = backend.llama.detokenize(backend.prompt_tokens(asked)).decode()
        assert off.endswith("</think>\n\n") and "think" not in on
        backend.load(LoadSpec(ModelRef.local(plain), n_ctx=256))
        assert not backend.capabilities.thinking_switch
    finally:
        backend.shutdown()
