"""Section: the real TUI in a pty fed at GPU rates (200–5,000 tokens/s) by a source that
keeps its schedule by timestamps, with a reply that mixes reasoning, prose, lists, fenced
code and a table. What a GPU user sees: does the screen keep up, what it costs in bytes,
whether keys still echo, and how soon the last token is on screen."""

from __future__ import annotations

import json
import re
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench.common import PtyApp, fmt, key_echo, percentile, read_trace, wait_trace

TITLE = "gpu_rate"
RATES = (200, 500, 1000, 2000, 5000)
SECONDS = 3.0
"""Each reply streams for about this long at its rate (so every rate gets key probes)."""

BLOCK = """Here is how the pieces fit together, step by step, with the reasons for each.

1. **Read the input** once, and keep only what the next steps need.
2. **Check each record** against the schema; a bad one is reported, not dropped.
3. **Write the result** atomically: a temporary file, then a rename.

```python
def load(path: Path) -> list[dict]:
    records = []
    for line in path.read_text().splitlines():
        if line.strip():
            records.append(json.loads(line))
    return records
```

| step | cost | notes |
| --- | --- | --- |
| read | O(n) | one pass |
| check | O(n) | per record |
| write | O(n) | atomic |

The loop above reads every line once; a blank line is skipped, and a line that is not JSON
stops the load with the line number, so the user can fix the file and run it again.

"""


def mixed_reply(pieces: int) -> str:
    """About ``pieces`` word-pieces: reasoning first, then the block above repeated."""
    thinking = "<think>" + " ".join(["The user wants the steps, code and a table."] * 20) \
        + "</think>"
    text = thinking
    while len(re.findall(r"\S+\s*", text)) < pieces:
        text += BLOCK
    return text


def headless_rate(rate: float, pieces: int) -> float:
    """The source's delivered rate with nothing else in the process."""
    from pychat.config import Sampling
    from pychat.engine.base import LoadSpec, ModelRef
    from tests.support.fake_backend import FakeBackend, fake_model_file

    folder = Path(tempfile.mkdtemp(prefix="pychat-bench-rate-"))
    backend = FakeBackend(reply=mixed_reply(pieces), tokens_per_second=rate)
    backend.load(LoadSpec(ModelRef.local(fake_model_file(folder, "one.gguf")), n_ctx=0))
    stream = backend.stream_chat([{"role": "user", "content": "go"}],
                                 Sampling(max_tokens=0))
    count = sum(1 for _ in stream)
    return (count - 1) / stream.stats.decode_seconds if stream.stats.decode_seconds else 0.0


def one_rate(rate: int, cols: int, rows: int, probes: bool) -> dict:
    pieces = int(rate * SECONDS)
    folder = Path(tempfile.mkdtemp(prefix="pychat-bench-rate-"))
    (folder / "reply.txt").write_text(mixed_reply(pieces), encoding="utf-8")
    (folder / "extra.toml").write_text("[sampling]\nmax_tokens = 0\n", encoding="utf-8")
    trace = folder / "trace.jsonl"
    app = PtyApp(["-m", "tests.support.fake_app_main", str(folder), str(folder / "reply.txt"),
                  str(folder / "extra.toml"), f"--rate={rate}"], cols, rows, cwd=folder,
                 env={"PYCHAT_TRACE": str(trace), "TMUX": ""})
    result: dict = {"rate": rate, "size": f"{cols}x{rows}"}
    try:
        wait_trace(trace, "model_ready", 30)
        time.sleep(0.5)
        sent = time.time()
        app.write("go\r")
        started = wait_trace(trace, "reply_started", 30, after=sent)
        echoes: list[float] = []
        if probes:  # a key every 50 ms while the reply streams, deleted again
            stop = threading.Event()

            def probe() -> None:
                index = 0
                while not stop.is_set():
                    seen = key_echo(app, index, 2.0)
                    echoes.append(2.0 if seen is None else seen)
                    app.write("\x7f")
                    index += 1
                    stop.wait(0.05)

            prober = threading.Thread(target=probe, daemon=True)
            prober.start()
        finished = wait_trace(trace, "finished", SECONDS * 20 + 60, after=sent)
        if probes:
            stop.set()
            prober.join(5)
        time.sleep(0.5)
        events = read_trace(trace)
        last = next((e for e in events if e["event"] == "source_last" and e["t"] >= sent), None)
        texts = [e for e in events if e["event"] == "text" and e["t"] >= sent]
        tokens = finished["tokens"] if finished else 0
        if started and finished and last and len(texts) > 1:
            ui_seconds = texts[-1]["t"] - texts[0]["t"]
            end = finished["t"] + 0.3
            written = app.bytes_between(started["t"], end)
            with app.lock:
                final = max((t for t, _ in app.chunks if t <= end), default=last["t"])
            result.update({
                "tokens": tokens,
                "source_tok_s": ((tokens - 1) / finished["decode_seconds"]
                                 if finished["decode_seconds"] else None),
                "ui_tok_s": (tokens - 1) / ui_seconds if ui_seconds else None,
                "bytes_per_token": written / tokens,
                "bytes_per_s": written / (end - started["t"]),
                "last_token_to_final_frame_ms": (final - last["t"]) * 1000,
                "stalls_over_50ms": [e["ms"] for e in events if e["event"] == "stall"
                                     and started["t"] <= e["t"] <= finished["t"]],
                "echo_ms": [round(x * 1000, 1) for x in echoes],
            })
    finally:
        result["exit_code"] = app.quit()
    print(f"gpu_rate {cols}x{rows} {rate}/s: " + json.dumps(
        {k: (round(v, 3) if isinstance(v, float) else v) for k, v in result.items()
         if k != "echo_ms"}), flush=True)
    return result


def run(quick: bool) -> dict:
    rates = RATES[::2] if quick else RATES
    headless = {str(rate): headless_rate(rate, int(rate * SECONDS)) for rate in rates}
    runs = [one_rate(rate, 120, 40, probes=False) for rate in rates]
    runs += [one_rate(rate, 80, 24, probes=False) for rate in rates]
    echo = [one_rate(rate, 120, 40, probes=True) for rate in rates]
    return {"headless": headless, "runs": runs, "echo": echo}


def render(results: dict) -> list[str]:
    data = results["gpu_rate"]
    headless = data["headless"]
    lines = ["## At GPU rates (a scheduled source into the real TUI)", "",
             f"A fake backend streams a Markdown-rich reply (a `<think>` section, prose, a "
             f"numbered list, fenced Python, a table) on a timestamp schedule for ~{SECONDS:.0f} "
             "s at each rate into the real TUI in a pty; one word-piece is one token.", "",
             "| size | asked tok/s | source delivered (÷ headless) | UI ÷ source | bytes/token "
             "| bytes/s | last token → final frame | stalls > 50 ms |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in data["runs"]:
        if "tokens" not in r:
            lines.append(f"| {r['size']} | {r['rate']} | not measured | | | | | |")
            continue
        alone = headless.get(str(r["rate"]))
        share = r["source_tok_s"] / alone if alone and r["source_tok_s"] else None
        ratio = r["ui_tok_s"] / r["source_tok_s"] if r["ui_tok_s"] and r["source_tok_s"] \
            else None
        lines.append(
            f"| {r['size']} | {r['rate']} | {fmt(r['source_tok_s'], '.0f')} "
            f"({fmt(share, '.3f')}) | {fmt(ratio, '.3f')} | {fmt(r['bytes_per_token'], '.0f')} "
            f"| {fmt(r['bytes_per_s'], '.0f')} | "
            f"{fmt(r['last_token_to_final_frame_ms'], '.0f', ' ms')} | "
            f"{len(r['stalls_over_50ms'])} |")
    lines += ["", "Key echo while it streams (120x40, a key every 50 ms, deleted again):", "",
              "| asked tok/s | keys | p50 | p99 | max |", "| --- | --- | --- | --- | --- |"]
    for r in data["echo"]:
        probes = r.get("echo_ms") or []
        lines.append(f"| {r['rate']} | {len(probes)} | "
                     f"{fmt(statistics.median(probes) if probes else None, '.1f', ' ms')} | "
                     f"{fmt(percentile(probes, 0.99), '.1f', ' ms')} | "
                     f"{fmt(max(probes) if probes else None, '.1f', ' ms')} |")
    lines += ["", "Source delivered: tokens ÷ the time between its first and last piece, in "
              "the app (beside the same schedule run alone, headless: the share the UI thread "
              "leaves it). UI ÷ source: the same over the first and last text batch the app "
              "thread handled. Last token → final frame: from the source's last piece to the "
              "last bytes written to the pty. Targets: UI ÷ source ≥ 0.99 up to 2,000 tok/s, "
              "final frame ≤ 100 ms after the last token, source ≥ 0.97 of headless, key echo "
              "p99 ≤ 50 ms, bytes/s bounded by the frame rate.", ""]
    return lines
