"""The footer of key bindings: rebuilt only when the keys it shows change, and without the
two Textual leaks a rebuild brings.

Textual's Footer rebuilds all its keys whenever the active bindings *may* have changed:
every focus change, every modal opened or closed, every refresh of bindings after a
reply. Most of those rebuilds show the same keys again, and each one mounts a dozen
widgets and styles them (the footer's rebuild showed in the profile of typing just after a
long chat opened). Each rebuild also leaked in Textual 8 — 20 model switches through the
picker kept 14 MiB of dead widgets and their rendered lines alive (bench, switch figures).
"""

from __future__ import annotations

from collections.abc import Hashable

from textual.widgets import Footer

from pychat.ui.compat import forget_dead_styles_caches, prune_dead_watchers


class KeyFooter(Footer):
    """Textual's Footer, rebuilt only when what it would show differs, and which lets go
    of the keys it removes."""

    def __init__(self) -> None:
        super().__init__()
        self.rebuilds = 0
        """How many times the keys were rebuilt (a test counts them)."""
        self._shown: Hashable = None

    def _keys_to_show(self) -> Hashable:
        """Everything the footer's keys are made from, as a value to compare."""
        return (self.compact, self.show_command_palette, tuple(
            (binding.key, binding.key_display, binding.description, binding.action,
             binding.group, enabled, tooltip)
            for _node, binding, enabled, tooltip in self.screen.active_bindings.values()
            if binding.show or binding.action == "command_palette"))

    async def recompose(self) -> None:
        # The bindings change when widgets come and go (a modal closed): the style cache
        # Textual keeps would hold the departed ones' rendered lines, rebuild or not.
        forget_dead_styles_caches()
        shown = self._keys_to_show() if self.is_attached else None
        if shown is not None and shown == self._shown:
            return
        self._shown = shown
        self.rebuilds += 1
        await super().recompose()
        prune_dead_watchers(self)
        forget_dead_styles_caches()
