"""The line being typed into the terminal, followed key by key, so that approval judges what
a key submits, however it was typed.

A model can type a command letter by letter with ``keys``, edit it with backspace or C-u,
split it over several calls, or type it where input is not echoed (``read -s c; eval "$c"``).
``InputLine`` is fed every byte written to the terminal (by the model, the user, the harness)
and says, for each key that submits a line, what that line is. It keeps two readings of the
line, because clive cannot tell which kind of reader is there:

- readline's (bash, python, most REPLs): emacs-mode editing keys move the cursor and kill
  text; a bracketed paste is inserted whole. Keys whose effect depends on what clive does not
  see (Tab completion, history with Up, Down, C-r or C-o, yanks, Meta keys, other escape
  sequences) make this reading *unknown*: it is then a best effort, and the loop also reads
  the line from the screen (``screen_line``).
- the kernel's line discipline (``read``, ``read -s``, a password prompt): erase, kill and
  word-erase edit the line; every other character, control keys and escape sequences included,
  is part of it; C-d hands the line over without a newline, and the reader goes on reading.

A line also carries the lines it continues (a trailing backslash), and its readings include
the line from each later write on: keys eaten by a program that then exited (``q`` in a pager)
must not hide the command typed after them.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from clive.session.writer import SECRET_INPUT
from clive.terminal import Snapshot, encode_keys

# Characters that submit a line to one reader or the other: Enter (CR; LF is C-j or KPEnter),
# C-d (the line discipline's end of file) and C-o (readline's operate-and-get-next).
_SUBMITTING = frozenset("\r\n\x04\x0f")

_PASTE_START, _PASTE_END = "\x1b[200~", "\x1b[201~"
# One key's escape sequence: CSI (ESC [ parameters final), SS3 (ESC O x), or Meta and a
# character; an ESC before a line end is a key of its own (the line end still submits).
_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|O[^\r\n]|[^\r\n])?")
# The escape sequences readline's cursor keys send, in either cursor mode.
_CURSOR_KEYS = {
    "\x1b[C": "right",
    "\x1bOC": "right",
    "\x1b[D": "left",
    "\x1bOD": "left",
    "\x1b[H": "home",
    "\x1bOH": "home",
    "\x1b[1~": "home",
    "\x1b[7~": "home",
    "\x1b[F": "end",
    "\x1bOF": "end",
    "\x1b[4~": "end",
    "\x1b[8~": "end",
    "\x1b[3~": "delete",
}
# Where a prompt ends on the screen: the first $ # % > (or >>>) followed by a space.
_PROMPT_END = re.compile(r"^.*?(?:>>>|[$#%>»❯]) ")


@dataclass(frozen=True)
class Submission:
    """A line a key submits: what to show of it, and what to judge."""

    text: str  # the line, after the lines it continues
    readings: tuple[str, ...]  # the text, the line alone, the line from each later write on
    known: bool  # False: readline's line went through keys clive cannot follow
    secret: bool  # typed while input was not echoed: never show it

    @property
    def shown(self) -> str:
        """The line as an approval request may show it."""
        return SECRET_INPUT if self.secret else self.text


@dataclass
class _Line:
    """One reading of the line: its characters, each with the write it came in."""

    chars: list[str] = field(default_factory=list)
    writes: list[int] = field(default_factory=list)
    cursor: int = 0
    known: bool = True
    secret: bool = False
    continued: str = ""  # the earlier lines this one continues

    def copy(self) -> _Line:
        return dataclasses.replace(self, chars=list(self.chars), writes=list(self.writes))

    def insert(self, text: str, write: int, secret: bool) -> None:
        self.chars[self.cursor : self.cursor] = text
        self.writes[self.cursor : self.cursor] = [write] * len(text)
        self.cursor += len(text)
        self.secret = self.secret or secret

    def delete(self, start: int, end: int) -> None:
        start, end = max(0, start), min(len(self.chars), end)
        if start >= end:
            return
        del self.chars[start:end], self.writes[start:end]
        if self.cursor >= end:
            self.cursor -= end - start
        elif self.cursor > start:
            self.cursor = start

    def clear(self) -> None:
        self.chars, self.writes, self.cursor = [], [], 0
        self.known, self.secret, self.continued = True, False, ""

    def submission(self) -> Submission:
        line = "".join(self.chars)
        tails = [line[i:] for i in range(1, len(line)) if self.writes[i] != self.writes[i - 1]]
        readings = tuple(dict.fromkeys([self.continued + line, line, *tails]))
        return Submission(self.continued + line, readings, self.known, self.secret)

    def submit(self, joined_by: str | None = None) -> Submission:
        """The line is handed over; the next one continues it when ``joined_by`` is given, or
        when it ends with a backslash (the shell joins the lines)."""
        submission = self.submission()
        text, secret = submission.text, self.secret
        self.clear()
        if joined_by is None and (len(text) - len(text.rstrip("\\"))) % 2:
            joined_by = "\n"
        if joined_by is not None:
            self.continued, self.secret = text + joined_by, secret
        return submission


class InputLine:
    """The terminal's current input line, fed every byte typed (``feed``)."""

    def __init__(self) -> None:
        self._readline = _Line()
        self._canonical = _Line()
        self._writes = 0
        self._secret = False  # the write being fed is typed while input is not echoed
        self._pasting = False  # inside a bracketed paste (readline)
        self._readline_literal = False  # C-v: the next character is inserted as it is
        self._canonical_literal = False
        self._at_end = False  # readline's cursor is at the line's end, whatever the line (C-e)

    def copy(self) -> InputLine:
        """An independent copy, to try what a call would type."""
        twin = copy.copy(self)
        twin._readline, twin._canonical = self._readline.copy(), self._canonical.copy()
        return twin

    @property
    def known(self) -> bool:
        """False when readline's line went through keys clive cannot follow."""
        return self._readline.known

    @property
    def empty(self) -> bool:
        """Nothing is typed on the line, in either reading."""
        return self.known and not self._readline.chars and not self._canonical.chars

    @property
    def cursor_at_end(self) -> bool:
        return self._readline.cursor == len(self._readline.chars)

    def current(self) -> Submission:
        """Readline's line as Enter would submit it now."""
        return self._readline.submission()

    def feed(self, text: str, *, secret: bool = False) -> list[Submission]:
        """Apply ``text``, typed in one write (``secret``: while input is not echoed); the
        lines it submits, in order. A line both readings submit at one key comes once."""
        self._writes += 1
        self._secret = secret
        found = sorted(self._feed_readline(text) + self._feed_canonical(text), key=lambda f: f[0])
        merged: list[Submission] = []
        last_index = -1
        for index, submission in found:
            previous = merged[-1] if merged and index == last_index else None
            if previous is not None and previous.known and submission.known:
                readings = tuple(dict.fromkeys(previous.readings + submission.readings))
                secret = previous.secret or submission.secret
                merged[-1] = Submission(previous.text, readings, True, secret)
            else:
                merged.append(submission)
            last_index = index
        return merged

    # -- readline's reading -----------------------------------------------------------------

    def _feed_readline(self, text: str) -> list[tuple[int, Submission]]:
        line, write, found = self._readline, self._writes, []
        index = 0
        while index < len(text):
            if self._pasting:
                end = text.find(_PASTE_END, index)
                stop = len(text) if end < 0 else end
                line.insert(text[index:stop].replace("\r", "\n"), write, self._secret)
                self._pasting = end < 0
                index = stop if end < 0 else end + len(_PASTE_END)
                continue
            char = text[index]
            at_end, self._at_end = self._at_end, False
            if self._readline_literal:
                self._readline_literal = False
                line.insert(char, write, self._secret)
            elif char == "\x1b":
                match = _ESCAPE.match(text, index)
                assert match is not None  # the pattern matches a lone ESC
                self._readline_escape(match.group())
                index = match.end()
                continue
            elif char in "\r\n":
                found.append((index, line.submit()))
            elif char == "\x0f":  # operate-and-get-next: submits, then recalls a history line
                found.append((index, line.submit()))
                line.known = False
            else:
                self._readline_control(char, at_end, write)
            index += 1
        return found

    def _readline_control(self, char: str, at_end: bool, write: int) -> None:
        line = self._readline
        if char >= " " and char != "\x7f":
            line.insert(char, write, self._secret)
        elif char == "\x03":  # C-c: the line is abandoned
            line.clear()
        elif char in "\x01\x02\x05\x06":  # C-a, C-b, C-e, C-f
            self._move({"\x01": "home", "\x02": "left", "\x05": "end", "\x06": "right"}[char])
        elif char in "\x7f\x08":
            line.delete(line.cursor - 1, line.cursor)
        elif char == "\x04":  # C-d: end of file on an empty line, else delete-char
            if line.chars:
                line.delete(line.cursor, line.cursor + 1)
            else:
                line.clear()
        elif char == "\x0b":
            line.delete(line.cursor, len(line.chars))
        elif char == "\x15":  # C-u kills back to the start: after C-e, all of the line
            line.delete(0, line.cursor)
            line.known = line.known or at_end
        elif char == "\x17":  # C-w: the word before the cursor, up to whitespace
            start = line.cursor
            while start > 0 and line.chars[start - 1].isspace():
                start -= 1
            while start > 0 and not line.chars[start - 1].isspace():
                start -= 1
            line.delete(start, line.cursor)
        elif char == "\x16":
            self._readline_literal = True
        elif char == "\t":  # completion adds what clive does not know; the tab may separate
            line.insert(char, write, self._secret)
            line.known = False
        elif char not in "\x07\x0c":  # C-g, C-l change nothing; C-r, C-p, C-y, C-t... do
            line.known = False

    def _readline_escape(self, key: str) -> None:
        if key == _PASTE_START:
            self._pasting = True
        elif key in _CURSOR_KEYS:
            self._move(_CURSOR_KEYS[key])
        else:  # history, Meta keys, word moves, a lone Escape: not followed
            self._readline.known = False

    def _move(self, where: str) -> None:
        line = self._readline
        if where == "home":
            line.cursor = 0
        elif where == "end":
            line.cursor = len(line.chars)
            self._at_end = True
        elif where == "left":
            line.cursor = max(0, line.cursor - 1)
        elif where == "right":
            line.cursor = min(len(line.chars), line.cursor + 1)
        else:
            line.delete(line.cursor, line.cursor + 1)

    # -- the line discipline's reading -------------------------------------------------------

    def _feed_canonical(self, text: str) -> list[tuple[int, Submission]]:
        line, write, found = self._canonical, self._writes, []
        for index, char in enumerate(text):
            if self._canonical_literal:
                self._canonical_literal = False
                line.insert(char, write, self._secret)
            elif char in "\r\n":
                found.append((index, line.submit()))
            elif char == "\x04":  # the reader gets the line so far and reads on
                if line.chars:
                    found.append((index, line.submit(joined_by="")))
                else:
                    line.clear()
            elif char in "\x03\x1a\x1c":  # C-c, C-z, C-\: a signal, and the line is flushed
                line.clear()
            elif char == "\x7f":
                line.delete(line.cursor - 1, line.cursor)
            elif char == "\x15":
                line.delete(0, line.cursor)
            elif char == "\x17":  # the line discipline's word: letters, digits and _
                start = line.cursor
                while start > 0 and not _word_character(line.chars[start - 1]):
                    start -= 1
                while start > 0 and _word_character(line.chars[start - 1]):
                    start -= 1
                line.delete(start, line.cursor)
            elif char == "\x16":
                self._canonical_literal = True
            elif char not in "\x11\x12\x13":  # C-q, C-r, C-s: flow control, reprint
                line.insert(char, write, self._secret)
        return found


def _word_character(char: str) -> bool:
    return char.isalnum() or char == "_"


def keystrokes(keys: Sequence[str]) -> str:
    """The characters pressing ``keys`` (tmux names) types; ``UnknownKeyError`` for a bad one."""
    return encode_keys(keys).decode("utf-8", "surrogateescape")


def submits(text: str) -> bool:
    """Whether typing ``text`` may submit a line to some reader."""
    return not _SUBMITTING.isdisjoint(text)


def screen_line(snapshot: Snapshot) -> str:
    """The line being edited as the screen shows it: the cursor's row, joined to the rows
    above it that it wraps from (rows filled to the last column or the one before), after the
    prompt (up to the first ``$ `` ``# `` ``% `` ``> `` or ``>>> ``)."""
    rows, row = snapshot.lines, snapshot.cursor.y
    if not 0 <= row < len(rows):
        return ""
    top = row
    while top > 0 and len(rows[top - 1]) >= snapshot.cols - 1:
        top -= 1
    text = "".join(line.ljust(snapshot.cols) for line in rows[top:row]) + rows[row]
    prompt = _PROMPT_END.match(text)
    return text[prompt.end() :] if prompt else text
