"""End to end through Pilot on real models: real llama.cpp, real GGUF files, keys only."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.message import Message
from textual.pilot import Pilot

from pychat.app import PyChatApp, Startup
from pychat.config import load_config
from pychat.session import create_session
from pychat.session.events import LogLine, ModelLoadFailed
from pychat.ui.chat_pane import UserMessage
from tests.support.app import (
    SIZE,
    idle,
    pick,
    ready,
    replies,
    send_and_wait,
    session_events,
    type_and_send,
    wait_for,
)
from tests.support.gguf import write_tiny_llama, write_unknown_arch

pytestmark = pytest.mark.slow


def real_app(config: Path, model: str | None = None) -> PyChatApp:
    session = create_session(load_config(config))
    return PyChatApp(session, Startup(session.library.startup_model(model)))


def config_text(models_dir: Path, max_tokens: int = 24, default: str = "") -> str:
    return (f'models_dir = "{models_dir}"\ndefault_model = "{default}"\n'
            f"[sampling]\nmax_tokens = {max_tokens}\nseed = 5\n")


async def test_the_default_model_streams_a_reply(write_config: Callable[[str], Path],
                                                smollm_model: Path, tmp_path: Path) -> None:
    app = real_app(write_config(config_text(tmp_path / "none", max_tokens=16)))
    seen: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: ready(app))
        assert app.main_screen.status.model == smollm_model.name
        await type_and_send(pilot, "Hello", keys=True)
        await wait_for(pilot, lambda: idle(app) and bool(replies(app))
                       and bool(replies(app)[0].text))
        assert app.session.conversation.turns[-1].text == replies(app)[0].text
        assert any("llama_model_loader" in e.text for e in session_events(seen, LogLine))


async def test_switch_real_models_in_the_picker(write_config: Callable[[str], Path],
                                                model_dir: Path, demo_model: Path) -> None:
    config = write_config(config_text(model_dir, default="tiny-gqa.gguf"))
    app = real_app(config)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.main_screen
        await wait_for(pilot, lambda: ready(app))
        assert screen.status.model == "tiny-gqa.gguf"
        await send_and_wait(pilot, app, "first", 1)
        await pick(pilot, app, "mha", "0", "512")
        await wait_for(pilot, lambda: ready(app) and screen.status.model == "tiny-mha.gguf")
        assert screen.status.n_ctx == 512
        assert [m.text for m in screen.query(UserMessage)] == ["first"]
        await send_and_wait(pilot, app, "second", 2)
        assert replies(app)[1].title == "tiny-mha.gguf"
        # Now the real demo model at another gpu_layers and n_ctx.
        await pick(pilot, app, "gemma", "4", "1024", keys=False)
        await wait_for(pilot, lambda: ready(app) and screen.status.model == demo_model.name)
        offload = app.session.backend.can_offload
        assert app.session.model is not None
        assert app.session.model.spec.gpu_layers == (4 if offload else 0)  # CPU build: CPU
        assert screen.status.n_ctx == 1024
        assert str(screen.loader.query_one("#gpu-layers").value) == "4"
        await send_and_wait(pilot, app, "third", 3)
        assert replies(app)[2].title == demo_model.name
        assert len(app.session.conversation.turns) == 6
        saved = tomllib.loads(config.read_text())
        assert saved["models"]["tiny-mha.gguf"]["n_ctx"] == 512
        demo_saved = saved["models"][demo_model.name]
        assert (demo_saved["gpu_layers"], demo_saved["n_ctx"]) == (4, 1024)
        # Only the choice is written: the built-in "gemma" format stays PyChat's, and it
        # is still the one in use.
        assert "chat_format" not in demo_saved and "system_prompt" not in demo_saved
        assert app.session.model.spec.chat_format == "gemma"


async def test_a_corrupt_model_rolls_back_with_llama_cpps_reason(
        write_config: Callable[[str], Path], model_dir: Path) -> None:
    app = real_app(write_config(config_text(model_dir, default="tiny-gqa.gguf")))
    seen: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        screen = app.main_screen
        await wait_for(pilot, lambda: ready(app))
        await pick(pilot, app, "corrupt", "0", "512", keys=False)
        state = screen.loader.query_one("#load-state")
        await wait_for(pilot, lambda: ready(app) and "restored" in str(state.render()))
        errors = [e.message for e in session_events(seen, ModelLoadFailed)]
        assert any("could not load corrupt.gguf" in e and "corrupted" in e for e in errors)
        await send_and_wait(pilot, app, "still there?", 1)
        assert replies(app)[0].title == "tiny-gqa.gguf"


async def test_a_start_up_model_that_fails_is_replaced_by_the_default(
        write_config: Callable[[str], Path], model_dir: Path, smollm_model: Path) -> None:
    """The model named in the config is corrupt: the default model loads instead, the user
    is told which one failed, and a message typed meanwhile is answered."""
    app = real_app(write_config(config_text(model_dir, default="corrupt.gguf")))
    seen: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        screen = app.main_screen
        await type_and_send(pilot, "hello")
        await wait_for(pilot, lambda: ready(app) and idle(app) and bool(replies(app))
                       and bool(replies(app)[0].text))
        assert screen.status.model == smollm_model.name
        assert "corrupt.gguf did not load" in str(screen.loader.query_one("#load-state").render())
        assert any(e.ref.name == "corrupt.gguf" for e in session_events(seen, ModelLoadFailed))
        assert replies(app)[0].title == smollm_model.name


async def test_markup_in_llama_cpp_errors_and_template_errors_is_only_text(
        write_config: Callable[[str], Path], tmp_path: Path) -> None:
    """An architecture named "[/x]" made llama.cpp's error crash notify() (MarkupError);
    so did a chat template raising an error that holds "[/oops]"."""
    models = tmp_path / "models"
    models.mkdir()
    write_unknown_arch(models / "alien.gguf", arch="[/x]")
    write_tiny_llama(models / "oops.gguf", template="{{ raise_exception('[/oops] [b]no') }}")
    app = real_app(write_config(config_text(models, default="oops.gguf")))
    seen: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await send_and_wait_for_error(pilot, app)
        assert "[/oops] [b]no" in replies(app)[0].text + replies(app)[0].note
        await pick(pilot, app, "alien", "0", "512", keys=False)
        state = app.main_screen.loader.query_one("#load-state")
        await wait_for(pilot, lambda: ready(app) and "restored" in str(state.render()))
        errors = [e.message for e in session_events(seen, ModelLoadFailed)]
        assert any("[/x]" in e for e in errors), errors
        assert app.is_running


async def send_and_wait_for_error(pilot: Pilot[None], app: PyChatApp) -> None:
    await type_and_send(pilot, "hi")
    await wait_for(pilot, lambda: idle(app) and bool(replies(app))
                   and "⚠" in replies(app)[0].note)
