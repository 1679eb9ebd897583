"""Section: start-up (first paint, interactive, model ready) and memory beside the model,
against a bare llama-cpp-python script."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import (
    N_CTX,
    PROMPT,
    MiB,
    PtyApp,
    median,
    rss_beyond_model,
    wait_trace,
)
from pychat.engine.embedded import GEMMA

TITLE = "startup"


def one_start() -> dict:
    """Start the TUI on the demo model in a 120x40 pty; quit once the model is ready."""
    model = GEMMA.ensure()
    folder = Path(tempfile.mkdtemp(prefix="pychat-start-"))
    config = folder / "config.toml"
    config.write_text(f'models_dir = "{folder}"\ndefault_model = "{model}"\n'
                      f'[models."{model}"]\nn_ctx = {N_CTX}\nchat_format = "gemma"\n')
    trace = folder / "trace.jsonl"
    app = PtyApp(["-m", "pychat", "--config", str(config)], 120, 40, cwd=folder,
                 env={"PYCHAT_TRACE": str(trace)})
    try:
        mounted = wait_trace(trace, "mounted", 30)
        # The first frame that shows the real UI: the chat pane's border title.
        first_paint = app.wait_for_bytes(b"Chat", app.started, 30)
        ready = wait_trace(trace, "model_ready", 120)
    finally:
        app.quit()
    return {"first_paint_s": first_paint - app.started if first_paint else None,
            "interactive_s": mounted["t"] - app.started if mounted else None,
            "model_ready_s": ready["t"] - app.started if ready else None}


BARE_TEXTUAL = """
from textual.app import App
from textual.widgets import Footer, Static


class Bare(App):
    def compose(self):
        yield Static("Chat")
        yield Footer()


Bare().run()
"""


def bare_textual_start() -> float | None:
    """A bare Textual app (one Static and a Footer) in the same pty: start → first paint."""
    app = PtyApp(["-c", BARE_TEXTUAL], 120, 40)
    try:
        first_paint = app.wait_for_bytes(b"Chat", app.started, 30)
    finally:
        app.quit()
    return first_paint - app.started if first_paint else None


RAW_MEMORY_SCRIPT = """
import contextlib, io, sys
from llama_cpp import Llama
with contextlib.redirect_stderr(io.StringIO()):
    llm = Llama(model_path=sys.argv[1], n_ctx=int(sys.argv[2]), verbose=False)
    tokens = llm.tokenize(("<start_of_turn>user\\n" + sys.argv[3] +
                           "<end_of_turn>\\n<start_of_turn>model\\n").encode(), special=True)
    for n, _ in enumerate(llm.generate(tokens, temp=0.7, top_k=40, top_p=0.95,
                                       repeat_penalty=1.1)):
        if n >= 199:
            break
print("ready", flush=True)
sys.stdin.readline()  # stay alive while the bench reads our smaps
"""


def raw_memory() -> dict:
    """RSS beyond the mapped model of a bare llama-cpp-python script (same file, n_ctx and
    a 200-token reply): what llama.cpp and Python cost before any UI."""
    model = GEMMA.ensure()
    with subprocess.Popen([sys.executable, "-c", RAW_MEMORY_SCRIPT, str(model), str(N_CTX),
                           PROMPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True) as script:
        assert script.stdout is not None and script.stdin is not None
        if script.stdout.readline().strip() != "ready":
            raise RuntimeError("the bare llama-cpp-python script failed")
        total, mapped = rss_beyond_model(script.pid, model)
        script.stdin.write("\n")
    return {"rss_mib": total / MiB, "model_mapped_mib": mapped / MiB,
            "rss_beyond_model_mib": (total - mapped) / MiB}


def run(quick: bool) -> dict:
    starts, bare = [], []
    for _ in range(2 if quick else 5):  # interleaved: a slow spell of the host hits both
        starts.append(one_start())
        bare.append({"first_paint_s": bare_textual_start()})
    return {"starts": starts, "bare_textual": bare, "raw_memory": raw_memory()}


def _spread(starts: list[dict], key: str) -> str:
    values = sorted(s[key] for s in starts if s.get(key) is not None)
    if not values:
        return "not measured"
    return (f"{median(values):.3f} s (median of {len(values)} starts, "
            f"{values[0]:.3f}–{values[-1]:.3f})")


def render(results: dict) -> list[str]:
    starts = results["startup"]["starts"]
    raw = results["startup"]["raw_memory"]
    app = results["tui"]["streams"][0] if "tui" in results else None
    lines = ["## Start-up and memory", "", "| figure | value | target |", "| --- | --- | --- |",
             f"| start → first paint (pty shows the chat pane's frame) | "
             f"{_spread(starts, 'first_paint_s')} | ≤ bare Textual + 0.1 s |",
             f"| a bare Textual app (a Static and a Footer), same pty, interleaved | "
             f"{_spread(results['startup'].get('bare_textual', []), 'first_paint_s')} | — |",
             f"| start → interactive prompt (mounted, focused; model still loading) | "
             f"{_spread(starts, 'interactive_s')} | ≤ first paint + 0.05 s |",
             f"| start → model ready (demo Gemma 270M) | {_spread(starts, 'model_ready_s')} | "
             "— |"]
    if app is not None:
        lines += [f"| app RSS beyond the mapped model (after a 200-token reply, 120x40) | "
                  f"{app['rss_beyond_model_mib']:.0f} MiB (RSS {app['rss_mib']:.0f}, model "
                  f"{app['model_mapped_mib']:.0f}) | ≤ 120 MB |",
                  f"| PyChat's own share (app − bare script) | "
                  f"{app['rss_beyond_model_mib'] - raw['rss_beyond_model_mib']:.0f} MiB | — |"]
    lines += [f"| a bare llama-cpp-python script (same file, n_ctx {N_CTX}, 200-token reply), "
              f"RSS beyond the model | {raw['rss_beyond_model_mib']:.0f} MiB | — |", ""]
    return lines
