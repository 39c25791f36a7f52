"""Modals: a confirmation, and one validated form used for pause, fire, period and backfill."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from cronsole.core.errors import CronsoleError
from cronsole.core.text import visible

Values = dict[str, str]
Check = Callable[[Values], str]  # the effect, in words; raises CronsoleError/ValueError if wrong


class ConfirmModal(ModalScreen[bool]):
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "Cancel"),
    ]

    def __init__(self, question: str, detail: str = "") -> None:
        super().__init__()
        self.question, self.detail = question, detail

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(visible(self.question), style="bold"))
            if self.detail:
                yield Label(Text(visible(self.detail, 2000)), classes="detail")
            with Horizontal(classes="buttons"):
                yield Button("Yes (y)", id="yes", variant="warning", compact=True)
                yield Button("No (n)", id="no", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    value: str = ""
    placeholder: str = ""


class EffectChecked(Message):
    """The form's values were checked (on a worker thread): what they would do."""

    def __init__(self, effect: str, valid: bool, values: Values) -> None:
        super().__init__()
        self.effect, self.valid, self.values = effect, valid, values


class FormModal(ModalScreen[Values | None]):
    """Fields, a live check of what submitting would do, and submit only when it passes."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, fields: list[Field], check: Check) -> None:
        super().__init__()
        self.title_text, self.fields, self.check = title, fields, check
        self.valid = False
        self.checked: Values | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(visible(self.title_text), style="bold"))
            for field in self.fields:
                yield Label(field.label)
                yield Input(
                    value=field.value,
                    placeholder=field.placeholder,
                    id=field.name,
                    select_on_focus=False,
                    compact=True,
                )
            yield Static("", id="effect")
            with Horizontal(classes="buttons"):
                yield Button("OK (enter)", id="ok", variant="primary", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        for box in self.query(Input):
            box.cursor_blink = False  # no idle animation (cheap over slow SSH)
        self.query_one(Input).focus()
        self.refresh_effect()

    def values(self) -> Values:
        return {f.name: self.query_one(f"#{f.name}", Input).value.strip() for f in self.fields}

    def on_input_changed(self) -> None:
        self.refresh_effect()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def refresh_effect(self) -> None:
        values = self.values()
        try:
            effect, valid = self.check(values), True
        except (CronsoleError, ValueError) as exc:
            effect, valid = f"✖ {exc}", False
        self.post_message(EffectChecked(effect, valid, values))

    def on_effect_checked(self, message: EffectChecked) -> None:
        self.show_effect(message.effect, message.valid, message.values)

    def show_effect(self, effect: str, valid: bool, values: Values | None = None) -> None:
        self.valid, self.checked = valid, values
        lines = [visible(line, 400) for line in effect.splitlines()[:30]]  # each line escaped
        self.query_one("#effect", Static).update(
            Text("\n".join(lines), style="" if valid else "bold red")
        )

    def on_input_submitted(self) -> None:
        self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.submit()
        else:
            self.dismiss(None)

    def submit(self) -> None:
        """Only values the (threaded) check has passed are submitted."""
        values = self.values()
        if self.valid and values == self.checked:
            self.dismiss(values)
        elif values != self.checked:
            self.refresh_effect()

    def action_cancel(self) -> None:
        self.dismiss(None)
