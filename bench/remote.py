"""Section: chatting through a server — PyChat's remote backend against a bare httpx SSE
loop on the same local server (llama-cpp-python's, serving the default model), and what a
configured server adds to start-up."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import PtyApp, fmt, median
from pychat.config import Sampling, ServerSettings
from pychat.engine.base import LoadSpec, ModelRef
from pychat.engine.embedded import SMOLLM2
from pychat.engine.remote import RemoteBackend
from tests.support.llama_server import LlamaServer

TITLE = "remote"
QUESTION = "Write a short story about a lighthouse keeper and a storm."
SAMPLING = Sampling(temperature=0.0, top_p=1.0, max_tokens=200, seed=1)


def bare_loop(url: str) -> dict:
    """The least a client can do: one POST, read the lines, parse each event."""
    import httpx

    body = {"model": "smollm", "messages": [{"role": "user", "content": QUESTION}],
            "stream": True, "temperature": SAMPLING.temperature, "top_p": SAMPLING.top_p,
            "max_tokens": SAMPLING.max_tokens, "seed": SAMPLING.seed}
    started = time.perf_counter()
    first = last = 0.0
    pieces = 0
    with httpx.Client(timeout=None) as client, \
            client.stream("POST", f"{url}/chat/completions", json=body) as response:
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            delta = json.loads(line[6:])["choices"][0]["delta"].get("content")
            if delta:
                last = time.perf_counter()
                first = first or last
                pieces += 1
    return {"ttft_s": first - started, "tok_s": (pieces - 1) / (last - first),
            "pieces": pieces}


def through_pychat(backend: RemoteBackend) -> dict:
    stream = backend.stream_chat([{"role": "user", "content": QUESTION}], SAMPLING)
    pieces = sum(1 for _ in stream)
    stats = stream.stats
    return {"ttft_s": stats.time_to_first_token, "tok_s": stats.tokens_per_second,
            "pieces": pieces}


def first_paint(config: Path, folder: Path, args: list[str]) -> float | None:
    app = PtyApp(["-m", "pychat", "--config", str(config), *args], 120, 40, cwd=folder)
    try:
        painted = app.wait_for_bytes(b"Chat", app.started, 30)
        return painted - app.started if painted else None
    finally:
        app.quit()


def run(quick: bool) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="pychat-remote-"))
    server = LlamaServer(SMOLLM2.ensure(), folder / "server.log", n_ctx=4096)
    repeats = 2 if quick else 5
    try:
        backend = RemoteBackend("local", ServerSettings(base_url=server.url))
        backend.load(LoadSpec(ModelRef.remote("local"), n_ctx=0))
        bare_loop(server.url)  # warm: the server's prompt cache holds the question
        runs: dict[str, list[dict]] = {"bare": [], "pychat": []}
        for _ in range(repeats):  # interleaved, so drift hits both alike
            runs["bare"].append(bare_loop(server.url))
            runs["pychat"].append(through_pychat(backend))
        backend.shutdown()
        config = folder / "config.toml"
        config.write_text(f'models_dir = "{folder}"\n[servers.local]\nbase_url = '
                          f'"{server.url}"\n')
        starts = {"local file": [first_paint(config, folder, [])
                                 for _ in range(2 if quick else 3)],
                  "server": [first_paint(config, folder, ["--server", "local"])
                             for _ in range(2 if quick else 3)]}
    finally:
        server.kill()
    return {"runs": runs, "first_paint_s": starts}


def render(results: dict) -> list[str]:
    r = results[TITLE]

    def med(kind: str, key: str) -> float:
        return statistics.median(run[key] for run in r["runs"][kind])

    ratio = med("pychat", "tok_s") / med("bare", "tok_s")
    overhead = (med("pychat", "ttft_s") - med("bare", "ttft_s")) * 1000
    starts = {k: median([v for v in values if v is not None])
              for k, values in r["first_paint_s"].items()}
    return ["## Through a server", "",
            "| client | tok/s | time to first token |", "| --- | --- | --- |",
            f"| bare httpx SSE loop | {med('bare', 'tok_s'):.2f} | "
            f"{med('bare', 'ttft_s') * 1000:.0f} ms |",
            f"| PyChat's remote backend | {med('pychat', 'tok_s'):.2f} | "
            f"{med('pychat', 'ttft_s') * 1000:.0f} ms |",
            "", f"Ratio {ratio:.3f} (target ≥ 0.99), TTFT overhead {overhead:+.1f} ms (target "
            f"≤ 10 ms). llama-cpp-python's server on 127.0.0.1 serving SmolLM2-135M-Instruct, "
            f"temperature 0 and seed 1 so both write the same reply, medians of "
            f"{len(r['runs']['bare'])} interleaved runs. PyChat's figures are measured on "
            "its side (from the request to the first piece of text; pieces after it ÷ "
            "time); each PyChat reply opens a connection of its own (so that Escape can "
            "end even a stalled read), and counts the prompt first (llama-cpp-python's "
            "/extras/tokenize/count).", "",
            f"First paint with a server configured: {fmt(starts['local file'], '.3f', ' s')} "
            f"starting on a local file, {fmt(starts['server'], '.3f', ' s')} starting on the "
            "server (`--server local`): nothing about servers (httpx included) is imported "
            "before the first frame.", ""]
