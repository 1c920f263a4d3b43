"""Writing a session to disk as it happens, so that nothing is lost whenever the harness dies.

``events.jsonl`` gets every event but terminal output, one JSON line each, written whole and
flushed before ``append`` returns. The terminal's output goes to ``terminal.cast`` (asciicast
v2) once, with the input, resizes, and a marker at each agent step. Output is gathered for up
to a second before it is written (``clive.session._output``): each event is what the terminal
showed at the time it carries, carriage-return redraws that a later one in the same second
covers are dropped (a progress bar costs one redraw a second), and bursts become one event per
40 ms.

The writer is the gate to disk: everything it writes (both files, ``session.json``, notes, the
directory's name) goes through its ``redactor`` first, and the terminal of a session saves long
outputs through the same redactor.
"""

from __future__ import annotations

import codecs
import datetime
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clive.session._output import OUTPUT_WINDOW, CastOutput, PendingOutput
from clive.session.asciicast import CastWriter
from clive.session.events import (
    EVENT_ADAPTER,
    Control,
    Event,
    InputSent,
    Outcome,
    SessionEnded,
    TerminalOutput,
)
from clive.session.info import CAST_FILE, EVENTS_FILE, NOTES_FILE, OUTPUTS_DIR, SessionInfo
from clive.session.redact import Redactor

SECRET_INPUT = "[secret input]"


class SessionWriter:
    """Records one session into ``directory`` (which must not exist yet).

    ``append`` records an event and hands it to every subscriber; ``terminal_output`` and
    ``terminal_input`` take the terminal's bytes (hook them to the terminal's listeners).
    Thread-safe: the terminal's reader thread and the agent write concurrently.
    """

    def __init__(
        self,
        directory: Path,
        info: SessionInfo,
        *,
        redactor: Redactor | None = None,
        clock: Callable[[], float] = time.monotonic,
        background_flush: bool = True,
        resume_at: float | None = None,
    ) -> None:
        if resume_at is None:
            directory.mkdir(parents=True)
            (directory / OUTPUTS_DIR).mkdir()
        self.directory = directory
        self.redactor = redactor or Redactor()
        # session.json holds the task, which may name a secret.
        self.info = SessionInfo.model_validate(_redacted(info.model_dump(), self.redactor, 0))
        self.info = self.info.model_copy(
            update={"pid": os.getpid(), "host": socket.gethostname(), "outcome": Outcome.RUNNING}
        )
        self._clock = clock
        # A resumed session goes on from where its clock stopped, in the same files.
        self._start = clock() - (resume_at or 0.0)
        self._cols = info.cols
        self._lock = threading.RLock()
        self._listeners: list[Callable[[Event], None]] = []
        self._events = open(directory / EVENTS_FILE, "ab")  # noqa: SIM115 - open for the session
        self._cast_file = open(directory / CAST_FILE, "ab")  # noqa: SIM115
        self._cast = CastWriter(self._cast_file)
        if resume_at is None:
            self._cast.header(
                info.cols,
                info.rows,
                timestamp=int(time.time()),
                title=self.info.task,
                env={"SHELL": os.environ.get("SHELL", "/bin/bash"), "TERM": "xterm-256color"},
            )
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._output = PendingOutput(self.redactor, info.cols)
        self._cast_time = resume_at or 0.0
        self.resumed: Event | None = None  # the resume event of a reopened session
        self._closed = False
        self.info.write(directory)
        if resume_at is not None:
            # A fresh shell follows: replay must not draw it inside the old one's state
            # (an alternate screen, margins, colours) if the old one died in vim.
            self._cast_event(resume_at, "o", "\x1bc")
        self._stop_flusher = threading.Event()
        self._flusher = None
        if background_flush:
            self._flusher = threading.Thread(
                target=self._flush_when_idle, name="clive-session-flush", daemon=True
            )
            self._flusher.start()

    @classmethod
    def reopen(
        cls,
        directory: Path,
        resume_at: float,
        message: str = "",
        *,
        info: SessionInfo | None = None,
        **options,
    ) -> SessionWriter:
        """A writer that goes on recording the existing session in ``directory``, its clock
        starting at ``resume_at`` seconds (where the session stopped). Its first event is a
        ``resume`` control: readers take no end before it as the session's end. ``info``:
        the session's summary as it goes on (the model and settings now in use), by default
        the one on disk."""
        for name in (EVENTS_FILE, CAST_FILE):
            _drop_torn_line(directory / name)
        info = info or SessionInfo.read(directory)
        writer = cls(directory, info, resume_at=resume_at, **options)
        writer.resumed = writer.append(Control(action="resume", source="user", message=message))
        return writer

    @classmethod
    def create(
        cls, root: Path, info: SessionInfo, *, redactor: Redactor | None = None, **options
    ) -> SessionWriter:
        """A writer for a new directory under ``root``, named for the time and the task."""
        redactor = redactor or Redactor()
        stamp = datetime.datetime.now().strftime("%Y-%m-%dT%H-%M-%S")
        task = redactor.redact(info.task).lower()  # a secret in the task must not name it
        slug = re.sub(r"[^a-z0-9]+", "-", task).strip("-")[:32].rstrip("-")
        name = f"{stamp}-{slug}" if slug else stamp
        for attempt in range(1, 1000):
            directory = root / (name if attempt == 1 else f"{name}-{attempt}")
            try:
                info = info.model_copy(update={"id": directory.name})
                return cls(directory, info, redactor=redactor, **options)
            except FileExistsError:
                continue
        raise FileExistsError(f"no free session directory name under {root} for {name}")

    # -- publishing -----------------------------------------------------------------------

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        """Call ``listener(event)`` with every event recorded from now on."""
        self._listeners.append(listener)

    def publish(self, event: Event) -> None:
        """Hand ``event`` to every listener without writing it (text as it streams)."""
        for listener in self._listeners:
            try:
                listener(event)
            except Exception as error:  # a broken listener must not stop the recording
                print(f"clive: an event listener failed: {error!r}", file=sys.stderr)

    def elapsed(self) -> float:
        """Seconds since the session started."""
        return self._clock() - self._start

    @property
    def scripted(self) -> bool:
        return self.info.scripted

    # -- events ---------------------------------------------------------------------------

    def append(self, event: Event) -> Event:
        """Record ``event`` (its time and scripted flag are set here) and publish it."""
        with self._lock:
            if self._closed:
                raise RuntimeError("this session is closed")
            event = event.model_copy(
                update={"t": round(self.elapsed(), 6), "scripted": self.scripted}
            )
            # Redact the strings, not the JSON: a secret such as "1234" may also be digits of
            # a number or a key, which must stay as they are.
            dumped = event.model_dump()
            redacted = _redacted(dumped, self.redactor, self._cols)
            if redacted != dumped:
                event = EVENT_ADAPTER.validate_python(redacted)
            line = event.model_dump_json()
            self._events.write(line.encode("utf-8", "surrogatepass") + b"\n")
            self._events.flush()
        self.publish(event)
        return event

    def marker(self, label: str) -> None:
        """A marker in the cast (asciinema shows them as chapter points): one per agent step."""
        with self._lock:
            self._write_output(self._output.take())
            self._cast_event(self.elapsed(), "m", self.redactor.redact(label))

    def resize(self, cols: int, rows: int) -> None:
        with self._lock:
            self._write_output(self._output.take())
            self._cols = self._output.cols = cols
            self._cast_event(self.elapsed(), "r", f"{cols}x{rows}")

    def append_note(self, text: str) -> None:
        """Add to the session's notes file (what the agent wants to remember)."""
        with self._lock, open(self.directory / NOTES_FILE, "a", encoding="utf-8") as notes:
            notes.write(self.redactor.redact(text).rstrip() + "\n\n")

    # -- the terminal's bytes ---------------------------------------------------------------

    def terminal_output(self, data: bytes, when: float) -> None:
        """Output the terminal printed at monotonic time ``when`` (an output listener)."""
        with self._lock:
            if self._closed:
                return
            text = self._decoder.decode(data)
            if text and self._output.add(when - self._start, text):
                self._write_output(self._output.take())

    def terminal_input(
        self, data: bytes, when: float, *, source: str = "agent", secret: bool = False
    ) -> None:
        """Input sent to the terminal; ``secret`` (typed at a password prompt) is not kept."""
        text = SECRET_INPUT if secret else data.decode("utf-8", "replace")
        with self._lock:
            if self._closed:
                return
            self._write_output(self._output.take())
            self._cast_event(when - self._start, "i", self.redactor.redact(text))
        self.append(InputSent(data=text, source=source, secret=secret))

    def _write_output(self, events: list[CastOutput]) -> None:
        for t, text in events:
            self._cast_event(t, "o", text)
            if self._listeners:
                self.publish(TerminalOutput(t=round(t, 6), data=text, scripted=self.scripted))

    def _cast_event(self, t: float, code: str, data: str) -> None:
        # Input is stamped when it is sent and output when it is read, on two threads: the
        # echo of a key can be read a few microseconds before the key's own event is written.
        # A player wants times that never go back.
        t = max(t, self._cast_time)
        self._cast_time = t
        self._cast.event(t, code, data)

    def _flush_when_idle(self) -> None:
        while not self._stop_flusher.wait(0.1):
            with self._lock:
                if self._closed:
                    return
                now = self.elapsed()
                if self._output.due(now):
                    self._write_output(self._output.take())
                if self._output.holding and now - self._output.last_time >= OUTPUT_WINDOW:
                    self._write_output(self._output.take_paused())

    # -- the end ----------------------------------------------------------------------------

    def close(self, ended: SessionEnded | None = None) -> None:
        """Write what is pending, the end event, and the final ``session.json``."""
        with self._lock:
            if self._closed:
                return
            if rest := self._decoder.decode(b"", final=True):  # a character cut short
                self._output.add(self.elapsed(), rest)
            self._write_output(self._output.take_all())
            if ended is not None:
                ended = self.append(ended)
                now = datetime.datetime.now().astimezone().isoformat()
                self.info = self.info.with_end(ended, now)
                self.info.write(self.directory)
            self._closed = True
            self._events.close()
            self._cast_file.close()
        self._stop_flusher.set()
        if self._flusher is not None and self._flusher is not threading.current_thread():
            self._flusher.join(timeout=2)


def _redacted(value: Any, redactor: Redactor, cols: int) -> Any:
    """``value`` (a dumped event) with every string in it redacted: a string as the rows of a
    screen ``cols`` wide (an observation's screen wraps long lines), a list of strings also as
    the text they make together (keys pressed one at a time)."""
    if isinstance(value, str):
        return redactor.redact_rows(value, cols) if cols else redactor.redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item, redactor, cols) for key, item in value.items()}
    if isinstance(value, list):
        if len(value) > 1 and all(isinstance(item, str) for item in value):
            return redactor.redact_items(value)
        return [_redacted(item, redactor, cols) for item in value]
    return value


def _drop_torn_line(path: Path) -> None:
    """Cut a last line that a killed harness left unfinished: appending after it would make
    one bad line of two."""
    if not path.exists():
        return
    with open(path, "rb+") as file:
        size = file.seek(0, os.SEEK_END)
        keep = size
        while keep > 0:
            file.seek(max(0, keep - 4096))
            chunk = file.read(keep - max(0, keep - 4096))
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                keep = max(0, keep - 4096) + newline + 1
                break
            keep = max(0, keep - 4096)
        if keep < size:
            file.truncate(keep)
