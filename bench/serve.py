"""Section: ``pychat serve`` in a headless Chromium — page open to first frame, and the
bytes a streamed reply costs over the websocket, beside the pty figures of the same reply."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import IGNORE_EOS_ENV, N_CTX, PROMPT, SEED, fmt, median, wait_trace
from pychat.engine.embedded import GEMMA

TITLE = "serve"
TOKENS = 200


def _config(folder: Path, model: Path) -> Path:
    config = folder / "config.toml"
    config.write_text(
        f'models_dir = "{folder}"\ndefault_model = "{model}"\nsystem_prompt = ""\n'
        f'history_file = "{folder / "history.sqlite3"}"\n'
        f"[sampling]\nmax_tokens = {TOKENS}\nseed = {SEED}\ntemperature = 0.7\n"
        f'[models."{model}"]\nn_ctx = {N_CTX}\nchat_format = "gemma"\n')
    return config


async def _one_tab(url: str, trace: Path) -> dict:
    from tests.support.browser import Chromium

    chromium = Chromium(1200, 800)
    tab = await chromium.new_tab()
    result: dict = {}
    try:
        opened = time.time()
        await tab.open(url)
        while not tab.received and time.time() - opened < 60:
            await asyncio.sleep(0.005)
        result["first_byte_s"] = tab.first_frame_at - opened if tab.first_frame_at else None
        await tab.wait_for(lambda s: "Chat" in s and "Message" in s, 60)
        result["first_frame_s"] = time.time() - opened
        await tab.wait_for(lambda s: "ready" in s, 120)
        result["model_ready_s"] = time.time() - opened
        result["size"] = f"{tab.screen.columns}x{tab.screen.lines}"
        await asyncio.sleep(0.5)  # the load's last repaints
        await tab.focus_terminal()
        await tab.type(PROMPT)
        sent = time.time()
        await tab.press("enter")
        started = wait_trace(trace, "reply_started", 30, after=sent)
        finished = None
        while finished is None and time.time() - sent < 600:
            await asyncio.sleep(0.1)
            finished = wait_trace(trace, "finished", 0.0, after=sent)
        await asyncio.sleep(0.3)
        tokens = finished["tokens"] if finished else 0
        if started and finished:
            sent_bytes = tab.bytes_between(started["t"], finished["t"] + 0.2)
            result.update({"tokens": tokens, "bytes": sent_bytes,
                           "bytes_per_token": sent_bytes / tokens if tokens else None,
                           "bytes_per_s": sent_bytes / (finished["t"] + 0.2 - started["t"])})
    finally:
        await tab.close()
        chromium.close()
    return result


def run(quick: bool) -> dict:
    from tests.support.browser import CHROMIUM

    if not CHROMIUM:
        return {"skipped": "no chromium"}
    from pychat.web import web_missing

    if web_missing():
        return {"skipped": web_missing()}
    folder = Path(tempfile.mkdtemp(prefix="pychat-bench-serve-"))
    config = _config(folder, GEMMA.ensure())
    trace = folder / "trace.jsonl"
    port = 8700 + (int(time.time()) % 200)
    env = {"PYCHAT_TRACE": str(trace), IGNORE_EOS_ENV: "1"}
    import os

    server = subprocess.Popen(
        [sys.executable, "-m", "pychat", "serve", "--port", str(port), "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, **env})
    try:
        assert server.stdout is not None
        found = re.search(r"http://\S+", server.stdout.readline())
        if not found:
            return {"skipped": "pychat serve printed no URL"}
        runs = [asyncio.run(_one_tab(found.group(0), trace)) for _ in range(1 if quick else 3)]
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(folder, ignore_errors=True)
    print("serve: " + json.dumps(runs), flush=True)
    return {"runs": runs}


def render(results: dict) -> list[str]:
    serve = results["serve"]
    if "skipped" in serve:
        return ["## In a browser tab (pychat serve)", "", f"Not measured: {serve['skipped']}.",
                ""]
    runs = serve["runs"]
    tui = results.get("tui", {})
    streams = tui.get("streams", []) if isinstance(tui, dict) else []
    pty = next((t for t in streams
                if t["size"] == "120x40" and t["tokens_requested"] == TOKENS), None)
    def middle(key: str, spec: str, unit: str = "") -> str:
        return fmt(median([r[key] for r in runs if r.get(key)]), spec, unit)

    lines = ["## In a browser tab (pychat serve)", "",
             f"Headless Chromium (1200×800 window, terminal {runs[0].get('size')}), the demo "
             f"model, {TOKENS}-token reply; median of {len(runs)} page opens.", "",
             "| page open → first byte | → first frame | → model ready | bytes/token (websocket) "
             "| bytes/s | bytes/token in the pty (120x40) |",
             "| --- | --- | --- | --- | --- | --- |",
             f"| {middle('first_byte_s', '.2f', ' s')} | {middle('first_frame_s', '.2f', ' s')} "
             f"| {middle('model_ready_s', '.2f', ' s')} | {middle('bytes_per_token', '.0f')} "
             f"| {middle('bytes_per_s', '.0f')} "
             f"| {fmt(pty['bytes_per_token'] if pty else None, '.0f')} |", "",
             "Page open: `Page.navigate` until the first binary websocket frame (the app's "
             "first output), then until the screen rebuilt from those frames shows the chat "
             "pane and the message box. Each tab starts its own PyChat, so this includes the "
             "app's start-up. Bytes: the app's output frames the browser received from the "
             "reply's start to 0.2 s after its end. The served app diffs its frames as in a "
             "terminal (`DiffingWebDriver`); each websocket frame adds its own framing, and "
             "the tab's terminal is larger than the pty's 120x40.", ""]
    return lines
