"""ctrl+o: choose a model — a local file with its gpu_layers / n_ctx and the VRAM fit
shown first, or a model a configured server offers."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from pychat.config import AUTO, parse_gpu_layers, parse_n_ctx
from pychat.engine.backends import ServerModels
from pychat.engine.base import REMOTE_MARK, ModelRef, shown_name
from pychat.engine.models import ModelInfo
from pychat.library import ModelListing, describe_fit
from pychat.text import inert_line
from pychat.ui.bindings import bindings
from pychat.ui.field import Field
from pychat.ui.loader_pane import FIELD_CHARS
from pychat.ui.modals import DismissOnce


@dataclass(frozen=True)
class PickResult:
    """The user's choice (``gpu_layers`` means nothing for a server's model)."""

    ref: ModelRef
    gpu_layers: int | str
    n_ctx: int


@dataclass(frozen=True)
class PickEntry:
    """One line of the list: a local file (``info``) or a server's model (``server``)."""

    ref: ModelRef | None
    """None for a line that only says something (a server that cannot be listed)."""
    label: str
    info: ModelInfo | None = None
    server: ServerModels | None = None

    @property
    def error(self) -> str:
        """Why it cannot be loaded ("" when it can)."""
        if self.info is not None:
            return self.info.error
        return self.server.error if self.server is not None and self.ref is None else ""

    def describe(self) -> str:
        if self.info is not None:
            return self.info.describe()
        assert self.server is not None
        if self.ref is None:
            return f"{self.server.label}: {self.server.error or 'lists no models'}"
        busy = " (answering us now: the list may be old)" if self.server.busy else ""
        return f"on {self.server.label}{busy}"


def entries(listing: ModelListing) -> list[PickEntry]:
    """The local files, then each server's models (or why it could not list them)."""
    found = [PickEntry(ModelRef.local(info.path), info.file_name, info=info)
             for info in listing.infos]
    for server in listing.servers:
        if server.error or not server.models:
            found.append(PickEntry(None, f"{server.name}: unreachable" if server.error
                                   else f"{server.name}: no models", server=server))
            continue
        found += [PickEntry(ModelRef.remote(server.name, model),
                            shown_name(inert_line(f"{model}{REMOTE_MARK}{server.name}")),
                            server=server)
                  for model in server.models]
    return found


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
        self.all = entries(listing)
        self.shown: list[PickEntry] = []
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
        self._confirmed: tuple[ModelRef, int] | None = None
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
        self.shown = [e for e in self.all if fuzzy_match(query, self._haystack(e))]
        self.options.clear_options()
        for entry in self.shown:
            mark = "● " if entry.ref is not None and entry.ref == self.listing.current \
                else "  "
            label = f"{mark}{entry.label}" + ("  (unusable)" if entry.error else "")
            self.options.add_option(Option(Text(label)))  # names are never markup
        if self.shown:
            current = next((n for n, e in enumerate(self.shown)
                            if e.ref is not None and e.ref == self.listing.current), 0)
            self.options.highlighted = current
            self._show_selected()
        else:
            self.meta.update("no model matches")

    @staticmethod
    def _haystack(entry: PickEntry) -> str:
        if entry.info is not None:
            return f"{entry.label} {entry.info.architecture} {entry.info.file_type}"
        return entry.label

    @property
    def selected(self) -> PickEntry | None:
        index = self.options.highlighted
        return self.shown[index] if index is not None and index < len(self.shown) else None

    def _show_selected(self) -> None:
        entry = self.selected
        if entry is None:
            return
        self.meta.update(entry.describe())
        if entry.info is not None:
            gpu, n_ctx = self.listing.choices.get(entry.info.path, (AUTO, 4096))
            self.gpu.disabled, self.gpu.placeholder = False, "auto"
            self.gpu.value, self.ctx.value = str(gpu), str(n_ctx)
        else:  # a server's model: its layers are the server's business
            self.gpu.value, self.gpu.disabled = "", True
            self.gpu.placeholder = "the server's"
            self.ctx.value = "0"
        self._update_fit()

    def _read_fields(self) -> tuple[int | str, int]:
        gpu = parse_gpu_layers(self.gpu.value) if not self.gpu.disabled else AUTO
        return gpu, parse_n_ctx(self.ctx.value or "0")

    def _update_fit(self) -> None:
        entry = self.selected
        if entry is None:
            return
        try:
            gpu, n_ctx = self._read_fields()
        except ValueError as exc:
            self.fit.update(str(exc))
            return
        if entry.info is None:
            self.fit.update("Runs on the server: its memory is not visible here. n_ctx 0 = "
                            "what the server says (or its config).")
            return
        self.fit.update(describe_fit(entry.info, gpu, n_ctx, self.listing.gpu))

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input is self.filter:
            self._refilter(event.value)
        else:
            self._update_fit()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show_selected()

    # Enter is not a priority binding: it must act after the keys typed before it (a
    # filter typed and Enter pressed in one burst, as tmux send-keys or a fast typist
    # sends them, loaded the model highlighted before the filter applied). The focused
    # field or list handles Enter in order, and says so with these messages.
    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_confirm()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_confirm()

    def action_move(self, step: int) -> None:
        if self.shown:
            self.options.highlighted = ((self.options.highlighted or 0) + step) % len(self.shown)

    def action_confirm(self) -> None:
        entry = self.selected
        if entry is None or not self.is_attached:
            return
        if entry.ref is None:
            self.fit.update(entry.describe())
            return
        if entry.error:
            self.fit.update(f"cannot load: {entry.error}")
            # Still allowed: llama.cpp gives the final word, and the app rolls back.
        try:
            gpu, n_ctx = self._read_fields()
        except ValueError as exc:
            self.fit.update(str(exc))
            return
        trained = entry.info.context_length if entry.info is not None else 0
        if trained and n_ctx > trained and self._confirmed != (entry.ref, n_ctx):
            self._confirmed = (entry.ref, n_ctx)
            self.fit.update(f"n_ctx {n_ctx} is above the {trained} tokens this model was "
                            "trained on: replies may stop making sense, and memory grows "
                            "with it. Press Enter again to load anyway.")
            return
        self.dismiss(PickResult(entry.ref, gpu, n_ctx))

    def action_cancel(self) -> None:
        if self.is_attached:
            self.dismiss(None)
