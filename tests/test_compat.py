"""The Textual internals PyChat relies on (pychat/ui/compat.py) are still what it expects.

If one of these fails after a Textual upgrade, the named function in compat.py needs a new
route; the leak it plugs is measured by test_app.py::test_picker_switches_leave_no_widgets_behind.
"""

from __future__ import annotations

import functools

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Static

from pychat.ui import compat


def test_styles_cache_still_has_the_lru_cache_we_empty() -> None:
    from textual._styles_cache import StylesCache

    method = StylesCache.get_inner_outer
    assert hasattr(method, "cache_clear") and hasattr(method, "cache_info"), (
        "StylesCache.get_inner_outer is no longer an lru_cache: drop or rework "
        "compat.forget_dead_styles_caches")
    assert isinstance(method, functools._lru_cache_wrapper)
    assert compat.forget_dead_styles_caches() is True
    assert method.cache_info().currsize == 0


async def test_running_intervals_finds_a_repeating_timer_and_not_a_paused_one() -> None:
    class Ticking(Static):
        def on_mount(self) -> None:
            self.ticker = self.set_interval(0.05, lambda: None, name="ticker")
            self.set_interval(0.05, lambda: None, name="sleeper", pause=True)
            self.set_timer(5, lambda: None, name="once")

    class Probe(App[None]):
        def compose(self) -> ComposeResult:
            yield Ticking()

    app = Probe()
    async with app.run_test() as pilot:
        await pilot.pause(0.1)
        assert compat.running_intervals(app) == ["ticker on Ticking"]
        app.query_one(Ticking).ticker.pause()
        assert compat.running_intervals(app) == []


def test_the_xterm_parser_turns_bytes_into_keys_and_pastes() -> None:
    from textual import events

    parser = compat.xterm_parser()
    out = list(parser.feed("a\x1b[200~pasted\x1b[201~\r"))
    assert [type(m).__name__ for m in out] == ["Key", "Paste", "Key"]
    assert isinstance(out[1], events.Paste) and out[1].text == "pasted"
    assert list(parser.tick()) == []


async def test_textual_serve_still_builds_its_application_in_make_app() -> None:
    pytest.importorskip("textual_serve")
    from aiohttp import web
    from textual_serve.server import Server

    application = await compat.textual_serve_application(Server("true"))
    assert isinstance(application, web.Application)
    paths = {resource.canonical for resource in application.router.resources()}
    assert {"/", "/ws", "/static"} <= paths
