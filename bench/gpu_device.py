"""The GPU machine's measurements (issue 22), run by ``bench/gpu.sh device``: VRAM estimate
against NVML for Llama-3 1B- and 8B-shaped models, ``auto`` with part of the GPU held by
another allocation, VRAM after 20 switches, and engine speed against raw llama.cpp.

    python bench/gpu_device.py OUT_DIR [--dry]

``--dry`` runs every step on this CPU with small shapes (no NVML, so the memory columns say
so): the script is tried here before the GPU machine's few minutes are spent on it.
Progress lines carry timestamps, so a run cut by the time limit says how far it got.
Results: OUT_DIR/gpu-results.json and OUT_DIR/gpu-results.md.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pychat.config import Sampling  # noqa: E402
from pychat.engine.base import LoadSpec, ModelRef  # noqa: E402
from pychat.engine.fit import estimate_vram, resolve_gpu_layers  # noqa: E402
from pychat.engine.llama import LlamaBackend  # noqa: E402
from pychat.engine.models import read_model_info  # noqa: E402
from pychat.errors import PyChatError  # noqa: E402
from pychat.gpu import GpuMonitor  # noqa: E402
from tests.support.gguf import LLAMA3_1B, LLAMA3_8B, TinySpec, write_tiny_llama  # noqa: E402

MiB = 1024 * 1024
STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:7.1f} s] {message}", flush=True)


def device_used(monitor: GpuMonitor) -> tuple[int | None, int | None]:
    """(device used, this process's use) in bytes after the driver settles; None without
    NVML."""
    time.sleep(0.5)
    sample = monitor.sample()
    if not sample.gpus:
        return None, None
    return sample.gpus[0].used, sample.gpus[0].process_used


def estimate_rows(backend: LlamaBackend, monitor: GpuMonitor, model: Path,
                  contexts: tuple[int, ...]) -> list[dict]:
    info = read_model_info(model)
    rows = []
    layers = info.n_layer + 1
    for n_ctx in contexts:
        for gpu_layers in (0, layers // 4, layers // 2, -1):
            base, _ = device_used(monitor)
            row: dict = {"model": model.name, "n_ctx": n_ctx, "gpu_layers": gpu_layers,
                         "estimate_mib": estimate_vram(info, gpu_layers, n_ctx).total_bytes / MiB}
            try:
                backend.load(LoadSpec(ModelRef.local(model), gpu_layers=gpu_layers,
                                      n_ctx=n_ctx))
                after, own = device_used(monitor)
                row["after_load_mib"] = (own if own else (after or 0) - (base or 0)) / MiB \
                    if after is not None else None
                stream = backend.stream_chat([{"role": "user", "content": "hello"}],
                                             Sampling(max_tokens=16, seed=1))
                "".join(stream)
                after, own = device_used(monitor)
                row["after_reply_mib"] = (own if own else (after or 0) - (base or 0)) / MiB \
                    if after is not None else None
                row["tok_s"] = stream.stats.tokens_per_second
            except PyChatError as exc:
                row["error"] = exc.message
            backend.close()
            say(f"estimate {json.dumps(row)}")
            rows.append(row)
    return rows


def loads(backend: LlamaBackend, model: Path, layers: int) -> str:
    """"" when ``model`` loads with ``layers`` on the GPU (then closed again), else why not."""
    try:
        backend.load(LoadSpec(ModelRef.local(model), gpu_layers=layers, n_ctx=4096))
    except PyChatError as exc:
        return exc.message
    finally:
        backend.close()
    return ""


def auto_rows(backend: LlamaBackend, monitor: GpuMonitor, model: Path,
              free_targets_gib: tuple[float, ...], dry: bool) -> list[dict]:
    """Hold all but X GiB of the GPU with a torch tensor; load with auto and answer; then
    find the largest layer count that still loads (auto must be within one of it), and
    ask for every layer, which must fail with a clear message. ``dry``: the same steps
    on this CPU, with nothing held and a made-up free size."""
    torch = None
    if not dry:
        try:
            torch = importlib.import_module("torch")  # on the GPU machine only
        except ImportError:
            return [{"skipped": "no torch here"}]
    info = read_model_info(model)
    rows = []
    for target in free_targets_gib:
        held = None
        try:
            if torch is not None:
                sample = monitor.sample().gpus
                free = sample[0].free if sample else None
                if free is None or not torch.cuda.is_available():
                    return [{"skipped": "no GPU"}]
                hold = max(0, free - int(target * 1024**3))
                held = torch.empty(hold, dtype=torch.uint8, device="cuda")
                free_now = monitor.sample().gpus[0].free or 0
            else:
                free_now = int(target * 1024**3)
            chosen = resolve_gpu_layers(info, "auto", 4096, True, free_now)
            row: dict = {"free_gib": free_now / 1024**3, "auto_layers": chosen}
            try:
                backend.load(LoadSpec(ModelRef.local(model), gpu_layers=chosen, n_ctx=4096))
                "".join(backend.stream_chat([{"role": "user", "content": "hi"}],
                                            Sampling(max_tokens=8)))
                row["answered"] = True
            except PyChatError as exc:
                row["answered"], row["error"] = False, exc.message
            finally:
                backend.close()
            # One layer more at a time, until a load fails (at most 4 past auto).
            largest = chosen
            # (auto counts the output layer too: n_layer + 1 is every layer.)
            for layers in range(chosen + 1, min(chosen + 4, info.n_layer + 1) + 1):
                why = loads(backend, model, layers)
                if why:
                    row["first_failing"], row["failing_error"] = layers, why
                    break
                largest = layers
            row["largest_loading"] = largest
            row["auto_within_one"] = (largest - chosen <= 1 and ("first_failing" in row
                                                                 or largest > info.n_layer))
            # Every layer of a model bigger than what is free: a clear failure.
            why = loads(backend, model, -1)
            row["all_layers"] = why or "loaded"
        except Exception as exc:  # noqa: BLE001 — one row's fault must not end the run
            row = {"free_target_gib": target, "fault": f"{type(exc).__name__}: {exc}"}
        finally:
            del held
            if torch is not None:
                torch.cuda.empty_cache()
        say(f"auto {json.dumps(row)}")
        rows.append(row)
    return rows


def switch_rows(backend: LlamaBackend, monitor: GpuMonitor, small: Path, big: Path) -> dict:
    start, _ = device_used(monitor)
    for n in range(20):
        model = small if n % 2 else big
        layers = -1 if n % 3 else 8
        backend.load(LoadSpec(ModelRef.local(model), gpu_layers=layers, n_ctx=4096))
    backend.close()
    end, _ = device_used(monitor)
    result = {"start_mib": start / MiB if start is not None else None,
              "end_mib": end / MiB if end is not None else None}
    say(f"switches {json.dumps(result)}")
    return result


def speed_rows(model: Path, gpu_layers: int) -> dict:
    """Engine tok/s against raw ``Llama.generate`` on the same load settings."""
    import llama_cpp

    backend = LlamaBackend(ignore_eos=True)
    backend.load(LoadSpec(ModelRef.local(model), gpu_layers=gpu_layers, n_ctx=4096))
    stream = backend.stream_chat([{"role": "user", "content": "hello"}],
                                 Sampling(max_tokens=200, seed=1, temperature=0.7))
    "".join(stream)
    engine = stream.stats.tokens_per_second
    backend.shutdown()
    llm = llama_cpp.Llama(model_path=str(model), n_gpu_layers=gpu_layers, n_ctx=4096,
                          verbose=False)
    tokens = llm.tokenize(b"hello")
    first = last = 0.0
    for n, _ in enumerate(llm.generate(tokens, temp=0.7)):
        now = time.perf_counter()
        first = first or now
        last = now
        if n >= 199:
            break
    raw = 199 / (last - first) if last > first else 0.0
    result = {"model": model.name, "engine_tok_s": engine, "raw_tok_s": raw}
    say(f"speed {json.dumps(result)}")
    return result


def main() -> int:
    out = Path(sys.argv[1])
    dry = "--dry" in sys.argv
    out.mkdir(parents=True, exist_ok=True)
    folder = out / "models"
    folder.mkdir(exist_ok=True)
    import llama_cpp

    offload = bool(llama_cpp.llama_supports_gpu_offload())
    say(f"llama_supports_gpu_offload: {offload}")
    shapes = {"llama3-1b-shaped": LLAMA3_1B, "llama3-8b-shaped": LLAMA3_8B}
    if dry:  # this CPU: the same steps on small shapes
        small = TinySpec(n_layer=4, n_embd=256, n_head=8, n_head_kv=4, n_ff=512,
                         context_length=8192, dtype=LLAMA3_1B.dtype, n_vocab=4096, cheap=True)
        shapes = {"small-a": small, "small-b": replace(small, n_layer=6)}
    models = {}
    for name, spec in shapes.items():
        say(f"writing {name}")
        models[name] = write_tiny_llama(folder / f"{name}.gguf", spec, name=name)
        say(f"wrote {name}: {models[name].stat().st_size / MiB:.0f} MiB")
    first, second = models.values()
    monitor, backend = GpuMonitor(), LlamaBackend()
    results: dict = {"offload": offload, "dry": dry}
    try:
        results["gpu"] = [{"name": g.name, "total_mib": (g.total or 0) / MiB}
                          for g in monitor.sample().gpus]
        contexts = (4096,) if dry else (4096, 32768)
        results["estimates"] = (estimate_rows(backend, monitor, first, contexts)
                                + estimate_rows(backend, monitor, second, contexts))
        # Dry: free sizes around the small model's estimate, so auto picks part of it.
        targets = (0.070, 0.075, 4.0) if dry else (4.0, 8.0, 12.0)
        results["auto"] = auto_rows(backend, monitor, second, targets, dry)
        results["switches"] = switch_rows(backend, monitor, first, second)
        results["speed"] = [speed_rows(first, -1 if offload else 0)]
        if not dry:
            results["speed"].append(speed_rows(second, -1))
    finally:
        backend.shutdown()
        monitor.shutdown()
        (out / "gpu-results.json").write_text(json.dumps(results, indent=1))
        (out / "gpu-results.md").write_text(render(results))
        for model in models.values():
            model.unlink(missing_ok=True)
    say("done")
    return 0


def render(results: dict) -> str:
    lines = [f"GPU: {results.get('gpu')}; offload {results['offload']}"
             + (" (DRY RUN on a CPU: small shapes, no NVML)" if results["dry"] else ""), "",
             "| model | n_ctx | gpu_layers | estimate | after load | after a reply | error |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in results.get("estimates", []):
        measured = row.get("after_reply_mib")
        error = (abs(measured - row["estimate_mib"]) if measured is not None else None)
        lines.append(f"| {row['model']} | {row['n_ctx']} | {row['gpu_layers']} | "
                     f"{row['estimate_mib']:.0f} MiB | {row.get('after_load_mib')} | "
                     f"{measured} | {error if error is None else f'{error:.0f} MiB'} |")
    lines += ["", f"auto: {results.get('auto')}", f"switches: {results.get('switches')}",
              f"speed: {results.get('speed')}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
