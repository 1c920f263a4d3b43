"""``ReplayApp``: a recorded session played back in the live UI's widgets.

The terminal view shows the screen exactly as it was at the position: a seek restores it from
the cast's keyframes (``ScreenIndex.screen_at``); playing feeds the cast's events to an
emulator as time passes, and shows the screen at most 30 times a second. The timeline holds
the session's events and highlights the step under way at the position.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Generator
from typing import ClassVar

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer

from clive.session.asciicast import CastEvent, iter_events, last_time
from clive.session.events import ExperimentResult, MeasurementStarted, SessionEnded
from clive.session.measurement import MEASUREMENT_CAST
from clive.session.reader import Session
from clive.session.replay import ScreenIndex, apply_resize
from clive.terminal.emulator import Emulator
from clive.ui._agent_status import AgentStatus, next_status
from clive.ui.experiments_panel import ExperimentsPanel
from clive.ui.help_screen import HelpScreen
from clive.ui.status_bar import StatusBar
from clive.ui.terminal_view import TerminalView
from clive.ui.timeline import Timeline

SPEEDS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
FRAMES_PER_SECOND = 30
# The terminal takes its own width when it can, leaving the timeline at least this much.
TIMELINE_MIN_WIDTH = 32
# Keys the timeline handles when it has the focus.
_TIMELINE_KEYS = [
    ("↑ ↓", "Move the highlight in the timeline"),
    ("enter, click", "Jump to the highlighted (or clicked) step"),
]


class ReplayApp(App[None]):
    """Plays ``session`` back: its terminal, its timeline of steps, its status.

    ``start_at`` is the starting position in seconds (negative: from the end). ``index`` is
    the cast's screen index when the caller has opened it already (building one for a long
    cast takes a while and deserves a progress report); ``clock`` measures playing time.
    """

    TITLE = "clive replay"

    CSS = """
    #main { height: 1fr; background: $panel; }
    #agent-pane { width: 1fr; border-left: vkey $panel-lighten-2; }
    #agent-pane > Timeline { height: 1fr; }
    TerminalView.measuring { border: round $success; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_play", "Play/pause", key_display="space"),
        Binding(
            "plus,equals_sign", "faster", "Faster", key_display="+", tooltip="Speed up (to 16x)"
        ),
        Binding("minus", "slower", "Slower", key_display="-", tooltip="Slow down (to 0.5x)"),
        Binding("left", "seek(-5)", "-5s", priority=True, tooltip="Back 5 seconds"),
        Binding("right", "seek(5)", "+5s", priority=True, tooltip="Forward 5 seconds"),
        Binding(
            "shift+left",
            "seek(-60)",
            "-1m",
            priority=True,
            show=False,
            key_display="shift+←",
            tooltip="Back a minute",
        ),
        Binding(
            "shift+right",
            "seek(60)",
            "+1m",
            priority=True,
            show=False,
            key_display="shift+→",
            tooltip="Forward a minute",
        ),
        Binding(
            "home", "seek_start", "Start", priority=True, show=False, tooltip="Go to the start"
        ),
        Binding("end", "seek_end", "End", priority=True, show=False, tooltip="Go to the end"),
        Binding("n", "next_step", "Next step", tooltip="Jump to the next agent step"),
        Binding("p", "previous_step", "Prev step", tooltip="Jump to the previous agent step"),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="Show this help"),
        Binding("q", "quit", "Quit", tooltip="Quit"),
    ]

    def __init__(
        self,
        session: Session,
        *,
        start_at: float | None = None,
        index: ScreenIndex | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.session = session
        self._clock = clock
        if index is None and session.cast_path.exists():
            index = ScreenIndex.open(session.cast_path)
        self._index = index
        self._keyframe_times = [k.time for k in index.keyframes] if index else []
        self._events = session.log().events
        self._cols, self._rows = session.size()
        ends = [self._events[-1].t] if self._events else []
        if index is not None:
            ends.append(last_time(index.cast_path))
        self._duration = max(ends, default=0.0)
        self._step_starts, self._steps = _step_starts(self._events)
        self._status_times, self._statuses = _statuses(self._events)
        if start_at is not None and start_at < 0:
            start_at = self._duration + start_at
        self._position = self._clamp(start_at or 0.0)
        self._speed = 1.0
        self._playing = False
        # Playing: the clock's time and the position when play started (or speed changed).
        self._anchor = (0.0, 0.0)
        # The screen at ``_fed``, and the cast's next events (opened when play needs them).
        self._emulator = Emulator(self._cols, self._rows)
        self._fed = 0.0
        self._screen_changed = True  # since it was last shown
        self._cast: Generator[CastEvent, None, None] | None = None
        self._next_event: CastEvent | None = None
        self._shown_step: int | None = None
        self._view = TerminalView(self._cols, self._rows)
        self._timeline = Timeline()
        self._status = StatusBar()
        self._panel = ExperimentsPanel()
        self._experiments = [e for e in self._events if isinstance(e, ExperimentResult)]
        self._experiment_times = [e.t for e in self._experiments]
        self._experiments_shown = 0
        # The harness's measurements: shown in the terminal pane while each ran.
        self._measurements = measurement_intervals(self._events, self._duration)
        self._measure_index: ScreenIndex | None = None
        measurement_cast = session.directory / MEASUREMENT_CAST
        if self._measurements and measurement_cast.exists():
            self._measure_index = ScreenIndex.open(measurement_cast)
        self._measurement_shown: float | None = None  # the position last drawn from it

    # -- state ----------------------------------------------------------------------------

    @property
    def position(self) -> float:
        """Seconds into the session shown."""
        return self._position

    @property
    def duration(self) -> float:
        return self._duration

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def current_step(self) -> int | None:
        """The agent step under way at the position (None before the first)."""
        i = bisect.bisect_right(self._step_starts, self._position) - 1
        return self._steps[i] if i >= 0 else None

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield self._view
            with Vertical(id="agent-pane"):
                yield self._timeline
                yield self._panel
        yield self._status
        yield Footer()

    def on_mount(self) -> None:
        timeline, status = self._timeline, self._status
        timeline.auto_scroll = False
        timeline.add_events(self._events)
        timeline.focus()
        status.model = self.session.info.model
        status.duration = self._duration
        self._timer = self.set_interval(1 / FRAMES_PER_SECOND, self.play_frame, pause=True)
        self._fit_terminal(self.size.width)
        self.seek(self._position)

    def on_resize(self, event: events.Resize) -> None:
        self._fit_terminal(event.size.width)

    def _fit_terminal(self, width: int) -> None:
        # Wider than that, the terminal view scrolls.
        self._view.styles.max_width = max(20, width - TIMELINE_MIN_WIDTH)

    # -- playing and seeking --------------------------------------------------------------

    def seek(self, position: float) -> None:
        """Show the session at ``position`` seconds (clamped to the recording)."""
        self._position = self._clamp(position)
        self._restore(self._position)
        self._anchor = (self._clock(), self._position)
        self._show(follow=True)

    def play(self) -> None:
        if self._position >= self._duration:
            self.seek(0.0)
        self._playing = True
        self._anchor = (self._clock(), self._position)
        self._timer.resume()
        self._show()

    def pause(self) -> None:
        self.play_frame()
        self._playing = False
        self._timer.pause()
        self._show()

    def play_frame(self) -> None:
        """Bring the screen up to the clock's time (the timer calls it while playing)."""
        if not self._playing:
            return
        started, at = self._anchor
        position = at + (self._clock() - started) * self._speed
        if position >= self._duration:
            position = self._duration
            self._playing = False
            self._timer.pause()
        self._position = self._clamp(position)
        self._advance(self._position)
        self._show()

    def set_speed(self, speed: float) -> None:
        self.play_frame()
        self._speed = speed
        self._anchor = (self._clock(), self._position)
        self._show()

    def _clamp(self, position: float) -> float:
        return min(max(position, 0.0), self._duration)

    def _restore(self, position: float) -> None:
        """Start again from the screen at ``position``, restored from the keyframes."""
        if self._cast is not None:
            self._cast.close()
        self._cast, self._next_event = None, None
        if self._index is not None:
            self._emulator = self._index.screen_at(position)
        self._fed = position
        self._screen_changed = True

    def _advance(self, position: float) -> None:
        """Feed the emulator the cast's events up to ``position``."""
        index = self._index
        if index is None or position <= self._fed:
            return
        times = self._keyframe_times
        if bisect.bisect_right(times, position) > bisect.bisect_right(times, self._fed):
            self._restore(position)  # a keyframe on the way: cheaper than feeding up to it
            return
        if self._cast is None:
            self._cast = self._events_after(self._fed)
        output: list[str] = []
        fed = False
        while True:
            event = self._next_event or next(self._cast, None)
            if event is None or event.time > position or event.offset >= index.cast_size:
                self._next_event = event
                break
            self._next_event = None
            fed = fed or event.code in ("o", "r")
            if event.code == "o":
                output.append(event.data)
            elif event.code == "r":
                self._emulator.feed("".join(output))
                output = []
                apply_resize(self._emulator, event.data)
        # One feed for the whole frame: output that scrolls away within it is skipped.
        self._emulator.feed("".join(output))
        self._fed = position
        self._screen_changed = self._screen_changed or fed

    def _events_after(self, position: float) -> Generator[CastEvent, None, None]:
        """The cast's events after ``position``, from the keyframe the screen came from."""
        assert self._index is not None
        keyframe = self._index.keyframe_before(position)
        events = iter_events(self._index.cast_path, keyframe.offset)
        for event in events:
            if event.time > position:
                self._next_event = event
                break
        return events

    def _show(self, *, follow: bool = False) -> None:
        """Show the screen, the step and the status at the position; ``follow`` moves the
        timeline's highlight to the current step even if the user moved it."""
        self._show_screen()
        step = self.current_step
        if follow or step != self._shown_step:
            self._shown_step = step
            self._timeline.current_step = step
        bar = self._status
        i = bisect.bisect_right(self._status_times, self._position) - 1
        status = self._statuses[i] if i >= 0 else AgentStatus()
        bar.position = self._position
        bar.speed = self._speed
        bar.playing = self._playing
        bar.state = status.state
        bar.detail = status.detail
        bar.state_seconds = self._position - status.since if status.state else None
        bar.step = status.step
        bar.tokens = status.tokens
        bar.cost = status.cost
        measured = bisect.bisect_right(self._experiment_times, self._position)
        if measured != self._experiments_shown:  # the experiments as they stood then
            self._experiments_shown = measured
            self._panel.clear()
            for result in self._experiments[:measured]:
                self._panel.add_event(result)

    def _show_screen(self) -> None:
        """The model's terminal, or the harness's measurement while one ran."""
        index = self._measure_index
        measuring = index is not None and measuring_at(self._measurements, self._position)
        if measuring != self._view.has_class("measuring"):
            self._view.set_class(measuring, "measuring")
            self._view.border_title = "measurement (the harness's terminal)" if measuring else ""
            self._screen_changed = True
            self._measurement_shown = None
        if measuring:
            if self._measurement_shown != self._position:
                self._measurement_shown = self._position
                screen = index.screen_at(self._position)
                self._view.show(screen.cells(), screen.cursor)
            return
        if self._screen_changed:
            self._screen_changed = False
            self._view.show(self._emulator.cells(), self._emulator.cursor)

    # -- keys -----------------------------------------------------------------------------

    def action_toggle_play(self) -> None:
        if self._playing:
            self.pause()
        else:
            self.play()

    def action_faster(self) -> None:
        self.set_speed(next((s for s in SPEEDS if s > self._speed), SPEEDS[-1]))

    def action_slower(self) -> None:
        self.set_speed(next((s for s in reversed(SPEEDS) if s < self._speed), SPEEDS[0]))

    def action_seek(self, seconds: float) -> None:
        self.seek(self._position + seconds)

    def action_seek_start(self) -> None:
        self.seek(0.0)

    def action_seek_end(self) -> None:
        self.seek(self._duration)

    def action_next_step(self) -> None:
        i = bisect.bisect_right(self._step_starts, self._position)
        if i < len(self._step_starts):
            self.seek(self._step_starts[i])
        else:
            self.bell()

    def action_previous_step(self) -> None:
        i = bisect.bisect_right(self._step_starts, self._position) - 1
        if i > 0:
            self.seek(self._step_starts[i - 1])
        elif self._position > 0:
            self.seek(0.0)
        else:
            self.bell()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            keys = HelpScreen.keys_of(self.BINDINGS) + _TIMELINE_KEYS
            self.push_screen(HelpScreen(keys, title="Replay keys"))

    def on_timeline_step_selected(self, message: Timeline.StepSelected) -> None:
        self.seek(message.time)


def measurement_intervals(events: list, end: float) -> list[tuple[float, float]]:
    """When the harness measured: from each ``measurement_started`` to its result."""
    intervals = []
    for i, event in enumerate(events):
        if isinstance(event, MeasurementStarted):
            done = next(
                (e.t for e in events[i + 1 :] if isinstance(e, ExperimentResult | SessionEnded)),
                end,
            )
            intervals.append((event.t, done))
    return intervals


def measuring_at(intervals: list[tuple[float, float]], position: float) -> bool:
    return any(start <= position < done for start, done in intervals)


def _step_starts(events: list) -> tuple[list[float], list[int]]:
    """When each step started (its first event), and the steps, in order."""
    starts: list[float] = []
    steps: list[int] = []
    seen: set[int] = set()
    for event in events:
        step = getattr(event, "step", None)
        if step is not None and step not in seen:
            seen.add(step)
            starts.append(event.t)
            steps.append(step)
    return starts, steps


def _statuses(events: list) -> tuple[list[float], list[AgentStatus]]:
    """The agent's status after each event, and the event's time."""
    times: list[float] = []
    statuses: list[AgentStatus] = []
    status = AgentStatus()
    for event in events:
        status = next_status(status, event)
        times.append(event.t)
        statuses.append(status)
    return times, statuses
