"""Section: switching models in the real TUI (picker confirm → ready, keys in a pty)
against a raw ``Llama(...)`` load, and the RSS over 20 switches."""

from __future__ import annotations

import contextlib
import io
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import N_CTX, MiB, PtyApp, read_trace, rss_of, wait_trace
from pychat.engine import logs
from pychat.engine.embedded import GEMMA
from tests.support.gguf import write_tiny_llama

TITLE = "switch"
SWITCHES = 20


def raw_load_seconds(model: Path) -> float:
    from llama_cpp import Llama

    logs.install()
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        with contextlib.redirect_stderr(io.StringIO()):  # its own prints, not ours
            llm = Llama(model_path=str(model), n_ctx=N_CTX, verbose=True)
        times.append(time.perf_counter() - t0)
        llm.close()
    return statistics.median(times)


def run(quick: bool) -> dict:
    model = GEMMA.ensure()
    folder = Path(tempfile.mkdtemp(prefix="pychat-switch-"))
    write_tiny_llama(folder / "tiny.gguf")
    (folder / "demo.gguf").symlink_to(model)
    config = folder / "config.toml"
    config.write_text(f'models_dir = "{folder}"\ndefault_model = "tiny.gguf"\n'
                      f'[models."demo.gguf"]\nn_ctx = {N_CTX}\nchat_format = "gemma"\n'
                      f'[models."tiny.gguf"]\nn_ctx = 512\n')
    result: dict = {"raw_load_s": raw_load_seconds(model)}
    trace = folder / "trace.jsonl"
    app = PtyApp(["-m", "pychat", "--config", str(config)], 120, 40, cwd=folder,
                 env={"PYCHAT_TRACE": str(trace)})

    def switch(name: str) -> dict:
        app.write("\x0f")  # ctrl+o
        if not app.wait_for_bytes(b"gpu_layers", time.time() - 0.05, 10):
            raise RuntimeError("the picker did not open")
        time.sleep(0.3)  # the list is gathered in a worker
        app.write(name)
        time.sleep(0.2)
        sent = time.time()
        app.write("\r")
        deadline = sent + 60
        while time.time() < deadline:
            ready = [e for e in read_trace(trace) if e["event"] == "model_ready"
                     and e["t"] >= sent and e["model"] == f"{name}.gguf"]
            if ready:
                return {"s": ready[0]["t"] - sent, "load_s": ready[0]["load_seconds"]}
            time.sleep(0.005)
        raise RuntimeError(f"{name} never became ready")

    try:
        if not wait_trace(trace, "model_ready", 60):
            raise RuntimeError("the first model never loaded")
        switch("demo")
        switch("tiny")  # warm-up: the first loads allocate for good
        time.sleep(0.5)
        before = rss_of(app.pid)
        to_demo = []
        for i in range(SWITCHES):
            if i % 2 == 0:
                to_demo.append(switch("demo"))
            else:
                switch("tiny")
            time.sleep(0.3)
        time.sleep(0.5)
        after = rss_of(app.pid)
    finally:
        result["exit_code"] = app.quit()
    result.update({"switch_to_demo_s": statistics.median(r["s"] for r in to_demo),
                   "engine_load_s": statistics.median(r["load_s"] for r in to_demo),
                   "switches": SWITCHES, "rss_before_mib": before / MiB,
                   "rss_after_mib": after / MiB, "rss_growth_mib": (after - before) / MiB})
    return result


def render(results: dict) -> list[str]:
    s = results["switch"]
    return ["## Switching models", "", "| figure | value | target |", "| --- | --- | --- |",
            f"| picker confirm → ready (demo model; real TUI, keys in a pty) | "
            f"{s['switch_to_demo_s']:.3f} s (engine load {s['engine_load_s']:.3f} s) | "
            f"≤ raw + 0.2 s = {s['raw_load_s'] + 0.2:.3f} s |",
            f"| raw `Llama(...)` load of the same file | {s['raw_load_s']:.3f} s | — |",
            f"| RSS growth over {s['switches']} switches | {s['rss_growth_mib']:+.1f} MiB | "
            "≤ +10 MB |", ""]
