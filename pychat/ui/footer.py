"""The footer of key bindings: one line drawn by one widget.

Textual's Footer mounts a widget per key (17 on the main screen) and mounts them all again
whenever the active bindings *may* have changed: every focus change, every modal opened or
closed. Those widgets cost ~75 ms of the first frame on a 2-core host (mounting, styling
and drawing them), a rebuild showed in the profile of typing just after a long chat
opened, and each rebuild leaked in Textual 8. PyChat is keyboard-only: a key in the footer
is never clicked, so the line is drawn as text, and only when the keys it shows change.
"""

from __future__ import annotations

from typing import NamedTuple

from rich.text import Text
from textual.screen import Screen
from textual.widget import Widget

from pychat.ui.compat import forget_dead_styles_caches

PALETTE_ACTION = "command_palette"


class ShownKey(NamedTuple):
    """One key as the footer shows it."""

    key: str
    """How the key is written ("^o", "⏎")."""
    description: str
    enabled: bool


class KeyFooter(Widget):
    """The keys that act where the focus is, with the command palette's on the right. Keys
    that do not fit are left out whole, and an ellipsis says so (F1 lists them all)."""

    COMPONENT_CLASSES = {"key-footer--key", "key-footer--description",
                         "key-footer--separator"}

    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        .key-footer--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        .key-footer--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        .key-footer--separator {
            color: $foreground 20%;
        }
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.rebuilds = 0
        """How many times the keys shown changed (a test counts them)."""
        self.keys: tuple[ShownKey, ...] = ()
        """The keys shown, left to right."""
        self.palette: ShownKey | None = None
        """The command palette's key, shown on the right."""

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.call_after_refresh(self.update_keys)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        # Bindings change when widgets come and go (a modal closed): the style cache
        # Textual keeps would hold the departed ones' rendered lines.
        forget_dead_styles_caches()
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self.update_keys)

    def update_keys(self) -> None:
        """Read the active bindings; draw again only if the keys shown differ."""
        if not self.is_attached:
            return
        keys: dict[str, ShownKey] = {}  # by action: the first of a command's keys
        palette = None
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            shown = ShownKey(self.app.get_key_display(binding), binding.description, enabled)
            if binding.action == PALETTE_ACTION:
                palette = palette or shown
            elif binding.show and binding.action not in keys:
                keys[binding.action] = shown
        if (tuple(keys.values()), palette) == (self.keys, self.palette):
            return
        self.keys, self.palette = tuple(keys.values()), palette
        self.rebuilds += 1
        self.refresh()

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-footer--key")
        description_style = self.get_component_rich_style("key-footer--description")

        def item(key: ShownKey) -> Text:
            text = Text.assemble((f" {key.key} ", key_style),
                                 (f"{key.description} ", description_style))
            if not key.enabled:
                text.stylize("dim")
            return text

        right = Text()
        if self.palette is not None:
            right = Text("▏", self.get_component_rich_style("key-footer--separator"))
            right.append_text(item(self.palette))
        room = self.size.width - right.cell_len
        left = Text(no_wrap=True, overflow="crop")
        for number, key in enumerate(self.keys):
            piece = item(key)
            more = number < len(self.keys) - 1
            if left.cell_len + piece.cell_len + (1 if more else 0) > room:
                left.append("…", description_style)
                break
            left.append_text(piece)
        left.pad_right(max(0, room - left.cell_len))
        left.append_text(right)
        left.truncate(self.size.width)
        return left
