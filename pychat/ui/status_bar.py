"""One line at the bottom: model, state, context use and the speed of the last reply."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from pychat.engine.base import GenerationStats, LoadedModel, shown_name
from pychat.gpu import VramSample
from pychat.session import ReplyState
from pychat.session.events import BudgetCounted, StateChanged


class StatusBar(Static):
    """Shows the model, its state, context used / n_ctx and the last reply's speed."""

    model: reactive[str] = reactive("PyChat")
    state: reactive[str] = reactive("starting")
    context_used: reactive[int] = reactive(0)
    n_ctx: reactive[int] = reactive(0)
    budget: reactive[str] = reactive("")
    """What the next request will take of the context (counted as the user types)."""
    stats: reactive[GenerationStats | None] = reactive(None)
    memory: reactive[str] = reactive("")
    """Memory in a few characters ("VRAM 4.1/24G", "RAM 3.2G"): shown when the screen
    is too narrow for the VRAM pane, so monitoring does not vanish."""

    def show_state(self, event: StateChanged) -> None:
        """The reply's state while there is a reply, else the model's."""
        shown = event.reply if event.reply is not ReplyState.IDLE else event.model
        self.state = shown.value

    def show_model(self, loaded: LoadedModel) -> None:
        self.model = shown_name(loaded.spec.name)
        self.n_ctx = loaded.n_ctx

    def show_stats(self, stats: GenerationStats) -> None:
        self.stats = stats
        self.context_used = stats.context_used

    def show_budget(self, event: BudgetCounted) -> None:
        if event.overflow:
            self.budget = f"next: too long for n_ctx {event.n_ctx}"
            return
        left_out = f" ({event.dropped} oldest left out)" if event.dropped else ""
        self.budget = f"next {event.tokens}/{event.n_ctx}{left_out}"

    def show_memory(self, sample: VramSample) -> None:
        gpu = sample.gpus[0] if sample.gpus else None
        if gpu is not None and gpu.used is not None and gpu.total:
            self.memory = f"VRAM {_gib(gpu.used)}/{_gib(gpu.total)}G"
        else:
            self.memory = f"RAM {_gib(sample.ram_used)}/{_gib(sample.ram_total)}G"

    def render(self) -> Text:
        parts = [self.model, self.state]
        if self.memory and self.screen.has_class("-narrow"):
            parts.append(self.memory)
        if self.budget:
            parts.append(self.budget)
        elif self.n_ctx:
            parts.append(f"ctx {self.context_used}/{self.n_ctx}")
        if self.stats is not None and self.stats.completion_tokens:
            parts.append(f"{self.stats.tokens_per_second:.1f} tok/s")
            parts.append(f"TTFT {self.stats.time_to_first_token * 1000:.0f} ms")
        return Text(" │ ".join(parts))  # names come from files: never markup


def _gib(size: int) -> str:
    return f"{size / 2**30:.1f}"
