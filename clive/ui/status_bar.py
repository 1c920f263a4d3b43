"""``StatusBar``: one line saying what the agent is doing and what the session has cost."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from clive.ui._fit import Part, fit, fold
from clive.ui._format import clock, count, money

_SEPARATOR = " │ "
_SHORT_DETAIL = 40  # cells of the state and its detail when the line is short of room
# When the line is too long, which part shortens next: what the agent is doing (or where the
# replay is), the step and the cost stay.
_SHORTEN = (
    "model", "tokens", "elapsed", "state", "left", "position", "left", "state", "state",
)  # fmt: skip


class StatusBar(Widget):
    """The session at a glance, in one line however narrow; every part is a reactive
    attribute, shown when set.

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
        return fit(self._parts(), _SHORTEN, self.content_size.width, _SEPARATOR)

    def _parts(self) -> dict[str, Part]:
        parts: dict[str, Part] = {}
        if self.position is not None:
            mark = f"{'▶' if self.playing else '‖'} {self.speed:g}x {clock(self.position)}"
            whole = mark if self.duration is None else f"{mark} / {clock(self.duration)}"
            parts["position"] = Part((whole, mark), style="bold")
        if self.state:
            since = "" if self.state_seconds is None else f" ({clock(self.state_seconds)})"
            forms = (f"{self.state}{since}", self.state)
            if self.detail:
                detail = f"{self.state} {self.detail}"
                forms = (detail + since, fold(detail, _SHORT_DETAIL) + since, *forms)
            parts["state"] = Part(forms, style="bold")
        if self.step is not None:
            parts["step"] = Part((f"step {self.step}",))
        if self.model:
            parts["model"] = Part((self.model, ""))
        if self.tokens is not None:
            parts["tokens"] = Part((f"{count(self.tokens)} tok", ""))
        if self.cost is not None:
            parts["cost"] = Part((money(self.cost),))
        if self.elapsed is not None:
            parts["elapsed"] = Part((f"elapsed {clock(self.elapsed)}", ""))
        if self.budget_left:
            first = self.budget_left.split(", ")[0]
            parts["left"] = Part((f"left: {self.budget_left}", f"left: {first}", ""))
        return parts
