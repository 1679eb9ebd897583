"""ctrl+o: choose a model and its gpu_layers / n_ctx, with the VRAM fit shown first."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from pychat.config import AUTO, parse_gpu_layers, parse_n_ctx
from pychat.engine.models import ModelInfo
from pychat.library import ModelListing, describe_fit
from pychat.ui.bindings import bindings
from pychat.ui.field import Field
from pychat.ui.loader_pane import FIELD_CHARS
from pychat.ui.modals import DismissOnce


@dataclass(frozen=True)
class PickResult:
    """The user's choice."""

    path: Path
    gpu_layers: int | str
    n_ctx: int


def fuzzy_match(query: str, text: str) -> bool:
    """True when the characters of ``query`` appear in ``text`` in order (any case)."""
    text = text.lower()
    position = 0
    for char in query.lower().replace(" ", ""):
        position = text.find(char, position) + 1
        if position == 0:
            return False
    return True


class ModelPicker(ModalScreen[PickResult | None], DismissOnce):
    """Filter as you type, ↑/↓ to choose, Enter to load, Escape to cancel."""

    BINDINGS = bindings("picker")

    def __init__(self, listing: ModelListing) -> None:
        super().__init__()
        self.listing = listing
        self.shown: list[ModelInfo] = []
        # Held, not queried: a key or timer that arrives after the picker closed finds
        # its widgets still there instead of raising NoMatches.
        self.filter = Field(placeholder="type to filter models", id="picker-filter",
                            max_length=200)
        self.options = OptionList(id="picker-list")
        self.meta = Static("", id="picker-meta", markup=False)
        self.gpu = Field(placeholder="auto", id="picker-gpu", max_length=FIELD_CHARS)
        self.ctx = Field(placeholder="4096", id="picker-ctx", type="integer",
                         max_length=FIELD_CHARS)
        self.fit = Static("", id="picker-fit", markup=False)
        self._confirmed: tuple[Path, int] | None = None
        """A choice above the training length that the user confirmed with a 2nd Enter."""

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box"):
            yield self.filter
            yield self.options
            yield self.meta
            with Horizontal(classes="field"):
                yield Label("gpu_layers")
                yield self.gpu
                yield Label("n_ctx")
                yield self.ctx
            yield self.fit
            yield Static("Enter load · ↑↓ choose · Tab fields · Esc cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#picker-box").border_title = "Models"  # the box has the border
        self._refilter("")
        self.filter.focus()

    def _refilter(self, query: str) -> None:
        self.shown = [i for i in self.listing.infos
                      if fuzzy_match(query, f"{i.file_name} {i.architecture} {i.file_type}")]
        self.options.clear_options()
        for info in self.shown:
            mark = "● " if info.path == self.listing.current else "  "
            label = f"{mark}{info.file_name}" + ("" if info.ok else "  (unusable)")
            self.options.add_option(Option(Text(label)))  # file names are never markup
        if self.shown:
            current = next((n for n, i in enumerate(self.shown)
                            if i.path == self.listing.current), 0)
            self.options.highlighted = current
            self._show_selected()
        else:
            self.meta.update("no model matches")

    @property
    def selected(self) -> ModelInfo | None:
        index = self.options.highlighted
        return self.shown[index] if index is not None and index < len(self.shown) else None

    def _show_selected(self) -> None:
        info = self.selected
        if info is None:
            return
        self.meta.update(info.describe())
        gpu, n_ctx = self.listing.choices.get(info.path, (AUTO, 4096))
        self.gpu.value = str(gpu)
        self.ctx.value = str(n_ctx)
        self._update_fit()

    def _read_fields(self) -> tuple[int | str, int]:
        return parse_gpu_layers(self.gpu.value), parse_n_ctx(self.ctx.value or "0")

    def _update_fit(self) -> None:
        info = self.selected
        if info is None:
            return
        try:
            gpu, n_ctx = self._read_fields()
        except ValueError as exc:
            self.fit.update(str(exc))
            return
        self.fit.update(describe_fit(info, gpu, n_ctx, self.listing.gpu))

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input is self.filter:
            self._refilter(event.value)
        else:
            self._update_fit()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show_selected()

    def action_move(self, step: int) -> None:
        if self.shown:
            self.options.highlighted = ((self.options.highlighted or 0) + step) % len(self.shown)

    def action_confirm(self) -> None:
        info = self.selected
        if info is None or not self.is_attached:
            return
        if not info.ok and info.error:
            self.fit.update(f"cannot load: {info.error}")
            # Still allowed: llama.cpp gives the final word, and the app rolls back.
        try:
            gpu, n_ctx = self._read_fields()
        except ValueError as exc:
            self.fit.update(str(exc))
            return
        trained = info.context_length
        if trained and n_ctx > trained and self._confirmed != (info.path, n_ctx):
            self._confirmed = (info.path, n_ctx)
            self.fit.update(f"n_ctx {n_ctx} is above the {trained} tokens this model was "
                            "trained on: replies may stop making sense, and memory grows "
                            "with it. Press Enter again to load anyway.")
            return
        self.dismiss(PickResult(info.path, gpu, n_ctx))

    def action_cancel(self) -> None:
        if self.is_attached:
            self.dismiss(None)
