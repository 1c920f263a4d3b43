"""``Link``: what a view holds of a session; ``LocalLink``: a session run in the view's own
process (the tests' way, and the demo's), through the same hub as any other view."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any, Protocol

from clive.agent.loop import AgentSettings
from clive.link.hub import Deliver, Hub, Message

# start(control=, approver=, on_event=, on_start=, on_measure=, on_open=) runs a session to
# its end and returns what it returns (run_task's writer and end).
SessionStarter = Callable[..., Any]


class Link(Protocol):
    """A view's end of the stream: ``connect`` says hello (the session's model, size,
    budgets and this view's number), ``start`` hands every message after it to
    ``deliver`` (in a thread of the link's), ``send`` asks the session for something."""

    def connect(self, name: str) -> Message: ...

    def start(self, deliver: Deliver) -> None: ...

    def send(self, message: Message) -> None: ...

    def close(self) -> None: ...


class LocalLink:
    """Runs ``start`` in a thread of this process, with a ``Hub`` of its own; the view that
    connects is its only one. Closing the link quits the session (it lives in this process)."""

    def __init__(
        self,
        start: SessionStarter,
        *,
        model: str,
        cols: int,
        rows: int,
        budgets: AgentSettings | None = None,
        follow: bool = False,
        room_wait: float = 1.0,
    ) -> None:
        self._start = start
        self.hub = Hub(
            model=model, cols=cols, rows=rows, budgets=budgets, follow=follow, room_wait=room_wait
        )
        self.control = self.hub.control
        self.result: Any = None
        self.error: BaseException | None = None  # what the session's thread raised
        self._viewer = None
        self._thread: threading.Thread | None = None

    @property
    def terminal(self):
        """The session's shell, once it runs."""
        return self.hub.terminal

    def connect(self, name: str) -> Message:
        self._viewer, hello = self.hub.connect(name)
        return hello

    def start(self, deliver: Deliver) -> None:
        assert self._viewer is not None, "connect first"
        self._viewer.start(deliver)
        self._thread = threading.Thread(target=self._run, name="clive-session", daemon=True)
        self._thread.start()

    def send(self, message: Message) -> None:
        if self._viewer is not None:
            self.hub.receive(self._viewer, message)

    def close(self) -> None:
        self.control.quit()
        if self._viewer is not None:
            self.hub.disconnect(self._viewer)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the session's thread to return; False on the deadline."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def _run(self) -> None:
        hub = self.hub
        error = None
        try:
            self.result = self._start(
                control=hub.control,
                approver=hub.approver,
                on_event=hub.on_event,
                on_start=hub.on_start,
                on_measure=hub.on_measure,
                on_open=hub.on_open,
            )
        except BaseException as failure:  # shown when the view closes (see ``error``)
            self.error = failure
            error = "".join(traceback.format_exception_only(failure)).strip()
        finally:
            hub.finished(error)
