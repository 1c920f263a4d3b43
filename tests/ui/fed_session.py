"""A session the test feeds by hand, for the live app: no shell, no model, every event chosen."""

from __future__ import annotations

import queue

from clive.agent.approval import ApprovalRequest, Decision
from clive.link import LocalLink
from clive.session.events import (
    Event,
    ModelTurn,
    Observation,
    SessionEnded,
    SessionStarted,
    ToolCall,
    ToolResult,
)
from clive.ui.live_app import LiveApp


class FedSession:
    """``start`` is a ``LiveApp`` starter: in the app's session thread it hands on each event
    the test ``put``s, asks the app's approver for each ``ApprovalRequest`` put (the answers
    are in ``decisions``), and returns at a ``SessionEnded``, or when the app quits the
    session. ``actions`` are the controls the app used (pause, resume...), in order."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Event | ApprovalRequest | None] = queue.Queue()
        self.decisions: list[Decision] = []
        self.actions: list[str] = []
        self.fed = 0  # items handed on so far

    def put(self, *items: Event | ApprovalRequest) -> None:
        for item in items:
            self._queue.put(item)

    def start(self, *, control, approver, on_event, on_start, on_measure=None, on_open=None):
        def heard(action: str, _message: str) -> None:
            self.actions.append(action)
            if action == "quit":
                self._queue.put(None)

        control.listen(heard)
        while (item := self._queue.get()) is not None:
            if isinstance(item, ApprovalRequest):
                self.decisions.append(approver(item))
            else:
                on_event(item)
            self.fed += 1
            if isinstance(item, SessionEnded):
                return None, item
        return None, None

    def app(self, *, clock=None, **options) -> LiveApp:
        """The live app of this session (``LocalLink``'s options: a model ``m`` and an 80x24
        shell unless told; ``clock`` for the app)."""
        link = LocalLink(self.start, **{"model": "m", "cols": 80, "rows": 24, **options})
        return LiveApp(link) if clock is None else LiveApp(link, clock=clock)


def started(task: str = "count the errors") -> SessionStarted:
    return SessionStarted(
        session_id="s", task=task, model="m", cwd="/w", cols=80, rows=24, started_at="2026"
    )


def step(n: int, command: str = "") -> list[Event]:
    """Step ``n``: its observation, a turn typing ``command`` (``echo n`` by default), its
    result (``done n``)."""
    call = ToolCall(id=f"c{n}", name="type", input={"text": command or f"echo {n}"})
    t = 3.0 * n
    return [
        Observation(t=t, step=n, text="", tokens=100, state="prompt", exit_code=0),
        ModelTurn(t=t + 1, step=n, model="m", text=f"doing step {n}", tool_calls=[call]),
        ToolResult(t=t + 2, step=n, call_id=call.id, name="type", ok=True, content=f"done {n}"),
    ]
