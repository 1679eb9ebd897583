"""The driver of a browser tab (``pychat serve``): Textual's web driver, with each frame
passed through the same `ScreenDiff` as in a terminal. The page draws with xterm.js, a
terminal emulator, so a piece it already shows need not cross the websocket again
(without it a streamed reply cost 387 bytes per token there, against ~100 in a pty)."""

from __future__ import annotations

from typing import Any

from textual.drivers.web_driver import WebDriver

from pychat.ui.terminal import ScreenDiff

WEB_DRIVER = "textual.drivers.web_driver:WebDriver"
"""What textual-serve sets ``TEXTUAL_DRIVER`` to for the apps it runs."""


class DiffingWebDriver(WebDriver):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._diff = ScreenDiff()

    def run_input_thread(self) -> None:
        """Textual's input loop, then: input that ended while the app still runs means the
        server that started this tab is gone (stopped, or killed). Textual's loop just
        returns there, and the app, with its model, stayed running with no one to see it."""
        super().run_input_thread()
        if not self.exit_event.is_set():
            from textual import messages

            self._app.post_message(messages.ExitApp())

    def write(self, data: str) -> None:
        size = (self._app.size.width, self._app.size.height)  # a resized page reflows
        no_color = bool(getattr(self._app, "no_color", False))
        super().write(self._diff.frame(data, size, no_color))
