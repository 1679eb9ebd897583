"""The Textual app driven with Pilot, keys only, over the FakeBackend (no llama.cpp)."""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path

import pytest
from textual.message import Message

from pychat.session.events import LogLine, TextReceived
from pychat.ui.chat_pane import UserMessage
from pychat.ui.footer import KeyFooter
from pychat.ui.help_screen import HelpScreen
from pychat.ui.messages import TextWaiting
from tests.support.app import (
    SIZE,
    fake_app,
    idle,
    note,
    notifications,
    pick,
    ready,
    replies,
    send_and_wait,
    session_events,
    type_and_send,
    wait_for,
)
from tests.support.fake_backend import FakeBackend
from tests.support.fake_nvml import FakeGpu, FakeNvml

HOSTILE_REPLY = ("[@click=app.quit]click[/] [red]red[/red] [/oops] \x1b]0;PWNED\x07done, "
                 "and more words so that it streams in several pieces.")


async def test_a_reply_streams_into_the_chat_pane_as_plain_text(tmp_path: Path) -> None:
    app = fake_app(tmp_path, FakeBackend(reply=HOSTILE_REPLY))
    seen: list[Message] = []
    streamed: list[object] = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        screen = app.main_screen
        put = screen.inbox.put

        def keep(event: TextReceived) -> None:  # what the session streamed, batch by batch
            streamed.append(event)
            put(event)

        screen.inbox.put = keep  # type: ignore[method-assign]
        await wait_for(pilot, lambda: ready(app))
        assert str(screen.status.render()).startswith("one.gguf │ ready")
        await type_and_send(pilot, "Hello", keys=True)
        await wait_for(pilot, lambda: idle(app) and bool(replies(app))
                       and "tok/s" in note(replies(app)[0]))
        # The text came in pieces (the screen takes what came meanwhile at once).
        assert any(isinstance(m, TextWaiting) for m in seen)
        batches = [e for e in streamed if isinstance(e, TextReceived)]
        assert len(batches) >= 2
        reply = replies(app)[0]
        # Markup is text, the escape character is gone, and the app still runs.
        assert reply.text == "".join(b.text for b in batches) == HOSTILE_REPLY.replace(
            "\x1b", "").replace("\x07", "")
        assert app.is_running and reply.title == "one.gguf"
        assert [m.text for m in screen.query(UserMessage)] == ["Hello"]
        assert "tok/s" in str(screen.status.render())
        assert screen.prompt.text == ""
        # The engine's lines went to the log pane, which buffers them while hidden.
        lines = [e for e in session_events(seen, LogLine) if e.source == "llama.cpp"]
        assert any("fake: loading" in e.text for e in lines)
        log_pane = screen.log_pane
        assert not log_pane.display and 0 < len(log_pane.history) <= 2000
        await pilot.press("ctrl+l")
        assert log_pane.display
        await wait_for(pilot, lambda: log_pane.view is not None
                       and len(log_pane.view.lines) == len(log_pane.history))


@pytest.mark.slow  # a long journey through the app
async def test_escape_regenerate_new_chat_and_help(tmp_path: Path) -> None:
    # Slow enough that the app goes idle between tokens: Pilot waits for idle after a key.
    app = fake_app(tmp_path, FakeBackend(reply="word " * 300, tokens_per_second=10))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await type_and_send(pilot, "Tell me a long story")
        await wait_for(pilot, lambda: bool(replies(app)) and len(replies(app)[0].text) > 5)
        await pilot.press("escape")
        await wait_for(pilot, lambda: idle(app) and "stopped" in note(replies(app)[0]))
        reply = replies(app)[0]
        assert reply.text and reply.text != app.session.backend.reply
        assert app.session.conversation.turns[-1].text == reply.text
        backend = app.session.backend
        backend.tokens_per_second, backend.reply = 1000, "A short answer."
        await send_and_wait(pilot, app, "Again", 2)
        # ctrl+r answers the last message again, in place of its reply.
        second = replies(app)[1]
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: idle(app) and len(replies(app)) == 2
                       and replies(app)[1] is not second and bool(replies(app)[1].text))
        assert len(app.session.conversation.turns) == 4
        # ctrl+n: a new, empty chat.
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: not replies(app))
        assert app.session.conversation.turns == []
        # F1: every key with its binding id.
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = str(app.screen.query_one("Static").render())
        for binding_id in ("chat.stop", "chat.models", "prompt.send", "app.quit"):
            assert binding_id in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main_screen)


async def test_a_message_sent_while_loading_is_answered(tmp_path: Path) -> None:
    backend = FakeBackend()
    backend.load_gate.clear()
    app = fake_app(tmp_path, backend)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.main_screen
        # The UI is usable while the model loads: not covered, the message box focused.
        assert not screen.loading and app.focused is screen.prompt
        await type_and_send(pilot, "Hi there")
        await wait_for(pilot, lambda: bool(replies(app))
                       and "Waiting for the model" in note(replies(app)[0]))
        backend.load_gate.set()
        await wait_for(pilot, lambda: idle(app) and bool(replies(app)[0].text))
        assert replies(app)[0].title == "one.gguf"


@pytest.mark.slow  # a long journey through the app
async def test_switch_models_in_the_picker_keys_only(tmp_path: Path) -> None:
    app = fake_app(tmp_path, config="[sampling]\nmax_tokens = 24\n")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.main_screen
        await wait_for(pilot, lambda: ready(app))
        await send_and_wait(pilot, app, "first", 1)
        await pick(pilot, app, "two", "0", "512")
        await wait_for(pilot, lambda: ready(app) and screen.status.model == "two.gguf")
        assert screen.status.n_ctx == 512
        assert app.focused is screen.prompt
        # History stays and the next reply comes from the new model.
        assert [m.text for m in screen.query(UserMessage)] == ["first"]
        await send_and_wait(pilot, app, "second", 2)
        assert replies(app)[1].title == "two.gguf"
        saved = tomllib.loads(app.session.config_file.path.read_text())
        assert saved["models"]["two.gguf"]["n_ctx"] == 512
        assert saved["sampling"]["max_tokens"] == 24  # the rest of the file survives


@pytest.mark.slow  # a soak run: ~9 s of picker round trips
async def test_picker_switches_leave_no_widgets_behind(tmp_path: Path) -> None:
    """Each switch opens and closes the picker and rebuilds the footer; before the fixes in
    ui/footer.py the dead footer keys and style caches kept 14 MiB after 20 switches."""
    import gc

    from textual._styles_cache import StylesCache
    from textual.dom import DOMNode

    def alive() -> tuple[Counter[str], int]:
        """Live widgets by type, and style caches. Toasts are left out: they expire on
        their own timer (8 s), so one may be up at one count and gone at the next."""
        gc.collect()
        objects = gc.get_objects()
        nodes = Counter(type(o).__name__ for o in objects if isinstance(o, DOMNode)
                        and not type(o).__name__.startswith("Toast"))
        toasts = sum(isinstance(o, DOMNode) and type(o).__name__.startswith("Toast")
                     for o in objects)
        return nodes, sum(type(o) is StylesCache for o in objects) - toasts

    app = fake_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.main_screen
        await wait_for(pilot, lambda: ready(app))

        async def switch_to(name: str) -> None:
            await pick(pilot, app, name, "0", "512", keys=False)
            await wait_for(pilot, lambda: ready(app) and screen.status.model == f"{name}.gguf")

        async def settled() -> tuple[Counter[str], int]:
            """Counts once two readings 0.1 s apart agree (teardowns have finished)."""
            last = alive()
            for _ in range(30):
                await pilot.pause(0.1)
                now = alive()
                if now == last:
                    return now
                last = now
            return last

        for name in ("two", "one"):  # warm up: first opens build what stays
            await switch_to(name)
        before = await settled()
        for i in range(6):  # each leaked 18 footer keys before the fix: 6 show it
            await switch_to("two" if i % 2 == 0 else "one")
        assert await settled() == before


async def test_loader_reload_and_a_failed_switch_that_rolls_back(tmp_path: Path) -> None:
    backend = FakeBackend()
    backend.refuse["two.gguf"] = "llama.cpp could not load two.gguf: tensor data corrupted"
    app = fake_app(tmp_path, backend)
    seen: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        screen = app.main_screen
        await wait_for(pilot, lambda: ready(app))
        # The loader pane reloads the current model with another n_ctx (its fields are
        # reached with Tab; test_switch_models_in_the_picker_keys_only walks with Tab).
        field = screen.loader.query_one("#n-ctx")
        field.focus()
        field.value = "768"
        await pilot.press("enter")
        await wait_for(pilot, lambda: ready(app) and screen.status.n_ctx == 768)
        saved = tomllib.loads(app.session.config_file.path.read_text())
        assert saved["models"]["one.gguf"]["n_ctx"] == 768
        # A model llama.cpp refuses: the error is shown and the previous model comes back.
        await pick(pilot, app, "two", "0", "512", keys=False)
        state = screen.loader.query_one("#load-state")
        await wait_for(pilot, lambda: ready(app) and "restored" in str(state.render()))
        assert screen.status.model == "one.gguf" and screen.status.n_ctx == 768
        assert ("Model error", "llama.cpp could not load two.gguf: tensor data corrupted"
                ) in notifications(seen)
        await send_and_wait(pilot, app, "still there?", 1)
        assert replies(app)[0].title == "one.gguf"


async def test_a_start_up_model_that_fails_is_replaced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The model named at start is broken: the user still gets a model (another one here;
    the demo model when it is installed, see test_app_real), is told which one failed and
    why, and a message typed meanwhile is answered."""
    monkeypatch.setattr("pychat.engine.embedded.EmbeddedModel.installed", lambda self: False)
    backend = FakeBackend()
    backend.refuse["one.gguf"] = "llama.cpp could not load one.gguf: bad"
    app = fake_app(tmp_path, backend)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.main_screen
        await type_and_send(pilot, "hello")
        await wait_for(pilot, lambda: ready(app) and idle(app) and bool(replies(app)[0].text))
        assert screen.status.model == "two.gguf"
        assert "one.gguf did not load" in str(screen.loader.query_one("#load-state").render())
        assert replies(app)[0].title == "two.gguf"


async def test_a_broken_config_opens_with_defaults_and_says_so(tmp_path: Path) -> None:
    app = fake_app(tmp_path, config="[sampling]\ntemperature = 'hot'\n")
    path = app.session.config_file.path
    before = path.read_text()
    seen: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: ready(app))
        assert app.session.sampling.temperature == 0.7
        titles = [title for title, _ in notifications(seen)]
        assert "Config file has errors — running on defaults" in titles
        # No GPU (the fake NVML finds no library): the VRAM pane says why, and shows RAM.
        meter = app.main_screen.vram
        await wait_for(pilot, lambda: meter.last is not None)
        text = str(meter.query_one("#vram-text").render())
        assert "no NVIDIA GPU — NVML library not found" in text and "RSS" in text
    assert path.read_text() == before


@pytest.mark.slow  # a long journey through the app
async def test_failing_workers_are_reported_and_leave_the_app_working(tmp_path: Path) -> None:
    """Each worker fails once (RuntimeError, MemoryError and KeyError each go through the
    session in test_session.py); after each the user is told and the chat goes on."""
    board = FakeGpu(name="Fake H100")
    backend = FakeBackend()
    app = fake_app(tmp_path, backend, nvml=FakeNvml([board]))
    app.main_screen.VRAM_POLL_SECONDS = 0.05
    seen: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: ready(app) and app.main_screen.vram.last is not None)
        # The reply worker: the reply is closed as an error, the traceback is in the log.
        backend.stream_error, backend.fail_after = MemoryError(), 2
        await type_and_send(pilot, "Hello")
        await wait_for(pilot, lambda: idle(app) and "⚠ error" in note(replies(app)[0]))
        assert note(replies(app)[0]).startswith("⚠ error: MemoryError")
        assert "Reply failed" in [title for title, _ in notifications(seen)]
        assert any("Traceback" in str(line) for line in app.main_screen.log_pane.history)
        await send_and_wait(pilot, app, "Again", 2)
        board.fault = KeyError("nvml")
        await wait_for(pilot, lambda: "VRAM monitor stopped" in dict(notifications(seen)))
        backend.load_error = RuntimeError("load broke")
        await pick(pilot, app, "two", "0", "512", keys=False)
        await wait_for(pilot, lambda: "Model load failed" in dict(notifications(seen)))
        await wait_for(pilot, lambda: ready(app) and app.main_screen.status.model == "one.gguf")

        def broken(*args: object) -> None:
            raise MemoryError

        setattr(app.session.library, "listing", broken)  # noqa: B010 - a method replaced for the test
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: "Could not list the models" in dict(notifications(seen)))
        assert app.screen is app.main_screen
        await send_and_wait(pilot, app, "Still fine?", 3)


async def test_vram_pane_with_a_gpu_reported_by_nvml(tmp_path: Path) -> None:
    app = fake_app(tmp_path, nvml=FakeNvml([FakeGpu(name="Fake H100")]))
    async with app.run_test(size=SIZE) as pilot:
        meter = app.main_screen.vram
        await wait_for(pilot, lambda: meter.last is not None)
        text = str(meter.query_one("#vram-text").render())
        assert "Fake H100" in text and "used 2.0 GiB / 24.0 GiB" in text


async def test_the_footer_is_rebuilt_only_when_its_keys_change(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: ready(app))
        footer = app.main_screen.query_one(KeyFooter)
        await pilot.pause()
        before = footer.rebuilds
        assert before >= 1 and "Edit last" not in footer_text(footer)
        await pilot.press("ctrl+l", "ctrl+l", "f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main_screen)
        await pilot.pause()
        assert footer.rebuilds == before  # the same keys: nothing rebuilt
        await send_and_wait(pilot, app, "hello", 1)
        await wait_for(pilot, lambda: "Edit last" in footer_text(footer))
        assert footer.rebuilds > before


@pytest.mark.parametrize("width", [60, 120, 200])
async def test_the_footer_shows_whole_keys_and_the_palette_at_any_width(
        tmp_path: Path, width: int) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=(width, 30)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        footer = app.main_screen.query_one(KeyFooter)
        await wait_for(pilot, lambda: footer.keys != ())
        line = footer.render().plain
        assert len(line) == width and line.rstrip().endswith("▏ ^p Commands")
        shown = [key for key in footer.keys if f" {key.key} {key.description} " in line]
        assert shown == list(footer.keys[:len(shown)])  # whole keys, in order, from the first
        assert len(shown) >= 2
        # Keys left out are said to be: an ellipsis, never a key cut in half.
        assert ("…" in line) == (len(shown) < len(footer.keys))
        left = line.split("▏")[0].rstrip(" …")
        assert left.endswith(f" {shown[-1].key} {shown[-1].description}")


def footer_text(footer: KeyFooter) -> str:
    """The descriptions of the keys the footer shows."""
    return " ".join(key.description for key in footer.keys)
