"""The model loader: the current model, its metadata, load state and load settings."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, Label, Static

from pychat.config import AUTO, parse_gpu_layers, parse_n_ctx
from pychat.engine.base import LoadedModel, LoadSpec, shown_name
from pychat.engine.models import ModelInfo, human_bytes
from pychat.library import Choice
from pychat.session.events import ModelLoaded
from pychat.ui.field import Field

FIELD_CHARS = 8
"""Longest gpu_layers / n_ctx text ("1048576", "auto"). Textual's Input checks its whole
value on every key, so a field that took a paste of thousands of characters made each
further key slower than the last (the key fuzz found the app busy for minutes)."""


class LoadBar(Static):
    """How far a load has come, as a bar of block characters and a percentage.

    Textual's ProgressBar runs a clock timer every second for as long as it exists,
    hidden or not: each tick refreshed the main screen, which under an open modal meant a
    whole-screen render every second (about 2 % of a core, idle)."""

    WIDTH = 20

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", markup=False, **kwargs)
        self.fraction = 0.0

    def show(self, fraction: float) -> None:
        self.fraction = max(0.0, min(1.0, fraction))
        filled = round(self.fraction * self.WIDTH)
        self.update(f"{'█' * filled}{'░' * (self.WIDTH - filled)} {self.fraction:4.0%}")


class LoaderPane(Vertical):
    """Shows the model and lets the user reload it with other gpu_layers / n_ctx."""

    class LoadRequested(Message):
        """The user asked to (re)load the current model with these settings."""

        def __init__(self, gpu_layers: int | str, n_ctx: int) -> None:
            self.gpu_layers = gpu_layers
            self.n_ctx = n_ctx
            super().__init__()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.border_title = "Model"
        # Not "loading": that is Widget's own reactive, which covers the pane with a
        # loading indicator and hides (and so blurs) the fields under it.
        self.load_in_progress = False
        self.info: ModelInfo | None = None
        self._confirmed_ctx: int | None = None

    def compose(self) -> ComposeResult:
        yield Static("no model", id="model-name", markup=False)
        yield Static("", id="model-meta", markup=False)
        yield Static("starting…", id="load-state", markup=False)
        yield LoadBar(id="load-progress")
        with Horizontal(classes="field"):
            yield Label("gpu_layers")
            yield Field(placeholder="auto", id="gpu-layers", max_length=FIELD_CHARS)
        with Horizontal(classes="field"):
            yield Label("n_ctx")
            yield Field(placeholder="4096", id="n-ctx", type="integer", max_length=FIELD_CHARS)
        yield Button("Load", id="load", variant="primary")
        yield Static("", id="fit", markup=False)

    @staticmethod
    def where(loaded: LoadedModel) -> str:
        """Where it runs: "12/19 layers on GPU", "CPU", or the server."""
        if loaded.spec.ref.is_remote:
            return f"on {loaded.spec.ref.server}"
        if not loaded.offloaded_layers:
            return "CPU"
        return f"{loaded.offloaded_layers}/{loaded.n_layer + 1} layers on GPU"

    def show_model(self, spec: LoadSpec, info: ModelInfo | None, gpu_layers: int | str,
                   n_ctx: int, about: str = "") -> None:
        """Display the model and put its settings in the fields; a server's model has no
        header to show, and no layers to place."""
        self.info = info
        name = info.file_name if info else shown_name(spec.name)
        self.query_one("#model-name", Static).update(name)
        self.query_one("#model-meta", Static).update(info.describe() if info else about)
        gpu = self.query_one("#gpu-layers", Input)
        gpu.disabled = info is None and spec.ref.is_remote
        gpu.placeholder = "the server's" if gpu.disabled else "auto"
        gpu.value = "" if gpu.disabled else str(gpu_layers)
        self.query_one("#n-ctx", Input).value = str(n_ctx)

    def show_loading(self, spec: LoadSpec, info: ModelInfo | None, choice: Choice) -> None:
        self.load_in_progress = True
        about = f"asking {spec.ref.server}…" if spec.ref.is_remote else ""
        self.show_model(spec, info, *choice, about=about)
        self.show_state(f"loading {shown_name(spec.name)}…", 0.0)
        self.show_fit("")

    def show_progress(self, fraction: float) -> None:
        if self.load_in_progress:
            self.show_state("loading…", fraction)

    def show_loaded(self, event: ModelLoaded) -> None:
        loaded = event.loaded
        self.load_in_progress = False
        state = f"ready · {self.where(loaded)} · loaded in {loaded.load_seconds:.2f} s"
        if event.rolled_back:
            state = "previous model restored · " + state
        if event.instead_of:
            state = f"{event.instead_of} did not load — using this one · " + state
        self.show_model(loaded.spec, event.info, event.choice[0], loaded.n_ctx,
                        about=loaded.location)
        self.show_state(state)
        if event.vram_used is not None:
            estimate = "?" if event.vram_estimate is None else human_bytes(event.vram_estimate)
            self.show_fit(f"VRAM estimated {estimate}, measured {human_bytes(event.vram_used)}")

    def show_state(self, text: str, progress: float | None = None) -> None:
        """Show the load state; ``progress`` None hides the bar."""
        if progress is None:
            self.load_in_progress = False
        self.query_one("#load-state", Static).update(text)
        bar = self.query_one("#load-progress", LoadBar)
        bar.display = progress is not None
        if progress is not None:
            bar.show(progress)

    def show_fit(self, text: str) -> None:
        self.query_one("#fit", Static).update(text)

    def _request_load(self) -> None:
        try:
            gpu_field = self.query_one("#gpu-layers", Input)
            gpu = parse_gpu_layers(gpu_field.value) if not gpu_field.disabled else AUTO
            ctx = parse_n_ctx(self.query_one("#n-ctx", Input).value or "0")
        except ValueError as exc:
            self.show_state(f"invalid setting: {exc}")
            return
        trained = self.info.context_length if self.info else 0
        if trained and ctx > trained and self._confirmed_ctx != ctx:
            self._confirmed_ctx = ctx
            self.show_state(f"n_ctx {ctx} is above the {trained} tokens this model was trained "
                            "on: replies may stop making sense. Enter again to load anyway.")
            return
        self.post_message(self.LoadRequested(gpu, ctx))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._request_load()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self._request_load()
