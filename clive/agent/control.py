"""What a person does to a running agent, from another thread: pause, resume, steer, take over
the terminal, give it back, quit, resize the shell.

The UI calls these methods; the agent loop checks in at the start of every step and before
every action (``checkpoint``), and a wait in progress is cut short when the agent must stop.
Every action is recorded as a ``control`` event by whoever listens (the agent).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Action = Literal["pause", "resume", "steer", "take_over", "give_back", "quit"]


@dataclass(frozen=True)
class TakeOver:
    """A spell of the user in control of the terminal, told to the model afterwards."""

    seconds: float


class AgentControl:
    """Thread-safe switches between a person and the agent loop."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._paused = False
        self._user_in_control = False
        self._quit = False
        self._steers: list[str] = []
        self._taken_at: float | None = None
        self._take_overs: list[TakeOver] = []
        self._listeners: list[Callable[[Action, str], None]] = []
        self._wakers: list[Callable[[], None]] = []
        self._resizers: list[Callable[[int, int], None]] = []
        self._resizes: list[tuple[int, int]] = []
        self.take_over_count = 0  # how many times the person took the terminal

    # -- the person's side ------------------------------------------------------------------

    def pause(self) -> None:
        """Stop the agent before its next action (a wait in progress ends at once)."""
        self._change("pause", lambda: setattr(self, "_paused", True), lambda: not self._paused)

    def resume(self) -> None:
        self._change("resume", lambda: setattr(self, "_paused", False), lambda: self._paused)

    def steer(self, message: str) -> None:
        """Tell the agent something: it reads ``message`` at its next step."""
        message = message.strip()
        if message:
            self._change("steer", lambda: self._steers.append(message), lambda: True, message)

    def take_over(self, by: str = "") -> None:
        """The person types into the terminal; the agent waits until ``give_back``. ``by``
        names the view they typed in, for the record."""

        def take() -> None:
            self._user_in_control = True
            self._taken_at = time.monotonic()
            self.take_over_count += 1

        self._change("take_over", take, lambda: not self._user_in_control, by)

    def give_back(self, by: str = "") -> None:
        def give() -> None:
            self._user_in_control = False
            if self._taken_at is not None:
                self._take_overs.append(TakeOver(time.monotonic() - self._taken_at))
            self._taken_at = None

        self._change("give_back", give, lambda: self._user_in_control, by)

    def quit(self) -> None:
        """End the session (recorded as quit by the user) at the agent's next check."""
        self._change("quit", lambda: setattr(self, "_quit", True), lambda: not self._quit)

    def resize(self, cols: int, rows: int) -> None:
        """Give the shell this size now (a view that follows its room asks for it); the model
        is told at its next step. Carried out at once by the agent's side, whatever the
        agent is doing."""
        with self._cond:  # held while resizing: sizes are applied in the order asked
            self._resizes.append((cols, rows))
            for resizer in self._resizers:
                resizer(cols, rows)

    # -- state ------------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def user_in_control(self) -> bool:
        return self._user_in_control

    @property
    def quitting(self) -> bool:
        return self._quit

    def must_stop(self) -> bool:
        """True when the agent must not go on acting now (a wait's ``stop``)."""
        return self._paused or self._user_in_control or self._quit

    # -- the agent's side -------------------------------------------------------------------

    def listen(self, listener: Callable[[Action, str], None]) -> None:
        """Call ``listener(action, message)`` on every change (to record it)."""
        self._listeners.append(listener)

    def add_resizer(self, resize: Callable[[int, int], None]) -> None:
        """Call ``resize(cols, rows)`` when the person's view asks for another size, and now
        with the last size asked for, if one was asked for before anyone listened. Called
        under the control's lock: one at a time, in order."""
        with self._cond:
            self._resizers.append(resize)
            if self._resizes:
                # The size the view asked for before the session started: the size it starts
                # with, not a resize to tell the model of.
                resize(*self._resizes[-1])
                self._resizes.clear()

    def take_resizes(self) -> list[tuple[int, int]]:
        """The sizes asked for since the last call."""
        with self._cond:
            resizes, self._resizes = self._resizes, []
            return resizes

    def add_waker(self, wake: Callable[[], None]) -> None:
        """Call ``wake()`` on every change, so that a blocked wait checks ``must_stop``."""
        self._wakers.append(wake)

    def checkpoint(self) -> bool:
        """Block while paused or while the person has the terminal; False to quit."""
        with self._cond:
            while (self._paused or self._user_in_control) and not self._quit:
                self._cond.wait()
            return not self._quit

    def take_steers(self) -> list[str]:
        """The messages the person sent since the last call."""
        with self._cond:
            steers, self._steers = self._steers, []
            return steers

    def take_take_overs(self) -> list[TakeOver]:
        """The spells of control the person had since the last call."""
        with self._cond:
            spells, self._take_overs = self._take_overs, []
            return spells

    def _change(
        self, action: Action, apply: Callable[[], None], changes: Callable[[], bool], message=""
    ) -> None:
        with self._cond:
            if not changes():
                return
            apply()
            self._cond.notify_all()
        for listener in self._listeners:
            listener(action, message)
        for wake in self._wakers:
            wake()
