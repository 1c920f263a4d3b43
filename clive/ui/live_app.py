"""``LiveApp``: a running session, watched and steered: the terminal beside the agent's timeline.

The agent runs in a thread of its own and never waits for the screen: its events go into a
queue, and the app takes them (and the terminal's screen, when there was output) at most
``FRAMES_PER_SECOND`` times a second. So a flood of output or of steps costs the UI a frame
at a time, and a key press is handled between two frames.

Keys: ``p`` pause or resume, ``t`` take the terminal (every key then goes to the shell, C-c
included, until ``ctrl+]`` gives it back), ``s`` tell the agent something, ``q`` quit (the
session ends as quit by the user; the agent is paused while the question is open), ``?`` help.
Once the session has ended, ``p``, ``t`` and ``s`` leave the footer. A risky command waits for
approval in a dialog.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Footer

from clive.agent.approval import ApprovalRequest, Decision
from clive.agent.control import AgentControl
from clive.agent.loop import AgentSettings
from clive.session.events import (
    Event,
    ExperimentResult,
    SessionEnded,
    TerminalOutput,
)
from clive.terminal import Terminal, TerminalError
from clive.terminal.keys import UnknownKeyError
from clive.ui import _format
from clive.ui._agent_status import AgentStatus, next_status
from clive.ui._dialogs import ApprovalScreen, ConfirmScreen, SteerScreen
from clive.ui._keys import tmux_key
from clive.ui.experiments_panel import ExperimentsPanel
from clive.ui.help_screen import HelpScreen
from clive.ui.status_bar import StatusBar
from clive.ui.terminal_view import TerminalView
from clive.ui.timeline import Timeline

FRAMES_PER_SECOND = 30
_ROOM_WAIT = 1.0  # seconds a fitted view may take to know its room before the session starts
FLOOD_SCREENS_PER_SECOND = 2  # screens a second while more than FLOOD_BYTES_PER_SECOND arrive
FLOOD_BYTES_PER_SECOND = 1 << 20
GIVE_BACK_KEY = "ctrl+right_square_bracket"

# start(control, approver, on_event, on_start) runs the session to its end (in a thread).
SessionStarter = Callable[..., Any]

HELP = [
    ("p", "pause the agent, or resume it (a wait in progress ends at once)"),
    ("t", "take the terminal: every key goes to the shell, C-c included"),
    ("ctrl+]", "give the terminal back: the agent is told what you did"),
    ("s", "tell the agent something: it reads it at its next step"),
    ("q", "quit: the session ends as quit by the user (asks first; the agent waits)"),
    ("?", "this help"),
    ("y / n", "in the approval dialog: run the risky command, or refuse it"),
]


class ShellKeys(Widget, can_focus=False):
    """Holds the focus while the user has the terminal: every key goes to the shell.
    ``active`` makes it focusable; nothing else ever focuses it."""

    DEFAULT_CSS = "ShellKeys { width: 0; height: 0; }"

    def __init__(
        self,
        send: Callable[[str], None],
        paste: Callable[[str], None],
        give_back: Callable[[], None],
    ) -> None:
        super().__init__()
        self._send = send
        self._paste = paste
        self._give_back = give_back

    def activate(self, active: bool) -> None:
        self.can_focus = active
        if active:
            self.focus()

    def on_paste(self, event: events.Paste) -> None:
        if self.can_focus:
            event.stop()
            self._paste(event.text)

    def on_blur(self, _event: events.Blur) -> None:
        if self.can_focus:  # a click elsewhere must not take the keys from the shell
            self.call_after_refresh(self.focus)

    def on_key(self, event: events.Key) -> None:
        if not self.can_focus:
            return
        event.stop()
        event.prevent_default()
        if event.key == GIVE_BACK_KEY:
            self._give_back()
            return
        name = tmux_key(event.key, event.character)
        if name is not None:
            self._send(name)


class LiveApp(App):
    """The live view of one session; ``start`` runs the session (see ``SessionStarter``)."""

    TITLE = "clive"
    ENABLE_COMMAND_PALETTE = False  # ctrl+p belongs to the shell (previous command)
    CSS = """
    #panes { height: 1fr; }
    #terminal-pane { width: auto; max-width: 70%; border: round $primary; }
    #terminal-pane.fit { width: 62%; }
    #terminal-pane.user { border: round $warning; }
    #terminal-pane.measuring { border: round $success; }
    #agent-pane { width: 1fr; }
    Timeline { height: 1fr; border: round $secondary; }
    """
    BINDINGS = [  # noqa: RUF012 - Textual's convention
        Binding("p", "pause", "Pause/resume"),
        Binding("t", "take_over", "Take the terminal"),
        Binding("s", "steer", "Tell the agent"),
        Binding("q", "quit_session", "Quit"),
        Binding("question_mark", "help", "Help"),
        # Once the session has ended, p, t and s leave the footer and only say so.
        Binding("p,t,s", "session_over", show=False),
        Binding("ctrl+c", "quit_session", "Quit", show=False),
        Binding("ctrl+q", "quit_session", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        start: SessionStarter,
        *,
        model: str,
        cols: int,
        rows: int,
        budgets: AgentSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
        fit_to: tuple[int, int] | None = None,
    ) -> None:
        """``fit_to``: the shell takes the room the view has, never less than this size
        (columns, rows); None keeps it at ``cols`` by ``rows``, scrolled when larger."""
        super().__init__()
        self._fit_to = fit_to
        self._asked_size: tuple[int, int] | None = None
        self._resizing = False  # a thread is giving the shell the size asked for
        self._session_started = False
        self._budgets = budgets
        self._clock = clock  # for the status bar's times (a test freezes it)
        self._start = start
        self._model = model
        self._cols, self._rows = cols, rows
        self.control = AgentControl()
        self.terminal: Terminal | None = None
        self.measurement: Terminal | None = None  # the harness's, while it measures
        self.ended: SessionEnded | None = None
        self.result: Any = None
        self._events: collections.deque[Event] = collections.deque()
        self._output = threading.Event()  # the terminal printed something since the last frame
        self._state_since = clock()
        self._started = clock()
        self.status = AgentStatus(state="starting")
        self._quitting = False  # the user confirmed quitting: leave once the session ends
        self._asking_to_quit = False  # the quit question is open (the agent waits, paused)
        self._approval: ApprovalRequest | None = None  # what the approval dialog asks
        self._screen: tuple | None = None  # (cells, cursor) fetched and not shown yet
        self._screen_lock = threading.Lock()
        self._output_bytes = 0  # printed since the screen was last fetched
        self.error: BaseException | None = None  # what the session's thread raised, if anything
        self._gone = False  # the session's thread has returned

    def compose(self) -> ComposeResult:
        # Kept at hand: every frame feeds them.
        self._view = TerminalView(self._cols, self._rows, fit=self._fit_to is not None)
        self._timeline = Timeline()
        self._experiments = ExperimentsPanel()
        self._bar = StatusBar()
        self._pane = Widget(id="terminal-pane", classes="fit" if self._fit_to else "")
        with Horizontal(id="panes"):
            with self._pane:
                yield self._view
            with Vertical(id="agent-pane"):
                yield self._timeline
                yield self._experiments
        yield self._bar
        yield ShellKeys(self._send_key, self._paste, self.action_give_back)
        yield Footer()

    def on_mount(self) -> None:
        self._bar.model = self._model
        self._show_status()
        self._timeline.focus()
        self.set_interval(1 / FRAMES_PER_SECOND, self._frame)
        if self._fit_to is None:
            self._start_session()
        else:  # once the view knows its room, so that the shell starts at that size
            self.set_timer(_ROOM_WAIT, self._start_session)

    def _start_session(self) -> None:
        if not self._session_started:
            self._session_started = True
            self.run_worker(self._run_session, thread=True, exit_on_error=False)

    def on_terminal_view_room(self, message: TerminalView.Room) -> None:
        """A fitted view's room changed: the shell takes it (at least ``fit_to``). The agent's
        side carries the resize out, off this thread; before the session starts, it is the
        size the shell starts with."""
        assert self._fit_to is not None
        size = (max(self._fit_to[0], message.cols), max(self._fit_to[1], message.rows))
        if size == self._asked_size:
            return
        self._asked_size = size
        if not self._session_started:
            self.control.resize(*size)  # nobody listens yet: kept for the agent to apply
            self._start_session()
        elif not self._over and not self._resizing:
            self._resizing = True
            self.run_worker(self._apply_sizes, thread=True, exit_on_error=False)

    def _apply_sizes(self) -> None:
        """In a thread: the shell takes the newest size asked for, until it has it (one such
        thread at a time: a window dragged asks for many)."""
        applied = None
        while (wanted := self._asked_size) != applied and not self._over:
            assert wanted is not None
            self.control.resize(*wanted)
            applied = wanted
        self._resizing = False
        if self._asked_size != applied and not self._over:  # asked for as this ended
            with contextlib.suppress(RuntimeError):  # the app has closed meanwhile
                self.call_from_thread(self._resume_resizing)

    def _resume_resizing(self) -> None:
        if not self._resizing and not self._over:
            self._resizing = True
            self.run_worker(self._apply_sizes, thread=True, exit_on_error=False)

    def on_unmount(self) -> None:
        # However the app ends (a crash included), the agent stops and records why.
        self.control.quit()

    # -- the session, in its thread -----------------------------------------------------------

    def _run_session(self) -> None:
        try:
            self.result = self._start(
                control=self.control,
                approver=self._approve,
                on_event=self._on_event,
                on_start=self._attach,
                on_measure=self._watch_measurement,
            )
        except BaseException as error:  # shown when the app closes (see ``error``)
            self.error = error
        finally:
            self._events.append(_SessionGone())

    def _on_event(self, event: Event) -> None:
        """In the agent's thread: queue the event; at the end, take the last screen while
        the terminal is still there."""
        if isinstance(event, SessionEnded) and self.terminal is not None:
            with contextlib.suppress(Exception):
                self._keep_screen(self.terminal.screen_view())
        self._events.append(event)

    def _keep_screen(self, screen: tuple) -> None:
        with self._screen_lock:
            self._screen = screen

    def _take_screen(self) -> tuple | None:
        with self._screen_lock:
            screen, self._screen = self._screen, None
            return screen

    def _attach(self, writer, terminal: Terminal) -> None:
        self.terminal = terminal
        terminal.add_output_listener(self._note_output)
        self._output.set()
        threading.Thread(target=self._fetch_screens, name="clive-ui-screen", daemon=True).start()

    def _watch_measurement(self, terminal: Terminal | None) -> None:
        """In the agent's thread: the harness's measurement starts (its terminal) or ends
        (None). The terminal pane shows it meanwhile: the user watches every run."""
        if terminal is not None:
            terminal.add_output_listener(self._note_output)
        self.measurement = terminal
        self._output.set()

    def _watched(self) -> Terminal | None:
        """The terminal the pane shows: the measurement while one runs, else the shell."""
        return self.measurement or self.terminal

    def _note_output(self, data: bytes, _when: float) -> None:
        self._output_bytes += len(data)
        self._output.set()

    def _fetch_screens(self) -> None:
        """Bring the screen up to date off the UI's thread: rendering a burst of output can
        take a while, and keys must not wait for it. During a flood, at most a tenth of the
        time goes to it, and never more often than the frames."""
        last = time.monotonic()
        while not self._gone and self.terminal is not None:
            if not self._output.wait(timeout=0.5):
                continue
            self._output.clear()
            started = time.monotonic()
            terminal = self._watched()
            try:
                self._keep_screen(terminal.screen_view())
            except Exception:  # the terminal closed under us: a measurement or the session
                if terminal is self.terminal:
                    return
                continue
            spent = time.monotonic() - started
            # A flood scrolls by too fast to read, and drawing it steals time from the
            # threads draining it: a couple of screens a second show it as well.
            rate = self._output_bytes / max(started - last, 1e-3)
            self._output_bytes, last = 0, started
            pace = FLOOD_SCREENS_PER_SECOND if rate > FLOOD_BYTES_PER_SECOND else FRAMES_PER_SECOND
            time.sleep(max(1 / pace, 10 * spent))

    def _approve(self, request: ApprovalRequest) -> Decision:
        """Asks in a dialog; the agent's thread waits for the answer."""
        answered = threading.Event()
        decision: list[Decision] = []

        def ask() -> None:
            self._approval = request
            self._show_status()
            self.push_screen(screen, done)

        def done(approved: bool | None) -> None:
            self._approval = None
            self._show_status()
            decision.append(Decision(bool(approved), "user", "" if approved else "refused"))
            answered.set()

        screen = ApprovalScreen(request, self._clock)
        try:
            self.call_from_thread(ask)
        except RuntimeError:  # the app is gone
            return Decision(False, "policy", "the UI closed before anyone answered")
        # Quitting (a key, SIGTERM, the app closing) must not wait for an answer.
        while not answered.wait(0.1):
            if self.control.quitting or not self.is_running:
                with contextlib.suppress(Exception):
                    self.call_from_thread(screen.dismiss, None)
                return Decision(False, "policy", "the session is quitting")
        return decision[0]

    # -- frames ---------------------------------------------------------------------------

    def _frame(self) -> None:
        """Take what happened since the last frame: events, then the screen."""
        if not self.is_mounted:
            return
        if self._quitting and self._gone:
            self.exit(self.result)
            return
        batch: list[Event] = []
        gone = changed = False
        while self._events and len(batch) < 2000:  # a frame's worth; the rest next frame
            event = self._events.popleft()
            if isinstance(event, _SessionGone):
                gone = True
            elif not isinstance(event, TerminalOutput):
                batch.append(event)
                if isinstance(event, ExperimentResult):
                    self._experiments.add_event(event)
                changed = self._follow(event) or changed
        if batch:
            self._timeline.add_events(batch)  # laid out once for the whole frame
            self._show_status(changed)
        if gone:
            self._session_gone()
        screen = self._take_screen()
        if screen is not None:
            self._view.show(*screen)
        measuring = self.measurement is not None
        if measuring != self._pane.has_class("measuring"):
            self._pane.set_class(measuring, "measuring")
            self._pane.border_title = "measurement (the harness's terminal)" if measuring else ""
        bar = self._bar
        # Whole seconds, as shown: a value that does not change does not redraw the bar.
        bar.state_seconds = float(int(self._clock() - self._state_since))
        if self.ended is None and not self._gone:
            bar.elapsed = float(int(self._clock() - self._started))
            bar.budget_left = self._budget_left(bar.elapsed)

    def _follow(self, event: Event) -> bool:
        """Fold ``event`` into the status (the same fold as replay's); True when the state
        it shows changed."""
        before = self.status.state, self.status.detail
        self.status = next_status(self.status, event)
        if isinstance(event, SessionEnded):
            self.ended = event
            self.refresh_bindings()
        return (self.status.state, self.status.detail) != before

    @property
    def _over(self) -> bool:
        """The session has ended, or its thread has returned without saying so."""
        return self.ended is not None or self._gone

    def _shown_state(self) -> tuple[str, str]:
        """The state the status bar says, and its detail: what the person did, or is asked,
        before what the agent's events say."""
        if self.control.user_in_control:
            return "you have the terminal", "(ctrl+] gives it back)"
        if self.ended is not None:
            return f"ended: {self.ended.outcome.value}", self.ended.summary or self.ended.reason
        if self._quitting:
            return "quitting", ""
        if self._approval is not None:
            return "waiting for your approval", f"({self._approval.rule})"
        if self.control.paused and not self._gone:
            return "paused", "(until you answer)" if self._asking_to_quit else "(p resumes)"
        return self.status.state, self.status.detail

    def _show_status(self, changed: bool = True) -> None:
        bar = self._bar
        status = self.status
        state, detail = self._shown_state()
        if self.ended is not None:
            bar.elapsed = self.ended.totals.duration
        if changed or (bar.state, bar.detail) != (state, detail):
            self._state_since = self._clock()
        bar.state, bar.detail = state, detail
        bar.step, bar.tokens, bar.cost = status.step, status.tokens, status.cost
        self._pane.set_class(self.control.user_in_control, "user")

    def _budget_left(self, elapsed: float) -> str:
        """What the session's budgets still allow: steps, time, dollars, tokens."""
        budgets, status = self._budgets, self.status
        if budgets is None:
            return ""
        left = [f"{max(0, budgets.max_steps - (status.step or 0))} steps"]
        if budgets.max_time is not None:
            left.append(_format.clock(max(0.0, budgets.max_time - elapsed)))
        if budgets.max_cost is not None:
            left.append(_format.money(max(0.0, budgets.max_cost - (status.cost or 0.0))))
        if budgets.max_tokens is not None:
            left.append(f"{_format.count(max(0, budgets.max_tokens - status.tokens))} tok")
        return ", ".join(left)

    def request_quit(self) -> None:
        """End the session as quit by the user, and the app with it (safe from a signal)."""
        self._quitting = True
        self.control.quit()

    def _session_gone(self) -> None:
        self._gone = True
        self.refresh_bindings()
        if self._quitting:
            self.exit(self.result)
            return
        if self.ended is None:
            self.status = replace(self.status, state="ended", detail="(clive failed: see events)")
        self.action_give_back()

    # -- keys -----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("pause", "take_over", "steer"):
            return not self._over
        if action == "session_over":
            return self._over
        return True

    def action_session_over(self) -> None:
        self.notify("the session has ended: nothing to pause, take over or tell")

    def action_pause(self) -> None:
        if self.control.paused:
            self.control.resume()
        else:
            self.control.pause()
        self._show_status()

    def action_take_over(self) -> None:
        if self.terminal is None:
            return
        self.control.take_over()
        self._show_status()
        self.query_one(ShellKeys).activate(True)

    def action_give_back(self) -> None:
        self.control.give_back()
        self._show_status()
        self.query_one(ShellKeys).activate(False)
        self._timeline.focus()

    def _send_key(self, name: str) -> None:
        if self.terminal is None:
            return
        try:
            self.terminal.send_keys(name)
        except (UnknownKeyError, TerminalError, OSError):
            self.bell()  # a key the terminal has not, or the shell is gone

    def _paste(self, text: str) -> None:
        if self.terminal is None:
            return
        try:
            self.terminal.paste(text)
        except (TerminalError, OSError):
            self.bell()

    def action_steer(self) -> None:
        def sent(message: str | None) -> None:
            if message:
                self.control.steer(message)

        self.push_screen(SteerScreen(), sent)

    def action_quit_session(self) -> None:
        if self.control.user_in_control:
            self._send_key("C-q")  # a priority binding: the key is the shell's now
            return
        if self._over:
            self.exit(self.result)
            return
        if self._asking_to_quit:
            return  # ctrl+q (a priority key) again, over the question
        # The agent waits while the person decides; saying no puts it back as it was.
        was_paused = self.control.paused
        self._asking_to_quit = True
        self.control.pause()
        self._show_status()

        def confirmed(yes: bool | None) -> None:
            self._asking_to_quit = False
            if yes:
                self.request_quit()
            elif not was_paused and not self._over:
                self.control.resume()
            self._show_status()

        self.push_screen(ConfirmScreen("Quit? The session ends as quit by the user."), confirmed)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(HELP, "clive: watching a session"))


class _SessionGone:
    """Put in the event queue when the session's thread has returned."""
