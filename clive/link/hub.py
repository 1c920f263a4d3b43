"""``Hub``: the session's side of the stream. It hands every view what the session does, and
carries out what the views ask.

Messages to a view (dicts; ``k`` says which):
    hello          {viewer, name, model, cols, rows, fixed, budgets, directory}: sent first
    history        {events}: what happened before the view started watching
    event          {event}: one event as it happens (``model_text`` too; no terminal output)
    screen         {screen, state, pending}: a terminal's whole state (``save_state``) and the
                   bytes of a character not yet whole; what follows for that screen follows it
    output         {screen, data}: bytes a terminal printed
    resize         {screen, cols, rows}
    measuring      {on}: the harness's measurement terminal runs (``screen`` "measurement")
    holder         {viewer, name}: which view has the terminal (viewer None: nobody)
    viewers        {names}: who watches
    approval       {id, step, action, rule}: a risky command waits for a person
    approval_closed {id}: answered (in some view), or no longer asked
    notice         {text}: something the person should read (another view has the terminal)
    bell           {}: a key the shell could not take
    gone           {error}: the session has ended (error: clive itself failed, if it did)

Messages from a view:
    control        {action, message}: pause, resume, steer, take_over, give_back, quit
    keys           {names}: keys by tmux's names, from the view that has the terminal
    paste          {text}: from the view that has the terminal
    approve        {id, yes}
    room           {cols, rows}: the room the view has for the shell (None: it does not fit)

Each view has a thread that sends it what waits for it, so a slow view never holds up the
session: its output waits in memory up to ``OUTBOX_LIMIT`` (1 MB), past which it is dropped
and the view is sent the whole screen instead, once it catches up.

The shell's size follows the views (unless the session fixed it): the smallest room any view
has, never less than ``MIN_SIZE`` (tmux follows its smallest client the same way).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from clive.agent.approval import ApprovalRequest, Decision
from clive.agent.control import AgentControl
from clive.agent.loop import AgentSettings
from clive.session.events import Event, ModelText, TerminalOutput
from clive.terminal import Terminal, TerminalError
from clive.terminal.keys import UnknownKeyError

SHELL = "shell"
MEASUREMENT = "measurement"
MIN_SIZE = (80, 24)  # a shell fitted to its views is never smaller: a smaller view scrolls
# Bytes of output waiting for one view before it is sent the screen instead: a view is a
# person, who reads a flood from its screens, and what waits delays every message behind it.
OUTBOX_LIMIT = 1 << 20
MESSAGE_LIMIT = 256 << 10  # bytes of output joined in one message (encoded and decoded at once)

Message = dict[str, Any]
Deliver = Callable[[list[Message]], None]


class Viewer:
    """One view: the messages waiting for it, sent in order by a thread of its own."""

    def __init__(self, hub: Hub, number: int, name: str) -> None:
        self.hub = hub
        self.number = number
        self.name = name
        self._cond = threading.Condition()
        self._outbox: list[Message] = []
        self._output_bytes = 0
        self._resync: set[str] = set()  # screens it must be sent whole
        self._sending = False
        self.closed = False

    def start(self, deliver: Deliver) -> None:
        """Begin sending: ``deliver(messages)`` in a thread of this view's own; when it
        raises (the view went away), the view is disconnected."""
        threading.Thread(
            target=self._send_loop, args=(deliver,), name=f"clive-view-{self.number}", daemon=True
        ).start()

    def push(self, message: Message) -> None:
        with self._cond:
            if not self.closed:
                self._outbox.append(message)
                self._cond.notify()

    def push_screen(self, message: Message) -> None:
        """Output or a resize of a screen (called under that terminal's lock)."""
        screen = message["screen"]
        with self._cond:
            if self.closed or screen in self._resync:
                return  # the whole screen is on its way
            if message["k"] == "output":
                if self._output_bytes > OUTBOX_LIMIT:  # too slow to follow: catch up at once
                    self._resync.add(screen)
                    self._cond.notify()
                    return
                self._output_bytes += len(message["data"])
                last = self._outbox[-1] if self._outbox else None
                joins = last is not None and last["k"] == "output" and last["screen"] == screen
                if joins and len(last["data"]) < MESSAGE_LIMIT:
                    last["data"] += message["data"]
                    return  # the sender is awake: it has something to send already
                message = {**message, "data": bytearray(message["data"])}
            self._outbox.append(message)
            if len(self._outbox) == 1:  # else the sender is awake already (no wake-up per chunk)
                self._cond.notify()

    def needs_screen(self, screen: str) -> None:
        """Send this screen whole before anything more of it."""
        with self._cond:
            self._resync.add(screen)
            self._cond.notify()

    def replace_screen(self, screen: str, message: Message) -> None:
        """The screen's whole state, in place of what of it still waits (called under that
        terminal's lock, so nothing of it comes in between)."""
        with self._cond:
            kept = [m for m in self._outbox if m.get("screen") != screen]
            self._outbox = [*kept, message]
            self._output_bytes = sum(len(m["data"]) for m in kept if m["k"] == "output")
            self._resync.discard(screen)
            self._cond.notify()

    def forget_screen(self, screen: str) -> None:
        with self._cond:
            self._resync.discard(screen)

    def drain(self, timeout: float) -> bool:
        """Wait until everything waiting has been handed over; False on the deadline."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self.closed or not (self._outbox or self._resync or self._sending),
                timeout,
            )

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._outbox.clear()
            self._cond.notify_all()

    def _send_loop(self, deliver: Deliver) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self.closed or self._outbox or self._resync)
                if self.closed:
                    return
                screens = list(self._resync)
            for screen in screens:
                self.hub.send_screen(self, screen)
            with self._cond:
                batch, self._outbox, self._output_bytes = self._outbox, [], 0
                self._sending = bool(batch)
            if not batch:
                continue
            for message in batch:
                if message["k"] == "output":
                    message["data"] = bytes(message["data"])
            try:
                deliver(batch)
            except Exception:  # the view went away
                self.hub.disconnect(self)
                return
            finally:
                with self._cond:
                    self._sending = False
                    self._cond.notify_all()


@dataclass
class _Asked:
    """An approval waiting for a person."""

    request: ApprovalRequest
    answered: threading.Event = field(default_factory=threading.Event)
    decision: Decision | None = None


class Hub:
    """One session's stream. The session's hooks are ``on_open``, ``on_event``, ``on_start``,
    ``on_measure``, ``approver`` and ``finished``; views come and go with ``connect`` and
    ``disconnect``, and what they ask arrives at ``receive``.

    ``follow``: the shell's size follows the views' room (else it stays ``cols`` x ``rows``);
    ``room_wait``: seconds the session waits, before its shell starts, for a view to say
    how much room it has (the view that started it is on its way). ``history``: the events
    of a session resumed.
    """

    def __init__(
        self,
        *,
        model: str,
        cols: int,
        rows: int,
        budgets: AgentSettings | None = None,
        follow: bool = False,
        control: AgentControl | None = None,
        history: Iterable[Event] = (),
        room_wait: float = 0.0,
    ) -> None:
        self.control = control or AgentControl()
        self._info: Message = {
            "model": model,
            "cols": cols,
            "rows": rows,
            "fixed": not follow,
            "budgets": budgets.model_dump() if budgets else None,
            "directory": None,
        }
        self._follow = follow
        self._room_wait = room_wait
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self._viewers: tuple[Viewer, ...] = ()  # replaced, never changed: read without a lock
        self._history: list[Event] = [e for e in history if _kept(e)]
        self._terminals: dict[str, Terminal] = {}
        self._holder: Viewer | None = None
        self._approvals: dict[int, _Asked] = {}
        self._approval_numbers = itertools.count(1)
        self._rooms: dict[int, tuple[int, int]] = {}
        self._room_known = threading.Event()
        self._opened = False  # the session has its directory: sizes now go to the shell
        self._size_wanted: tuple[int, int] | None = None
        self._size_applied: tuple[int, int] | None = None
        self._resizing = False
        self._gone: Message | None = None
        self.terminal: Terminal | None = None  # the shell, once it runs

    # -- the session's side -------------------------------------------------------------------

    def on_open(self, writer) -> None:
        """The session has its directory; its shell starts next. Waits (``room_wait``) for a
        view's room, so that the shell starts at the size it is watched at."""
        self._info["directory"] = str(writer.directory)
        if self._follow and self._room_wait > 0:
            self._room_known.wait(self._room_wait)
        with self._lock:
            self._opened = True
            size = self._target_size()
            self._size_wanted = self._size_applied = size
        if size is not None:
            self.control.resize(*size)  # nobody listens yet: the size the shell starts with

    def on_event(self, event: Event) -> None:
        if isinstance(event, TerminalOutput):
            return  # the views have the terminal's own bytes, as they were read
        with self._lock:
            if _kept(event):
                self._history.append(event)
            for viewer in self._viewers:
                viewer.push({"k": "event", "event": event})

    def on_start(self, _writer, terminal: Terminal) -> None:
        self.terminal = terminal
        self._watch(SHELL, terminal)

    def on_measure(self, terminal: Terminal | None) -> None:
        """The harness's measurement starts (its terminal) or ends (None)."""
        if terminal is not None:
            self._watch(MEASUREMENT, terminal)
        else:
            with self._lock:
                self._terminals.pop(MEASUREMENT, None)
        self._broadcast({"k": "measuring", "on": terminal is not None})

    def approver(self, request: ApprovalRequest) -> Decision:
        """Asks every view; the first answer decides. Quitting refuses it."""
        asked = _Asked(request)
        with self._lock:
            number = next(self._approval_numbers)
            self._approvals[number] = asked
            message = _approval_message(number, request)
            for viewer in self._viewers:
                viewer.push(message)
        try:
            while not asked.answered.wait(0.1):
                if self.control.quitting:
                    return Decision(False, "policy", "the session is quitting")
            assert asked.decision is not None
            return asked.decision
        finally:
            with self._lock:
                self._approvals.pop(number, None)
            self._broadcast({"k": "approval_closed", "id": number})

    def finished(self, error: str | None = None) -> None:
        """The session has ended (``error``: what clive itself failed with)."""
        gone = {"k": "gone", "error": error}
        with self._lock:
            self._gone = gone
            for viewer in self._viewers:
                viewer.push(gone)

    def close(self, timeout: float = 5.0) -> None:
        """Hand every view what waits for it (``timeout`` seconds in all), then let go."""
        deadline = time.monotonic() + timeout
        for viewer in self._viewers:
            viewer.drain(max(0.0, deadline - time.monotonic()))
        for viewer in self._viewers:
            self.disconnect(viewer)

    # -- views ----------------------------------------------------------------------------

    def connect(self, name: str) -> tuple[Viewer, Message]:
        """A new view: its ``hello``, and a ``Viewer`` holding everything it needs to catch
        up (``Viewer.start`` sends it)."""
        with self._lock:
            viewer = Viewer(self, next(self._numbers), name)
            hello = {"k": "hello", "viewer": viewer.number, "name": name, **self._info}
            viewer.push({"k": "history", "events": list(self._history)})
            for number, asked in self._approvals.items():
                viewer.push(_approval_message(number, asked.request))
            if self._holder is not None:
                viewer.push(_holder_message(self._holder))
            if MEASUREMENT in self._terminals:
                viewer.push({"k": "measuring", "on": True})
            for screen in self._terminals:
                viewer.needs_screen(screen)
            if self._gone is not None:
                viewer.push(self._gone)
            self._viewers = (*self._viewers, viewer)
        self._broadcast_viewers()
        return viewer, hello

    def disconnect(self, viewer: Viewer) -> None:
        with self._lock:
            if viewer not in self._viewers:
                return
            self._viewers = tuple(v for v in self._viewers if v is not viewer)
            self._rooms.pop(viewer.number, None)
            held = self._holder is viewer
            if held:
                self._holder = None
        viewer.close()
        if held:  # its view went away: the agent goes on
            self.control.give_back(by=viewer.name)
            self._broadcast(_holder_message(None))
        self._broadcast_viewers()
        self._room_changed()

    def receive(self, viewer: Viewer, message: Message) -> None:
        """What ``viewer`` asks (a malformed message, or one of a view gone, is ignored)."""
        if viewer not in self._viewers:
            return
        try:
            kind = message["k"]
            if kind == "control":
                self._control(viewer, message["action"], str(message.get("message", "")))
            elif kind == "keys":
                self._type(viewer, lambda t: t.send_keys(*map(str, message["names"])))
            elif kind == "paste":
                self._type(viewer, lambda t: t.paste(str(message["text"])))
            elif kind == "approve":
                self._answer(int(message["id"]), bool(message["yes"]))
            elif kind == "room":
                self._set_room(viewer, message.get("cols"), message.get("rows"))
        except (KeyError, TypeError, ValueError):
            return

    def send_screen(self, viewer: Viewer, screen: str) -> None:
        """Put ``screen``'s whole state in ``viewer``'s outbox, in place of what of it waits."""
        terminal = self._terminals.get(screen)
        if terminal is None:
            viewer.forget_screen(screen)
            return

        def then(state: str, pending: bytes) -> None:
            message = {"k": "screen", "screen": screen, "state": state, "pending": pending}
            with self._lock:  # under the terminal's lock: the order listeners take them in
                if self._terminals.get(screen) is not terminal:
                    return  # another measurement's since (or none): its own state follows
                viewer.replace_screen(screen, message)

        try:
            terminal.screen_state(then)
        except Exception:  # a terminal that never started: nothing to show of it
            viewer.forget_screen(screen)

    # -- inside ---------------------------------------------------------------------------

    def _watch(self, screen: str, terminal: Terminal) -> None:
        def listener(data: bytes | None, size: tuple[int, int] | None) -> None:
            if self._terminals.get(screen) is not terminal:
                return  # an earlier measurement's terminal
            if data is not None:
                message = {"k": "output", "screen": screen, "data": data}
            else:
                assert size is not None
                message = {"k": "resize", "screen": screen, "cols": size[0], "rows": size[1]}
            for viewer in self._viewers:
                viewer.push_screen(message)

        terminal.add_screen_listener(listener)
        with self._lock:
            self._terminals[screen] = terminal
            for viewer in self._viewers:
                viewer.needs_screen(screen)

    def _broadcast(self, message: Message) -> None:
        for viewer in self._viewers:
            viewer.push(message)

    def _broadcast_viewers(self) -> None:
        self._broadcast({"k": "viewers", "names": [v.name for v in self._viewers]})

    def _control(self, viewer: Viewer, action: str, text: str) -> None:
        control = self.control
        if action == "take_over":
            with self._lock:
                holder = self._holder
                if holder is None:
                    self._holder = viewer
            if holder is not None and holder is not viewer:
                text = f"the terminal is taken: {holder.name} has it"
                viewer.push({"k": "notice", "text": text})
                return
            control.take_over(by=viewer.name)
            self._broadcast(_holder_message(viewer))
        elif action == "give_back":
            with self._lock:
                if self._holder is not viewer:
                    return
                self._holder = None
            control.give_back(by=viewer.name)
            self._broadcast(_holder_message(None))
        elif action == "pause":
            control.pause()
        elif action == "resume":
            control.resume()
        elif action == "steer":
            control.steer(text)
        elif action == "quit":
            control.quit()

    def _type(self, viewer: Viewer, send: Callable[[Terminal], None]) -> None:
        terminal = self.terminal
        if self._holder is not viewer or terminal is None:
            viewer.push({"k": "bell"})
            return
        try:
            send(terminal)
        except (UnknownKeyError, TerminalError, OSError):
            viewer.push({"k": "bell"})  # a key the terminal has not, or the shell is gone

    def _answer(self, number: int, yes: bool) -> None:
        with self._lock:
            asked = self._approvals.get(number)
            if asked is None or asked.answered.is_set():
                return
            asked.decision = Decision(yes, "user", "" if yes else "refused")
            asked.answered.set()

    def _set_room(self, viewer: Viewer, cols: Any, rows: Any) -> None:
        with self._lock:
            if cols is None or rows is None:
                self._rooms.pop(viewer.number, None)
            else:
                self._rooms[viewer.number] = (int(cols), int(rows))
        self._room_changed()

    def _target_size(self) -> tuple[int, int] | None:
        """The size the shell should have (caller holds the lock); None: no view says."""
        if not self._follow or not self._rooms:
            return None
        cols = min(c for c, _ in self._rooms.values())
        rows = min(r for _, r in self._rooms.values())
        return max(MIN_SIZE[0], cols), max(MIN_SIZE[1], rows)

    def _room_changed(self) -> None:
        with self._lock:
            size = self._target_size()
            if size is not None and not self._opened:
                self._room_known.set()
                return
            if size is None or size == self._size_wanted or self._gone is not None:
                return
            self._size_wanted = size
            if self._resizing:
                return
            self._resizing = True
        threading.Thread(target=self._apply_sizes, name="clive-resize", daemon=True).start()

    def _apply_sizes(self) -> None:
        """The shell takes the newest size wanted, until it has it (one such thread at a
        time: a window dragged asks for many sizes)."""
        while True:
            with self._lock:
                wanted = self._size_wanted
                if wanted == self._size_applied or self._gone is not None or wanted is None:
                    self._resizing = False
                    return
                self._size_applied = wanted
            try:
                self.control.resize(*wanted)
            except Exception:  # the shell closing under it: the next size, if any, goes on
                continue


def _kept(event: Event) -> bool:
    """Events a view that starts watching later is sent: all but the text as it streams."""
    return not isinstance(event, ModelText | TerminalOutput)


def _approval_message(number: int, request: ApprovalRequest) -> Message:
    return {
        "k": "approval",
        "id": number,
        "step": request.step,
        "action": request.action,
        "rule": request.rule,
    }


def _holder_message(viewer: Viewer | None) -> Message:
    """Who has the terminal: ``viewer``, or nobody."""
    if viewer is None:
        return {"k": "holder", "viewer": None, "name": ""}
    return {"k": "holder", "viewer": viewer.number, "name": viewer.name}
