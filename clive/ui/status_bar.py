"""``StatusBar``: one line saying what the agent is doing and what the session has cost."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from clive.ui._format import clock, count, money

_SEPARATOR = " │ "


class StatusBar(Widget):
    """The session at a glance; every part is a reactive attribute, shown when set.

    Live: ``state`` (thinking, typing, waiting, paused, user in control, finished...) with
    ``detail`` (what it waits for) and ``state_seconds`` (for how long), ``model``, ``step``,
    ``tokens``, ``cost``, ``elapsed``, ``budget_left``. Replay adds ``position`` of
    ``duration``, ``speed`` and ``playing``.
    """

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        background: $panel;
        color: $foreground;
        padding: 0 1;
    }
    """

    state: reactive[str] = reactive("")
    detail: reactive[str] = reactive("")
    state_seconds: reactive[float | None] = reactive(None)
    model: reactive[str] = reactive("")
    step: reactive[int | None] = reactive(None)
    tokens: reactive[int | None] = reactive(None)
    cost: reactive[float | None] = reactive(None)
    elapsed: reactive[float | None] = reactive(None)
    budget_left: reactive[str] = reactive("")
    position: reactive[float | None] = reactive(None)
    duration: reactive[float | None] = reactive(None)
    speed: reactive[float] = reactive(1.0)
    playing: reactive[bool] = reactive(False)

    def render(self) -> Text:
        parts: list[Text] = []
        if self.position is not None:
            mark = "▶" if self.playing else "‖"
            where = clock(self.position)
            if self.duration is not None:
                where += f" / {clock(self.duration)}"
            parts.append(Text(f"{mark} {self.speed:g}x {where}", style="bold"))
        if self.state:
            state = self.state
            if self.detail:
                state += f" {self.detail}"
            if self.state_seconds is not None:
                state += f" ({clock(self.state_seconds)})"
            parts.append(Text(state, style="bold"))
        if self.step is not None:
            parts.append(Text(f"step {self.step}"))
        if self.model:
            parts.append(Text(self.model))
        if self.tokens is not None:
            parts.append(Text(f"{count(self.tokens)} tok"))
        if self.cost is not None:
            parts.append(Text(money(self.cost)))
        if self.elapsed is not None:
            parts.append(Text(f"elapsed {clock(self.elapsed)}"))
        if self.budget_left:
            parts.append(Text(f"left: {self.budget_left}"))
        return Text(_SEPARATOR).join(parts)
