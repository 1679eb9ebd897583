"""The Textual app driven with Pilot, keys only, on real models."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.message import Message

from pychat.app import PyChatApp, build_session
from pychat.config import load_config
from pychat.gpu import GpuMonitor
from pychat.messages import LogLine, ModelLoadFailed, TokensReceived
from pychat.ui.chat_pane import AssistantMessage, UserMessage
from pychat.ui.help_screen import HelpScreen
from pychat.ui.picker import ModelPicker
from tests.conftest import wait_for
from tests.fakes.pynvml import FakeGpu, FakeNvml

pytestmark = pytest.mark.slow
SIZE = (120, 40)


def make_app(config: Path, model: str | None = None, monitor: GpuMonitor | None = None
             ) -> tuple[PyChatApp, list[Message]]:
    messages: list[Message] = []
    app = PyChatApp(build_session(load_config(config), model, monitor=monitor))
    return app, messages


def config_text(models_dir: Path, max_tokens: int = 24, default: str = "") -> str:
    return (f'models_dir = "{models_dir}"\ndefault_model = "{default}"\n'
            f"[sampling]\nmax_tokens = {max_tokens}\nseed = 5\n")


async def type_and_send(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    for char in text:
        await pilot.press("space" if char == " " else char)
    await pilot.press("enter")


async def send_and_wait(pilot, app: PyChatApp, text: str, replies_expected: int) -> None:  # type: ignore[no-untyped-def]
    """Send ``text`` and wait until the reply to it has finished."""
    await type_and_send(pilot, text)
    await wait_for(pilot, lambda: app.main_screen._cancel is None
                   and len(replies(app)) == replies_expected)


def replies(app: PyChatApp) -> list[AssistantMessage]:
    return list(app.main_screen.query(AssistantMessage))


async def test_reply_streams_into_the_chat_pane(write_config: Callable[[str], Path],
                                                demo_model: Path, tmp_path: Path) -> None:
    app, seen = make_app(write_config(config_text(tmp_path / "none", max_tokens=40)))
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        screen = app.main_screen
        await wait_for(pilot, lambda: screen.ready)
        assert screen.status.model == demo_model.name
        await type_and_send(pilot, "Hello")
        await wait_for(pilot, lambda: screen._cancel is None and replies(app)
                       and replies(app)[0].text)
        # The hook may see a message more than once (posted, then dispatched).
        batches = list({id(m): m for m in seen if isinstance(m, TokensReceived)}.values())
        assert len(batches) >= 2  # streamed in pieces, not in one go
        reply = replies(app)[0]
        assert reply.text == "".join(m.text for m in batches)
        assert [m.text for m in screen.query(UserMessage)] == ["Hello"]
        assert app.session.conversation.turns[-1] == {"role": "assistant", "content": reply.text}
        assert screen.status.stats is not None and screen.status.stats.completion_tokens > 0
        assert "tok/s" in str(screen.status.render())
        assert screen.prompt.text == ""


async def test_escape_stops_and_keeps_the_partial_reply(write_config: Callable[[str], Path],
                                                        demo_model: Path, tmp_path: Path) -> None:
    app, seen = make_app(write_config(config_text(tmp_path / "none", max_tokens=800)))
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        screen = app.main_screen
        await wait_for(pilot, lambda: screen.ready)
        await type_and_send(pilot, "Tell me a very long story")
        await wait_for(pilot, lambda: bool(replies(app)) and len(replies(app)[0].text) > 10)
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen._cancel is None)
        reply = replies(app)[0]
        assert screen.status.stats.finish_reason == "cancelled"
        assert screen.status.stats.completion_tokens < 800
        assert reply.text and "stopped" in str(reply._note.render())
        assert app.session.conversation.turns[-1]["content"] == reply.text
        # The chat goes on after a stop.
        await type_and_send(pilot, "Again")
        await wait_for(pilot, lambda: len(replies(app)) == 2 and bool(replies(app)[1].text))
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen._cancel is None)


async def test_log_pane_receives_llama_cpp_lines(write_config: Callable[[str], Path],
                                                 demo_model: Path, tmp_path: Path) -> None:
    app, seen = make_app(write_config(config_text(tmp_path / "none")))
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: app.main_screen.ready)
        lines = [m for m in seen if isinstance(m, LogLine) and m.source == "llama.cpp"]
        assert any("llama_model_loader" in m.text for m in lines)
        assert app.main_screen.log_pane.lines_received >= len(lines)
        log_pane = app.main_screen.log_pane
        assert not log_pane.display
        assert len(log_pane._deferred_renders) == 0  # nothing piles up while hidden
        assert 0 < len(log_pane.history) <= 2000
        await pilot.press("ctrl+l")
        assert log_pane.display
        await wait_for(pilot, lambda: len(log_pane.lines) == len(log_pane.history))


async def test_message_sent_while_loading_is_answered(write_config: Callable[[str], Path],
                                                      demo_model: Path, tmp_path: Path) -> None:
    app, _ = make_app(write_config(config_text(tmp_path / "none")))
    backend = app.session.backend
    backend._lock.acquire()  # the load cannot finish until we let it
    released = False
    try:
        async with app.run_test(size=SIZE) as pilot:
            screen = app.main_screen
            # The UI is usable while the model loads: not covered, the message box focused.
            assert not screen.loading and app.focused is screen.prompt
            await type_and_send(pilot, "Hi there")
            assert not screen.ready
            reply = replies(app)[0]
            assert "Waiting for the model" in str(reply._note.render())
            backend._lock.release()
            released = True
            await wait_for(pilot, lambda: screen.ready and screen._cancel is None
                           and bool(reply.text))
            assert app.session.conversation.turns[0]["content"] == "Hi there"
            assert app.session.conversation.turns[-1]["role"] == "assistant"
    finally:
        if not released:
            backend._lock.release()


async def pick(pilot, app: PyChatApp, query: str, gpu_layers: str, n_ctx: str) -> None:  # type: ignore[no-untyped-def]
    """ctrl+o, type a filter, Tab to the gpu_layers and n_ctx fields, type them, Enter."""
    await pilot.press("ctrl+o")
    await wait_for(pilot, lambda: isinstance(app.screen, ModelPicker))
    picker = app.screen
    for char in query:
        await pilot.press(char)
    assert len(picker.shown) == 1, [i.file_name for i in picker.shown]
    await pilot.press("tab", "tab")  # the list, then gpu_layers
    assert app.focused is picker.query_one("#picker-gpu")
    for char in gpu_layers:  # focusing selects the old value, typing replaces it
        await pilot.press(char)
    await pilot.press("tab")
    assert app.focused is picker.query_one("#picker-ctx")
    for char in n_ctx:
        await pilot.press(char)
    await pilot.press("enter")


async def test_switch_models_in_the_picker_keys_only(write_config: Callable[[str], Path],
                                                     model_dir: Path, demo_model: Path) -> None:
    config = write_config(config_text(model_dir, default="tiny-gqa.gguf"))
    app, _ = make_app(config)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.main_screen
        await wait_for(pilot, lambda: screen.ready)
        assert screen.status.model == "tiny-gqa.gguf"
        await send_and_wait(pilot, app, "first", 1)
        await pick(pilot, app, "mha", "0", "512")
        await wait_for(pilot, lambda: screen.ready and screen.status.model == "tiny-mha.gguf")
        assert screen.spec.n_ctx == 512 and screen.status.n_ctx == 512
        # History stays and the next reply comes from the new model.
        assert [m.text for m in screen.query(UserMessage)] == ["first"]
        await send_and_wait(pilot, app, "second", 2)
        assert replies(app)[1].title == "tiny-mha.gguf"
        # Now the real demo model at another gpu_layers and n_ctx.
        await pick(pilot, app, "gemma", "4", "1024")
        await wait_for(pilot, lambda: screen.ready and screen.status.model == demo_model.name)
        offload = app.session.backend.can_offload
        assert screen.spec.gpu_layers == (4 if offload else 0)  # a CPU build loads on the CPU
        assert screen.status.n_ctx == 1024
        assert str(screen.loader.query_one("#gpu-layers").value) == "4"
        await send_and_wait(pilot, app, "third", 3)
        assert replies(app)[2].title == demo_model.name
        assert len(app.session.conversation.turns) == 6
        saved = tomllib.loads(config.read_text())
        assert saved["models"]["tiny-mha.gguf"]["n_ctx"] == 512
        demo_saved = saved["models"][demo_model.name]
        assert (demo_saved["gpu_layers"], demo_saved["n_ctx"]) == (4, 1024)
        assert demo_saved["chat_format"] == "gemma"
        assert saved["sampling"]["max_tokens"] == 24  # the rest of the file survives


async def test_twenty_picker_switches_leave_no_widgets_behind(
        write_config: Callable[[str], Path], model_dir: Path) -> None:
    """Each switch opens and closes the picker and rebuilds the footer; before the fixes in
    ui/footer.py the dead footer keys and style caches kept 14 MiB after 20 switches."""
    import gc

    import psutil
    from textual._styles_cache import StylesCache
    from textual.dom import DOMNode

    def alive() -> tuple[int, int]:
        gc.collect()
        objects = gc.get_objects()
        return (sum(isinstance(o, DOMNode) for o in objects),
                sum(type(o) is StylesCache for o in objects))

    app, _ = make_app(write_config(config_text(model_dir, default="tiny-gqa.gguf")))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.main_screen
        await wait_for(pilot, lambda: screen.ready)
        async def switch_to(query: str) -> None:
            await pick(pilot, app, query, "0", "512")
            await wait_for(pilot, lambda: screen.ready and query[-3:] in screen.status.model)

        for name in ("mha", "y-gqa"):  # warm up: first opens build what stays
            await switch_to(name)
        await pilot.pause(0.2)
        nodes, caches = alive()
        rss = psutil.Process().memory_info().rss
        for i in range(20):
            await switch_to("mha" if i % 2 == 0 else "y-gqa")
        await pilot.pause(0.2)
        growth = psutil.Process().memory_info().rss - rss
        print(f"\nRSS growth over 20 picker switches (tiny models): {growth / 2**20:.1f} MiB")
        assert alive() == (nodes, caches)
        assert growth < 10 * 2**20


async def test_corrupt_model_rolls_back_to_the_previous_one(
        write_config: Callable[[str], Path], model_dir: Path) -> None:
    app, seen = make_app(write_config(config_text(model_dir, default="tiny-gqa.gguf")))
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        screen = app.main_screen
        await wait_for(pilot, lambda: screen.ready)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, ModelPicker))
        for char in "corrupt":
            await pilot.press(char)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.ready and not screen.load_in_progress
                       and "restored" in str(screen.loader.query_one("#load-state").render()))
        assert screen.status.model == "tiny-gqa.gguf"
        errors = [m.error.message for m in seen if isinstance(m, ModelLoadFailed)]
        assert any("could not load corrupt.gguf" in e and "corrupted" in e for e in errors)
        await send_and_wait(pilot, app, "still there?", 1)
        assert replies(app)[0].title == "tiny-gqa.gguf"


async def test_a_start_up_model_that_fails_is_replaced(
        write_config: Callable[[str], Path], model_dir: Path, demo_model: Path) -> None:
    """The model named in the config is corrupt: the user still gets a model (the demo),
    is told which one failed and why, and a message typed meanwhile is answered."""
    app, seen = make_app(write_config(config_text(model_dir, default="corrupt.gguf")))
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        screen = app.main_screen
        await type_and_send(pilot, "hello")
        await wait_for(pilot, lambda: screen.ready)
        assert screen.status.model == demo_model.name
        state = str(screen.loader.query_one("#load-state").render())
        assert "corrupt.gguf did not load" in state
        assert any(isinstance(m, ModelLoadFailed) and m.path.name == "corrupt.gguf"
                   for m in seen)
        await wait_for(pilot, lambda: screen._cancel is None and len(replies(app)) == 1
                       and bool(replies(app)[0].text))
        assert replies(app)[0].title == demo_model.name


async def test_loader_pane_reload_with_new_n_ctx(write_config: Callable[[str], Path],
                                                 model_dir: Path) -> None:
    config = write_config(config_text(model_dir, default="tiny-gqa.gguf"))
    app, _ = make_app(config)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.main_screen
        await wait_for(pilot, lambda: screen.ready)
        field = screen.loader.query_one("#n-ctx")
        while app.focused is not field:
            await pilot.press("tab")
        for char in "768":
            await pilot.press(char)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.ready and screen.status.n_ctx == 768)
        assert tomllib.loads(config.read_text())["models"]["tiny-gqa.gguf"]["n_ctx"] == 768


async def test_broken_config_still_opens_with_defaults(write_config: Callable[[str], Path],
                                                       demo_model: Path) -> None:
    config = write_config("[sampling]\ntemperature = 'hot'\n")
    before = config.read_text()
    app, seen = make_app(config)
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: app.main_screen.ready)
        assert app.session.loaded.config.sampling.temperature == 0.7
    assert config.read_text() == before
    assert app.session.loaded.errors and "sampling.temperature" in app.session.loaded.errors[0]


async def test_new_chat_regenerate_and_help(write_config: Callable[[str], Path],
                                            model_dir: Path) -> None:
    app, _ = make_app(write_config(config_text(model_dir, default="tiny-gqa.gguf")))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.main_screen
        await wait_for(pilot, lambda: screen.ready)
        await send_and_wait(pilot, app, "one", 1)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen._cancel is None and len(replies(app)) == 1
                       and app.session.conversation.turns[-1]["role"] == "assistant")
        assert len(app.session.conversation.turns) == 2
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: not replies(app))
        assert app.session.conversation.turns == []
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = str(app.screen.query_one("Static").render())
        for binding_id in ("chat.stop", "chat.models", "prompt.send", "app.quit"):
            assert binding_id in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)


async def test_vram_pane_with_a_gpu_reported_by_nvml(write_config: Callable[[str], Path],
                                                     model_dir: Path) -> None:
    monitor = GpuMonitor(FakeNvml([FakeGpu(name="Fake H100")]))
    app, _ = make_app(write_config(config_text(model_dir, default="tiny-gqa.gguf")),
                      monitor=monitor)
    async with app.run_test(size=SIZE) as pilot:
        meter = app.main_screen.vram
        await wait_for(pilot, lambda: meter.last is not None)
        text = str(meter.query_one("#vram-text").render())
        assert "Fake H100" in text and "used 2.0 GiB / 24.0 GiB" in text


async def test_vram_pane_without_gpu_says_why(write_config: Callable[[str], Path],
                                              model_dir: Path) -> None:
    app, _ = make_app(write_config(config_text(model_dir, default="tiny-gqa.gguf")))
    async with app.run_test(size=SIZE) as pilot:
        meter = app.main_screen.vram
        await wait_for(pilot, lambda: meter.last is not None)
        text = str(meter.query_one("#vram-text").render())
        assert "no NVIDIA GPU" in text and "RSS" in text
