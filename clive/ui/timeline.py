"""``Timeline``: the agent's steps as lines: what it saw, said and did, and what else happened."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len, chop_cells, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive, var
from textual.scroll_view import ScrollView
from textual.strip import Strip

from clive.session.events import (
    Approval,
    BudgetWarning,
    ContextCompacted,
    Control,
    Error,
    Event,
    ExperimentResult,
    InputSent,
    ModelRetry,
    ModelText,
    ModelTurn,
    Note,
    Observation,
    SessionEnded,
    SessionStarted,
    TerminalResized,
    ToolCall,
    ToolResult,
)
from clive.ui._format import clock, count, money

_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_INDENT = "  "


@dataclass
class _Entry:
    """One thing the timeline says: a line folded to the width, or text wrapped to it."""

    step: int | None  # the step whose block holds it (None before the first step)
    kind: str  # styled by the component class "timeline--<kind>"
    text: str
    wrap: bool = False
    first_row: int = 0  # where its rows start


class Timeline(ScrollView, can_focus=True):
    """The agent's steps as a scrollable list of lines, one block per step.

    ``add_event`` (or ``add_events``) appends what an event says; streamed ``model_text``
    grows the step's text until its ``model_turn`` replaces it. Lines are kept as text and
    drawn on demand (the Line API), so five thousand steps cost no more to show than ten.
    ``current_step`` is highlighted; Up and Down move it, Enter or a click on a step posts
    ``Timeline.StepSelected``.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "timeline--header",
        "timeline--start",
        "timeline--observation",
        "timeline--text",
        "timeline--thinking",
        "timeline--usage",
        "timeline--call",
        "timeline--result",
        "timeline--failed",
        "timeline--note",
        "timeline--warning",
        "timeline--error",
        "timeline--control",
        "timeline--dim",
        "timeline--end",
        "timeline--current",
    }

    DEFAULT_CSS = """
    Timeline {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        overflow-y: scroll;
        scrollbar-size-vertical: 1;
        & > .timeline--header { color: $text-accent; text-style: bold; }
        & > .timeline--start { text-style: bold; }
        & > .timeline--observation { color: $text-muted; }
        & > .timeline--thinking { color: $text-muted; text-style: italic; }
        & > .timeline--usage { color: $text-muted; }
        & > .timeline--call { color: $text-primary; }
        & > .timeline--result { color: $text-success; }
        & > .timeline--failed { color: $text-error; }
        & > .timeline--note { color: $text-warning; }
        & > .timeline--warning { color: $text-warning; }
        & > .timeline--error { color: $text-error; text-style: bold; }
        & > .timeline--control { color: $text-secondary; text-style: bold; }
        & > .timeline--dim { color: $text-muted; }
        & > .timeline--end { color: $text-accent; text-style: bold; }
        & > .timeline--current { background: $primary 20%; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "previous_step", "Previous step", show=False),
        Binding("down", "next_step", "Next step", show=False),
        Binding("enter", "select_step", "Go to step", show=False),
    ]

    current_step: reactive[int | None] = reactive(None)
    """The step highlighted (and kept in sight); None for none."""

    auto_scroll: var[bool] = var(True)
    """Scroll to the end when lines are added while the end is in sight."""

    class StepSelected(Message):
        """A step was picked: clicked, or Enter on the highlighted one."""

        def __init__(self, timeline: Timeline, step: int, time: float) -> None:
            super().__init__()
            self.timeline = timeline
            self.step = step
            self.time = time  # seconds into the session where the step starts

        @property
        def control(self) -> Timeline:
            return self.timeline

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._strips: LRUCache[tuple[int, bool], Strip] = LRUCache(1024)
        self._width = 0  # the width rows are laid out for (0: not known yet)
        self._reset()

    def _reset(self) -> None:
        self._entries: list[_Entry] = []
        self._laid_out = 0  # entries with rows
        self._rows: list[tuple[int, str]] = []  # (entry, text) for every line shown
        self._steps: list[int] = []  # in the order they started
        self._step_entry: dict[int, int] = {}  # step -> its header entry
        self._step_time: dict[int, float] = {}
        self._streaming: dict[int, int] = {}  # step -> entry of its text still streaming
        self._strips.clear()

    # -- what it shows --------------------------------------------------------------------

    @property
    def steps(self) -> list[int]:
        """The steps shown, in order."""
        return list(self._steps)

    def step_time(self, step: int) -> float:
        """When ``step`` started (seconds into the session)."""
        return self._step_time[step]

    @property
    def line_count(self) -> int:
        return len(self._rows)

    def line_text(self, y: int) -> str:
        """The text of line ``y`` (0 is the first line of the whole timeline)."""
        return self._rows[y][1]

    def add_event(self, event: Event) -> None:
        """Append what ``event`` says (terminal output says nothing here)."""
        self.add_events((event,))

    def add_events(self, events: Iterable[Event]) -> None:
        """Append what each event says, laying the lines out once."""
        at_end = self.is_vertical_scroll_end
        first_changed = None
        for event in events:
            changed = self._add(event)
            if changed is not None and (first_changed is None or changed < first_changed):
                first_changed = changed
        if first_changed is None:
            return
        self._layout_from(first_changed)
        if self.auto_scroll and at_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def clear(self) -> None:
        """Forget every line."""
        self._reset()
        self.current_step = None
        self.virtual_size = Size(self._width, 0)
        self.refresh()

    # -- events to entries ----------------------------------------------------------------

    def _add(self, event: Event) -> int | None:
        """Add ``event``'s entries; the index of the first entry added or changed, if any."""
        first = len(self._entries)
        step = getattr(event, "step", None)
        if step is not None and step not in self._step_entry:
            self._step_time[step] = event.t
            self._step_entry[step] = len(self._entries)
            self._steps.append(step)
            self._entries.append(_Entry(step, "header", f"step {step} · {clock(event.t)}"))
        if isinstance(event, ModelText):
            index = self._streaming.get(event.step)
            if index is not None:
                self._entries[index].text += event.text
                return min(index, first)
            self._streaming[event.step] = self._append("text", event.text, wrap=True)
            return first
        if isinstance(event, ModelTurn):
            text = event.text.strip()
            if event.purpose == "compact":
                text = f"notes for compaction: {text}"
            changed = first
            index = self._streaming.pop(event.step, None)
            if index is not None:
                self._entries[index].text = text
                changed = min(index, first)
            elif text:
                self._append("text", text, wrap=True)
            for kind, line, wrap in _turn_lines(event):
                self._append(kind, line, wrap=wrap)
            return changed
        for kind, line, wrap in _describe(event):
            self._append(kind, line, wrap=wrap)
        return first if len(self._entries) > first else None

    def _append(self, kind: str, text: str, *, wrap: bool = False) -> int:
        block = self._steps[-1] if self._steps else None
        self._entries.append(_Entry(block, kind, text, wrap))
        return len(self._entries) - 1

    # -- layout ---------------------------------------------------------------------------

    def _layout_from(self, index: int) -> None:
        """Lay out the rows of entries from ``index`` on (the ones before are unchanged)."""
        entries, rows = self._entries, self._rows
        if index < self._laid_out:
            start = entries[index].first_row
            del rows[start:]
        else:
            index, start = self._laid_out, len(rows)
        self._laid_out = len(entries)
        for i in range(index, len(entries)):
            entry = entries[i]
            entry.first_row = len(rows)
            rows.extend((i, text) for text in self._entry_rows(entry))
        stale = [key for key in list(self._strips.keys()) if key[0] >= start]
        for key in stale:
            self._strips.discard(key)
        self.virtual_size = Size(self._width, len(rows))
        self.refresh()

    def _entry_rows(self, entry: _Entry) -> list[str]:
        width = self._width
        if entry.kind == "header":
            text = f"{entry.text} "
            if width:
                text = set_cell_size(text + "─" * width, width)
            return [text]
        text = _CONTROL_CHARS.sub("?", entry.text.expandtabs(4))
        if not entry.wrap:
            return [_fold(_INDENT + " ".join(text.split()), width)]
        if not width:
            return [_INDENT + line for line in text.splitlines()]
        rows = []
        for line in text.rstrip().splitlines():
            rows.extend(_INDENT + piece for piece in _wrap(line, width - len(_INDENT)))
        return rows

    def on_resize(self, event: events.Resize) -> None:
        width = self.scrollable_content_region.width
        if width != self._width:
            self._width = width
            self._strips.clear()
            if self._entries:
                self._layout_from(0)
            if self.current_step is not None:
                self._scroll_to_step(self.current_step)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    # -- drawing --------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        row = self.scroll_offset.y + y
        width = self.size.width
        if row >= len(self._rows):
            return Strip.blank(width, self.rich_style)
        entry = self._entries[self._rows[row][0]]
        current = entry.step is not None and entry.step == self.current_step
        key = (row, current)
        strip = self._strips.get(key)
        if strip is None:
            strip = self._strips[key] = self._render_row(row, entry.kind, current, width)
        return strip

    def _render_row(self, row: int, kind: str, current: bool, width: int) -> Strip:
        style = self.get_component_rich_style(f"timeline--{kind}")
        fill = self.rich_style
        if current:
            # The full style: its background is blended over the timeline's.
            background = self.get_component_rich_style("timeline--current").bgcolor
            highlight = Style(bgcolor=background)
            style, fill = style + highlight, fill + highlight
        text = self._rows[row][1]
        return Strip([Segment(text, style)], cell_len(text)).crop_extend(0, width, fill)

    # -- selection ------------------------------------------------------------------------

    def watch_current_step(self, step: int | None) -> None:
        self.refresh()
        if step is not None:
            self._scroll_to_step(step)

    def _scroll_to_step(self, step: int) -> None:
        index = self._step_entry.get(step)
        if index is None or not self._width:
            return
        top = self._entries[index].first_row
        position = self._steps.index(step)
        if position + 1 < len(self._steps):
            bottom = self._entries[self._step_entry[self._steps[position + 1]]].first_row
        else:
            bottom = len(self._rows)
        height = self.scrollable_content_region.height
        if bottom - top > height:
            bottom = top + height  # a block taller than the view: show its start
        self.scroll_to_region(Region(0, top, 1, bottom - top), animate=False, immediate=True)

    def action_previous_step(self) -> None:
        self._move(-1)

    def action_next_step(self) -> None:
        self._move(1)

    def _move(self, delta: int) -> None:
        if not self._steps:
            return
        if self.current_step not in self._step_entry:
            self.current_step = self._steps[0 if delta > 0 else -1]
            return
        position = self._steps.index(self.current_step) + delta
        self.current_step = self._steps[max(0, min(position, len(self._steps) - 1))]

    def action_select_step(self) -> None:
        step = self.current_step
        if step is not None and step in self._step_time:
            self.post_message(self.StepSelected(self, step, self._step_time[step]))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        row = self.scroll_offset.y + offset.y
        if row >= len(self._rows):
            return
        step = self._entries[self._rows[row][0]].step
        if step is not None:
            self.current_step = step
            self.action_select_step()


def _fold(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells, an ellipsis saying it was cut."""
    if width and cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…"
    return text


def _wrap(text: str, width: int) -> list[str]:
    """``text`` wrapped at spaces to ``width`` cells (words longer than that are cut)."""
    width = max(width, 1)
    if cell_len(text) <= width:
        return [text]
    rows: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if cell_len(candidate) <= width:
            line = candidate
            continue
        if line:
            rows.append(line)
        pieces = chop_cells(word, width) or [""]
        rows.extend(pieces[:-1])
        line = pieces[-1]
    rows.append(line)
    return rows


def _turn_lines(turn: ModelTurn) -> list[tuple[str, str, bool]]:
    """What a model turn says besides its text: thinking, usage and cost, tool calls."""
    lines = []
    if turn.thinking.strip():
        lines.append(("thinking", f"thinking: {turn.thinking.strip()}", False))
    usage = turn.usage
    read = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
    if read or usage.output_tokens or turn.cost:  # a script's turns cost nothing: no line
        parts = [f"{count(read)} in", f"{count(usage.output_tokens)} out"]
        if usage.cache_read_tokens:
            parts.append(f"{count(usage.cache_read_tokens)} cached")
        if turn.cost is not None:
            parts.append(money(turn.cost))
        parts.append(f"{turn.duration:.1f}s")
        lines.append(("usage", " · ".join(parts), False))
    lines.extend(("call", _call_text(call), False) for call in turn.tool_calls)
    return lines


def _call_text(call: ToolCall) -> str:
    data = call.input if isinstance(call.input, dict) else None
    if data is None:
        return f"→ {call.name} {call.input!r}"
    if call.name == "type" and isinstance(data.get("text"), str):
        return f"→ type {data['text']!r}" + (" ⏎" if data.get("enter", True) else "")
    if call.name == "keys" and isinstance(data.get("keys"), list):
        return "→ keys " + " ".join(str(key) for key in data["keys"])
    if call.name == "wait":
        until = data.get("until", "done")
        text = f"→ wait until {until}"
        if until == "pattern":
            text += f" /{data.get('pattern', '')}/"
        elif until == "quiet" and data.get("seconds"):
            text += f" for {data['seconds']:g}s"
        return text + f", up to {data.get('timeout', 600):g}s"
    if call.name == "note":
        return "→ note"
    if call.name == "finish":
        return f"→ finish: {data.get('summary', '')}"
    return f"→ {call.name} {json.dumps(data, ensure_ascii=False)}"


_CONTROL_TEXT = {
    "pause": "‖ paused by the {source}",
    "resume": "▶ resumed by the {source}",
    "steer": "» the {source} says:",
    "take_over": "» the {source} took over the terminal",
    "give_back": "» the {source} gave the terminal back",
    "quit": "■ quit by the {source}",
}


def _describe(event: Event) -> list[tuple[str, str, bool]]:
    """The lines an event adds: (kind, text, wrapped)."""
    if isinstance(event, SessionStarted):
        scripted = " (scripted)" if event.scripted else ""
        return [
            ("start", f"● {event.task}", True),
            ("dim", f"{event.model}{scripted} · {event.cols}×{event.rows} · {event.cwd}", False),
        ]
    if isinstance(event, Observation):
        parts = [event.state]
        if event.exit_code is not None:
            parts.append(f"exit {event.exit_code}")
        parts.append(f"{event.new_output_lines} new lines")
        parts.append(f"{count(event.tokens)} tok")
        return [("observation", "◇ " + " · ".join(parts), False)]
    if isinstance(event, ToolResult):
        if event.name == "note" and event.ok:
            return []  # the note event says it
        mark = "✓" if event.ok else "✗"
        invalid = " (invalid call)" if event.invalid else ""
        took = f" {event.duration:.1f}s" if event.duration else ""
        text = f"{mark} {event.name}{invalid}{took}: {event.content}"
        return [("result" if event.ok else "failed", text, False)]
    if isinstance(event, Note):
        return [("note", f"✎ {event.text}", True)]
    if isinstance(event, Approval):
        verdict = "approved" if event.approved else "refused"
        why = f": {event.reason}" if event.reason else ""
        text = f"! {verdict} by {event.by} ({event.rule}): {event.action!r}{why}"
        return [("warning" if event.approved else "failed", text, False)]
    if isinstance(event, ModelRetry):
        text = (
            f"↻ model call failed ({event.reason}); "
            f"try {event.attempt + 1} of {event.attempts} in {event.delay:.1f}s"
        )
        return [("warning", text, False)]
    if isinstance(event, ExperimentResult):
        metric = "no number" if event.metric is None else f"{event.metric:g}"
        best = "" if event.best_metric is None else f" · best {event.best_metric:g}"
        kind = {"keep": "result", "baseline": "result", "discard": "dim"}.get(
            event.status.value, "failed"
        )
        text = f"⚗ experiment {event.experiment} {event.status.value}: {metric}{best}"
        lines = [(kind, text, False), ("dim", f"  {event.description}", True)]
        if event.reason and event.status.value not in ("keep", "baseline"):
            lines.append(("dim", f"  {event.reason}", True))
        return lines
    if isinstance(event, ContextCompacted):
        text = (
            f"✎ context compacted: {count(event.tokens_before)} → "
            f"{count(event.tokens_after)} tokens"
        )
        return [("note", text, False)]
    if isinstance(event, BudgetWarning):
        return [("warning", f"! budget {event.budget}: {event.used:g} of {event.limit:g}", False)]
    if isinstance(event, Error):
        lines = event.message.strip().splitlines() or [""]
        fatal = "fatal " if event.fatal else ""
        return [("error", f"✗ {fatal}error: {lines[-1]}", True)]
    if isinstance(event, Control):
        text = _CONTROL_TEXT[event.action].format(source=event.source)
        if event.message:
            text += f" {event.message}"
        return [("control", text, True)]
    if isinstance(event, InputSent):
        if event.source == "agent":
            return []  # the tool call says it
        return [
            (
                "control" if event.source == "user" else "dim",
                f"» {event.source} typed {event.data!r}",
                False,
            )
        ]
    if isinstance(event, TerminalResized):
        return [("dim", f"terminal resized to {event.cols}×{event.rows}", False)]
    if isinstance(event, SessionEnded):
        totals = event.totals
        why = event.summary or event.reason
        lines = [("end", f"■ {event.outcome.value}" + (f": {why}" if why else ""), True)]
        usage = totals.usage
        read = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
        parts = [f"{totals.steps} steps", clock(totals.duration)]
        parts.append(f"{count(read)} in · {count(usage.output_tokens)} out")
        if totals.cost is not None:
            parts.append(money(totals.cost))
        lines.append(("usage", " · ".join(parts), False))
        return lines
    return []
