"""``pychat serve`` in a real headless Chromium: the first frame, a streamed reply from the
default model with keys only, Escape, a reload with the chat kept, a second tab turned
away, a closed tab ending its app; and the token that keeps everyone else out."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from pychat.web import web_missing
from tests.support.browser import ALT, CHROMIUM, Chromium
from tests.support.processes import stop

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(bool(web_missing()), reason=web_missing() or "ok")]
REPO = Path(__file__).resolve().parent.parent
SCREENSHOT = REPO / "build" / "test-artifacts" / "serve-after-reply.png"
needs_chromium = pytest.mark.skipif(not CHROMIUM, reason="no chromium (apt-get install chromium)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Served:
    """``pychat serve ARGS`` running, and the URL it printed."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pychat", "serve", "--port", str(self.port), *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert self.process.stdout is not None
        self.lines = [self.process.stdout.readline(), self.process.stdout.readline()]
        found = re.search(r"http://\S+", self.lines[0])
        assert found, self.lines
        self.url = found.group(0)

    def apps(self) -> list[psutil.Process]:
        """The PyChat apps it runs now (one per open tab)."""
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        found = []
        for child in children:
            try:
                line = child.cmdline()
            except psutil.Error:
                continue
            if "pychat" in line and "serve" not in line and "env" not in line[:1]:
                found.append(child)
        return found

    def close(self) -> None:
        stop(self.process)


@pytest.fixture
def chromium() -> Iterator[Chromium]:
    browser = Chromium()
    yield browser
    browser.close()


def status(url: str, cookie: str = "") -> int:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@needs_chromium
async def test_chat_in_a_browser_tab_with_keys_only(chromium: Chromium,
                                                    smollm_model: Path) -> None:
    served = Served()
    try:
        assert served.url.startswith(f"http://127.0.0.1:{served.port}/?token=")
        assert "1 session at a time" in served.lines[1]
        tab = await chromium.new_tab()
        await tab.open(served.url)
        await tab.wait_for(lambda s: "ready" in s and "Message" in s, 90)
        assert "googleapis" not in str(await tab.evaluate("document.documentElement.outerHTML"))
        await tab.focus_terminal()
        await tab.type("Tell me a long story about a brave cat.")
        await tab.press("enter")
        await tab.wait_for(lambda s: "answering" in s, 30)
        await tab.press("escape")
        await tab.wait_for(lambda s: "stopped" in s, 30)
        await tab.type("Say hello.")
        await tab.press("enter")
        # Two replies' lines and the status line each give a TTFT.
        await tab.wait_for(lambda s: s.count("TTFT") >= 3 and "ready" in s, 60)
        await asyncio.sleep(0.5)  # the canvas draws on the next animation frame
        # The app fills the tab: its footer is on the terminal's last line (a driver that
        # overwrote Textual's record of the size once left the app 25 lines tall).
        assert tab.screen.lines > 30 and "Commands" in tab.screen.display[-1]
        await tab.screenshot(SCREENSHOT)
        assert SCREENSHOT.stat().st_size > 10_000
        # alt+c copies the last reply: OSC 52 reaches the page, whose terminal hands it
        # to the browser's clipboard where the browser allows it.
        await tab.press("c", ALT)
        await tab.wait_for(lambda s: "Copied" in s, 10)
        assert b"\x1b]52;c;" in tab.received
        print(f"screenshot: {SCREENSHOT}")
        assert len(served.apps()) == 1
        # A second tab is turned away with a page that says why, and starts no app.
        second = await chromium.new_tab()
        await second.open(served.url)
        deadline = time.monotonic() + 15
        while "open in another tab" not in await second.body_text():
            assert time.monotonic() < deadline, await second.body_text()
            await second.wait_for(lambda s: True, 0.2)
        assert len(served.apps()) == 1
        chromium.close_tab(second)
        # A reload starts a fresh app; the chat is kept (alt+h lists the kept chats).
        first_app = served.apps()[0].pid
        await tab.call("Page.reload")
        await tab.wait_for(lambda s: "ready" in s and "brave cat" not in s, 90)
        assert [p.pid for p in served.apps()] != [first_app]
        await tab.focus_terminal()
        await tab.press("h", ALT)
        await tab.wait_for(lambda s: "brave cat" in s, 20)
        # Closing the tab ends its app (and so frees its model).
        chromium.close_tab(tab)
        deadline = time.monotonic() + 15
        while served.apps():
            assert time.monotonic() < deadline, "the app outlived its tab"
            time.sleep(0.1)
        await tab.close()
        await second.close()
    finally:
        served.close()


@needs_chromium
async def test_an_app_ends_when_its_server_is_killed(chromium: Chromium,
                                                     smollm_model: Path) -> None:
    """A killed server (kill -9, a crash) leaves its tab's app with its input closed: the
    app quits, and its model goes with it, instead of running on with no one to see it."""
    served = Served()
    try:
        tab = await chromium.new_tab()
        await tab.open(served.url)
        await tab.wait_for(lambda s: "ready" in s and "Message" in s, 90)
        apps = served.apps()
        assert len(apps) == 1
        served.process.kill()
        served.process.wait(10)
        deadline = time.monotonic() + 15
        while any(app.is_running() and app.status() != psutil.STATUS_ZOMBIE for app in apps):
            assert time.monotonic() < deadline, "the app outlived its server"
            time.sleep(0.1)
        await tab.close()
    finally:
        served.close()


async def test_without_the_token_nothing_is_served_and_no_app_starts(
        smollm_model: Path) -> None:
    served = Served("--host", "0.0.0.0")
    try:
        token = served.url.split("token=")[1]
        base = f"http://127.0.0.1:{served.port}"
        assert status(f"{base}/") == 403
        assert status(f"{base}/?token=wrong{token}") == 403
        assert status(f"{base}/static/js/textual.js") == 403
        assert status(f"{base}/ws?width=80&height=24") == 403
        assert status(f"{base}/ws", cookie=f"pychat_token=x{token}") == 403
        assert served.apps() == []
        assert status(f"{base}/?token={token}") == 200
        assert status(f"{base}/static/js/textual.js", cookie=f"pychat_token={token}") == 200
    finally:
        served.close()


def test_no_token_is_refused_off_the_loopback_address() -> None:
    done = subprocess.run([sys.executable, "-m", "pychat", "serve", "--host", "0.0.0.0",
                           "--no-token"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.startswith("pychat: --no-token is only allowed on a loopback address")
