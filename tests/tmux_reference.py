"""A real tmux pane as the reference terminal for clive's emulator.

Tests type the same keystrokes into a `TmuxPane` and into clive's `Terminal`, then compare the
screens with `compare_screens`. Each pane runs on its own tmux server (private socket, no config
file), so tests neither see nor disturb a user's tmux.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
import unicodedata
import uuid
from types import TracebackType

DEFAULT_SHELL = ("bash", "--norc", "--noprofile")
DEFAULT_PROMPT = "$ "
# Seconds between two looks at the pane while waiting.
POLL_INTERVAL = 0.05
# tmux refuses a command line of more than about 16 KiB ("command too long"); a chunk of this many
# characters stays under it even when every character takes four bytes of UTF-8.
TEXT_CHUNK = 2048
# Inherited variables that would mislead the pane: TMUX* would point programs at the caller's
# tmux, COLUMNS/LINES would override the pane's real size, PROMPT_COMMAND would print around the
# predictable prompt.
_DROPPED_ENVIRONMENT = ("TMUX", "TMUX_PANE", "COLUMNS", "LINES", "PROMPT_COMMAND")


class TmuxError(RuntimeError):
    """A tmux command failed; the message holds the command and what tmux printed."""


class TmuxPane:
    """A real tmux pane on a private server socket, the reference terminal.

    The pane is exactly `cols` x `rows` (status bar off, window size manual) and keeps a large
    history. With `command=None` it runs `bash --norc --noprofile` with `PS1='$ '` and no history
    file, and the constructor returns once the prompt is on screen. A `command` string is run by
    the shell, as `tmux new-session` does; when it exits the pane stays, with its last screen, until
    `close`.

    TERM inside the pane is tmux's `default-terminal`: `tmux-256color` when that terminfo entry is
    installed, else `screen`; `env={"TERM": ...}` overrides it. The pane answers terminal queries
    itself: a program printing `ESC [ 6 n` gets a cursor position report back from tmux.
    """

    def __init__(
        self,
        cols: int = 80,
        rows: int = 24,
        command: str | None = None,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
    ) -> None:
        self.cols = cols
        self.rows = rows
        self.socket_name = f"clive-reference-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        # Where tmux puts a -L socket; known before the server starts, so that close() can remove
        # the socket even when starting failed.
        self.socket_path = os.path.join(
            os.environ.get("TMUX_TMPDIR") or "/tmp", f"tmux-{os.getuid()}", self.socket_name
        )
        self.term = (env or {}).get("TERM") or _default_terminal()
        new_session = ["new-session", "-d", "-P", "-F", "#{pane_id}", "-x", str(cols)]
        new_session += ["-y", str(rows)]
        if cwd is not None:
            new_session += ["-c", cwd]
        new_session += [command] if command is not None else list(DEFAULT_SHELL)
        try:
            # Options go in the same command sequence as new-session: history-limit only applies
            # to panes created after it is set, and the server exits if it has no session.
            self.pane_id = self._tmux(
                "start-server",
                *_then("set-option", "-g", "status", "off"),
                *_then("set-option", "-g", "history-limit", "100000"),
                *_then("set-option", "-g", "default-terminal", self.term),
                # A pane whose command has exited keeps its screen, with no "Pane is dead" line.
                *_then("set-option", "-g", "remain-on-exit", "on"),
                *_then("set-option", "-g", "remain-on-exit-format", ""),
                *_then(*new_session),
                # Manual, so that no client attaching can change the pane's size behind the test.
                # Only after new-session: tmux 3.3a's server crashes creating a session otherwise.
                *_then("set-option", "-g", "window-size", "manual"),
                environment=_pane_environment(env or {}),
            ).strip()
            if command is None:
                # Keys typed before bash has set up readline are echoed twice: wait for the prompt.
                self.wait_for_text(r"\S")
        except BaseException:
            self.close()
            raise

    def send_keys(self, *keys: str) -> None:
        """Send tmux key names (`Enter`, `C-c`, `Escape`, `Up`...), as `tmux send-keys`."""
        self._tmux("send-keys", "-t", self.pane_id, *map(_escape_semicolon, keys))

    def send_text(self, text: str) -> None:
        """Type `text` literally (`send-keys -l`).

        A newline goes to the program as LF (C-j), which shells and vim take as Enter; use
        `send_keys("Enter")` for the CR that the Enter key sends.
        """
        for start in range(0, len(text), TEXT_CHUNK):
            chunk = _escape_semicolon(text[start : start + TEXT_CHUNK])
            self._tmux("send-keys", "-t", self.pane_id, "-l", "--", chunk)

    def capture(self) -> list[str]:
        """The visible screen: exactly `rows` lines, each without trailing blanks.

        A wide character appears once in its line, not followed by a padding space.
        """
        output = self._tmux("capture-pane", "-p", "-t", self.pane_id)
        lines = [line.rstrip() for line in output.removesuffix("\n").split("\n")][: self.rows]
        return lines + [""] * (self.rows - len(lines))

    def cursor(self) -> tuple[int, int]:
        """The cursor position as (x, y), both counted from 0."""
        x, y = self._display("#{cursor_x} #{cursor_y}").split()
        return int(x), int(y)

    def alternate_on(self) -> bool:
        """Whether the pane shows the alternate screen (vim, less) rather than the main one."""
        return self._display("#{alternate_on}") == "1"

    def resize(self, cols: int, rows: int) -> None:
        """Resize the pane; the program in it gets SIGWINCH as in any terminal."""
        self._tmux("resize-window", "-t", self.pane_id, "-x", str(cols), "-y", str(rows))
        self.cols = cols
        self.rows = rows

    def wait_for_text(self, pattern: str, timeout: float = 10) -> list[str]:
        """Poll the screen until `pattern` matches it, and return that screen.

        The pattern is searched in the screen's lines joined by newlines, with `re.MULTILINE`,
        so `^` and `$` match at line boundaries. Raises AssertionError showing the last screen
        when `timeout` seconds pass first.
        """
        regex = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while True:
            screen = self.capture()
            if regex.search("\n".join(screen)):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{pattern!r} did not appear within {timeout}s; the tmux screen was:\n"
                    + _numbered(screen)
                )
            time.sleep(POLL_INTERVAL)

    def wait_stable(self, quiet: float = 0.3, timeout: float = 10) -> list[str]:
        """Return the screen once neither its text nor the cursor has changed for `quiet` seconds.

        Raises AssertionError showing the last screen when the pane is still changing after
        `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        last = (self.capture(), self.cursor())
        last_change = time.monotonic()
        while True:
            time.sleep(POLL_INTERVAL)
            now = (self.capture(), self.cursor())
            if now != last:
                last, last_change = now, time.monotonic()
            elif time.monotonic() - last_change >= quiet:
                return now[0]
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the tmux screen was still changing after {timeout}s; it last showed:\n"
                    + _numbered(now[0])
                )

    def close(self) -> None:
        """Stop the tmux server and remove its socket; closing twice does nothing."""
        with contextlib.suppress(TmuxError):
            self._tmux("kill-server")
        # tmux leaves the socket file behind when its server exits.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)

    def __enter__(self) -> TmuxPane:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _display(self, format_: str) -> str:
        return self._tmux("display-message", "-p", "-t", self.pane_id, format_).strip()

    def _tmux(self, *arguments: str, environment: dict[str, str] | None = None) -> str:
        command = ["tmux", "-L", self.socket_name, "-f", "/dev/null", *arguments]
        result = subprocess.run(
            command,
            capture_output=True,
            env=environment if environment is not None else _pane_environment({}),
            encoding="utf-8",
            errors="replace",
            timeout=10,
            check=False,
        )
        if result.returncode != 0:
            raise TmuxError(f"{' '.join(command)!r} failed: {result.stderr.strip()}")
        return result.stdout


def compare_screens(expected: list[str], actual: list[str]) -> str | None:
    """None when two screens show the same text, else a side-by-side listing for an assertion.

    Trailing blanks on a line and empty lines at the bottom are ignored. The listing numbers the
    lines from 0 (as cursor y is counted) and marks the differing ones with `!`.
    """
    expected, actual = _trimmed(expected), _trimmed(actual)
    if expected == actual:
        return None
    width = max([len("expected"), *map(_display_width, expected)])
    rows = [f"     {'expected' + ' ' * (width - len('expected'))} | actual"]
    for number in range(max(len(expected), len(actual))):
        left = expected[number] if number < len(expected) else ""
        right = actual[number] if number < len(actual) else ""
        mark = " " if left == right else "!"
        padding = " " * (width - _display_width(left))
        rows.append(f"{mark}{number:3d} {left}{padding} | {right}")
    return "screens differ:\n" + "\n".join(rows)


def _then(*command: str) -> tuple[str, ...]:
    """Arguments that append `command` to a tmux command sequence."""
    return (";", *command)


def _escape_semicolon(argument: str) -> str:
    # tmux reads an argument ending in ";" as the end of a command, and "\;" at the end as a
    # literal ";" (dropping the backslash); so "\;" in place of the last ";" sends exactly it.
    return argument[:-1] + "\\;" if argument.endswith(";") else argument


def _pane_environment(overrides: dict[str, str]) -> dict[str, str]:
    environment = {
        name: value for name, value in os.environ.items() if name not in _DROPPED_ENVIRONMENT
    }
    # An empty HISTFILE keeps the test shell out of the user's ~/.bash_history.
    environment.update(PS1=DEFAULT_PROMPT, HISTFILE="")
    environment.update(overrides)
    return environment


def _default_terminal() -> str:
    infocmp = shutil.which("infocmp")
    if infocmp is None:
        return "screen"
    found = subprocess.run([infocmp, "tmux-256color"], capture_output=True, check=False)
    return "tmux-256color" if found.returncode == 0 else "screen"


def _trimmed(screen: list[str]) -> list[str]:
    lines = [line.rstrip() for line in screen]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _display_width(text: str) -> int:
    # Close enough to align a diff: wide and fullwidth characters take two columns, combining
    # marks and format characters (ZWJ, variation selectors) none.
    width = 0
    for character in text:
        if unicodedata.category(character) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(character) in ("W", "F") else 1
    return width


def _numbered(screen: list[str]) -> str:
    return "\n".join(f"{number:3d} {line}" for number, line in enumerate(screen))
