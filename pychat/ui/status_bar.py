"""One line at the bottom: model, state, context use and the speed of the last reply."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Static

from pychat.engine.base import GenerationStats


class StatusBar(Static):
    """Shows the model, its state, context used / n_ctx and the last reply's speed."""

    model: reactive[str] = reactive("no model")
    state: reactive[str] = reactive("starting")
    context_used: reactive[int] = reactive(0)
    n_ctx: reactive[int] = reactive(0)
    stats: reactive[GenerationStats | None] = reactive(None)

    def render(self) -> str:
        parts = [self.model, self.state]
        if self.n_ctx:
            parts.append(f"ctx {self.context_used}/{self.n_ctx}")
        if self.stats is not None and self.stats.completion_tokens:
            parts.append(f"{self.stats.tokens_per_second:.1f} tok/s")
            parts.append(f"TTFT {self.stats.time_to_first_token * 1000:.0f} ms")
        return " │ ".join(parts)
