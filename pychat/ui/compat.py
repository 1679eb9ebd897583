"""The few places where PyChat relies on Textual internals, each in one small function.

Every function here is checked by ``tests/test_compat.py`` against the installed Textual:
when an upgrade changes what one relies on, that test fails and names it, instead of a leak
or a crash turning up in use. Keep this list short; prefer a public route when one appears.
"""

from __future__ import annotations

from typing import Any


def forget_dead_styles_caches() -> bool:
    """Empty the ``lru_cache`` on ``StylesCache.get_inner_outer`` (it maps two colours to
    two styles); returns False when this Textual has no such cache.

    The cache sits on a method, so it keeps the last 1024 widgets' style caches alive, each
    with every line it rendered.
    """
    try:
        from textual._styles_cache import StylesCache
    except ImportError:
        return False
    cache_clear = getattr(StylesCache.get_inner_outer, "cache_clear", None)
    if cache_clear is None:
        return False
    cache_clear()
    return True


def handle_exception_method() -> str:
    """The name of the App method Textual calls with an exception no handler caught.

    PyChatApp overrides it to keep the exception (and its traceback) for the crash log:
    Textual exposes only ``return_code`` after a crash, not what crashed."""
    return "_handle_exception"


def running_intervals(app: Any) -> list[str]:
    """Timers that fire again and again and are not paused, on the app and every node of
    every screen: what keeps an idle app busy ("Timer#3 on LoadingIndicator()").

    Textual keeps a node's timers in ``_timers``; a repeating timer has no repeat count,
    a started one a task, and a running one its ``_active`` event set."""
    nodes = [app, *app.screen_stack]
    for screen in app.screen_stack:
        nodes += list(screen.walk_children(with_self=False))
    found = []
    for node in nodes:
        for timer in list(getattr(node, "_timers", ())):
            if timer._repeat is None and timer._task is not None and timer._active.is_set():
                found.append(f"{timer.name} on {type(node).__name__}")
    return found


def xterm_parser(debug: bool = False) -> Any:
    """Textual's parser of terminal input (keys, pastes, mouse, resize reports): the driver
    reads the terminal itself to see where one read ends (``ui/terminal.py``)."""
    from textual._xterm_parser import XTermParser

    return XTermParser(debug)


async def textual_serve_application(server: Any) -> Any:
    """The aiohttp application textual-serve builds for ``server`` (its routes: the page,
    the websocket, downloads, static files). ``Server._make_app`` is the only way to get
    it; ``pychat serve`` adds its guard middleware and one route to it."""
    return await server._make_app()
