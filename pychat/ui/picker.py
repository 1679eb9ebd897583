"""ctrl+o: choose a model and its gpu_layers / n_ctx, with the VRAM fit shown first."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from pychat.config import AUTO, parse_gpu_layers, parse_n_ctx
from pychat.engine.models import ModelInfo
from pychat.library import ModelListing, describe_fit


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


class ModelPicker(ModalScreen[PickResult | None]):
    """Filter as you type, ↑/↓ to choose, Enter to load, Escape to cancel."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="picker.cancel"),
        Binding("down", "move(1)", "Next", show=False, id="picker.down"),
        Binding("up", "move(-1)", "Previous", show=False, id="picker.up"),
        Binding("enter", "confirm", "Load", id="picker.load", priority=True),
    ]

    def __init__(self, listing: ModelListing) -> None:
        super().__init__()
        self.listing = listing
        self.shown: list[ModelInfo] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box"):
            yield Input(placeholder="type to filter models", id="picker-filter")
            yield OptionList(id="picker-list")
            yield Static("", id="picker-meta", markup=False)
            with Horizontal(classes="field"):
                yield Label("gpu_layers")
                yield Input(placeholder="auto", id="picker-gpu")
                yield Label("n_ctx")
                yield Input(placeholder="4096", id="picker-ctx", type="integer")
            yield Static("", id="picker-fit", markup=False)
            yield Static("Enter load · ↑↓ choose · Tab fields · Esc cancel", classes="hint")

    def on_mount(self) -> None:
        self.border_title = "Models"
        self._refilter("")
        self.query_one("#picker-filter", Input).focus()

    def _refilter(self, query: str) -> None:
        options = self.query_one("#picker-list", OptionList)
        self.shown = [i for i in self.listing.infos
                      if fuzzy_match(query, f"{i.file_name} {i.architecture} {i.file_type}")]
        options.clear_options()
        for info in self.shown:
            mark = "● " if info.path == self.listing.current else "  "
            label = f"{mark}{info.file_name}" + ("" if info.ok else "  (unusable)")
            options.add_option(Option(Text(label)))  # file names are never markup
        if self.shown:
            current = next((n for n, i in enumerate(self.shown)
                            if i.path == self.listing.current), 0)
            options.highlighted = current
            self._show_selected()
        else:
            self.query_one("#picker-meta", Static).update("no model matches")

    @property
    def selected(self) -> ModelInfo | None:
        index = self.query_one("#picker-list", OptionList).highlighted
        return self.shown[index] if index is not None and index < len(self.shown) else None

    def _show_selected(self) -> None:
        info = self.selected
        if info is None:
            return
        self.query_one("#picker-meta", Static).update(info.describe())
        gpu, n_ctx = self.listing.choices.get(info.path, (AUTO, 4096))
        self.query_one("#picker-gpu", Input).value = str(gpu)
        self.query_one("#picker-ctx", Input).value = str(n_ctx)
        self._update_fit()

    def _read_fields(self) -> tuple[int | str, int]:
        gpu = parse_gpu_layers(self.query_one("#picker-gpu", Input).value)
        return gpu, parse_n_ctx(self.query_one("#picker-ctx", Input).value or "0")

    def _update_fit(self) -> None:
        info = self.selected
        if info is None:
            return
        try:
            gpu, n_ctx = self._read_fields()
        except ValueError as exc:
            self.query_one("#picker-fit", Static).update(str(exc))
            return
        fit = describe_fit(info, gpu, n_ctx, self.listing.gpu)
        self.query_one("#picker-fit", Static).update(fit)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "picker-filter":
            self._refilter(event.value)
        else:
            self._update_fit()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show_selected()

    def action_move(self, step: int) -> None:
        options = self.query_one("#picker-list", OptionList)
        if self.shown:
            options.highlighted = ((options.highlighted or 0) + step) % len(self.shown)

    def action_confirm(self) -> None:
        info = self.selected
        if info is None:
            return
        if not info.ok and info.error:
            self.query_one("#picker-fit", Static).update(f"cannot load: {info.error}")
            # Still allowed: llama.cpp gives the final word, and the app rolls back.
        try:
            gpu, n_ctx = self._read_fields()
        except ValueError as exc:
            self.query_one("#picker-fit", Static).update(str(exc))
            return
        self.dismiss(PickResult(info.path, gpu, n_ctx))

    def action_cancel(self) -> None:
        self.dismiss(None)
