"""Reading sessions back: their summary, their events, and which session a name means.

A session whose harness was killed has a ``session.json`` that still says it is running, no
end event, and maybe half a line at the end of ``events.jsonl``: the reader reports it as
interrupted and names the torn line instead of failing.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from clive.session.asciicast import iter_events, read_header
from clive.session.events import (
    Control,
    Event,
    ModelTurn,
    Outcome,
    SessionEnded,
    TerminalOutput,
    ToolResult,
    Totals,
    Usage,
    parse_event,
)
from clive.session.info import CAST_FILE, EVENTS_FILE, SESSION_FILE, SessionInfo


class SessionNotFound(LookupError):
    """No session matches the name given."""


class SessionUnreadable(SessionNotFound):
    """A session's ``session.json`` cannot be read (damaged, or from a newer clive)."""


def _say_skipped(error: SessionUnreadable) -> None:
    print(f"clive: skipped {error}", file=sys.stderr)


@dataclass
class EventLog:
    """The events of ``events.jsonl``, with what could not be read."""

    events: list[Event] = field(default_factory=list)
    torn_tail: str | None = None  # a last line cut short by a kill
    bad_lines: list[int] = field(default_factory=list)  # line numbers that are not events


class Session:
    """A session directory, read-only."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        if not (self.directory / SESSION_FILE).is_file():
            raise SessionNotFound(f"{self.directory} is not a session (no {SESSION_FILE})")
        self._info: SessionInfo | None = None
        self._log: EventLog | None = None

    @property
    def name(self) -> str:
        return self.directory.name

    @property
    def cast_path(self) -> Path:
        return self.directory / CAST_FILE

    @property
    def info(self) -> SessionInfo:
        """``session.json``, with the outcome of an interrupted session filled in."""
        if self._info is None:
            try:
                info = SessionInfo.read(self.directory)
            except (OSError, ValueError) as error:
                said = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
                raise SessionUnreadable(
                    f"{self.name}: its session.json cannot be read ({said}): damaged, or "
                    "written by a newer clive"
                ) from None
            if info.outcome is Outcome.RUNNING:
                info = self._completed_from_events(info)
            self._info = info
        return self._info

    def _completed_from_events(self, info: SessionInfo) -> SessionInfo:
        events = self.log().events
        # A resumed session holds the end of its earlier run: only an end after the last
        # resume says how it ended.
        resumed = max(
            (i for i, e in enumerate(events) if isinstance(e, Control) and e.action == "resume"),
            default=-1,
        )
        ended = next(
            (e for e in reversed(events[resumed + 1 :]) if isinstance(e, SessionEnded)), None
        )
        if ended is not None:
            return info.with_end(ended)
        outcome = Outcome.RUNNING if _still_running(info) else Outcome.INTERRUPTED
        totals = totals_from_events(events, info.totals)
        return info.model_copy(update={"outcome": outcome, "totals": totals})

    def log(self) -> EventLog:
        """Every event in ``events.jsonl`` (terminal output is in the cast: see ``output``)."""
        if self._log is None:
            self._log = read_event_log(self.directory / EVENTS_FILE)
        return self._log

    def output(self) -> Iterator[TerminalOutput]:
        """The terminal's output events, from the cast."""
        path = self.cast_path
        if not path.exists():
            return
        for event in iter_events(path):
            if event.code == "o":
                yield TerminalOutput(t=event.time, data=event.data, scripted=self.info.scripted)

    def size(self) -> tuple[int, int]:
        """The terminal's size when the session started (columns, rows)."""
        if self.cast_path.exists():
            header = read_header(self.cast_path)
            return header.width, header.height
        return self.info.cols, self.info.rows


def totals_from_events(events: list[Event], recorded: Totals) -> Totals:
    """A session's totals from its events (session.json's are stale after a kill)."""
    turns = [e for e in events if isinstance(e, ModelTurn)]
    costs = [t.cost for t in turns if t.cost is not None]
    # Invalid calls, and turns without a tool call (the loop counts both).
    invalid = sum(isinstance(e, ToolResult) and e.invalid for e in events) + sum(
        1 for t in turns if t.purpose == "act" and not t.tool_calls
    )
    return Totals(
        steps=max((t.step for t in turns), default=0),
        usage=sum((t.usage for t in turns), Usage()),
        cost=sum(costs) if costs else None,
        duration=events[-1].t if events else recorded.duration,
        invalid_tool_calls=invalid,
    )


def read_event_log(path: Path) -> EventLog:
    log = EventLog()
    if not path.exists():
        return log
    with open(path, "rb") as file:
        for number, line in enumerate(file, start=1):
            try:
                log.events.append(parse_event(line))
            except ValidationError:
                if not line.endswith(b"\n"):
                    log.torn_tail = line.decode("utf-8", "replace")
                else:
                    log.bad_lines.append(number)
    return log


def _still_running(info: SessionInfo) -> bool:
    return process_alive(info.pid, info.host) is True


def process_alive(pid: int | None, host: str) -> bool | None:
    """Whether process ``pid`` of ``host`` lives; None when this machine cannot tell (no
    pid, or another host)."""
    if pid is None or host != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def list_sessions(
    root: Path, on_skip: Callable[[SessionUnreadable], None] = _say_skipped
) -> list[Session]:
    """The sessions under ``root``, oldest first; one that cannot be read is passed to
    ``on_skip`` (by default, a line on stderr) and left out."""
    if not root.is_dir():
        return []
    found = []
    for directory in sorted(root.iterdir()):
        if (directory / SESSION_FILE).is_file():
            session = Session(directory)
            try:
                session.info  # noqa: B018 - read now: a bad one is reported once, here
            except SessionUnreadable as error:
                on_skip(error)
                continue
            found.append(session)
    return found


def find_session(name: str, root: Path) -> Session:
    """The session ``name`` means: a directory path, a name under ``root``, a unique prefix of
    one, or ``last`` for the most recent."""
    path = Path(name).expanduser()
    if (path / SESSION_FILE).is_file():
        session = Session(path)
        session.info  # noqa: B018 - raises SessionUnreadable now, not in the middle of a command
        return session
    if (root / name / SESSION_FILE).is_file():  # by its name: read it, or say why not
        session = Session(root / name)
        session.info  # noqa: B018
        return session
    sessions = list_sessions(root)
    if name in ("last", "latest"):
        if not sessions:
            raise SessionNotFound(f"no sessions in {root}")
        return max(sessions, key=lambda s: s.info.started_at)
    matches = [s for s in sessions if s.name.startswith(name) or name in s.name]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise SessionNotFound(
            f"no session {name!r} in {root} ({len(sessions)} sessions there; "
            "`clive sessions` lists them)"
        )
    names = ", ".join(s.name for s in matches[:5])
    raise SessionNotFound(f"{name!r} matches {len(matches)} sessions ({names}...): say which")
