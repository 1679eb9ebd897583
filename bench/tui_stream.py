"""Section: the real TUI in a pty while the engine streams a reply at full speed — tok/s
beside the raw loop, TTFT overhead, bytes to the terminal, stalls and key echo."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import (
    IGNORE_EOS_ENV,
    N_CTX,
    PROMPT,
    SEED,
    MiB,
    PtyApp,
    fmt,
    key_echo,
    percentile,
    read_trace,
    rss_beyond_model,
    wait_trace,
)
from bench.engine import raw_rate
from pychat.engine.embedded import GEMMA

TITLE = "tui"


def stream_in_tui(cols: int, rows: int, n: int, echo_probes: int) -> dict:
    """Start the TUI on the demo model, send the prompt, and measure the reply (and, with
    ``echo_probes``, a key typed every 0.25 s while it streams)."""
    model = GEMMA.ensure()
    folder = Path(tempfile.mkdtemp(prefix="pychat-bench-"))
    config = folder / "config.toml"
    config.write_text(
        f'models_dir = "{folder}"\ndefault_model = "{model}"\nsystem_prompt = ""\n'
        f"[sampling]\nmax_tokens = {n}\nseed = {SEED}\ntemperature = 0.7\ntop_p = 0.95\n"
        f"top_k = 40\nrepeat_penalty = 1.1\n"
        f'[models."{model}"]\nn_ctx = {N_CTX}\nchat_format = "gemma"\n')
    trace = folder / "trace.jsonl"
    app = PtyApp(["-m", "pychat", "--config", str(config)], cols, rows, cwd=folder,
                 env={"PYCHAT_TRACE": str(trace), IGNORE_EOS_ENV: "1"})
    result: dict = {"size": f"{cols}x{rows}", "tokens_requested": n}
    try:
        mounted = wait_trace(trace, "mounted", 30)
        # The first frame that shows the real UI: the chat pane's border title.
        first_paint = app.wait_for_bytes(b"Chat", app.started, 30)
        result["startup_first_paint_s"] = first_paint - app.started if first_paint else None
        result["startup_interactive_s"] = mounted["t"] - app.started if mounted else None
        ready = wait_trace(trace, "model_ready", 120)
        result["startup_model_ready_s"] = ready["t"] - app.started if ready else None
        time.sleep(0.5)  # let the load's last repaints settle before counting bytes
        sent = time.time()
        app.write(PROMPT + "\r")
        started = wait_trace(trace, "reply_started", 30, after=sent)
        first_text = wait_trace(trace, "text", 60, after=sent)
        latencies = []
        for index in range(echo_probes):
            time.sleep(0.25)
            if wait_trace(trace, "finished", 0.0, after=sent):
                break
            seen = key_echo(app, index, 2.0)
            latencies.append(2.0 if seen is None else seen)
            app.write("\x7f")
        finished = wait_trace(trace, "finished", 600, after=sent)
        events = read_trace(trace)
        texts = [e for e in events if e["event"] == "text" and e["t"] >= sent]

        def during(kind: str) -> list[float]:
            return [e["ms"] for e in events if e["event"] == kind and started and finished
                    and started["t"] <= e["t"] <= finished["t"]]

        tokens = finished["tokens"] if finished else 0
        duration = texts[-1]["t"] - texts[0]["t"] if len(texts) > 1 else 0.0
        span_end = finished["t"] + 0.2 if finished else time.time()
        total_bytes = app.bytes_between(started["t"], span_end) if started else 0
        result.update({
            "tokens": tokens,
            "ui_tok_s": (tokens - 1) / duration if duration else None,
            "engine_tok_s": ((tokens - 1) / finished["decode_seconds"]
                             if finished and finished["decode_seconds"] else None),
            "ui_ttft_s": first_text["t"] - started["t"] if first_text and started else None,
            "engine_ttft_s": finished["ttft"] if finished else None,
            "bytes": total_bytes,
            "bytes_per_token": total_bytes / tokens if tokens else None,
            "bytes_per_s": total_bytes / (span_end - started["t"]) if started else None,
            "echo_ms": [round(x * 1000, 1) for x in latencies],
            "stalls_over_50ms": during("stall"),
            "gc_pauses_over_5ms": during("gc"),
        })
        total, mapped = rss_beyond_model(app.pid, model)
        result["rss_mib"], result["model_mapped_mib"] = total / MiB, mapped / MiB
        result["rss_beyond_model_mib"] = (total - mapped) / MiB
    finally:
        result["exit_code"] = app.quit()
    print(f"tui {cols}x{rows} n={n}: " + json.dumps(
        {k: (round(v, 4) if isinstance(v, float) else v) for k, v in result.items()
         if k != "echo_ms"}), flush=True)
    return result


def run(quick: bool) -> dict:
    # Bytes are counted in runs where nothing is typed; key echo gets a run of its own.
    streams = [stream_in_tui(120, 40, 200, 0), stream_in_tui(80, 24, 200, 0),
               stream_in_tui(120, 40, 2000, 0), stream_in_tui(80, 24, 2000, 0)]
    return {"streams": streams, "echo": stream_in_tui(120, 40, 2000, 150)}


def render(results: dict) -> list[str]:
    tui = results["tui"]
    lines = ["## The real TUI under a pseudo-terminal", "",
             "| size | reply | UI tok/s | ÷ raw | UI TTFT − engine TTFT | bytes/token | bytes/s "
             "| stalls > 50 ms |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for t in tui["streams"]:
        raw = raw_rate(results, t["tokens_requested"])
        ratio = t["ui_tok_s"] / raw if raw and t["ui_tok_s"] else None
        ttft = ((t["ui_ttft_s"] - t["engine_ttft_s"]) * 1000
                if t["ui_ttft_s"] and t["engine_ttft_s"] else None)
        lines.append(f"| {t['size']} | {t['tokens']} tok | {fmt(t['ui_tok_s'])} | "
                     f"{fmt(ratio, '.3f')} | {fmt(ttft, '.1f', ' ms')} | "
                     f"{fmt(t['bytes_per_token'], '.0f')} | {fmt(t['bytes_per_s'], '.0f')} | "
                     f"{len(t['stalls_over_50ms'])} |")
    echo = tui["echo"]
    probes = echo["echo_ms"]
    p50 = statistics.median(probes) if probes else None
    return lines + [
        "", f"Key echo while a 2000-token reply streams at full speed (120x40, {len(probes)} "
        f"keys, one every 0.25 s): p50 {fmt(p50, '.1f', ' ms')}, p99 "
        f"{fmt(percentile(probes, 0.99), '.1f', ' ms')}, max "
        f"{fmt(max(probes) if probes else None, '.1f', ' ms')}; event-loop stalls > 50 ms in "
        f"that run: {len(echo['stalls_over_50ms'])} ({echo['stalls_over_50ms']} ms); "
        f"garbage-collector pauses > 5 ms: {echo['gc_pauses_over_5ms']} ms. Targets: p99 ≤ "
        "50 ms, no stalls.", "",
        "UI tok/s: tokens ÷ time between the first and last text batch handled on the app "
        "thread (trace events). Bytes: everything the app wrote to the pty from the reply's "
        "start to 0.2 s after its end. Key echo: a character typed every 0.25 s while the "
        "reply streams, until its bytes come back from the pty. TTFT overhead: the first "
        "text batch handled on the app thread minus the engine's own time to first token in "
        "the same run (a raw TTFT from another process, or from the warm prompt cache of the "
        "engine runs, would not compare). Stalls: a 20 ms timer on the event loop firing "
        "> 50 ms late. Targets: UI ÷ raw ≥ 0.99, TTFT overhead ≤ 15 ms, ≤ 300 bytes/token.",
        ""]
