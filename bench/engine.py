"""Section: the engine against raw llama.cpp in one process (throughput, and what a
reproducible seed costs)."""

from __future__ import annotations

import statistics
import time
from typing import Any

from bench.common import N_CTX, PROMPT, SAMPLING, SEED
from pychat.config import Sampling
from pychat.engine.base import LoadSpec, ModelRef
from pychat.engine.embedded import GEMMA
from pychat.engine.llama import LlamaBackend, turn_end_suppressor, turn_end_tokens

TITLE = "engine"


def raw_generate(backend: LlamaBackend, n: int) -> dict:
    """A bare Llama.generate loop on the same prompt tokens, seed and sampler; like the
    engine in bench runs, it goes on past the model's end of turn until ``n`` tokens."""
    llm = backend.llama
    tokens = backend.prompt_tokens([{"role": "user", "content": PROMPT}])
    llm.reset()  # the engine evaluates the whole prompt with a seed >= 0: so does this
    llm.set_seed(SEED)
    processor = turn_end_suppressor(llm)
    start = time.perf_counter()
    first = last = 0.0
    count = 0
    gen = llm.generate(tokens, top_k=SAMPLING["top_k"], top_p=SAMPLING["top_p"],
                       temp=SAMPLING["temperature"], repeat_penalty=SAMPLING["repeat_penalty"],
                       logits_processor=processor)
    for _ in gen:
        last = time.perf_counter()
        if count == 0:
            first = last
        count += 1
        if count >= n:
            break
    gen.close()
    return {"tokens": count, "tok_s": (count - 1) / (last - first), "ttft": first - start}


def engine_stream(backend: LlamaBackend, n: int) -> dict:
    stream = backend.stream_chat([{"role": "user", "content": PROMPT}],
                                 Sampling(seed=SEED, max_tokens=n, **SAMPLING))
    for _ in stream:
        pass
    s = stream.stats
    return {"tokens": s.completion_tokens, "tok_s": s.tokens_per_second,
            "ttft": s.time_to_first_token}


def chat_completion_stream(backend: LlamaBackend, n: int) -> dict:
    """llama-cpp-python's own streaming chat API, for comparison; logit biases keep it
    from ending the reply, so it writes the ``n`` tokens asked for as the others do."""
    llm = backend.llama
    llm.chat_format = "gemma"
    bias = {token: -1e9 for token in turn_end_tokens(llm)}
    start = time.perf_counter()
    first = last = 0.0
    count = 0
    for chunk in llm.create_chat_completion(
            [{"role": "user", "content": PROMPT}], stream=True, max_tokens=n, seed=SEED,
            temperature=SAMPLING["temperature"], top_p=SAMPLING["top_p"],
            top_k=SAMPLING["top_k"], repeat_penalty=SAMPLING["repeat_penalty"],
            logit_bias=bias):
        if chunk["choices"][0]["delta"].get("content"):
            last = time.perf_counter()
            if count == 0:
                first = last
            count += 1
    return {"tokens": count, "tok_s": (count - 1) / (last - first), "ttft": first - start}


def seed_ttft_cost(backend: LlamaBackend, repeats: int) -> dict:
    """What reproducible seeds cost: the time to first token of a follow-up question in a
    longer chat, with seed -1 (the cached prompt prefix is reused) and with a fixed seed
    (the whole prompt is evaluated again, so the reply does not depend on the cache)."""
    history: list[Any] = [{"role": "system", "content": "You are a helpful assistant."}]
    for i in range(8):
        history += [{"role": "user", "content": f"Question {i}: tell me about dragons " * 4},
                    {"role": "assistant", "content": f"Answer {i}: dragons are large. " * 8}]
    question = history + [{"role": "user", "content": "And knights?"}]
    prompt_tokens = backend.count_tokens(question)
    ttft: dict[str, list[float]] = {"cached": [], "seeded": []}
    for _ in range(repeats):
        for label, seed in (("cached", -1), ("seeded", SEED)):
            # The previous turn: its prompt is what the cache holds when the next comes.
            list(backend.stream_chat(history[:-1], Sampling(seed=-1, max_tokens=1)))
            stream = backend.stream_chat(question, Sampling(seed=seed, max_tokens=4))
            list(stream)
            ttft[label].append(stream.stats.time_to_first_token)
    return {"prompt_tokens": prompt_tokens,
            "ttft_cached_s": statistics.median(ttft["cached"]),
            "ttft_seeded_s": statistics.median(ttft["seeded"])}


def summarize(runs: list[dict]) -> dict:
    return {"tok_s": statistics.median(r["tok_s"] for r in runs),
            "ttft": statistics.median(r["ttft"] for r in runs),
            "tokens": int(statistics.median(r["tokens"] for r in runs)),
            "runs": len(runs), "all_tok_s": [round(r["tok_s"], 3) for r in runs]}


def run(quick: bool) -> dict:
    repeats = 1 if quick else 3
    spec = LoadSpec(ModelRef.local(GEMMA.ensure()), n_ctx=N_CTX, chat_format="gemma")
    backend = LlamaBackend(quiet=True)  # no screen here: llama-cpp-python may stay quiet
    backend.load(spec)
    results: dict = {"repeats": repeats, "seed_ttft": seed_ttft_cost(backend, repeats)}
    backend.shutdown()
    backend = LlamaBackend(quiet=True, ignore_eos=True)  # every run: the length asked for
    backend.load(spec)
    for n in (200, 2000):
        runs: dict[str, list[dict]] = {"raw": [], "engine": [], "chat_completion": []}
        for _ in range(repeats):  # interleaved, so drift hits every variant alike
            runs["raw"].append(raw_generate(backend, n))
            runs["engine"].append(engine_stream(backend, n))
            runs["chat_completion"].append(chat_completion_stream(backend, n))
        results[str(n)] = {k: summarize(v) for k, v in runs.items()}
    backend.shutdown()
    return results


def raw_rate(results: dict, tokens: int) -> float | None:
    """The raw loop's tok/s for a reply of ``tokens`` (other sections compare with it)."""
    engine = results.get("engine", {}).get(str(tokens))
    return engine["raw"]["tok_s"] if engine else None


def render(results: dict) -> list[str]:
    e = results["engine"]
    lines = ["## Throughput (tokens/s after the first token)", "",
             "| reply | raw `Llama.generate` | PyChat engine | ratio | "
             "`create_chat_completion(stream=True)` | ratio |",
             "| --- | --- | --- | --- | --- | --- |"]
    for key in ("200", "2000"):
        r = e[key]
        raw = r["raw"]["tok_s"]
        lines.append(f"| {r['raw']['tokens']} tok | {raw:.2f} | {r['engine']['tok_s']:.2f} | "
                     f"{r['engine']['tok_s'] / raw:.3f} | {r['chat_completion']['tok_s']:.2f} | "
                     f"{r['chat_completion']['tok_s'] / raw:.3f} |")
    st = e["seed_ttft"]
    return lines + [
        "", f"Medians of {e['repeats']} interleaved runs. Raw: a bare `generate` loop over "
        "the same prompt tokens with the same sampler; engine: `LlamaBackend.stream_chat` "
        "(incremental decode, stop checks); all in one process on one `Llama`. Target: "
        "engine ≥ 0.99 × raw.", "",
        "## What reproducible seeds cost", "",
        f"A follow-up question in a chat of {st['prompt_tokens']} prompt tokens: time to "
        f"first token {st['ttft_cached_s'] * 1000:.0f} ms with `seed = -1` (the cached "
        f"prompt prefix is reused) and {st['ttft_seeded_s'] * 1000:.0f} ms with a fixed seed "
        "(the whole prompt is evaluated again, so the same seed gives the same reply whatever "
        "the cache holds). The cost grows with the chat's length; `seed = -1` is the "
        "default.", ""]
