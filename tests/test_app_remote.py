"""The app with servers in the config: the picker lists their models beside the local files
(or why a server cannot be reached), loads one, and the panes say where the model runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pychat.app import PyChatApp, Startup
from pychat.ui.picker import ModelPicker
from tests.support.app import SIZE, idle, note, pick, ready, replies, wait_for
from tests.support.fault_server import FaultServer, Script, chunk, reply, sse
from tests.support.session import fake_session


@pytest.fixture
def server() -> Iterator[FaultServer]:
    fault = FaultServer()
    yield fault
    fault.close()


def app_with_servers(tmp_path: Path, url: str) -> PyChatApp:
    session, _ = fake_session(tmp_path, config=(
        f'[servers.box]\nbase_url = "{url}"\nconnect_timeout = 2.0\n'
        '[servers.gone]\nbase_url = "http://127.0.0.1:9/v1"\nconnect_timeout = 1.0\n'))
    session.flush_seconds = 0.02
    return PyChatApp(session, Startup(session.library.models_dir / "one.gguf"))


@pytest.mark.slow  # a long journey through the app
async def test_the_picker_lists_servers_and_loads_one(tmp_path: Path,
                                                      server: FaultServer) -> None:
    server.scripts["/v1/chat/completions"] = Script(pieces=sse(
        chunk(reasoning="Thinking it over. "), chunk("Served "), chunk("answer."),
        chunk(finish="stop")))
    app = app_with_servers(tmp_path, server.url)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.main_screen
        await wait_for(pilot, lambda: ready(app))
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, ModelPicker))
        picker = app.screen
        assert isinstance(picker, ModelPicker)
        labels = [e.label for e in picker.all]
        assert labels[:2] == ["one.gguf", "two.gguf"]
        assert "tiny-chat @ box" in labels and "other-model @ box" in labels
        gone = next(e for e in picker.all if e.label == "gone: unreachable")
        assert "connection was refused" in gone.describe() and gone.ref is None
        await pilot.press("escape")
        await pick(pilot, app, "tiny", "", "0", keys=False)
        await wait_for(pilot, lambda: ready(app) and screen.status.model == "tiny-chat @ box")
        assert "box (http://127.0.0.1" in str(screen.loader.query_one("#model-meta").render())
        assert "not visible here" in str(screen.vram.query_one("#vram-text").render())
        screen.prompt.text = "Hello server"
        await pilot.press("enter")
        await wait_for(pilot, lambda: idle(app) and bool(replies(app))
                       and "tok/s" in note(replies(app)[0]))
        answer = replies(app)[0]
        assert answer.text == "Served answer." and answer.title == "tiny-chat @ box"
        assert answer.thinking == "Thinking it over. "  # apart from the reply's text
        server.scripts["/v1/chat/completions"] = Script(500, pieces=[
            b'{"error": {"message": "out of memory"}}'])
        screen.prompt.text = "Again"
        await pilot.press("enter")
        await wait_for(pilot, lambda: idle(app) and len(replies(app)) == 2
                       and "⚠" in note(replies(app)[1]))
        assert "out of memory" in note(replies(app)[1])
        server.scripts["/v1/chat/completions"] = Script(pieces=reply("Fine."))
        screen.prompt.text = "Once more"
        await pilot.press("enter")
        await wait_for(pilot, lambda: idle(app) and len(replies(app)) == 3
                       and replies(app)[2].text == "Fine.")
