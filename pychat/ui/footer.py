"""The footer of key bindings, and the two Textual leaks it plugs.

The footer is rebuilt whenever the active bindings change (every focus change, every modal
opened or closed), which makes it the place where widgets are thrown away most often in
PyChat — and where two Textual 8 leaks showed: 20 model switches through the picker kept
14 MiB of dead widgets and their rendered lines alive (bench/run.py, switch figures).
"""

from __future__ import annotations

from textual.widgets import Footer


def _forget_dead_styles_caches() -> None:
    """Textual memoises ``StylesCache.get_inner_outer`` with ``lru_cache`` on the method,
    so the cache keeps the last 1024 widgets' style caches alive, each with every line it
    rendered. Emptying it is safe: it only maps two colours to two styles."""
    try:
        from textual._styles_cache import StylesCache

        StylesCache.get_inner_outer.cache_clear()
    except (ImportError, AttributeError):  # a Textual without that cache: nothing to do
        pass


class KeyFooter(Footer):
    """Textual's Footer. Each key it shows binds itself to the footer's ``compact``
    reactive, and Textual drops such watchers only when ``compact`` changes, so every key
    removed by a rebuild stayed alive. After each rebuild, removed keys' watchers go."""

    async def recompose(self) -> None:
        await super().recompose()
        # Textual keeps a node's reactive watchers in this attribute (reactive._watch).
        watchers: dict[str, list] = getattr(self, "__watchers", {})
        for callbacks in watchers.values():
            callbacks[:] = [(node, callback) for node, callback in callbacks
                            if not (node._closing or node._closed)]
        _forget_dead_styles_caches()
