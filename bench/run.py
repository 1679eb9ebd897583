"""`make bench`: what PyChat users feel, measured beside raw llama.cpp in the same run.

Writes docs/PERFORMANCE.md and bench/results.json. Each section is a module of its own
(``run(quick) -> dict``, ``render(results) -> lines``); every figure says how it was
taken, and anything not measured is written as "not measured". Nothing here runs in
`make test`.

Usage: python bench/run.py [--quick] [--only SECTION ...]
  --quick  fewer repeats, for trying changes
  --only   run these sections again; the others are kept from results.json
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import N_CTX, REPO, SEED, machine  # noqa: E402

SECTIONS = ("engine", "tui_stream", "gpu_rate", "startup", "switch", "embedded", "batch",
            "big_input", "idle_input", "history", "remote", "serve")
"""Run in this order (later sections' reports compare with earlier ones' figures)."""
RESULTS = REPO / "bench" / "results.json"
REPORT = REPO / "docs" / "PERFORMANCE.md"


def section(name: str) -> ModuleType:
    return importlib.import_module(f"bench.{name}")


def header(results: dict) -> list[str]:
    return ["# PyChat performance", "",
            "Rerun with `make bench` (writes this file and `bench/results.json`); one section "
            "alone with `.venv/bin/python bench/run.py --only NAME` "
            f"({', '.join(SECTIONS)}).", "",
            f"Machine: {results['machine']}. Model: the demo Gemma 3 270M Q4_K_M unless said "
            f"otherwise, n_ctx {N_CTX}, seed {SEED}, temperature 0.7. Every run writes the "
            "number of tokens asked for: the model's end of turn is ignored in bench runs "
            "(`PYCHAT_BENCH_IGNORE_EOS=1` for the TUI), so the figures do not depend on where "
            "the sampled text ends on this CPU. Date: " + results["date"] + ".", ""]


def write_report(results: dict) -> None:
    lines = header(results)
    for name in SECTIONS:
        module = section(name)
        try:
            lines += module.render(results)
        except (KeyError, TypeError, IndexError):  # not run yet, or by an older bench
            lines += [f"## {name}", "", f"Not measured: run `bench/run.py --only {name}`.",
                      ""]
    if results.get("rerun"):
        again = ", ".join(f"{name} ({when})" for name, when in results["rerun"].items())
        lines += [f"Sections run again alone after the full run (`bench/run.py --only …`), "
                  f"with the code as committed: {again}.", ""]
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, metavar="SECTION")
    args = parser.parse_args()
    if args.only:
        results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        results.setdefault("machine", machine())
        results.setdefault("date", time.strftime("%Y-%m-%d"))
    else:
        results = {"machine": machine(), "date": time.strftime("%Y-%m-%d")}
    for name in args.only or SECTIONS:
        module = section(name)
        started = time.monotonic()
        print(f"== {name} …", flush=True)
        results[module.TITLE] = module.run(args.quick)
        print(f"== {name}: {time.monotonic() - started:.0f} s "
              f"{json.dumps(results[module.TITLE], default=str)[:600]}", flush=True)
        if args.only:
            results.setdefault("rerun", {})[name] = time.strftime("%Y-%m-%d %H:%M")
        RESULTS.write_text(json.dumps(results, indent=2))  # a crash later keeps this one
    write_report(results)
    print(REPORT.read_text())


if __name__ == "__main__":
    main()
