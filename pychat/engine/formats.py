"""Prompt formats: llama-cpp-python's named chat formats, and stop strings in a stream."""

from __future__ import annotations

from typing import Any

from pychat.errors import ModelError


class StopMatcher:
    """Cuts the reply at the first stop string, holding back text that may begin one."""

    def __init__(self, stops: list[str]) -> None:
        self.stops = [s for s in stops if s]
        self.pending = ""

    def push(self, text: str) -> tuple[str, bool]:
        """Return (text safe to show, whether a stop string was reached)."""
        if not self.stops:
            return text, False
        self.pending += text
        hits = [i for i in (self.pending.find(s) for s in self.stops) if i >= 0]
        if hits:
            out, self.pending = self.pending[: min(hits)], ""
            return out, True
        keep = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(self.pending)), 0, -1):
                if self.pending.endswith(stop[:size]):
                    keep = max(keep, size)
                    break
        cut = len(self.pending) - keep
        out, self.pending = self.pending[:cut], self.pending[cut:]
        return out, False

    def flush(self) -> str:
        out, self.pending = self.pending, ""
        return out


def named_formatter(name: str) -> Any:
    """The prompt formatter llama-cpp-python registered under ``name``."""
    from llama_cpp import llama_chat_format as lcf

    registry = lcf.LlamaChatCompletionHandlerRegistry()
    try:
        handler = registry.get_chat_completion_handler_by_name(name)
    except Exception:  # noqa: BLE001 - the library raises its own exception class here
        handler = None
    # Registered formats wrap a plain formatter function; we need the function itself
    # to build the prompt and drive generation ourselves.
    cells = dict(zip(getattr(getattr(handler, "__code__", None), "co_freevars", ()),
                     (c.cell_contents for c in getattr(handler, "__closure__", None) or ()),
                     strict=False))
    formatter = cells.get("chat_formatter")
    if formatter is None:
        names = ", ".join(sorted(available_chat_formats()))
        raise ModelError(f"Unknown chat_format '{name}'. Known formats: {names}")
    return formatter


def available_chat_formats() -> list[str]:
    """Names accepted by the ``chat_format`` setting."""
    from llama_cpp import llama_chat_format as lcf

    registry = lcf.LlamaChatCompletionHandlerRegistry()
    return [name for name in registry._chat_handlers if name not in {
        "functionary", "functionary-v1", "functionary-v2", "chatml-function-calling",
        "llava-1-5", "llava-1-6", "moondream2", "nanollava", "llama-3-vision-alpha",
        "minicpm-v-2.6", "qwen2.5-vl", "gemma3"}]
