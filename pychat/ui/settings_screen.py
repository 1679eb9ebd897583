"""ctrl+g: this chat's system prompt (or a named preset from config.toml) and sampling.

Every value goes through the config file's own check (``parse_setting``): a bad one is
refused with its valid range and the field keeps what was typed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from pychat.config import Sampling, check_preset, describe_setting, parse_setting
from pychat.session.history import ChatSettings
from pychat.text import inert_line
from pychat.ui.bindings import bindings
from pychat.ui.dialogs import AskText
from pychat.ui.field import Field
from pychat.ui.modals import DismissOnce
from pychat.ui.prompt_input import PromptInput

FIELDS = [f.name for f in dataclasses.fields(Sampling)]
KEEP = "(this chat's prompt)"
SavePreset = Callable[[str, str], str]
"""Saves a preset (name, prompt) to the config; returns "" or why it was not saved."""


class SettingsScreen(ModalScreen[ChatSettings | None], DismissOnce):
    """Tab moves between the fields; Enter applies; Escape leaves things as they were."""

    BINDINGS = bindings("settings")

    def __init__(self, current: ChatSettings, presets: dict[str, str],
                 save_preset: SavePreset) -> None:
        super().__init__()
        self.current = current
        self.presets = dict(presets)
        self._save_preset = save_preset
        self.preset_list = OptionList(id="settings-presets")
        self.prompt = PromptInput(id="settings-prompt")
        self.prompt.border_title = "System prompt · ctrl+j new line"
        self.fields = {name: Field(value=str(getattr(current.sampling, name)),
                                   id=f"settings-{name}", max_length=24)
                       for name in FIELDS}
        self.help = Static("", id="settings-help", markup=False)
        self.problem = Static("", id="settings-problem", markup=False)

    def compose(self) -> ComposeResult:
        with Vertical(id="settings-box"):
            yield Static("Presets (config.toml [presets]) · ↑↓ choose", classes="hint",
                         markup=False)
            yield self.preset_list
            yield self.prompt
            fields = VerticalScroll(id="settings-fields")
            fields.can_focus = False  # Tab goes from the prompt straight to temperature
            with fields:
                for name, field in self.fields.items():
                    with Horizontal(classes="field"):
                        yield Label(name)
                        yield field
            yield self.help
            yield self.problem
            yield Static("Enter apply to this chat · Tab next field · F5 save prompt as "
                         "preset · Esc cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#settings-box").border_title = "Settings for this chat"
        self.prompt.load_text(self.current.system_prompt)
        # Typing adds to the end of the prompt (once the box has its size).
        self.call_after_refresh(self.prompt.move_cursor, self.prompt.document.end)
        self._fill_presets()
        self.prompt.focus()

    def _fill_presets(self, highlight: str = KEEP) -> None:
        names = [KEEP, *self.presets]
        self.preset_list.clear_options()
        self.preset_list.add_options(Option(Text(inert_line(name))) for name in names)
        self.preset_list.highlighted = names.index(highlight) if highlight in names else 0

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if not self.preset_list.has_focus:
            return  # filled at mount, not chosen
        names = [KEEP, *self.presets]
        name = names[event.option_index] if event.option_index < len(names) else KEEP
        self.prompt.load_text(self.current.system_prompt if name == KEEP
                              else self.presets[name])

    def on_descendant_focus(self) -> None:
        focused = self.focused
        name = next((n for n, f in self.fields.items() if f is focused), None)
        self.help.update(f"{name}: {describe_setting('sampling', name)}" if name else "")

    def on_prompt_input_submitted(self, event: PromptInput.Submitted) -> None:
        event.stop()
        self.action_apply()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_apply()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_apply()

    def read(self) -> ChatSettings:
        """The settings as typed; raises ValueError naming the first bad field."""
        values = {}
        for name, field in self.fields.items():
            try:
                values[name] = parse_setting("sampling", name, field.value)
            except ValueError as exc:
                field.focus()
                raise ValueError(str(exc)) from exc
        return ChatSettings(self.prompt.text.strip(), Sampling(**values))

    def action_apply(self) -> None:
        if not self.is_attached:
            return
        try:
            settings = self.read()
        except ValueError as exc:
            self.problem.update(f"Not applied — {exc}")
            return
        self.dismiss(settings)

    def action_cancel(self) -> None:
        if self.is_attached:
            self.dismiss(None)

    def action_save_preset(self) -> None:
        prompt = self.prompt.text.strip()
        if not prompt:
            self.problem.update("Write a system prompt first, then save it as a preset.")
            return

        def named(name: str | None) -> None:
            if not name or not name.strip():
                return
            try:
                name, _ = check_preset(name, prompt)
            except ValueError as exc:
                self.problem.update(f"Not saved — {exc}")
                return
            problem = self._save_preset(name, prompt)
            if problem:
                self.problem.update(f"Not saved — {problem}")
                return
            self.presets[name] = prompt
            self._fill_presets(name)
            self.problem.update(f"Preset “{inert_line(name)}” saved to config.toml.")

        self.app.push_screen(AskText("Name for this preset:", max_length=40), named)
