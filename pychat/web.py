"""``pychat serve``: the full app in a browser tab, through textual-serve.

textual-serve starts one app process per browser tab, and asks no one who they are. Served
as it is, every tab would load its own copy of the model, and anyone who reaches the port
could read every kept chat. ``GuardedServer`` adds, around textual-serve's own handlers:

- a secret token: the printed URL carries it, the page sets it as a cookie (HttpOnly,
  SameSite=Strict), and every other request (assets, the websocket) must carry it; a
  request without it gets 403 and starts no app;
- a session limit: a tab beyond it gets a page that says PyChat is open elsewhere, and no
  app process. A reload meets that page too — the browser keeps the old page, and its
  app, until the new page arrives — so the page asks for a few seconds whether a slot
  came free, and loads the app when one did;
- a page that asks nothing of the internet (textual-serve's links a web font).

The app run in each tab is the same ``python -m pychat`` with ``PYCHAT_SERVED=1``, which
gives the commands whose keys browsers keep for themselves keys that reach the page.
Closing the tab quits that app, and its model goes with its process.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import re
import secrets
import shlex
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

COOKIE = "pychat_token"
SLOT_WAIT = 3.0
"""Seconds an app's websocket waits for a slot (two tabs opened at the same moment)."""


def web_missing() -> str:
    """Why ``pychat serve`` cannot run ("" when it can)."""
    try:
        import textual_serve.server  # noqa: F401
    except ImportError:
        return "pychat serve needs the web extra: pip install 'pychat[web]'"
    return ""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServeOptions:
    host: str
    port: int
    sessions: int
    token: str
    """"" = no token (only allowed on a loopback address)."""
    command: str
    """The shell command that runs one app."""
    public_url: str = ""


def app_command(app_args: list[str]) -> str:
    """The shell command that runs one served app with ``app_args``."""
    return shlex.join(["env", "PYCHAT_SERVED=1", sys.executable, "-m", "pychat", *app_args])


def new_token() -> str:
    return secrets.token_urlsafe(24)


def page_url(options: ServeOptions) -> str:
    base = options.public_url or f"http://{_url_host(options.host)}:{options.port}"
    return f"{base}/?token={options.token}" if options.token else f"{base}/"


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        import socket

        return socket.gethostname()
    return f"[{host}]" if ":" in host else host


FONT_LINK = re.compile(r'<link[^>]*fonts\.googleapis\.com[^>]*>\s*', re.IGNORECASE)

BUSY_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>PyChat is open in another tab</title>
<style>body{{background:#0c181f;color:#e0e0e0;font-family:monospace;margin:4em;}}</style>
</head><body>
<h1>PyChat is open in another tab</h1>
<p>This server runs {limit} PyChat session{s} at a time, each with its own model loaded.
Close the other tab (or quit PyChat there with {quit}), then reload this page.</p>
<p>To allow more at once, start it with <code>pychat serve --sessions N</code>: each
session loads the model again.</p>
<script>
// A reload lands here while the page it replaces still holds the session: that page
// lets go as this one arrives, so look again for a few seconds.
let tries = 0;
const timer = setInterval(async () => {{
  tries += 1;
  if (tries > 20) {{ clearInterval(timer); return; }}
  try {{
    const answer = await fetch("slot", {{cache: "no-store"}});
    if ((await answer.json()).free) {{ clearInterval(timer); location.reload(); }}
  }} catch (error) {{}}
}}, 500);
</script>
</body></html>
"""

FORBIDDEN = ("This PyChat server needs its token: open the URL `pychat serve` printed "
             "(it ends in ?token=…).")


def build_server(options: ServeOptions) -> Any:
    """The textual-serve ``Server`` with PyChat's guards (see the module docstring)."""
    import aiohttp_jinja2
    from aiohttp import web
    from textual_serve.server import Server

    class GuardedServer(Server):
        def __init__(self) -> None:
            super().__init__(options.command, host=options.host, port=options.port,
                             title="PyChat", public_url=options.public_url or None)
            self.active = 0
            self.freed = asyncio.Condition()

        async def _make_app(self) -> web.Application:
            from pychat.ui.compat import textual_serve_application

            app: web.Application = await textual_serve_application(super())
            app.middlewares.append(self.guard)
            app.router.add_get("/slot", self.handle_slot)
            return app

        async def handle_slot(self, request: web.Request) -> web.Response:
            return web.json_response({"free": self.active < options.sessions})

        @web.middleware
        async def guard(self, request: web.Request,
                        handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                        ) -> web.StreamResponse:
            given = request.query.get("token") or request.cookies.get(COOKIE, "")
            if options.token and not hmac.compare_digest(given.encode(),
                                                         options.token.encode()):
                return web.Response(status=403, text=FORBIDDEN)
            response = await handler(request)
            if options.token and request.query.get("token"):
                response.set_cookie(COOKIE, options.token, httponly=True,
                                    samesite="Strict", path="/")
            return response

        async def _slot_free(self) -> bool:
            """True once fewer than ``sessions`` apps run (waiting a little)."""
            async with self.freed:
                try:
                    await asyncio.wait_for(self.freed.wait_for(
                        lambda: self.active < options.sessions), SLOT_WAIT)
                except TimeoutError:
                    return False
            return True

        async def handle_index(self, request: web.Request) -> web.StreamResponse:
            if self.active >= options.sessions:
                from pychat.commands import BROWSER_KEYS

                quit_key = BROWSER_KEYS["app.quit"]
                return web.Response(status=409, content_type="text/html", text=BUSY_PAGE.format(
                    limit=options.sessions, s="" if options.sessions == 1 else "s",
                    quit=quit_key))
            context = await self.page_context(request)
            response = aiohttp_jinja2.render_template("app_index.html", request, context)
            if response.text is not None:
                response.text = FONT_LINK.sub("", response.text)
            return response

        async def page_context(self, request: web.Request) -> dict[str, Any]:
            """textual-serve's page, its links made from the address the browser used
            (so the token cookie goes with them however the host is written)."""
            base = options.public_url or f"{request.scheme}://{request.host}"
            websocket = ("wss" if base.startswith("https") else "ws") + base[base.index(":"):]
            return {"font_size": 16, "app_websocket_url": f"{websocket}/ws",
                    "config": {"static": {"url": f"{base}/static/"}},
                    "application": {"name": "PyChat"}}

        async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
            if not await self._slot_free():  # two tabs opened at once: one gets the slot
                refused = web.WebSocketResponse()
                await refused.prepare(request)
                await refused.close(code=1013, message=b"PyChat is open in another tab")
                return refused
            self.active += 1
            try:
                return await super().handle_websocket(request)
            finally:
                async with self.freed:
                    self.active -= 1
                    self.freed.notify_all()

        async def on_startup(self, app: web.Application) -> None:
            """Nothing: textual-serve prints its banner here, before the port listens;
            PyChat's comes from ``serve`` once it does."""

        def serve(self, debug: bool = False) -> None:
            """textual-serve's ``serve``, with the URL printed once the port listens: aiohttp
            calls ``print`` after it binds (``on_startup`` runs before, and a browser sent
            to the URL at once could meet a refused connection)."""
            self.debug = debug
            self.initialize_logging()
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            for signum in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError):
                    loop.add_signal_handler(signum, self.request_exit)
            web.run_app(self._make_app(), host=self.host, port=self.port, loop=loop,
                        handle_signals=False, print=lambda _banner: announce(options))


        def initialize_logging(self) -> None:
            """textual-serve's logger shows tracebacks with locals: keep it to warnings."""
            import logging

            logging.basicConfig(level=logging.WARNING, format="pychat serve: %(message)s")

    return GuardedServer()


def announce(options: ServeOptions) -> None:
    allowed = options.sessions
    print(f"PyChat is served at {page_url(options)}", flush=True)
    print(f"{allowed} session{'s' if allowed != 1 else ''} at a time (each tab runs its own "
          "PyChat and model); Ctrl+C stops the server.", flush=True)


def serve(options: ServeOptions) -> int:
    """Run the server until Ctrl+C (or SIGTERM)."""
    server = build_server(options)
    try:
        server.serve()
    except OSError as exc:  # the port is taken, the address is not ours …
        print(f"pychat: cannot serve on {options.host}:{options.port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    return 0
