"""Driving the app with Pilot over the FakeBackend: build it, type, wait, read it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot

from pychat.app import PyChatApp, Startup
from pychat.session import ModelState, ReplyState
from pychat.session.events import Event
from pychat.ui.chat_pane import AssistantMessage
from pychat.ui.messages import SessionEvent
from pychat.ui.picker import ModelPicker
from tests.support.fake_backend import FakeBackend
from tests.support.fake_nvml import FakeNvml
from tests.support.session import fake_session


async def wait_for(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 60.0
                   ) -> None:
    """Let the app run until ``condition`` holds (a condition, not a fixed sleep).

    Plain event-loop sleeps: ``pilot.pause`` walks every widget of the screen each time,
    and without a delay it waits for the whole process to go idle (up to a second while
    a worker streams), which made waiting the slowest part of the UI tests."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


SIZE = (100, 30)


E = TypeVar("E", bound=Event)


def fake_app(root: Path, backend: FakeBackend | None = None, *, config: str = "",
             start: str = "one.gguf", nvml: FakeNvml | None = None) -> PyChatApp:
    session, _ = fake_session(root, backend, config=config, nvml=nvml,
                              models=("one.gguf", "two.gguf"))
    session.flush_seconds = 0.02
    return PyChatApp(session, Startup(session.library.models_dir / start))


async def type_and_send(pilot: Pilot[None], text: str, *, keys: bool = False) -> None:
    """Put ``text`` in the message box and press Enter. Each Pilot key press waits for the
    app to go idle (~70 ms), so only tests about typing press every key (``keys=True``)."""
    if keys:
        for char in text:
            await pilot.press("space" if char == " " else char)
    else:
        app = pilot.app
        assert isinstance(app, PyChatApp)
        app.main_screen.prompt.text = text
    await pilot.press("enter")


def replies(app: PyChatApp) -> list[AssistantMessage]:
    return list(app.main_screen.query(AssistantMessage))


def idle(app: PyChatApp) -> bool:
    """No reply under way, and the screen has caught up with that."""
    return (app.session.reply_state is ReplyState.IDLE
            and app.main_screen.status.state in ("ready", "no model"))


def ready(app: PyChatApp) -> bool:
    """A model is ready, and the screen has caught up with that (events arrive in order,
    so everything said before it, such as ModelLoaded, has been shown too)."""
    return (app.session.model_state is ModelState.READY
            and app.main_screen.status.state in ("ready", "answering"))


async def send_and_wait(pilot: Pilot[None], app: PyChatApp, text: str,
                        replies_expected: int) -> None:
    """Send ``text`` and wait until the reply to it has finished."""
    await type_and_send(pilot, text)
    await wait_for(pilot, lambda: idle(app) and len(replies(app)) == replies_expected
                   and "tok/s" in note(replies(app)[-1]))


def session_events(seen: list[Message], kind: type[E]) -> list[E]:
    # The hook may see a message more than once (posted, then dispatched).
    unique = {id(m): m for m in seen if isinstance(m, SessionEvent)}.values()
    return [m.event for m in unique if isinstance(m.event, kind)]


def notifications(seen: list[Message]) -> list[tuple[str, str]]:
    return [(m.notification.title, m.notification.message) for m in seen
            if isinstance(m, Notify)]


def note(reply: AssistantMessage) -> str:
    """The line under a reply: waiting, stopped, an error, its speed."""
    return reply.note


async def pick(pilot: Pilot[None], app: PyChatApp, query: str, gpu_layers: str, n_ctx: str,
               *, keys: bool = True) -> None:
    """ctrl+o, type a filter, Tab to the gpu_layers and n_ctx fields, type them, Enter.
    With ``keys=False`` the fields are filled in directly (fewer ~70 ms key presses)."""
    await pilot.press("ctrl+o")
    await wait_for(pilot, lambda: isinstance(app.screen, ModelPicker))
    picker = app.screen
    fields = [picker.query_one(f"#picker-{name}") for name in ("filter", "gpu", "ctx")]
    if not keys:
        fields[0].value = query
        # The filter's change refills the fields from the highlighted model: let it land.
        await wait_for(pilot, lambda: len(picker.shown) == 1)
        await pilot.pause()
        fields[1].value, fields[2].value = gpu_layers, n_ctx
        await pilot.pause()
        await pilot.press("enter")
        return
    for char in query:
        await pilot.press(char)
    assert len(picker.shown) == 1, [e.label for e in picker.shown]
    await pilot.press("tab", "tab")  # the list, then gpu_layers
    assert app.focused is fields[1]
    for char in gpu_layers:  # focusing selects the old value, typing replaces it
        await pilot.press(char)
    await pilot.press("tab")
    assert app.focused is fields[2]
    for char in n_ctx:
        await pilot.press(char)
    await pilot.press("enter")
