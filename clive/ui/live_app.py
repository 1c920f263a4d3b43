"""``LiveApp``: a session watched and steered: its terminal beside the agent's timeline.

The app reads nothing but the session's stream (``clive.link``): the session may run in this
process (``LocalLink``) or in one of its own, watched over its socket (``SocketLink``: any
number of views at once). Screen messages feed the app's own copy of each terminal in the
link's thread; the app takes the other messages, and the screen when it changed, at most
``FRAMES_PER_SECOND`` times a second. So a flood of output or of steps costs the UI a frame
at a time, and a key press is handled between two frames. What the person does goes back
as messages; the session carries them out.

Keys: ``p`` pause or resume, ``t`` take the terminal (every key then goes to the shell, C-c
included, until ``ctrl+]`` gives it back; one view at a time has it), ``s`` tell the agent
something, ``d`` detach (the session goes on; only when it runs in a process of its own),
``q`` quit (the session ends as quit by the user; the agent is paused while the question is
open), ``?`` help. Once the session has ended, ``p``, ``t`` and ``s`` leave the footer. A
risky command waits for approval in a dialog (in every view; the first answer decides).
"""

from __future__ import annotations

import collections
import datetime
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from rich.markup import escape
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Footer

from clive.agent.approval import ApprovalRequest
from clive.agent.loop import AgentSettings
from clive.link import Link
from clive.link.hub import MEASUREMENT, Message
from clive.link.screens import Screens
from clive.session.events import (
    Control,
    Event,
    ExperimentResult,
    SessionEnded,
    SessionStarted,
)
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
FLOOD_SCREENS_PER_SECOND = 2  # screens a second while more than FLOOD_BYTES_PER_SECOND arrive
FLOOD_BYTES_PER_SECOND = 1 << 20
GIVE_BACK_KEY = "ctrl+right_square_bracket"

HELP = [
    ("p", "pause the agent, or resume it (a wait in progress ends at once)"),
    ("t", "take the terminal: every key goes to the shell, C-c included"),
    ("ctrl+]", "give the terminal back: the agent is told what you did"),
    ("s", "tell the agent something: it reads it at its next step"),
    ("d", "detach: the session goes on; clive attach watches it again"),
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
    """The view of one session through ``link``. ``name`` is how other views name this one;
    ``detachable``: the session runs in a process of its own, so ``d`` may leave it running
    (a session in this process ends with its view)."""

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
        Binding("d", "detach", "Detach"),
        Binding("q", "quit_session", "Quit"),
        Binding("question_mark", "help", "Help"),
        # Once the session has ended, p, t and s leave the footer and only say so.
        Binding("p,t,s", "session_over", show=False),
        Binding("ctrl+c", "quit_session", "Quit", show=False),
        Binding("ctrl+q", "quit_session", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        link: Link,
        *,
        name: str = "you",
        detachable: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.link = link
        self.detachable = detachable
        self._clock = clock  # for the status bar's times (a test freezes it)
        hello = link.connect(name)
        self.hello = hello
        self._me = hello["viewer"]
        self._model = hello["model"]
        self._cols, self._rows = hello["cols"], hello["rows"]
        self._fit = not hello["fixed"]  # the shell takes the room the view has
        budgets = hello.get("budgets")
        self._budgets = AgentSettings(**budgets) if budgets else None
        self.screens = Screens(self._cols, self._rows)
        self._messages: collections.deque[Message] = collections.deque()
        self.ended: SessionEnded | None = None
        self.error: str | None = None  # what clive itself failed with, if it did
        self.detached = False  # the person left the session running
        self.viewers: list[str] = []  # the names of the views watching
        self.holder: tuple[int, str] | None = None  # the view that has the terminal
        self.paused = False  # as the session's events say (and as asked, until they do)
        self._state_since = clock()
        self._started = clock()
        self.status = AgentStatus(state="starting")
        self._quitting = False  # the user confirmed quitting: leave once the session ends
        self._asking_to_quit = False  # the quit question is open (the agent waits, paused)
        self._paused_before_question = False
        self._approvals: dict[int, ApprovalScreen] = {}  # open dialogs, by the hub's number
        self._screen: tuple | None = None  # (cells, cursor) fetched and not shown yet
        self._screen_lock = threading.Lock()
        self._gone = False  # the session has ended, or the link to it is lost
        self._closing = False
        self._detach_asked = False  # a signal asked to leave the session running

    def compose(self) -> ComposeResult:
        # Kept at hand: every frame feeds them.
        self._view = TerminalView(self._cols, self._rows, fit=self._fit)
        self._timeline = Timeline()
        self._experiments = ExperimentsPanel()
        self._bar = StatusBar()
        self._pane = Widget(id="terminal-pane", classes="fit" if self._fit else "")
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
        self.link.start(self._deliver)
        threading.Thread(target=self._fetch_screens, name="clive-ui-screen", daemon=True).start()

    def on_terminal_view_room(self, message: TerminalView.Room) -> None:
        """A fitted view's room changed: the session gives the shell the smallest room of
        its views (never less than 80x24)."""
        if self._fit and not self._over:
            self.link.send({"k": "room", "cols": message.cols, "rows": message.rows})

    def on_unmount(self) -> None:
        self._closing = True
        self.screens.changed.set()
        if self._asking_to_quit and not self._paused_before_question and not self._over:
            # Closed with the quit question open: the agent goes on as it was for the others.
            self.link.send({"k": "control", "action": "resume"})
        self.link.close()  # a session in this process ends with it

    # -- the stream, in the link's thread -----------------------------------------------------

    def _deliver(self, messages: list[Message]) -> None:
        screens = self.screens
        for message in messages:
            if not screens.take(message):
                self._messages.append(message)

    def _fetch_screens(self) -> None:
        """Bring the screen up to date off the UI's thread: feeding a burst of output can take
        a while, and keys must not wait for it. During a flood, at most a tenth of the time
        goes to it, and never more often than the frames."""
        screens = self.screens
        last, received = time.monotonic(), 0
        while not self._closing:
            if not screens.changed.wait(timeout=0.5):
                continue
            screens.changed.clear()
            started = time.monotonic()
            screen = screens.view()
            with self._screen_lock:
                self._screen = screen
            spent = time.monotonic() - started
            # A flood scrolls by too fast to read, and drawing it steals time from the
            # threads draining it: a couple of screens a second show it as well.
            rate = (screens.received - received) / max(started - last, 1e-3)
            received, last = screens.received, started
            pace = FLOOD_SCREENS_PER_SECOND if rate > FLOOD_BYTES_PER_SECOND else FRAMES_PER_SECOND
            time.sleep(max(1 / pace, 10 * spent))

    def _take_screen(self) -> tuple | None:
        with self._screen_lock:
            screen, self._screen = self._screen, None
            return screen

    # -- frames ---------------------------------------------------------------------------

    def _frame(self) -> None:
        """Take what happened since the last frame: messages, then the screen."""
        if not self.is_mounted:
            return
        batch: list[Event] = []
        changed = False
        taken = 0
        while self._messages and taken < 2000:  # a frame's worth; the rest next frame
            message = self._messages.popleft()
            taken += 1
            kind = message["k"]
            if kind in ("event", "history"):
                for event in message["events"] if kind == "history" else [message["event"]]:
                    if event.type == "model_text":
                        continue
                    batch.append(event)
                    if isinstance(event, ExperimentResult):
                        self._experiments.add_event(event)
                    changed = self._follow(event) or changed
                if kind == "history" and message["events"]:
                    self._started = self._clock() - _age(message["events"])
            else:
                if batch:  # in order: what came before this message first
                    self._timeline.add_events(batch)
                    batch = []
                self._take(message)
                changed = True
        if batch:
            self._timeline.add_events(batch)  # laid out once for the whole frame
        if taken:
            self._show_status(changed)
        screen = self._take_screen()
        if screen is not None:
            self._view.show(*screen)
        measuring = self.screens.shown == MEASUREMENT
        if measuring != self._pane.has_class("measuring"):
            self._pane.set_class(measuring, "measuring")
            self._pane.border_title = "measurement (the harness's terminal)" if measuring else ""
        bar = self._bar
        # Whole seconds, as shown: a value that does not change does not redraw the bar.
        bar.state_seconds = float(int(self._clock() - self._state_since))
        if not self._over:
            bar.elapsed = float(int(self._clock() - self._started))
            bar.budget_left = self._budget_left(bar.elapsed)
        if self._quitting and self._gone:
            self.exit()
        elif self._detach_asked:
            self.action_detach()

    def _take(self, message: Message) -> None:
        """A message other than an event or a screen."""
        kind = message["k"]
        if kind == "holder":
            self.holder = (
                None if message["viewer"] is None else (message["viewer"], message["name"])
            )
            self.query_one(ShellKeys).activate(self._have_terminal)
            if not self._have_terminal and not self._timeline.has_focus:
                self._timeline.focus()
        elif kind == "approval":
            self._ask(message)
        elif kind == "approval_closed":
            dialog = self._approvals.pop(message["id"], None)
            if dialog is not None and dialog.is_attached:
                dialog.dismiss(None)
        elif kind == "viewers":
            self.viewers = list(message["names"])
            others = list(self.viewers)
            if self.hello["name"] in others:
                others.remove(self.hello["name"])
            count = f"{len(others)} other view{'s' * (len(others) != 1)}"
            names = escape(", ".join(others))  # a name is text, not markup
            self._pane.border_subtitle = f"{count}: {names}" if others else ""
        elif kind == "notice":
            self.notify(str(message["text"]))
        elif kind == "bell":
            self.bell()
        elif kind in ("gone", "closed"):
            if kind == "gone":
                self.error = message.get("error")
            elif not self._gone:
                self.notify("the connection to the session is lost", severity="error")
            self._session_gone()

    def _follow(self, event: Event) -> bool:
        """Fold ``event`` into the status (the same fold as replay's); True when the state
        it shows changed."""
        before = self.status.state, self.status.detail
        self.status = next_status(self.status, event)
        if isinstance(event, Control) and event.action in ("pause", "resume"):
            self.paused = event.action == "pause"
        if isinstance(event, SessionEnded):
            self.ended = event
            self.refresh_bindings()
        return (self.status.state, self.status.detail) != before

    @property
    def _over(self) -> bool:
        """The session has ended, or the link to it is lost."""
        return self.ended is not None or self._gone

    @property
    def _have_terminal(self) -> bool:
        return self.holder is not None and self.holder[0] == self._me

    def _shown_state(self) -> tuple[str, str]:
        """The state the status bar says, and its detail: what the person did, or is asked,
        before what the agent's events say."""
        if self._have_terminal:
            return "you have the terminal", "(ctrl+] gives it back)"
        if self.ended is not None:
            return f"ended: {self.ended.outcome.value}", self.ended.summary or self.ended.reason
        if self._quitting:
            return "quitting", ""
        if self.holder is not None:
            return f"{self.holder[1]} has the terminal", ""
        if self._approvals:
            rule = next(iter(self._approvals.values())).request.rule
            return "waiting for your approval", f"({rule})"
        if self.paused and not self._gone:
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
        self._pane.set_class(self._have_terminal, "user")

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

    def _ask(self, message: Message) -> None:
        """A risky command waits: ask in a dialog (every view asks; the first answer counts)."""
        number = message["id"]
        request = ApprovalRequest(message["step"], message["action"], message["rule"])
        dialog = ApprovalScreen(request, self._clock)
        self._approvals[number] = dialog

        def answered(approved: bool | None) -> None:
            # Still ours to answer (a dialog closed because another view answered is not).
            if self._approvals.pop(number, None) is not None:
                self.link.send({"k": "approve", "id": number, "yes": bool(approved)})
            self._show_status()

        self.push_screen(dialog, answered)

    def request_quit(self) -> None:
        """End the session as quit by the user, and the app with it (safe from a signal)."""
        self._quitting = True
        self.link.send({"k": "control", "action": "quit"})

    def _session_gone(self) -> None:
        self._gone = True
        self.refresh_bindings()
        for dialog in list(self._approvals.values()):
            if dialog.is_attached:
                dialog.dismiss(None)
        self._approvals.clear()
        if self.ended is None:
            failed = f"(clive failed: {self.error})" if self.error else "(the session is gone)"
            self.status = replace(self.status, state="ended", detail=failed)
        self.query_one(ShellKeys).activate(False)
        self.holder = None

    # -- keys -----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("pause", "take_over", "steer"):
            return not self._over
        if action == "session_over":
            return self._over
        if action == "detach":
            return self.detachable and not self._over
        return True

    def action_session_over(self) -> None:
        self.notify("the session has ended: nothing to pause, take over or tell")

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.link.send({"k": "control", "action": "pause" if self.paused else "resume"})
        self._show_status()

    def action_take_over(self) -> None:
        if self.holder is not None and not self._have_terminal:
            self.notify(f"the terminal is taken: {self.holder[1]} has it")
            return
        # The keys go to the shell from now on; the session refuses them if another view
        # took the terminal first (then the holder message gives the keys back to the app).
        self.holder = (self._me, self.hello["name"])
        self.link.send({"k": "control", "action": "take_over"})
        self._show_status()
        self.query_one(ShellKeys).activate(True)

    def action_give_back(self) -> None:
        if self._have_terminal:
            self.holder = None
            self.link.send({"k": "control", "action": "give_back"})
        self._show_status()
        self.query_one(ShellKeys).activate(False)
        self._timeline.focus()

    def _send_key(self, name: str) -> None:
        self.link.send({"k": "keys", "names": [name]})

    def _paste(self, text: str) -> None:
        self.link.send({"k": "paste", "text": text})

    def action_steer(self) -> None:
        def sent(message: str | None) -> None:
            if message:
                self.link.send({"k": "control", "action": "steer", "message": message})

        self.push_screen(SteerScreen(), sent)

    def action_detach(self) -> None:
        self.detached = True
        self.exit()

    def detach_soon(self) -> None:
        """Leave the session running, at the next frame (safe from a signal handler)."""
        self._detach_asked = True

    @property
    def gone(self) -> bool:
        """The session has ended, or the link to it is lost."""
        return self._gone

    def action_quit_session(self) -> None:
        if self._have_terminal:
            self._send_key("C-q")  # a priority binding: the key is the shell's now
            return
        if self._over:
            self.exit()
            return
        if self._asking_to_quit:
            return  # ctrl+q (a priority key) again, over the question
        # The agent waits while the person decides; saying no puts it back as it was.
        was_paused = self._paused_before_question = self.paused
        self._asking_to_quit = True
        self.paused = True
        self.link.send({"k": "control", "action": "pause"})
        self._show_status()

        def confirmed(yes: bool | None) -> None:
            self._asking_to_quit = False
            if yes:
                self.request_quit()
            elif not was_paused and not self._over:
                self.paused = False
                self.link.send({"k": "control", "action": "resume"})
            self._show_status()

        question = "Quit? The session ends as quit by the user."
        if self.detachable:
            question += " (d detaches instead: the session goes on.)"
        self.push_screen(ConfirmScreen(question), confirmed)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(HELP, "clive: watching a session"))


def _age(history: list[Event]) -> float:
    """Seconds since the session (whose events so far are ``history``) started: by the clock
    on the wall when it says when it started, else by its last event."""
    started = next((e for e in history if isinstance(e, SessionStarted)), None)
    if started is not None:
        try:
            when = datetime.datetime.fromisoformat(started.started_at)
        except ValueError:
            when = None
        if when is not None and when.tzinfo is not None:
            return max(0.0, (datetime.datetime.now(datetime.UTC) - when).total_seconds())
    return history[-1].t
