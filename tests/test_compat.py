"""The Textual internals PyChat relies on (pychat/ui/compat.py) are still what it expects.

If one of these fails after a Textual upgrade, the named function in compat.py needs a new
route; the leak it plugs is measured by test_app.py::test_picker_switches_leave_no_widgets_behind.
"""

from __future__ import annotations

import functools

from textual.app import App, ComposeResult
from textual.reactive import reactive
from textual.widget import Widget
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


class Bound(Static):
    value: reactive[int] = reactive(0)


class Holder(Widget):
    """Like Textual's Footer: composes children bound to its own reactive."""

    value: reactive[int] = reactive(0)

    def compose(self) -> ComposeResult:
        yield Bound(id="bound").data_bind(value=Holder.value)


class BindApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Holder(id="holder")


async def test_data_bind_watchers_live_where_compat_looks_and_dead_ones_go() -> None:
    app = BindApp()
    async with app.run_test() as pilot:
        holder = app.query_one(Holder)
        bound = holder.query_one(Bound)
        watchers = getattr(holder, compat.WATCHERS_ATTRIBUTE, None)
        assert watchers, (f"Textual no longer keeps reactive watchers in "
                          f"{compat.WATCHERS_ATTRIBUTE!r}: rework compat.prune_dead_watchers")
        assert any(owner is bound for owner, _ in watchers["value"])
        await bound.remove()
        await pilot.pause()
        assert compat.prune_dead_watchers(holder) >= 1
        assert not any(owner is bound for owner, _ in watchers["value"])
        assert compat.prune_dead_watchers(holder) == 0
