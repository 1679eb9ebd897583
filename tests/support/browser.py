"""A real headless Chromium driven over the DevTools protocol (no Selenium): open pages,
press keys as a user would, read the terminal the page shows, take screenshots.

The served page draws the terminal on a canvas (xterm.js), so its text is not in the
DOM. What the page shows is rebuilt instead from the bytes the browser receives on the
app's websocket (``Network.webSocketFrameReceived``), fed to a pyte screen of the
terminal's size: the same bytes xterm.js draws.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyte

from tests.support.processes import stop

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or ""

KEYS = {  # DevTools key events for the named keys the tests press
    "enter": {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "text": "\r"},
    "escape": {"key": "Escape", "code": "Escape", "windowsVirtualKeyCode": 27},
    "up": {"key": "ArrowUp", "code": "ArrowUp", "windowsVirtualKeyCode": 38},
    "down": {"key": "ArrowDown", "code": "ArrowDown", "windowsVirtualKeyCode": 40},
}
ALT = 1


class Chromium:
    """One headless Chromium with its own profile, on a DevTools port of its own."""

    def __init__(self, width: int = 1200, height: int = 800) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="pychat-chromium-"))
        self.process = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--remote-debugging-port=0", f"--user-data-dir={self.profile}",
             f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.port = self._devtools_port()

    def _devtools_port(self, timeout: float = 30.0) -> int:
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker.exists() and marker.read_text().strip():
                return int(marker.read_text().split()[0])
            if self.process.poll() is not None:
                raise RuntimeError("chromium exited at start")
            time.sleep(0.05)
        raise RuntimeError("chromium did not open its DevTools port")

    def _json(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    async def new_tab(self) -> Tab:
        target = self._json("/json/new?about:blank", method="PUT")
        tab = Tab(target["id"], target["webSocketDebuggerUrl"])
        await tab.connect()
        return tab

    def close_tab(self, tab: Tab) -> None:
        urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/close/{tab.target_id}",
                               timeout=10).read()

    def close(self) -> None:
        stop(self.process)
        shutil.rmtree(self.profile, ignore_errors=True)


class Tab:
    """A page, its DevTools session, and the terminal its websocket draws."""

    def __init__(self, target_id: str, url: str) -> None:
        self.target_id, self.url = target_id, url
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.received = bytearray()
        """Every binary frame the page's websockets received (the app's output)."""
        self.frames: list[tuple[float, int]] = []
        """(time.time(), bytes) of each binary frame received."""
        self.first_frame_at = 0.0
        self.screen = pyte.Screen(80, 24)
        self.stream = pyte.ByteStream(self.screen)
        self.closed_sockets = 0

    async def connect(self) -> None:
        import aiohttp

        self.http = aiohttp.ClientSession()
        self.socket = await self.http.ws_connect(self.url, max_msg_size=0)
        self.reader = asyncio.create_task(self._read())
        await self.call("Network.enable")
        await self.call("Page.enable")
        await self.call("Runtime.enable")

    async def _read(self) -> None:
        async for message in self.socket:
            data = json.loads(message.data)
            if "id" in data:
                future = self.pending.pop(data["id"], None)
                if future is not None and not future.done():
                    future.set_result(data)
            elif data.get("method") == "Network.webSocketFrameReceived":
                frame = data["params"]["response"]
                if frame.get("opcode") == 2:  # binary: the app's terminal output
                    chunk = base64.b64decode(frame["payloadData"])
                    now = time.time()
                    self.received += chunk
                    self.frames.append((now, len(chunk)))
                    self.first_frame_at = self.first_frame_at or now
                    self.stream.feed(chunk)
            elif data.get("method") == "Network.webSocketCreated":
                # ws://…/ws?width=W&height=H: the terminal's size as xterm.js fitted it.
                # A new app (a page opened or reloaded): a new screen.
                self.screen.reset()
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(data["params"]["url"]).query)
                if "width" in query and "height" in query:
                    self.resize(int(query["width"][0]), int(query["height"][0]))
            elif data.get("method") == "Network.webSocketFrameSent":
                self._maybe_resized(data["params"]["response"])
            elif data.get("method") == "Network.webSocketClosed":
                self.closed_sockets += 1

    def _maybe_resized(self, frame: dict[str, Any]) -> None:
        if frame.get("opcode") != 1:
            return
        try:
            kind, data = json.loads(frame["payloadData"])
        except (ValueError, TypeError):
            return
        if kind == "resize":
            self.resize(int(data["width"]), int(data["height"]))

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self.ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[number] = future
        await self.socket.send_json({"id": number, "method": method, "params": params})
        answer = await asyncio.wait_for(future, 30)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    def bytes_between(self, start: float, end: float) -> int:
        return sum(size for when, size in self.frames if start <= when <= end)

    async def open(self, url: str) -> None:
        self.received.clear()
        self.first_frame_at = 0.0
        self.screen.reset()
        await self.call("Page.navigate", url=url)

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression,
                                 returnByValue=True)
        return result.get("result", {}).get("value")

    async def body_text(self) -> str:
        return str(await self.evaluate("document.body ? document.body.innerText : ''"))

    def resize(self, columns: int, lines: int) -> None:
        self.screen.resize(lines, columns)

    def text(self) -> str:
        return "\n".join(self.screen.display)

    async def wait_for(self, condition: Callable[[str], bool], timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.text()
            if condition(text):
                return text
            await asyncio.sleep(0.05)
        raise AssertionError(f"the page never showed it; last screen:\n{self.text()}")

    async def focus_terminal(self) -> None:
        await self.evaluate("document.querySelector('.xterm-helper-textarea').focus()")

    async def type(self, text: str) -> None:
        for char in text:
            await self.call("Input.dispatchKeyEvent", type="keyDown", text=char, key=char,
                            unmodifiedText=char)
            await self.call("Input.dispatchKeyEvent", type="keyUp", key=char)

    async def press(self, name: str, modifiers: int = 0) -> None:
        if name in KEYS:
            event = dict(KEYS[name])
        else:  # a letter, with alt: xterm.js sends Esc + the letter
            event = {"key": name, "code": f"Key{name.upper()}",
                     "windowsVirtualKeyCode": ord(name.upper())}
        await self.call("Input.dispatchKeyEvent", type="rawKeyDown" if "text" not in event
                        else "keyDown", modifiers=modifiers, **event)
        await self.call("Input.dispatchKeyEvent", type="keyUp", modifiers=modifiers,
                        **{k: v for k, v in event.items() if k != "text"})

    async def screenshot(self, path: Path) -> Path:
        shot = await self.call("Page.captureScreenshot", format="png")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    async def close(self) -> None:
        self.reader.cancel()
        await self.socket.close()
        await self.http.close()
