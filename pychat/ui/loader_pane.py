"""The model loader: the current model, its metadata, load state and load settings."""

from __future__ import annotations

from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, Label, ProgressBar, Static

from pychat.config import parse_gpu_layers, parse_n_ctx
from pychat.engine.models import ModelInfo, human_bytes


class LoaderPane(Vertical):
    """Shows the model and lets the user reload it with other gpu_layers / n_ctx."""

    class LoadRequested(Message):
        """The user asked to (re)load the current model with these settings."""

        def __init__(self, gpu_layers: int | str, n_ctx: int) -> None:
            self.gpu_layers = gpu_layers
            self.n_ctx = n_ctx
            super().__init__()

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.border_title = "Model"

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static("no model", id="model-name", markup=False)
        yield Static("", id="model-meta", markup=False)
        yield Static("starting…", id="load-state", markup=False)
        yield ProgressBar(total=1.0, show_eta=False, id="load-progress")
        with Horizontal(classes="field"):
            yield Label("gpu_layers")
            yield Input(placeholder="auto", id="gpu-layers")
        with Horizontal(classes="field"):
            yield Label("n_ctx")
            yield Input(placeholder="4096", id="n-ctx", type="integer")
        yield Button("Load", id="load", variant="primary")
        yield Static("", id="fit", markup=False)

    def show_model(self, info: ModelInfo, gpu_layers: int | str, n_ctx: int) -> None:
        """Display ``info`` and put its settings in the fields."""
        self.query_one("#model-name", Static).update(info.file_name)
        self.query_one("#model-meta", Static).update(info.describe())
        self.query_one("#gpu-layers", Input).value = str(gpu_layers)
        self.query_one("#n-ctx", Input).value = str(n_ctx)

    def show_state(self, text: str, progress: float | None = None) -> None:
        """Show the load state; ``progress`` None hides the bar."""
        self.query_one("#load-state", Static).update(text)
        bar = self.query_one("#load-progress", ProgressBar)
        bar.display = progress is not None
        if progress is not None:
            bar.update(progress=progress)

    def show_fit(self, text: str) -> None:
        self.query_one("#fit", Static).update(text)

    def show_vram_after_load(self, estimate: int | None, measured: int | None) -> None:
        """Estimated vs measured VRAM of the loaded model, when there is a GPU."""
        if measured is None:
            return
        est = human_bytes(estimate) if estimate is not None else "?"
        self.show_fit(f"VRAM estimated {est}, measured {human_bytes(measured)}")

    def _request_load(self) -> None:
        try:
            gpu = parse_gpu_layers(self.query_one("#gpu-layers", Input).value)
            ctx = parse_n_ctx(self.query_one("#n-ctx", Input).value or "0")
        except ValueError as exc:
            self.show_state(f"invalid setting: {exc}")
            return
        self.post_message(self.LoadRequested(gpu, ctx))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._request_load()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self._request_load()
