"""The main screen's model commands and events: the picker, reloads from the loader pane,
and a model loading, loaded or failing (what the loader pane, the status line and the log
show). A helper of the main screen; what it needs of it is ``ChatScreen``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pychat import instrument
from pychat.engine.base import shown_name
from pychat.gpu import VramSample
from pychat.library import Overrides
from pychat.session import events as ev
from pychat.ui.host import ChatScreen, Route
from pychat.ui.loader_pane import LoaderPane

if TYPE_CHECKING:
    from pychat.ui.picker import PickResult


class ModelCommands:
    """Models on the main screen (see the module docstring)."""

    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen
        self.session = screen.session
        self._unshown: VramSample | None = None
        self._covered = False

    def routes(self) -> dict[type[ev.Event], Route]:
        """The session's events about models, and what shows them."""
        return {ev.ModelLoading: self.loading,
                ev.LoadProgress: lambda e: self.screen.loader.show_progress(e.fraction),
                ev.ModelLoaded: self.loaded,
                ev.ModelLoadFailed: self.failed,
                ev.ModelsListed: self.listed,
                ev.VramSampled: self.sampled}

    def sampled(self, event: ev.VramSampled) -> None:
        """Show a sample, unless a modal covers the screen: redrawing the pane under it
        re-renders the whole modal (3-4 % of a core with the chat list open). The newest
        sample is shown when the screen comes back."""
        self.screen.status.show_memory(event.sample)
        self._unshown = event.sample
        if not self._covered:
            self.screen.vram.show(event.sample)
            self._unshown = None

    def covered(self, covered: bool) -> None:
        """A modal covers the main screen, or no longer does. Textual repaints a screen
        under a modal whenever it handles a message (its background repaint sets itself
        again), so the samples pause meanwhile: nobody sees them."""
        self._covered = covered
        self.session.watch_vram(not covered)
        if not covered and self._unshown is not None:
            self.screen.vram.show(self._unshown)
            self._unshown = None

    def open_picker(self) -> None:
        """The model list is gathered on a worker; the picker opens when it comes."""
        self.session.list_models()

    def listed(self, event: ev.ModelsListed) -> None:
        from pychat.ui.picker import ModelPicker  # modal screens: when first opened

        app = self.screen.app
        if app.screen is self.screen:  # not over the help, nor a picker opened already
            app.push_screen(ModelPicker(event.listing), self._picked)

    def _picked(self, result: PickResult | None) -> None:
        self.screen.prompt.focus()
        if result is None:
            return
        if result.ref.is_remote:  # n_ctx 0: what the server says
            self.session.load(result.ref, Overrides(None, result.n_ctx or None))
        else:
            self.session.load(result.ref, Overrides(result.gpu_layers, result.n_ctx))

    def reload(self, message: LoaderPane.LoadRequested) -> None:
        """The loader pane's Enter: the current model with other settings."""
        self.session.reload(Overrides(message.gpu_layers, message.n_ctx))

    def loading(self, event: ev.ModelLoading) -> None:
        self.screen.loader.show_loading(event.spec, event.info, event.choice)
        self.screen.status.model = shown_name(event.spec.name)

    def loaded(self, event: ev.ModelLoaded) -> None:
        screen, loaded = self.screen, event.loaded
        instrument.trace("model_ready", model=loaded.spec.name,
                         load_seconds=loaded.load_seconds)
        screen.loader.show_loaded(event)
        screen.status.show_model(loaded)
        screen.vram.show_remote(loaded.location if loaded.spec.ref.is_remote else "")
        screen.log_pane.add("info", f"{loaded.spec.name} ready ({screen.loader.where(loaded)}, "
                            f"n_ctx {loaded.n_ctx}, format {loaded.chat_format}, "
                            f"{loaded.load_seconds:.2f} s)")
        screen.count_budget()
        if event.instead_of:
            screen.tell(f"{event.instead_of} did not load; {loaded.spec.name} loaded "
                        "instead (details in the log, ctrl+l).", "Model replaced", "warning")
        instrument.freeze_startup_objects()

    def failed(self, event: ev.ModelLoadFailed) -> None:
        self.screen.log_pane.add("error", event.message)
        self.screen.loader.show_state(f"failed: {event.message}")
        self.screen.tell(event.message, event.title, "error")
