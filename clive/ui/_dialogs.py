"""The live app's dialogs: approve a risky command, confirm quitting, tell the agent."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from clive.agent.approval import ApprovalRequest

_DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 80; height: auto; max-height: 90%;
    border: thick $warning; background: $surface; padding: 1 2;
}}
{name} Horizontal {{ height: auto; align: center middle; margin-top: 1; }}
{name} Button {{ margin: 0 2; }}
"""


class ApprovalScreen(ModalScreen[bool]):
    """A risky command the agent wants to run: ``y`` approves it, ``n`` refuses it."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="ApprovalScreen")
    BINDINGS = [  # noqa: RUF012 - Textual's convention
        Binding("y", "answer(True)", "Approve"),
        Binding("n", "answer(False)", "Refuse"),
        Binding("escape", "answer(False)", "Refuse", show=False),
    ]

    # Keys pressed this soon after the dialog appeared were meant for something else (a
    # message being typed, another dialog): they neither approve nor refuse.
    ARMING = 0.5

    def __init__(
        self, request: ApprovalRequest, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.request = request
        self._clock = clock  # a test drives it
        self._shown_at = clock()

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Step {self.request.step}: the agent wants to run a risky command")
            yield Label(f"({self.request.rule})")
            yield Label(self.request.action, id="action", markup=False)
            with Horizontal():
                yield Button("Approve (y)", variant="warning", id="approve")
                yield Button("Refuse (n)", variant="primary", id="refuse")

    def on_mount(self) -> None:
        self._shown_at = self._clock()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_answer(event.button.id == "approve")

    def action_answer(self, approved: bool) -> None:
        if self._clock() - self._shown_at >= self.ARMING:
            self.dismiss(approved)


class ConfirmScreen(ModalScreen[bool]):
    """A yes-or-no question: ``y`` or ``n``."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="ConfirmScreen")
    BINDINGS = [  # noqa: RUF012 - Textual's convention
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "No", show=False),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            with Horizontal():
                yield Button("Yes (y)", variant="error", id="yes")
                yield Button("No (n)", variant="primary", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class SteerScreen(ModalScreen[str | None]):
    """A message for the agent, read at its next step; Enter sends, Escape cancels."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="SteerScreen")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]  # noqa: RUF012

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Tell the agent (it reads this at its next step):")
            yield Input(placeholder="e.g. the tests are in tests/unit; skip the slow ones")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
