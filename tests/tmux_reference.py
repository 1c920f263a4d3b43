"""A real tmux pane as the reference terminal for clive's emulator.

Tests type the same keystrokes into a `TmuxPane` and into clive's `Terminal` (a `Pair` does
both), then compare the screens: their text with `compare_screens`, or text, colours,
attributes and cursor with `compare_styled_screens`. `render_in_tmux` shows many byte strings
in fresh panes at once, for the tables of escape sequences. Each pane runs on its own tmux
server (private socket, no config file), so tests neither see nor disturb a user's tmux.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shlex
import shutil
import subprocess
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

from polling import DEADLINE, wait_until

from clive.terminal import Cursor, Terminal

DEFAULT_SHELL = ("bash", "--norc", "--noprofile")
DEFAULT_PROMPT = "$ "
# git's author, committer and dates fixed, so that both sides of a `Pair` show the same log.
FIXED_GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Ada",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_AUTHOR_DATE": "2026-01-02T03:04:05Z",
    "GIT_COMMITTER_DATE": "2026-01-02T03:04:05Z",
}
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
        self.socket_path = _socket_path(self.socket_name)
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

    def screen(self) -> StyledScreen:
        """The visible screen with colours and attributes, the cursor and the pane's modes."""
        output = self._tmux(*_screen_commands(self.pane_id))
        return _parse_screen(output, self.cols, self.rows)

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
        """Return the screen (as `capture`) once nothing on it (text, colours, cursor) has changed
        for `quiet` seconds.

        Raises AssertionError showing the last screen when the pane is still changing after
        `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        last = (self.capture(), self.screen())
        last_change = time.monotonic()
        while True:
            time.sleep(POLL_INTERVAL)
            now = (self.capture(), self.screen())
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
        return _run_tmux(self.socket_name, *arguments, environment=environment)


def _run_tmux(socket_name: str, *arguments: str, environment: dict[str, str] | None = None) -> str:
    command = ["tmux", "-L", socket_name, "-f", "/dev/null", *arguments]
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
        raise TmuxError(f"{' '.join(command)[:500]!r} failed: {result.stderr.strip()}")
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


# -- screens with colours -------------------------------------------------------------------

_FORMAT = (
    "#{cursor_x} #{cursor_y} #{cursor_flag} #{alternate_on} #{keypad_cursor_flag} #{pane_title}"
)
# The 16 colours by the names pyte gives them (a rewrite may say yellow for brown).
_COLOUR_NAMES = ("black", "red", "green", "brown", "blue", "magenta", "cyan", "white")
# xterm's default palette for the 16 colours; 16-231 are a 6x6x6 cube, 232-255 greys.
_XTERM_16 = (
    *("000000", "cd0000", "00cd00", "cdcd00", "0000ee", "cd00cd", "00cdcd", "e5e5e5"),
    *("7f7f7f", "ff0000", "00ff00", "ffff00", "5c5cff", "ff00ff", "00ffff", "ffffff"),
)
_CUBE_LEVELS = (0, 95, 135, 175, 215, 255)
# What tmux draws for a cell written in the DEC line-drawing set (ESC ( 0) on a UTF-8 terminal
# (tty-acs.c); capture-pane gives the ASCII letter between SO and SI.
_DEC_GRAPHICS = dict(
    zip(
        "+,-.0`afghijklmnopqrstuvwxyz{|}~",
        "→←↑↓▮◆▒°±▒☃┘┐┌└┼⎺⎻─⎼⎽├┤┴┬│≤≥π≠£·",
        strict=True,
    )
)
_CAPTURE_TOKEN = re.compile(r"\x1b\[([0-9;:]*)m|([\x0e\x0f])|([^\x1b\x0e\x0f]+)")


def palette_colour(index: int) -> str:
    """The colour `#rrggbb` of an index of xterm's 256-colour palette."""
    if index < 16:
        return "#" + _XTERM_16[index]
    if index < 232:
        red, green, blue = (index - 16) // 36, (index - 16) // 6 % 6, (index - 16) % 6
        return "#" + "".join(f"{_CUBE_LEVELS[c]:02x}" for c in (red, green, blue))
    grey = 8 + 10 * (index - 232)
    return f"#{grey:02x}{grey:02x}{grey:02x}"


@dataclass(frozen=True)
class Style:
    """The colours and attributes of a cell, read the same from tmux and from clive.

    A colour is `default`, `0`..`15` for the 16 colours of SGR 30-37/90-97 (40-47/100-107 for
    the background), or `#rrggbb` for a 256-palette index or a direct (RGB) colour: clive's
    cells (pyte's) keep a palette colour only as its RGB value, so an index is compared as its
    colour in xterm's default palette. Underline styles (4:3 curly...) count as underline;
    overline and the underline colour are not compared (pyte's cells have no place for them).
    """

    fg: str = "default"
    bg: str = "default"
    bold: bool = False
    dim: bool = False
    italic: bool = False
    underline: bool = False
    blink: bool = False
    reverse: bool = False
    hidden: bool = False
    strike: bool = False

    def __str__(self) -> str:
        parts = [f"fg={self.fg}"] if self.fg != "default" else []
        parts += [f"bg={self.bg}"] if self.bg != "default" else []
        parts += [f.name for f in fields(self) if f.type == "bool" and getattr(self, f.name)]
        return " ".join(parts) or "plain"


DEFAULT_STYLE = Style()


class Run(NamedTuple):
    """Consecutive characters of a row in one style."""

    text: str
    style: Style


@dataclass(frozen=True)
class StyledScreen:
    """What a terminal shows: each row as runs of styled text, the cursor, and the modes seen.

    A row ends at its last character that is not a blank showing at most a background colour:
    tmux's capture leaves out the blanks that an erase with a background colour brings at the
    end of a line, so neither side keeps them. A blank keeps only what shows of its style. The
    cursor is (x, y) from 0. The title is what OSC 0 or 2 set last (tmux's pane title: the host
    name until a program sets one). `application_cursor_keys` (DECCKM) is None where unknown.
    """

    rows: tuple[tuple[Run, ...], ...]
    cursor: tuple[int, int]
    cursor_visible: bool = True
    alternate_on: bool = False
    title: str = ""
    application_cursor_keys: bool | None = None

    def lines(self) -> list[str]:
        """The text of each row."""
        return ["".join(run.text for run in row) for row in self.rows]


def clive_screen(
    cells: Sequence[Sequence[object]],
    cursor: Cursor,
    *,
    alternate_on: bool,
    title: str,
    application_cursor_keys: bool | None = None,
) -> StyledScreen:
    """A `StyledScreen` of clive's: the emulator's cells (pyte `Char`s) and cursor."""
    rows = tuple(
        _styled_row((cell.data, _clive_style(cell)) for cell in row if cell.data != "")
        for row in cells
    )
    return StyledScreen(
        rows, (cursor.x, cursor.y), not cursor.hidden, alternate_on, title, application_cursor_keys
    )


def compare_styled_screens(
    expected: StyledScreen,
    actual: StyledScreen,
    *,
    styles: bool = True,
    cursor: bool = True,
    title: bool = False,
) -> str | None:
    """None when two screens agree, else what differs, for an assertion message.

    Always the text of every row (as `compare_screens`); with `cursor`, the cursor position;
    with `styles`, the colours and attributes of every character, whether the cursor is shown,
    whether the alternate screen is on and (where both say) the cursor keys' mode; with
    `title`, the title.
    """
    problems = []
    text = compare_screens(expected.lines(), actual.lines())
    if text is not None:
        problems.append(text)
    checked = ["cursor"] if cursor else []
    checked += ["cursor_visible", "alternate_on"] if styles else []
    checked += ["title"] if title else []
    if styles and None not in (expected.application_cursor_keys, actual.application_cursor_keys):
        checked.append("application_cursor_keys")
    for name in checked:
        want, got = getattr(expected, name), getattr(actual, name)
        if want != got:
            problems.append(f"{name}: tmux {_shortened(want)}, clive {_shortened(got)}")
    if styles:
        problems += _style_differences(expected, actual)
    return "\n".join(problems) or None


def _style_differences(expected: StyledScreen, actual: StyledScreen) -> list[str]:
    """For rows of the same text, the first character of each whose style differs."""
    found = []
    for y, (want, got) in enumerate(zip(expected.rows, actual.rows, strict=False)):
        if want == got:
            continue
        want_chars, got_chars = _styled_characters(want), _styled_characters(got)
        if [c for c, _ in want_chars] != [c for c, _ in got_chars]:
            continue  # the text differs: compare_screens shows it
        differing = [
            i for i, (a, b) in enumerate(zip(want_chars, got_chars, strict=True)) if a != b
        ]
        if differing:
            i = differing[0]
            found.append(
                f"style of row {y}, character {i} {want_chars[i][0]!r} "
                f"({len(differing)} differ): tmux {want_chars[i][1]}, clive {got_chars[i][1]}"
            )
    return found


def _styled_characters(row: tuple[Run, ...]) -> list[tuple[str, Style]]:
    return [(character, run.style) for run in row for character in run.text]


def _styled_row(cells: Iterable[tuple[str, Style]]) -> tuple[Run, ...]:
    cells = [(text, _as_seen(style) if text == " " else style) for text, style in cells]
    while cells and cells[-1][0] == " " and cells[-1][1] == Style(bg=cells[-1][1].bg):
        cells.pop()
    runs: list[Run] = []
    for text, style in cells:
        if runs and runs[-1].style == style:
            runs[-1] = Run(runs[-1].text + text, style)
        else:
            runs.append(Run(text, style))
    # tmux keeps a combining mark as it came (e + U+0301), pyte composes it (é): same glyph.
    return tuple(Run(unicodedata.normalize("NFC", run.text), run.style) for run in runs)


def _as_seen(style: Style) -> Style:
    """The style of a blank as far as it shows: a program's curses library may draw a blank in
    bold or italic one time and plain the next (it depends on what was on the screen before),
    and nobody sees the difference. The foreground shows only in a line or a reversed cell."""
    if style.reverse or style.underline or style.strike:
        return Style(
            fg=style.fg,
            bg=style.bg,
            underline=style.underline,
            reverse=style.reverse,
            strike=style.strike,
        )
    return Style(bg=style.bg)


def _clive_style(cell: object) -> Style:
    return Style(
        fg=_clive_colour(cell.fg),
        bg=_clive_colour(cell.bg),
        bold=bool(cell.bold),
        # pyte's cells have no dim or concealed attribute; a rewrite's may.
        dim=bool(getattr(cell, "dim", False)),
        italic=bool(cell.italics),
        underline=bool(cell.underscore),
        blink=bool(cell.blink),
        reverse=bool(cell.reverse),
        hidden=bool(getattr(cell, "hidden", False)),
        strike=bool(cell.strikethrough),
    )


def _clive_colour(value: object) -> str:
    name = str(value)
    if name == "default":
        return name
    base = name.removeprefix("bright").replace("yellow", "brown")
    if base in _COLOUR_NAMES:
        return str(_COLOUR_NAMES.index(base) + (8 if name.startswith("bright") else 0))
    if re.fullmatch(r"#?[0-9a-fA-F]{6}", name):
        return "#" + name.removeprefix("#").lower()
    return f"?{name}"  # a name nothing else uses: it shows in the difference


def _screen_commands(target: str) -> tuple[str, ...]:
    """tmux commands printing a pane's screen with its SGR codes, then a line of `_FORMAT`."""
    return (
        *("capture-pane", "-p", "-e", "-t", target),
        *_then("display-message", "-p", "-t", target, _FORMAT),
    )


def _parse_screen(output: str, cols: int, rows: int) -> StyledScreen:
    """The `StyledScreen` in the output of `_screen_commands` (`rows` + 1 lines)."""
    lines = output.split("\n")
    x, y, cursor_flag, alternate_on, cursor_keys, title = lines[rows].split(" ", 5)
    # While a wrap is pending (the last column was just written) tmux reports the cursor one
    # column past the edge; it shows it on the last column, as xterm and clive do.
    cursor = (min(int(x), cols - 1), int(y))
    return StyledScreen(
        _parse_capture(lines[:rows]),
        cursor,
        cursor_flag == "1",
        alternate_on == "1",
        title,
        cursor_keys == "1",
    )


def _parse_capture(lines: list[str]) -> tuple[tuple[Run, ...], ...]:
    """Rows of runs from `capture-pane -e` lines (the SGR state carries over from line to line)."""
    style, line_drawing = DEFAULT_STYLE, False
    rows = []
    for line in lines:
        cells = []
        for match in _CAPTURE_TOKEN.finditer(line):
            params, shift, text = match.groups()
            if params is not None:
                style = _tmux_sgr(style, params)
            elif shift is not None:
                line_drawing = shift == "\x0e"
            else:
                if line_drawing:
                    text = "".join(_DEC_GRAPHICS.get(c, c) for c in text)
                cells += [(character, style) for character in text]
        rows.append(_styled_row(cells))
    return tuple(rows)


_TMUX_FLAGS = {
    1: ("bold", True),
    2: ("dim", True),
    3: ("italic", True),
    4: ("underline", True),
    5: ("blink", True),
    7: ("reverse", True),
    8: ("hidden", True),
    9: ("strike", True),
}


def _tmux_sgr(style: Style, params: str) -> Style:
    """`style` after the SGR parameters that tmux's capture prints (not every SGR there is)."""
    values = params.split(";")
    changes: dict[str, object] = {}
    i = 0
    while i < len(values):
        value = values[i]
        i += 1
        if ":" in value:
            # tmux prints its codes above 9 as "a:b": 4:2..4:5 are underline styles, 5:3 is
            # overline (53); 38:2::r:g:b-style colours are read like their ";" forms below.
            head, *rest = value.split(":")
            if head in ("38", "48", "58"):
                colour = _tmux_colour(
                    [r for r in rest if r] if rest[0] == "5" else rest[:1] + rest[-3:]
                )
                if head != "58":
                    changes["fg" if head == "38" else "bg"] = colour
            elif head == "4":
                changes["underline"] = rest[0] != "0"
            continue
        code = int(value or 0)
        if code == 0:
            style, changes = DEFAULT_STYLE, {}
        elif code in _TMUX_FLAGS:
            name, on = _TMUX_FLAGS[code]
            changes[name] = on
        elif code in (38, 48, 58):
            length = 2 if values[i] == "5" else 4
            colour = _tmux_colour(values[i : i + length])
            i += length
            if code != 58:
                changes["fg" if code == 38 else "bg"] = colour
        elif 30 <= code <= 37 or 90 <= code <= 97:
            changes["fg"] = str(code % 10 + (8 if code >= 90 else 0))
        elif 40 <= code <= 47 or 100 <= code <= 107:
            changes["bg"] = str(code % 10 + (8 if code >= 100 else 0))
        elif code == 39:
            changes["fg"] = "default"
        elif code == 49:
            changes["bg"] = "default"
    return dataclasses.replace(style, **changes)


def _tmux_colour(values: list[str]) -> str:
    if values[0] == "5":
        return palette_colour(int(values[1]))
    red, green, blue = (int(v) for v in values[1:4])
    return f"#{red:02x}{green:02x}{blue:02x}"


def _shortened(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}... ({len(text)} characters)"


# -- many byte strings, each in a fresh pane ------------------------------------------------

# Run in each pane: shows the file, then asks tmux its version (XTVERSION), which tmux answers
# only after everything before it is on the screen; keeps what tmux answered before that (to
# queries in the file) and says it is done, then stays: a dead pane's cursor reads as hidden.
# An ST first ends any string (DCS, OSC) the file left open, which would swallow the question.
_SHOW_SCRIPT = r"""
stty -echo -icanon -opost
cat "$1"
printf '\033\\\033[>q'
answers=
while IFS= read -r -d '\' -t 20 part; do
    answers+=$part'\'
    case $answers in
    *$'\eP>|tmux'*)
        printf '%s' "${answers%$'\eP>|tmux'*}" > "$1.answers"
        : > "$1.done"
        exec sleep 600;;
    esac
done
exit 1
"""


_PANES_PER_COMMAND = 25


class Rendering(NamedTuple):
    """What tmux showed for one byte string, and what it answered to the queries in it."""

    screen: StyledScreen
    answers: str


def render_in_tmux(
    payloads: Sequence[bytes], directory: Path, cols: int = 80, rows: int = 24
) -> list[Rendering]:
    """What tmux shows once each of `payloads` is written, as it is, to a fresh pane.

    The bytes reach the pane untouched: the pane's tty does no output processing (a LF stays a
    LF) and no echo (tmux's answers to queries are read, not shown). All the panes, `cols` x
    `rows` each, run at once on one private server, stopped before this returns; `directory`
    holds the files they show.
    """
    script = directory / "show.sh"
    script.write_text(_SHOW_SCRIPT)
    files = [directory / f"payload-{i}" for i in range(len(payloads))]
    for path, data in zip(files, payloads, strict=True):
        path.write_bytes(data)
    socket_name = f"clive-reference-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    output: list[str] = []
    try:
        _run_tmux(socket_name, "start-server", *_then("set-option", "-g", "status", "off"))
        panes = []
        # A few panes per tmux command: tmux refuses a command line of more than 16 KiB.
        for start in range(0, len(files), _PANES_PER_COMMAND):
            commands = []
            for path in files[start : start + _PANES_PER_COMMAND]:
                command = f"exec bash {shlex.quote(str(script))} {shlex.quote(str(path))}"
                commands += _then("new-session", "-d", "-P", "-F", "#{pane_id}")
                commands += ["-x", str(cols), "-y", str(rows), command]
            panes += _run_tmux(socket_name, *commands[1:]).split()
        wait_until(
            lambda: all(path.with_name(path.name + ".done").exists() for path in files),
            f"tmux showing every byte string (a .done file for each in {directory})",
            timeout=DEADLINE,
        )
        for start in range(0, len(panes), _PANES_PER_COMMAND):
            group = panes[start : start + _PANES_PER_COMMAND]
            commands = [argument for pane in group for argument in _then(*_screen_commands(pane))]
            output += _run_tmux(socket_name, *commands[1:]).removesuffix("\n").split("\n")
    finally:
        with contextlib.suppress(TmuxError):
            _run_tmux(socket_name, "kill-server")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(_socket_path(socket_name))
    renderings = []
    for i, path in enumerate(files):
        lines = output[i * (rows + 1) : (i + 1) * (rows + 1)]
        answers = path.with_name(path.name + ".answers").read_text(errors="replace")
        renderings.append(Rendering(_parse_screen("\n".join(lines), cols, rows), answers))
    return renderings


# -- a tmux pane and a clive Terminal side by side ------------------------------------------


class Pair:
    """One tmux pane and one clive `Terminal`, fed the same keys, compared screen by screen.

    Both run bash with the prompt `$ ` at the same size, with the same TERM (xterm-256color),
    HOME (`root/home`), locale and pagers, plus `env`; each in a directory of its own,
    `dirs["tmux"]` and `dirs["clive"]`, so that programs writing files do not meet.
    """

    def __init__(
        self,
        open_pane: Callable[..., TmuxPane],
        root: Path,
        cols: int = 80,
        rows: int = 24,
        env: Mapping[str, str] | None = None,
    ) -> None:
        home = root / "home"
        home.mkdir()
        self.home = home
        self.dirs: dict[str, Path] = {}
        for side in ("tmux", "clive"):
            work = root / side
            work.mkdir()
            self.dirs[side] = work
        environment = {
            "TERM": "xterm-256color",
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "PAGER": "less",
            "GIT_PAGER": "less",
            "MANPAGER": "less",
            "LESS": "",
            "LESSHISTFILE": "-",
            **(env or {}),
        }
        self.tmux: TmuxPane = open_pane(
            cols=cols, rows=rows, env=environment, cwd=str(self.dirs["tmux"])
        )
        self.term = Terminal(
            cols, rows, cwd=self.dirs["clive"], env={**environment, "PS1": "$ "}, user_rc=False
        ).start()

    def close(self) -> None:
        self.term.close()

    def write(self, name: str, content: str) -> None:
        """Write the file `name` with `content` in both directories."""
        for directory in self.dirs.values():
            (directory / name).write_text(content)

    def line(self, text: str) -> None:
        """Type a line and press Enter on both."""
        self.tmux.send_text(text)
        self.tmux.send_keys("Enter")
        self.term.send_text(text + "\r")

    def text(self, text: str) -> None:
        """Type `text` on both, without Enter."""
        self.tmux.send_text(text)
        self.term.send_text(text)

    def keys(self, *names: str) -> None:
        """Press keys by their tmux names on both."""
        self.tmux.send_keys(*names)
        self.term.send_keys(*names)

    def compare(self, expect: str, cursor: bool = True, styles: bool = False) -> list[str]:
        """Wait until tmux shows `expect` (a regex) and settles, then until clive agrees.

        Compares the text and (with `cursor`) the cursor position; with `styles` also colours,
        attributes, the cursor's visibility and the alternate screen. Returns tmux's lines.
        """
        self.tmux.wait_for_text(expect)
        self.tmux.wait_stable(quiet=0.3)
        reference = self.tmux.screen()
        deadline = time.monotonic() + 10
        while True:
            self.term.wait(quiet=0.2, timeout=2)
            difference = compare_styled_screens(
                reference, self.clive_screen(), styles=styles, cursor=cursor
            )
            if difference is None or time.monotonic() > deadline:
                break
            self.tmux.wait_stable(quiet=0.2)
            reference = self.tmux.screen()
        assert difference is None, difference
        return reference.lines()

    def clive_screen(self) -> StyledScreen:
        """The clive side's screen, with colours."""
        cells, cursor = self.term.screen_view()
        snapshot = self.term.snapshot()
        return clive_screen(cells, cursor, alternate_on=snapshot.alt_screen, title=snapshot.title)


def _then(*command: str) -> tuple[str, ...]:
    """Arguments that append `command` to a tmux command sequence."""
    return (";", *command)


def _escape_semicolon(argument: str) -> str:
    # tmux reads an argument ending in ";" as the end of a command, and "\;" at the end as a
    # literal ";" (dropping the backslash); so "\;" in place of the last ";" sends exactly it.
    return argument[:-1] + "\\;" if argument.endswith(";") else argument


def _socket_path(socket_name: str) -> str:
    """Where tmux puts the socket of `-L socket_name`."""
    return os.path.join(os.environ.get("TMUX_TMPDIR") or "/tmp", f"tmux-{os.getuid()}", socket_name)


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
