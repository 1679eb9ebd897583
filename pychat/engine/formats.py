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


CHAT_FORMATS = {
    "llama-2": "format_llama2", "llama-3": "format_llama3", "alpaca": "format_alpaca",
    "qwen": "format_qwen", "vicuna": "format", "oasst_llama": "format_oasst_llama",
    "baichuan-2": "format_baichuan2", "baichuan": "format_baichuan",
    "openbuddy": "format_openbuddy", "redpajama-incite": "format_redpajama_incite",
    "snoozy": "format_snoozy", "phind": "format_phind", "intel": "format_intel",
    "open-orca": "format_open_orca", "mistrallite": "format_mistrallite",
    "zephyr": "format_zephyr", "pygmalion": "format_pygmalion", "chatml": "format_chatml",
    "mistral-instruct": "format_mistral_instruct", "chatglm3": "format_chatglm3",
    "openchat": "format_openchat", "saiga": "format_saiga", "gemma": "format_gemma",
}
"""``chat_format`` names → llama-cpp-python's public prompt formatters (module
``llama_chat_format``). Its registry of names holds completion handlers that wrap these
functions; we build the prompt and drive generation ourselves, so we need the functions."""


def named_formatter(name: str) -> Any:
    """The prompt formatter llama-cpp-python provides for ``name``. Raises ModelError."""
    from llama_cpp import llama_chat_format as lcf

    formatter = getattr(lcf, CHAT_FORMATS.get(name, ""), None)
    if formatter is None:
        known = ", ".join(sorted(CHAT_FORMATS))
        raise ModelError(f"Unknown chat_format '{name}'. Known formats: {known}")
    return formatter

