"""``Terminal``: a real shell in a pseudo-terminal that a program can type into and read.

One reader thread drains the PTY as fast as the child writes, whatever the caller is doing,
so the child never blocks on a full buffer. Each chunk goes to three places: the transcript
(plain text, on disk), the shell-integration markers (OSC 133 and OSC 7, read straight from
the byte stream), and a queue of text for the screen. The screen is brought up to date only
when someone looks at it (``snapshot``), when a program asks the terminal a question (DSR, DA)
or when the queue grows large, which is what lets a verbose job run at full speed.
"""

from __future__ import annotations

import codecs
import contextlib
import math
import os
import re
import select
import shutil
import signal
import sys
import tempfile
import termios
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse

import pexpect

from clive.terminal import _processes
from clive.terminal._escapes import split_unfinished_escape
from clive.terminal._screen_state import save_state
from clive.terminal.emulator import Cursor, Emulator
from clive.terminal.keys import encode_keys
from clive.terminal.shell import bash_command, child_environment
from clive.terminal.transcript import Mark, Transcript

# listener(data, None) for each chunk printed, listener(None, (cols, rows)) for each resize
ScreenListener = Callable[[bytes | None, tuple[int, int] | None], None]

_OSC = re.compile(r"\x1b\]([^\x07\x1b]*)(?:\x07|\x1b\\)")
_TERMINAL_QUERY = re.compile(rb"\x1b\[[?>=]?[0-9;]*[nc]")
# The start of a terminal query at the end of a read: the rest comes in the next read.
_QUERY_START = re.compile(rb"\x1b(?:\[[?>=]?[0-9;]*)?")
_EXIT_CODE = re.compile(r"-?[0-9]+")
# Control bytes other than CR, LF and TAB: a chunk without them (and without ESC) is plain text.
_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\r\n\t") + b"\x7f"
_TRANSCRIPT_BATCH = 1 << 16  # bytes of output without markers handled in one piece
_RENDER_BACKLOG = 1 << 20  # bytes queued for the screen before it is brought up to date
_READ_SIZE = 1 << 16
# A line that ends like a prompt: shell ($ # %), REPLs (>>> ... In [1]: irb> mysql>), and
# prompts that ask for something ("Continue? [y/N] ").
_PROMPT_LINE = re.compile(
    r"(?:[$#%>»❯]|>>>|\.\.\.|In \[\d+\]:|\[[yYnN]/[yYnN]\]|\([yYnN]/[yYnN]\)|\?)\s?$"
)
_PASSWORD_LINE = re.compile(r"(?i)(pass(word|phrase)|\bpin\b|token)[^\n]*:\s*$")
_PAGER_LINE = re.compile(r"^(?::|\(END\)|--More--.*|.*lines \d+-\d+.*|~)\s*$")
_PAGERS = frozenset({"less", "more", "most", "pg", "man"})
_PATTERN_LOOK = 0.05  # while output flows, seconds between looks for a wait() pattern
_STOP_LOOK = 1.0  # seconds between looks at a wait()'s stop, for callers that never wake() it
_CONTINUATION_SETTLE = 0.3  # seconds a continuation prompt must stand before it counts
_HEURISTIC_QUIET = 0.5  # seconds of silence before a prompt-like line counts as a prompt


class ScreenState(StrEnum):
    """What the terminal is doing, as a person glancing at it would say."""

    PROMPT = "prompt"  # the shell (or a REPL) waits for a command
    RUNNING = "running"  # a command is running
    FULL_SCREEN = "full_screen"  # a full-screen program (vim, htop) owns the screen
    PAGER = "pager"  # a pager (less, more) waits for a key
    PASSWORD = "password"  # a program reads a password, echo off
    CONTINUATION = "continuation"  # the shell wants the rest of a command (quote, heredoc)
    EXITED = "exited"  # the shell has exited


class WaitReason(StrEnum):
    """Which condition ended a wait."""

    PROMPT = "prompt"  # the shell integration marked the end of the command
    PROMPT_HEURISTIC = "prompt_heuristic"  # no markers: a prompt-like line after silence
    CONTINUATION = "continuation"  # the shell wants the rest of the command (quote, heredoc)
    PATTERN = "pattern"
    QUIET = "quiet"
    EXITED = "exited"
    TIMEOUT = "timeout"
    STOPPED = "stopped"  # the caller's ``stop`` said so (a person paused the agent)


@dataclass(frozen=True)
class WaitOutcome:
    """How a wait ended: which condition held first, after how long."""

    reason: WaitReason
    elapsed: float
    match: str | None = None  # what the pattern matched
    exit_code: int | None = None  # with PROMPT: the exit code of the command that finished

    @property
    def timed_out(self) -> bool:
        return self.reason is WaitReason.TIMEOUT


@dataclass(frozen=True)
class Snapshot:
    """The screen at one moment, and what clive knows about the shell then."""

    lines: list[str]
    cursor: Cursor
    alt_screen: bool
    state: ScreenState
    cwd: str | None
    title: str
    cols: int
    rows: int
    last_exit_code: int | None = None

    def text(self) -> str:
        """The screen as text: trailing blanks and trailing empty rows trimmed."""
        return "\n".join(self.lines).rstrip()


@dataclass(frozen=True)
class RunResult:
    """What ``Terminal.run`` saw: the command's exit code, output and timing."""

    command: str
    exit_code: int | None  # None when no shell marker reported one (timeout, no integration)
    output: str  # plain text, CR applied, escapes stripped; head and tail if truncated
    duration: float
    timed_out: bool = False
    decided_by: WaitReason = WaitReason.PROMPT
    output_bytes: int = 0
    output_truncated: bool = False
    output_path: Path | None = None  # the complete output, when it was too large to keep
    interrupted_with: str | None = None  # how a timed-out command was stopped

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class Launcher(Protocol):
    """What starts the terminal's program: a sandbox, a clean environment."""

    @property
    def pid_namespace(self) -> bool:
        """True when the program runs in a PID namespace of its own."""
        ...

    def wrap(self, argv: list[str]) -> list[str]:
        """The command line that starts ``argv``."""
        ...


class TerminalError(RuntimeError):
    """The terminal cannot do what was asked; the message says why and what to do."""


@dataclass(frozen=True)
class CallbackError:
    """A callback on the terminal's stream failed (a listener, a marker's handler): the
    terminal went on without it. ``callback`` names it, ``data`` is what it was handed."""

    callback: str
    error: Exception
    data: str = ""

    @property
    def message(self) -> str:
        on = f" on {self.data!r}" if self.data else ""
        return f"{self.callback} failed{on}: {self.error!r}; the terminal went on without it"


@dataclass
class _ShellMarks:
    """What the shell integration has told us so far."""

    active: bool = False  # a marker has been seen: the shell runs clive's rc
    prompts: int = 0  # primary prompts shown
    prompt_events: int = 0  # prompts of either kind shown (primary and continuation)
    new_prompt_due: bool = True  # PROMPT_COMMAND ran: the next primary prompt is a new one
    commands: int = 0  # commands started (OSC 133;C)
    at_prompt: bool = False
    continuation: bool = False
    command_start: Mark | None = None
    finished: list[tuple[int, int | None, Mark, Mark]] = field(default_factory=list)
    last_exit_code: int | None = None
    cwd: str | None = None


class Terminal:
    """A real shell in a pseudo-terminal: type into it, wait on it, read it exactly.

    ``Terminal(cols=120, rows=40)`` starts bash with clive's shell integration. ``command``
    starts something else instead (``["ssh", "host"]``, ``["python3"]``): clive then falls
    back to prompt and quiet heuristics. ``env`` overrides clive's non-interactive defaults
    (None removes a variable); ``hide_env`` names more variables that must not reach the
    shell. ``transcript_path`` and ``output_dir`` keep the transcript and long outputs
    somewhere lasting (a session directory); by default they are temporary, and without a
    path the transcript is a file with no name, in ``output_dir`` if there is one.
    ``save_filter`` is applied to the text of long outputs saved (a session redacts them
    with it). ``launcher``
    turns the command line into the one started (a sandbox around it); when it starts it in
    a PID namespace of its own, every process in that namespace is the terminal's.
    ``settle=False`` returns from ``start`` at once, without waiting for a prompt or for
    quiet (a program that may end at once: a measurement).
    """

    def __init__(
        self,
        cols: int = 120,
        rows: int = 40,
        *,
        command: Sequence[str] | None = None,
        cwd: str | Path | None = None,
        env: Mapping[str, str | None] | None = None,
        hide_env: Sequence[str] = (),
        user_rc: bool = True,
        transcript_path: str | Path | None = None,
        output_dir: str | Path | None = None,
        save_filter: Callable[[str], str] | None = None,
        max_output_in_memory: int = 32 << 20,
        startup_timeout: float = 10.0,
        launcher: Launcher | None = None,
        settle: bool = True,
    ) -> None:
        self._cols, self._rows = cols, rows
        self._command = list(command) if command else None
        self._cwd = str(cwd) if cwd else None
        self._env_overrides = dict(env or {})
        self._hide_env = tuple(hide_env)
        self._user_rc = user_rc
        self._transcript_path = transcript_path
        self._output_dir_arg = Path(output_dir) if output_dir else None
        self._output_dir: Path | None = None
        self._save_filter = save_filter
        self.max_output_in_memory = max_output_in_memory
        self._startup_timeout = startup_timeout
        self._launcher = launcher
        self._settle = settle
        self._output_listeners: list[Callable[[bytes, float], None]] = []
        self._input_listeners: list[Callable[[bytes, float], None]] = []
        self._error_listeners: list[Callable[[CallbackError], None]] = []
        self._screen_listeners: list[ScreenListener] = []
        self._child: pexpect.spawn | None = None
        self._reader: threading.Thread | None = None
        self._started = False
        self._size_lock = threading.Lock()  # a resize while the terminal starts is not lost

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> Terminal:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> Terminal:
        """Start the shell and wait for its first prompt (or for it to go quiet)."""
        if self._started:
            raise TerminalError("this terminal is already running; close() it first")
        if self._cwd is not None and not os.path.isdir(self._cwd):
            raise TerminalError(f"cannot start the shell in {self._cwd!r}: not a directory")
        self._cond = threading.Condition()
        self.waiting = 0  # how many calls of wait() are waiting now
        self._marks = _ShellMarks()
        started_size = (self._cols, self._rows)
        self._emulator = Emulator(*started_size, respond=self._answer_terminal_query)
        self._transcript = Transcript(
            self._transcript_path, directory=self._output_dir_arg, save_filter=self._save_filter
        )
        self._queued: list[bytes] = []
        self._queued_bytes = 0
        self._queued_plain = True
        self._screen_decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._transcript_decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._held_back = ""
        self._transcript_backlog: list[bytes] = []
        self._transcript_backlog_bytes = 0
        self._transcript_backlog_plain = True
        self._last_output = time.monotonic()
        self._last_input = 0.0
        self._chunks = 0  # chunks of output read so far
        self._wake_on_output = False  # a waiter sleeps until the next chunk arrives
        self._query_start = b""  # the start of a terminal query that ended the last look
        self._queries_checked = 0  # queued chunks already searched for terminal queries
        self._failures: list[CallbackError] = []  # not yet handed to the error listeners
        self._failures_seen: set[tuple[str, type]] = set()
        self._awaiting_prompt_after: int | None = None
        self._exited = False
        self._exit_status: int | None = None
        self._stop = False
        self._closed = False

        if self._command:
            argv, extra = self._command, {}
        else:
            argv, extra = bash_command(user_rc=self._user_rc)
        env = child_environment({**extra, **self._env_overrides}, hidden=self._hide_env)
        # Every process started from this shell inherits the id, so close() finds even those
        # that left its session and were re-parented to init.
        env["CLIVE_TERMINAL_ID"] = self._terminal_id = uuid.uuid4().hex
        launched = self._launcher.wrap(list(argv)) if self._launcher else list(argv)
        try:
            self._child = pexpect.spawn(
                launched[0],
                launched[1:],
                env=env,
                cwd=self._cwd,
                dimensions=(started_size[1], started_size[0]),
                encoding=None,
                echo=True,
            )
        except pexpect.ExceptionPexpect as error:
            raise TerminalError(f"cannot start {argv[0]!r}: {error}") from error
        self._fd = self._child.child_fd
        self._launcher_pid = self._shell_pid = self._child.pid
        self._namespace: str | None = None
        self._namespace_init: tuple[int, int] | None = None  # (pid, start time) outside
        if self._launcher is not None and self._launcher.pid_namespace:
            self._find_namespace(os.path.basename(argv[0]))
        with self._size_lock:
            self._started = True
            resized = (self._cols, self._rows) != started_size  # while it started
        if resized:
            self.resize(self._cols, self._rows)
        self._stop_pipe = os.pipe()  # written by close(): the reader never wakes up for nothing
        self._reader = threading.Thread(
            target=self._read_loop, name=f"clive-pty-{self._shell_pid}", daemon=True
        )
        self._reader.start()
        if not self._settle:
            return self
        if self._command is None:
            outcome = self.wait(prompt=True, timeout=self._startup_timeout)
        else:
            outcome = self.wait(quiet=0.3, timeout=self._startup_timeout)
        if outcome.reason is WaitReason.EXITED:
            said = self.transcript.read().strip()[-500:]
            self.close()
            raise TerminalError(
                f"{argv[0]} exited as it started (status {self._exit_status})"
                + (f"; it said: {said}" if said else "")
            )
        return self

    def _find_namespace(self, name: str) -> None:
        """Find the PID namespace the launcher made, and in it the shell (``name``): the
        foreground checks go by the shell, the process family is the whole namespace."""
        ours = _processes.pid_namespace(os.getpid())
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline and self._child.isalive():
            inside = [
                pid
                for pid in _processes.descendants(self._launcher_pid)
                if _processes.pid_namespace(pid) not in (None, ours)
            ]
            if inside and self._namespace is None:
                # The first is the namespace's init: while it lives, so does the namespace.
                self._namespace = _processes.pid_namespace(inside[0])
                self._namespace_init = (inside[0], _processes.start_time(inside[0]))
                if not self._settle:
                    return  # a program that may end at once: no shell to look for
            shell = _processes.descendant_named(self._launcher_pid, name)
            if shell is not None and self._namespace is not None:
                self._shell_pid = shell
                return
            time.sleep(0.01)

    def _family(self) -> set[int]:
        """The shell and every process started from it (in a sandbox: all of its processes,
        which no process can leave), and the launcher."""
        # An ended launcher's number may already be another process's.
        launcher = {self._launcher_pid} if _processes.is_alive(self._launcher_pid) else set()
        if self._namespace is not None:
            # A namespace whose init has ended is empty, and its number may already name
            # another one (a measurement after this one, another session's shell).
            if not self._namespace_lives():
                return launcher
            members = _processes.in_namespace(self._namespace)
            # Again: it may have ended, and its number been taken, while it was listed.
            return members | launcher if self._namespace_lives() else launcher
        marker = f"CLIVE_TERMINAL_ID={self._terminal_id}".encode()
        return _processes.family(self._shell_pid, marker) | launcher

    def _namespace_lives(self) -> bool:
        if self._namespace_init is None:
            return False
        pid, started = self._namespace_init
        return (
            _processes.start_time(pid) == started
            and _processes.pid_namespace(pid) == self._namespace
        )

    def restart(self) -> Terminal:
        """Close this shell (if it still runs) and start a new one in the last known cwd."""
        cwd = self._marks.cwd if self._started else None
        self.close()
        if cwd and os.path.isdir(cwd):
            self._cwd = cwd
        self._started = False
        return self.start()

    def close(self) -> None:
        """Stop the shell and everything started from it, also what ignores SIGHUP."""
        if not self._started or self._closed:
            return
        self._closed = True
        family = self._family()
        with contextlib.suppress(OSError):
            os.kill(self._shell_pid, signal.SIGHUP)
        _processes.terminate(family, grace=1.0)
        self._stop = True
        os.write(self._stop_pipe[1], b"x")
        if self._reader is not None:
            self._reader.join(timeout=5)
        if self._reader is None or not self._reader.is_alive():
            for descriptor in self._stop_pipe:
                os.close(descriptor)
        with contextlib.suppress(Exception):
            self._child.close(force=True)
        self._transcript.close()
        if self._output_dir is not None and self._output_dir_arg is None:
            shutil.rmtree(self._output_dir, ignore_errors=True)
        self._output_dir = None

    def kill(self, grace: float = 1.0) -> None:
        """SIGTERM every process of the terminal, SIGKILL those left after ``grace``, and
        wait (as long again) for the terminal to see its program end."""
        if not self._started or self._closed or self._exited:
            return
        _processes.terminate(self._family(), grace=grace)
        self.wait(timeout=grace)

    def freeze(self, frozen: bool) -> None:
        """Stop every process of the terminal (SIGSTOP), or let them go on (SIGCONT): so
        that nothing of it runs while another worker's timing is measured on this machine.
        The shell stops first and goes on last, so that it never sees its job stopped (an
        interactive shell would take the job off the terminal)."""
        if not self._started or self._closed:
            return
        family = self._family()
        shell = [self._shell_pid] if self._shell_pid in family else []
        others = sorted(family - set(shell), reverse=not frozen)
        order = [*shell, *others] if frozen else [*others, *shell]
        for pid in order:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGSTOP if frozen else signal.SIGCONT)

    def background_processes(self) -> list[int]:
        """Processes started from this terminal that are still running, the shell aside
        (background jobs, daemons): what could print or write while something else runs."""
        if not self._started or self._closed:
            return []
        # The launcher, and the sandbox's init that waits for the shell, are no jobs.
        launchers = {self._launcher_pid, _processes.parent(self._shell_pid)}
        return sorted(
            pid
            for pid in self._family() - {self._shell_pid} - launchers
            if not _processes.is_zombie(pid)  # dead, waiting for its parent to notice
        )

    # -- properties -----------------------------------------------------------------------

    @property
    def pid(self) -> int:
        """The shell's process id."""
        return self._shell_pid

    @property
    def cols(self) -> int:
        return self._cols

    @property
    def rows(self) -> int:
        return self._rows

    @property
    def transcript(self) -> Transcript:
        """Everything printed so far, as plain text."""
        with self._cond:
            self._write_transcript()
        return self._transcript

    @property
    def exited(self) -> bool:
        return self._exited

    @property
    def exit_status(self) -> int | None:
        """The shell's exit status once it has exited."""
        return self._exit_status

    @property
    def integrated(self) -> bool:
        """True once the shell has shown clive's markers (exact end of command, exit code)."""
        return self._marks.active

    def add_output_listener(self, listener: Callable[[bytes, float], None]) -> None:
        """Call ``listener(data, monotonic_time)`` with every chunk the terminal prints."""
        self._output_listeners.append(listener)

    def add_input_listener(self, listener: Callable[[bytes, float], None]) -> None:
        """Call ``listener(data, monotonic_time)`` with every chunk sent to the terminal."""
        self._input_listeners.append(listener)

    def add_screen_listener(self, listener: ScreenListener) -> None:
        """Call ``listener(data, None)`` with every chunk the terminal prints and
        ``listener(None, (cols, rows))`` at every resize, in the order the screen takes them,
        under the screen's lock (see ``screen_state``): it must only hand them on. A view
        that keeps its own copy of the screen follows it from these."""
        self._screen_listeners.append(listener)

    def screen_state(self, then: Callable[[str, bytes], None]) -> None:
        """Call ``then(state, pending)`` with the screen's whole state (``save_state``'s
        JSON) and the bytes of a character not yet whole, under the lock the screen
        listeners are called under: what they get next follows exactly from that state."""
        with self._cond:
            self._render()
            pending = self._screen_decoder.getstate()[0]
            then(save_state(self._emulator), pending)

    def _tell_screen_listeners(self, data: bytes | None, size: tuple[int, int] | None) -> None:
        for listener in self._screen_listeners:
            try:
                listener(data, size)
            except Exception as error:  # a view that fails must not stop the terminal
                self._callback_failed(f"the screen listener {listener!r}", error)

    def add_error_listener(self, listener: Callable[[CallbackError], None]) -> None:
        """Call ``listener(failure)`` when a callback on the stream fails: an output or input
        listener, the handler of a shell marker, the reader's own handling of a chunk. The
        terminal goes on without it; each kind of failure (callback and exception type) is
        reported once. With no error listener, failures are printed on stderr."""
        self._error_listeners.append(listener)

    def _callback_failed(self, callback: str, error: Exception, data: str = "") -> None:
        """Note a failure, to be handed to the error listeners where no lock is held."""
        kind = (callback, type(error))
        if kind not in self._failures_seen:
            self._failures_seen.add(kind)
            self._failures.append(CallbackError(callback, error, data[:200]))

    def _report_failures(self) -> None:
        """Hand the failures noted so far to the error listeners (no lock held)."""
        while self._failures:
            try:
                failure = self._failures.pop(0)
            except IndexError:  # another thread took it
                return
            if not self._error_listeners:
                print(f"clive: {failure.message}", file=sys.stderr)
            for listener in self._error_listeners:
                try:
                    listener(failure)
                except Exception as error:  # the last resort: nothing else is left to tell
                    print(f"clive: {failure.message}; and then: {error!r}", file=sys.stderr)

    # -- reading the PTY --------------------------------------------------------------------

    def _read_loop(self) -> None:
        # Poll, then read what is there. Reading again at once (non-blocking) looks cheaper but
        # is slower: it takes the output in crumbs of a few hundred bytes, and every read
        # contends with the writer for the PTY's locks. Nothing here has a timeout: an idle
        # terminal costs nothing, and close() wakes the poll through its pipe.
        poller = select.poll()
        poller.register(self._fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        poller.register(self._stop_pipe[0], select.POLLIN)
        while not self._stop:
            pending = self._transcript_backlog or self._queries_checked < len(self._queued)
            # During a flood output is always ready: one poll per read, not two.
            if not (pending and poller.poll(0)):
                if pending:
                    try:
                        with self._cond:
                            # Output paused: bring the transcript up to date, and answer a
                            # query the program may be waiting on.
                            self._write_transcript()
                            self._answer_queries()
                    except Exception as error:  # the reader must go on (a full disk, say)
                        self._callback_failed("the terminal's reader", error)
                        self._transcript_backlog.clear()
                        self._transcript_backlog_bytes = 0
                        self._queries_checked = len(self._queued)
                poller.poll()
            if self._stop:
                break
            try:
                data = os.read(self._fd, _READ_SIZE)
            except OSError:
                break
            if not data:
                break
            now = time.monotonic()
            for listener in self._output_listeners:
                try:
                    listener(data, now)
                except Exception as error:  # one bad listener must not blind the others
                    self._callback_failed(f"the output listener {listener!r}", error)
            try:
                self._consume(data, now)
            except Exception as error:  # the reader must go on, whatever a chunk holds
                self._callback_failed("the terminal's reader", error, repr(data))
            if self._failures:
                self._report_failures()
        self._on_shell_exit()

    def _consume(self, data: bytes, now: float) -> None:
        with self._cond:
            if not _is_plain(data):
                self._queued_plain = False
                self._transcript_backlog_plain = False
            if b"\x1b]" in data or b"\x07" in data:
                # It may hold (or finish) a shell marker: handle it now, after the backlog.
                self._transcript_backlog.append(data)
                self._write_transcript()
            else:
                # Text without markers can wait a little and be handled in bigger pieces:
                # the fixed cost per piece is what made a coloured log slow.
                self._transcript_backlog.append(data)
                self._transcript_backlog_bytes += len(data)
                if self._transcript_backlog_bytes >= _TRANSCRIPT_BATCH:
                    self._write_transcript()
            self._queued.append(data)
            self._queued_bytes += len(data)
            if self._screen_listeners:
                self._tell_screen_listeners(data, None)
            self._last_output = now
            self._chunks += 1
            # A waiter is woken by output only when it asked to be, and once: while output
            # flows it looks on its own time. Each wake-up during a flood takes the GIL from
            # this thread for a whole switch interval.
            if self._wake_on_output:
                self._wake_on_output = False
                self._cond.notify_all()
            if self._queued_bytes > _RENDER_BACKLOG:
                self._render()

    def _answer_queries(self) -> None:
        """Render if what arrived since the last look holds a terminal query (DSR, DA): the
        program waits for the answer, and stopped writing to wait (caller holds the lock).

        Looked for only when output pauses, never during a flood: output rendered meanwhile
        had its queries answered by the emulator, so most of a flood is never searched.
        """
        checked = self._queries_checked
        if checked >= len(self._queued):
            return
        unchecked = self._queued[checked] if checked == len(self._queued) - 1 else None
        if unchecked is None:
            unchecked = b"".join(self._queued[checked:])
        self._queries_checked = len(self._queued)
        # A query cut in two by the reads is looked for with the start of it kept.
        seen = self._query_start + unchecked if self._query_start else unchecked
        start = seen.rfind(b"\x1b", -32)
        unfinished = start >= 0 and _QUERY_START.fullmatch(seen, start)
        self._query_start = seen[start:] if unfinished else b""
        if self._emulator.in_sequence or (b"\x1b[" in seen and _TERMINAL_QUERY.search(seen)):
            self._render()

    def _write_transcript(self) -> None:
        """Append the backlog of output to the transcript (caller holds the lock)."""
        if not self._transcript_backlog:
            return
        backlog = self._transcript_backlog
        data = backlog[0] if len(backlog) == 1 else b"".join(backlog)
        backlog.clear()
        self._transcript_backlog_bytes = 0
        plain, self._transcript_backlog_plain = self._transcript_backlog_plain, True
        if not self._held_back and plain and not self._transcript_decoder.getstate()[0]:
            # Plain text, the bulk of any flood: no escapes, so no markers either.
            self._transcript.append_plain_ascii(data)
            return
        decoded = self._transcript_decoder.decode(data)
        text, self._held_back = split_unfinished_escape(self._held_back + decoded)
        if "\x1b]" in text:
            position = 0
            for osc in _OSC.finditer(text):
                if osc.start() > position:
                    self._transcript.append(text[position : osc.start()])
                try:
                    self._on_osc(osc.group(1))
                except Exception as error:  # a marker's handler must not end the reader
                    self._callback_failed("the handler of OSC markers", error, osc.group(1))
                position = osc.end()
            text = text[position:]
        self._transcript.append(text)

    def _on_osc(self, payload: str) -> None:
        code, _, rest = payload.partition(";")
        marks = self._marks
        if code == "133":
            marks.active = True
            kind, _, params = rest.partition(";")
            if kind == "A":
                if "k=s" in params:
                    marks.prompt_events += 1
                    marks.continuation = True
                elif marks.new_prompt_due:
                    # Readline redraws the prompt (a paste, C-l, a resize) with its markers:
                    # only a prompt after PROMPT_COMMAND (marker D) is a new one.
                    marks.new_prompt_due = False
                    marks.prompt_events += 1
                    marks.prompts += 1
                    marks.at_prompt = True
                    marks.continuation = False
                self._cond.notify_all()  # a prompt: what a waiter waits for
            elif kind == "C":
                marks.commands += 1
                marks.at_prompt = False
                marks.continuation = False
                # Several lines in one go each print PS0: the output starts at the first.
                if marks.command_start is None:
                    marks.command_start = self._transcript.mark()
            elif kind == "D":
                marks.new_prompt_due = True
                if marks.command_start is not None:
                    exit_code = int(params) if _EXIT_CODE.fullmatch(params) else None
                    end = self._transcript.mark()
                    marks.finished.append((marks.commands, exit_code, marks.command_start, end))
                    del marks.finished[:-16]
                    marks.last_exit_code = exit_code
                    marks.command_start = None
        elif code == "7":
            with contextlib.suppress(ValueError):  # not a URL ("file://[x"): no directory
                marks.cwd = unquote(urlparse(rest).path) or marks.cwd

    def _on_shell_exit(self) -> None:
        status = None
        with contextlib.suppress(Exception):
            self._child.close(force=False)
            status = self._child.exitstatus
            if status is None and self._child.signalstatus is not None:
                status = 128 + self._child.signalstatus
        with self._cond:
            self._write_transcript()
            self._exited = True
            self._exit_status = status
            self._cond.notify_all()

    def _answer_terminal_query(self, answer: str) -> None:
        with contextlib.suppress(OSError, TerminalError):  # the program is gone: nobody asks
            self._write(answer.encode(), record=False)

    def _render(self) -> None:
        """Bring the screen up to date with everything queued (caller holds the lock)."""
        if self._queued:
            data = b"".join(self._queued)
            self._queued.clear()
            self._queued_bytes = 0
            self._queries_checked = 0
            self._emulator.feed(self._screen_decoder.decode(data), plain=self._queued_plain)
            self._queued_plain = True

    # -- writing --------------------------------------------------------------------------

    def _write(self, data: bytes, *, record: bool = True) -> None:
        if not self._started or self._exited:
            raise TerminalError("the shell has exited; restart() the terminal to go on")
        if record:
            now = time.monotonic()
            self._last_input = now
            for listener in self._input_listeners:
                try:
                    listener(data, now)
                except Exception as error:  # what was typed is typed: the failure is told
                    self._callback_failed(f"the input listener {listener!r}", error)
            if self._failures:
                self._report_failures()
        view = memoryview(data)
        while view:
            try:
                written = os.write(self._fd, view)
            except BlockingIOError:
                select.select([], [self._fd], [], 1.0)
                continue
            view = view[written:]

    def _note_enter(self, data: bytes) -> None:
        """Enter or C-c typed at a prompt means the prompt on screen is no longer current."""
        marks = self._marks
        if (marks.at_prompt or marks.continuation) and (
            b"\r" in data or b"\n" in data or b"\x03" in data
        ):
            with self._cond:
                self._awaiting_prompt_after = marks.prompt_events

    def send_text(self, text: str) -> None:
        """Type ``text`` literally ("\\r" is Enter)."""
        data = text.encode("utf-8", "surrogateescape")
        self._note_enter(data)
        self._write(data)

    def send_keys(self, *keys: str | Sequence[str]) -> None:
        """Press keys by tmux's names: ``send_keys("C-c")``, ``send_keys("Escape", ":q", "Enter")``.

        A single character is typed as itself; a name that is not a key raises
        ``UnknownKeyError`` with the closest names, instead of typing it as text (tmux would).
        """
        names: list[str] = []
        for key in keys:
            names.extend([key] if isinstance(key, str) else key)
        with self._cond:
            self._render()
            app_cursor = self._emulator.app_cursor_keys
        data = encode_keys(names, app_cursor=app_cursor)
        self._note_enter(data)
        self._write(data)

    def paste(self, text: str) -> None:
        """Insert ``text`` at once: as a bracketed paste when the program asked for one."""
        with self._cond:
            self._render()
            bracketed = self._emulator.bracketed_paste
        if bracketed:
            self._write(b"\x1b[200~" + text.encode("utf-8", "surrogateescape") + b"\x1b[201~")
        else:
            self.send_text(text)

    def resize(self, cols: int, rows: int) -> None:
        """Change the terminal's size; the program gets SIGWINCH. Before ``start``, the size
        it starts with; after ``close``, a ``TerminalError``."""
        with self._size_lock:
            if not self._started:
                self._cols, self._rows = cols, rows
                return
        with self._cond:
            if self._closed:
                raise TerminalError("the terminal is closed: it has no size to change")
            self._render()
            self._emulator.resize(cols, rows)
            self._cols, self._rows = cols, rows
            self._child.setwinsize(rows, cols)  # with the screen's, in the same order
            self._tell_screen_listeners(None, (cols, rows))

    # -- looking ------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The screen now, with the state of the shell."""
        with self._cond:
            self._render()
            emulator = self._emulator
            lines = emulator.lines()
            cursor = emulator.cursor
            return Snapshot(
                lines=lines,
                cursor=cursor,
                alt_screen=emulator.alt_screen,
                state=self._classify(lines, cursor),
                cwd=self._marks.cwd,
                title=emulator.title,
                cols=self._cols,
                rows=self._rows,
                last_exit_code=self._marks.last_exit_code,
            )

    def screen_cells(self) -> list[list]:
        """The screen as pyte cells (character, colours, attributes), for drawing it."""
        return self.screen_view()[0]

    def screen_view(self) -> tuple[list[list], Cursor]:
        """The screen's cells and the cursor, for drawing: cheaper than ``snapshot``."""
        with self._cond:
            self._render()
            return self._emulator.cells(), self._emulator.cursor

    def _prompt_is_current(self) -> bool:
        """False between an Enter typed at a prompt and the next prompt."""
        awaiting = self._awaiting_prompt_after
        if awaiting is not None:
            if self._marks.prompt_events <= awaiting:
                return False
            self._awaiting_prompt_after = None
        return True

    def _shell_at_prompt(self) -> bool:
        marks = self._marks
        if not (marks.active and marks.at_prompt and not marks.continuation):
            return False
        return self._prompt_is_current()

    def _foreground_is_shell(self) -> bool:
        try:
            return os.tcgetpgrp(self._fd) == self._shell_pid
        except OSError:
            return False

    def _classify(self, lines: list[str], cursor: Cursor) -> ScreenState:
        if self._exited:
            return ScreenState.EXITED
        cursor_line = lines[cursor.y] if 0 <= cursor.y < len(lines) else ""
        bottom = next((line for line in reversed(lines) if line.strip()), "")
        foreground_is_shell = self._foreground_is_shell()
        if not foreground_is_shell and (
            self._emulator.alt_screen or _PAGER_LINE.match(bottom) or _PAGER_LINE.match(cursor_line)
        ):
            names = _processes.foreground_names(self._fd)
            if names & _PAGERS:
                return ScreenState.PAGER
        if self._emulator.alt_screen:
            return ScreenState.FULL_SCREEN
        if self._reads_password(cursor_line):  # also bash's own `read -s`
            return ScreenState.PASSWORD
        if self._marks.active and foreground_is_shell:
            if self._marks.continuation and self._prompt_is_current():
                return ScreenState.CONTINUATION
            return ScreenState.PROMPT if self._shell_at_prompt() else ScreenState.RUNNING
        if self._prompt_heuristic(cursor_line):
            return ScreenState.PROMPT
        return ScreenState.RUNNING

    def _reads_password(self, cursor_line: str) -> bool:
        return self._echo_off_line_mode() and bool(_PASSWORD_LINE.search(cursor_line))

    def _echo_off_line_mode(self) -> bool:
        try:
            lflag = termios.tcgetattr(self._fd)[3]
        except termios.error:
            return False
        return not (lflag & termios.ECHO) and bool(lflag & termios.ICANON)

    def reads_secret_input(self) -> bool:
        """True while a program reads a line without echoing it (a password prompt): what
        is typed now must not be recorded."""
        # Not echoing in line mode: readline at a prompt reads key by key instead.
        return self._started and not self._exited and self._echo_off_line_mode()

    def _prompt_heuristic(self, cursor_line: str) -> bool:
        quiet_since = max(self._last_output, self._last_input)
        if time.monotonic() - quiet_since < _HEURISTIC_QUIET:
            return False
        return bool(_PROMPT_LINE.search(cursor_line.rstrip() + " "))

    # -- waiting --------------------------------------------------------------------------

    def wait(
        self,
        *,
        prompt: bool = False,
        quiet: float | None = None,
        pattern: str | re.Pattern[str] | None = None,
        timeout: float | None = None,
        since: Mark | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> WaitOutcome:
        """Wait until the first of these holds, and say which.

        ``prompt``: the shell is at a prompt (a command has finished); exact with clive's
        markers, otherwise a prompt-like cursor line after half a second of silence.
        ``quiet``: no output for that many seconds. ``pattern``: a regular expression found in
        output printed after ``since`` (default: from now on). ``timeout``: give up after that
        many seconds (None: no limit, only sensible with another condition). ``stop``: checked
        whenever the wait wakes up, and every second; ``wake()`` wakes it at once.
        """
        if not (prompt or quiet or pattern or timeout):
            raise ValueError("wait() needs a condition: prompt, quiet, pattern or timeout")
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        start = time.monotonic()
        deadline = None if timeout is None else start + timeout
        with self._cond:
            self.waiting += 1
            try:
                return self._wait(prompt, quiet, regex, since, stop, start, deadline)
            finally:
                self.waiting -= 1

    def _wait(self, prompt, quiet, regex, since, stop, start, deadline) -> WaitOutcome:
        """The loop of ``wait``; the caller holds ``self._cond``.

        Nothing is polled but ``stop``. The reader wakes waiters at a prompt marker, at the
        shell's exit, and at the next chunk of output when a waiter asked for it; every other
        condition (quiet, the deadline, a continuation prompt standing, the heuristic's
        silence) is a moment computed in advance.
        """
        self._write_transcript()
        scanner = _PatternScanner(self._transcript, regex, since) if regex else None
        scanned, looked = -1, -math.inf  # chunks read when the pattern was last looked for, when
        while True:
            now = time.monotonic()
            elapsed = now - start
            if self._exited:
                return WaitOutcome(WaitReason.EXITED, elapsed, exit_code=self._exit_status)
            wake_at = [] if deadline is None else [deadline]
            on_output = False
            if prompt:
                by_markers = self._marks.active and self._foreground_is_shell()
                reason = self._prompt_by_markers(now) if by_markers else self._prompt_on_screen()
                if reason is not None:
                    return WaitOutcome(reason, elapsed, exit_code=self._marks.last_exit_code)
                if by_markers:
                    if self._marks.continuation:
                        wake_at.append(self._last_output + _CONTINUATION_SETTLE)
                else:
                    silent_at = max(self._last_output, self._last_input) + _HEURISTIC_QUIET
                    wake_at.append(silent_at)
                    on_output = silent_at <= now  # after the silence, only output changes it
                    if self._marks.active:  # the shell may take the terminal back unseen
                        wake_at.append(now + _STOP_LOOK)
            if scanner is not None:
                if scanned != self._chunks and now >= looked + _PATTERN_LOOK:
                    self._write_transcript()
                    scanned, looked = self._chunks, now
                    found = scanner.scan()
                    if found is not None:
                        return WaitOutcome(WaitReason.PATTERN, elapsed, match=found)
                if scanned != self._chunks or now - self._last_output < _PATTERN_LOOK:
                    wake_at.append(looked + _PATTERN_LOOK)  # output flows: look on our own time
                else:
                    on_output = True
            if quiet is not None:
                quiet_at = max(start, self._last_output) + quiet
                if now >= quiet_at:
                    return WaitOutcome(WaitReason.QUIET, elapsed)
                wake_at.append(quiet_at)
            if deadline is not None and now >= deadline:
                return WaitOutcome(WaitReason.TIMEOUT, elapsed)
            if stop is not None:
                if stop():
                    return WaitOutcome(WaitReason.STOPPED, elapsed)
                wake_at.append(now + _STOP_LOOK)
            self._wake_on_output = self._wake_on_output or on_output
            # A moment already past was a condition just found not to hold.
            later = [moment for moment in wake_at if moment > now]
            self._cond.wait(min(later) - now if later else None)

    def wake(self) -> None:
        """Wake every ``wait`` now, so that each checks its ``stop``."""
        with self._cond:
            self._cond.notify_all()

    def _prompt_by_markers(self, now: float) -> WaitReason | None:
        if self._shell_at_prompt():
            return WaitReason.PROMPT
        # Lines typed in one go show a continuation prompt for an instant: only a settled
        # one means the shell really waits for the rest of the command.
        settled = now - self._last_output > _CONTINUATION_SETTLE
        if self._marks.continuation and settled and self._prompt_is_current():
            return WaitReason.CONTINUATION
        return None

    def _prompt_on_screen(self) -> WaitReason | None:
        """Without markers (or with another program in the foreground): a prompt-like
        cursor line after a silence."""
        if time.monotonic() - max(self._last_output, self._last_input) < _HEURISTIC_QUIET:
            return None  # not yet: and the screen is not drawn for nothing during a flood
        self._render()
        emulator = self._emulator
        if not emulator.alt_screen and self._prompt_heuristic(emulator.lines()[emulator.cursor.y]):
            return WaitReason.PROMPT_HEURISTIC
        return None

    # -- commands -----------------------------------------------------------------------------

    def run(
        self, command: str, timeout: float | None = None, *, interrupt_on_timeout: bool = True
    ) -> RunResult:
        """Type ``command`` and Enter, wait until it ends, and return what it did.

        Multi-line commands and heredocs go in as one paste. On timeout the command is
        interrupted (C-c, then signals to its process group) unless told otherwise.
        """
        if self._exited:
            raise TerminalError("the shell has exited; restart() the terminal to go on")
        with self._cond:
            commands_before = self._marks.commands
            ready = self._marks.active and self._shell_at_prompt()
            if self._marks.active and not ready:
                state = self._classify(self._emulator.lines(), self._emulator.cursor)
                raise TerminalError(
                    f"the shell is not at a prompt (state: {state.value}); wait() for the "
                    "command that is running, or interrupt() it, before run()"
                )
            self._write_transcript()
            start_mark = self._transcript.mark()
        started = time.monotonic()
        if "\n" in command or len(command) > 512:
            self.paste(command)
            self.send_text("\r")
        else:
            self.send_text(command + "\r")
        outcome = self.wait(prompt=True, timeout=timeout)
        if outcome.reason is WaitReason.CONTINUATION:
            self.send_keys("C-c")
            self.wait(prompt=True, timeout=2.0)
            raise TerminalError(
                f"the shell asked for more input after {command!r}: an unclosed quote, "
                "bracket or heredoc? The command was cancelled with C-c."
            )
        interrupted_with = None
        if outcome.timed_out and interrupt_on_timeout:
            interrupted_with = self.interrupt()
        duration = time.monotonic() - started
        return self._result(
            command, commands_before, start_mark, outcome, duration, interrupted_with
        )

    def _result(self, command, commands_before, start_mark, outcome, duration, interrupted_with):
        with self._cond:
            finished = [f for f in self._marks.finished if f[0] > commands_before]
            if finished:
                _, exit_code, start, end = finished[-1]
            else:
                exit_code = None
                start = self._marks.command_start or start_mark
                self._write_transcript()
                end = self._transcript.mark()
        if outcome.reason is WaitReason.EXITED and not finished:
            exit_code = self._exit_status  # the command ended the shell (exit, exec)
        size = self._transcript.size(start, end)
        output_path = None
        truncated = False
        if size <= self.max_output_in_memory:
            output = self._transcript.read(start, end)
        else:
            output_path = self._save_output(start, end)
            output = _head_and_tail(output_path, self.max_output_in_memory // 2, size)
            truncated = True
        return RunResult(
            command=command,
            exit_code=exit_code,
            output=output,
            duration=duration,
            timed_out=outcome.timed_out,
            decided_by=outcome.reason,
            output_bytes=size,
            output_truncated=truncated,
            output_path=output_path,
            interrupted_with=interrupted_with,
        )

    def _save_output(self, start: Mark, end: Mark) -> Path:
        if self._output_dir is None:
            self._output_dir = self._output_dir_arg or Path(tempfile.mkdtemp(prefix="clive-out-"))
            self._output_dir.mkdir(parents=True, exist_ok=True)
        path = self._output_dir / f"output-{time.strftime('%Y%m%d-%H%M%S')}-{start.offset}.txt"
        self._transcript.save(path, start, end)
        return path

    def interrupt(self, grace: float = 2.0) -> str | None:
        """Stop what runs in the foreground: C-c, then SIGTERM, then SIGKILL to its group.

        Returns what stopped it ("C-c", "SIGTERM", "SIGKILL"), or None if nothing was running.
        """
        if self._exited:
            return None
        if self._foreground_is_shell() and not self._marks.continuation:
            with self._cond:
                if self._shell_at_prompt():
                    return None
        self.send_keys("C-c")
        if not self.wait(prompt=True, timeout=grace).timed_out:
            return "C-c"
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                group = os.tcgetpgrp(self._fd)
            except OSError:
                return None
            if group != self._shell_pid:
                with contextlib.suppress(OSError):
                    os.killpg(group, sig)
            if not self.wait(prompt=True, timeout=grace).timed_out:
                return sig.name
        return None


def _is_plain(data: bytes) -> bool:
    """Printable ASCII, CR, LF and TAB only (checked at C speed)."""
    return data.isascii() and len(data.translate(None, _CONTROL_BYTES)) == len(data)


class _PatternScanner:
    """Finds a regular expression in output as it arrives, without rereading all of it."""

    _OVERLAP = 4096

    def __init__(self, transcript: Transcript, regex: re.Pattern[str], since: Mark | None):
        self._transcript = transcript
        self._regex = regex
        self._position = since or transcript.mark()
        self._overlap = ""

    def scan(self) -> str | None:
        now = self._transcript.mark()
        committed = self._transcript.read(self._position, Mark(now.offset))
        found = self._regex.search(self._overlap + committed + now.pending)
        self._overlap = (self._overlap + committed)[-self._OVERLAP :]
        self._position = Mark(now.offset)
        return found.group() if found else None


def _head_and_tail(path: Path, keep: int, size: int) -> str:
    with open(path, "rb") as f:
        head = f.read(keep // 2).decode("utf-8", "replace")
        f.seek(max(0, size - keep // 2))
        tail = f.read().decode("utf-8", "replace")
    omitted = size - len(head.encode()) - len(tail.encode())
    return f"{head}\n[... {omitted} bytes omitted; the full output is in {path} ...]\n{tail}"
