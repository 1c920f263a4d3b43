"""``Timeline``: the agent's steps as lines: what it saw, said and did, and what else happened."""

from __future__ import annotations

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

from clive.session.events import Event
from clive.session.present import Numbers, Presented, Presenter, Turn
from clive.ui._fit import fold
from clive.ui._format import clock, count, money

_NUMBERS = Numbers(tokens=count, money=money, elapsed=clock, estimated="", arrow="→")
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

    ``add_event`` (or ``add_events``) appends what an event says (``clive.session.present``);
    streamed ``model_text`` grows the step's text until its ``model_turn`` replaces it; what
    the user types while they have the terminal comes a line at a time, when it is entered.
    Lines are kept as text and drawn on demand (the Line API), so five thousand steps cost no
    more to show than ten.
    ``current_step`` is highlighted; Up and Down move it, Enter or a click on a step posts
    ``Timeline.StepSelected``. The newest line stays in sight as lines come, and when the
    view changes size, until the user scrolls up or highlights an earlier step; scrolling
    back to the end, or highlighting the latest step, follows again.
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
    """Follow the newest line (see the class); off, only the highlighted step is kept in
    sight (replay: the position decides)."""

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
        self._following = True  # at the end, or the user has not moved away from it
        self._reset()

    def _reset(self) -> None:
        self._entries: list[_Entry] = []
        self._laid_out = 0  # entries with rows
        self._rows: list[tuple[int, str]] = []  # (entry, text) for every line shown
        self._steps: list[int] = []  # in the order they started
        self._step_entry: dict[int, int] = {}  # step -> its header entry
        self._step_time: dict[int, float] = {}
        self._streaming: dict[int, int] = {}  # step -> entry of its text still streaming
        self._presenter = Presenter(_NUMBERS)
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
        first_changed = None
        for event in events:
            changed = self._add(event)
            if changed is not None and (first_changed is None or changed < first_changed):
                first_changed = changed
        if first_changed is None:
            return
        self._layout_from(first_changed)
        self._follow()

    def clear(self) -> None:
        """Forget every line."""
        self._reset()
        self.current_step = None
        self.virtual_size = Size(self._width, 0)
        self._following = True
        self.refresh()

    # -- events to entries ----------------------------------------------------------------

    def _add(self, event: Event) -> int | None:
        """Add what ``event`` says; the index of the first entry added or changed, if any."""
        return min(map(self._add_presented, self._presenter.add(event)), default=None)

    def _add_presented(self, item: Presented) -> int:
        """Add ``item``'s entries; the index of the first entry added or changed."""
        first = len(self._entries)
        step = item.step
        if step is not None and step not in self._step_entry:
            self._step_time[step] = item.t
            self._step_entry[step] = len(self._entries)
            self._steps.append(step)
            self._entries.append(_Entry(step, "header", f"step {step} · {clock(item.t)}"))
        if item.streamed and step is not None:
            text = item.said[0].text
            index = self._streaming.get(step)
            if index is not None:
                self._entries[index].text += text
                return min(index, first)
            self._streaming[step] = self._append("text", text, wrap=True)
            return first
        if item.turn is not None:
            text = item.turn.said.line(marked=True)
            changed = first
            index = self._streaming.pop(step, None) if step is not None else None
            if index is not None:
                self._entries[index].text = text
                changed = min(index, first)
            elif text:
                self._append("text", text, wrap=True)
            for kind, line, wrap in _turn_lines(item.turn):
                self._append(kind, line, wrap=wrap)
            return changed
        for kind, line, wrap in _describe(item):
            self._append(kind, line, wrap=wrap)
        return first

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
            return [fold(_INDENT + " ".join(text.split()), width)]
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
        # Rows laid out anew, or a view taller or shorter (the experiments panel appearing):
        # what was in sight must stay so.
        if self.auto_scroll and self._following:
            self._follow()
        elif self.current_step is not None:
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

    # -- following the end ----------------------------------------------------------------

    def _follow(self) -> None:
        if self.auto_scroll and self._following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # However the view moved (wheel, keys, scrollbar, a highlighted step), it follows
        # the end again exactly when it is at the end.
        self._following = round(new_value) >= self.max_scroll_y

    # -- selection ------------------------------------------------------------------------

    def watch_current_step(self, step: int | None) -> None:
        self.refresh()
        if step is None:
            return
        if self.auto_scroll and [step] == self._steps[-1:]:
            self._following = True  # the latest step: its newest lines, as they come
            self._follow()
        else:
            self._scroll_to_step(step)
            self._following = False

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


def _turn_lines(turn: Turn) -> list[tuple[str, str, bool]]:
    """What a model turn says besides its text: thinking, what it spent, the tool calls,
    whether the reply was cut off."""
    lines = []
    if turn.thinking is not None:
        lines.append(("thinking", turn.thinking.line(marked=True), False))
    if turn.spent:
        lines.append(("usage", " · ".join(turn.spent), False))
    lines += [("call", f"→ {call.words}", False) for call in turn.calls]
    if turn.cut_off_by:
        lines.append(("warning", f"! cut off by {turn.cut_off_by}", False))
    return lines


def _describe(item: Presented) -> list[tuple[str, str, bool]]:
    """The lines an item adds: (kind, text, wrapped)."""
    lines = [(said.kind, said.line(marked=True), said.wrap) for said in item.said]
    if item.dropped:
        lines.append(("dim", f"left out of the notes request: {item.dropped}", False))
    return lines
