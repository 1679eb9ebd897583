"""The footer of key bindings, and the two Textual leaks it plugs.

The footer is rebuilt whenever the active bindings change (every focus change, every modal
opened or closed), which makes it the place where widgets are thrown away most often in
PyChat — and where two Textual 8 leaks showed: 20 model switches through the picker kept
14 MiB of dead widgets and their rendered lines alive (bench/run.py, switch figures).
"""

from __future__ import annotations

from textual.widgets import Footer

from pychat.ui.compat import forget_dead_styles_caches, prune_dead_watchers


class KeyFooter(Footer):
    """Textual's Footer, which lets go of the keys it removes on each rebuild."""

    async def recompose(self) -> None:
        await super().recompose()
        prune_dead_watchers(self)
        forget_dead_styles_caches()
