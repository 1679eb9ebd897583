"""Section: big input in the message box — a 50,000-character bracketed paste, and keys
typed with 20,000 characters already in the box, in the real TUI."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bench.common import N_CTX, PtyApp, fmt, key_echo, wait_trace
from pychat.engine.embedded import GEMMA

TITLE = "big_input"


def run(quick: bool) -> dict:
    """The text is one long line (the worst case for the text area: it wraps and renders
    per line) and, separately, paragraphs."""
    model = GEMMA.ensure()
    folder = Path(tempfile.mkdtemp(prefix="pychat-input-"))
    config = folder / "config.toml"
    config.write_text(f'models_dir = "{folder}"\ndefault_model = "{model}"\n'
                      f'[models."{model}"]\nn_ctx = {N_CTX}\nchat_format = "gemma"\n')
    trace = folder / "trace.jsonl"
    result: dict = {}

    def started() -> PtyApp:
        app = PtyApp(["-m", "pychat", "--config", str(config)], 120, 40, cwd=folder,
                     env={"PYCHAT_TRACE": str(trace)})
        if not wait_trace(trace, "model_ready", 60, after=app.started):
            raise RuntimeError("the model never loaded")
        time.sleep(0.5)
        return app

    def paste(app: PtyApp, text: str, last: bytes) -> float | None:
        t0 = time.time()
        app.write("\x1b[200~" + text + "\x1b[201~")
        seen = app.wait_for_bytes(last, t0, 120)
        return (seen - t0) if seen else None

    for shape, unit in (("one line", "word "), ("paragraphs", "word " * 11 + "word\n")):
        text = unit * (50_000 // len(unit) + 1)
        with started() as app:  # a 50,000-character paste into an empty box
            paste_s = paste(app, text[:49_999] + "Z", b"Z")
            app.quit()
        with started() as app:  # keys with 20,000 characters in the box
            paste(app, text[:19_999] + "Q", b"Q")
            latencies = []
            for index in range(20):
                time.sleep(0.15)
                shown = key_echo(app, index, 5)
                latencies.append(5000.0 if shown is None else shown * 1000)
            app.quit()
        result[shape] = {"paste_50k_s": paste_s, "key_ms_p50": statistics.median(latencies),
                         "key_ms_max": max(latencies)}
    return result


def render(results: dict) -> list[str]:
    lines = ["## Big input in the message box", "",
             "| text | 50,000-character bracketed paste shows after | key → paint with "
             "20,000 characters in the box (p50 / max of 20) |", "| --- | --- | --- |"]
    for shape, r in results["big_input"].items():
        lines.append(f"| {shape} | {fmt(r['paste_50k_s'], '.2f', ' s')} | "
                     f"{r['key_ms_p50']:.0f} / {r['key_ms_max']:.0f} ms |")
    return lines + ["", "Targets: the paste lands in under 1 s, typing stays instant. A key "
                    "is timed from its byte into the pty to its echo coming back.", ""]
