"""``HelpScreen``: the keys of the screen below it, and what each does."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    """A dialog listing keys and what they do: ``keys`` holds (keys, what they do) pairs;
    ``keys_of`` makes them from bindings. Escape, ``q`` or ``?`` closes it."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        & > Vertical {
            width: 72;
            height: auto;
            max-width: 90%;
            max-height: 90%;
            padding: 1 2;
            background: $panel;
            border: round $primary;
            border-title-style: bold;
        }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close", key_display="esc"),
    ]

    def __init__(self, keys: list[tuple[str, str]], title: str = "Keys") -> None:
        super().__init__()
        self._keys = keys
        self._title = title

    @staticmethod
    def keys_of(bindings: Iterable[BindingType]) -> list[tuple[str, str]]:
        """Each binding's keys as shown, and its tooltip (else its description)."""
        return [
            (b.key_display or b.key, b.tooltip or b.description)
            for b in bindings
            if isinstance(b, Binding)
        ]

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        for keys, meaning in self._keys:
            table.add_row(keys, meaning)
        with Vertical() as dialog:
            dialog.border_title = self._title
            yield Static(table)
            yield Static("[dim]esc, q or ? closes this[/dim]")
