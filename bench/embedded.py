"""Section: the embedded models: load time (bare ``Llama(...)`` and the engine) and
200-token speed of each one installed."""

from __future__ import annotations

import contextlib
import io
import statistics
import time

from bench.common import N_CTX, PROMPT, SAMPLING, SEED
from pychat.config import Sampling
from pychat.engine.base import LoadSpec, ModelRef
from pychat.engine.embedded import EMBEDDED
from pychat.engine.llama import LlamaBackend

TITLE = "embedded"


def run(quick: bool) -> dict:
    from llama_cpp import Llama

    repeats = 1 if quick else 3
    results: dict = {}
    for model in EMBEDDED:
        if not model.installed():
            continue
        path = model.ensure()
        raw = []
        for _ in range(repeats):
            started = time.perf_counter()
            with contextlib.redirect_stderr(io.StringIO()):
                llm = Llama(model_path=str(path), n_ctx=N_CTX, verbose=False)
            raw.append(time.perf_counter() - started)
            llm.close()
        backend = LlamaBackend(quiet=True, ignore_eos=True)
        loads, runs = [], []
        for _ in range(repeats):
            loaded = backend.load(LoadSpec(ModelRef.local(path), n_ctx=N_CTX,
                                           chat_format=model.chat_format))
            loads.append(loaded.load_seconds)
            stream = backend.stream_chat([{"role": "user", "content": PROMPT}],
                                         Sampling(seed=SEED, max_tokens=200, **SAMPLING))
            list(stream)
            runs.append(stream.stats)
        backend.shutdown()
        results[model.file_name] = {
            "raw_load_s": statistics.median(raw), "load_s": statistics.median(loads),
            "tok_s": statistics.median(s.tokens_per_second for s in runs),
            "ttft_s": statistics.median(s.time_to_first_token for s in runs)}
    return results


def render(results: dict) -> list[str]:
    lines = ["## The embedded models", "",
             "| model | bare `Llama(...)` load | engine load | 200 tok/s | TTFT |",
             "| --- | --- | --- | --- | --- |"]
    for name, r in results["embedded"].items():
        lines.append(f"| {name} | {r['raw_load_s']:.3f} s | {r['load_s']:.3f} s | "
                     f"{r['tok_s']:.1f} | {r['ttft_s'] * 1000:.0f} ms |")
    return lines + ["", f"n_ctx {N_CTX}, the same prompt and sampler as above, the reply "
                    "forced to 200 tokens; the load is from the page cache (files read once "
                    "before).", ""]
