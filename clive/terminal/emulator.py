"""The terminal emulator: what the model and the user see of the shell.

Output goes through the VT500-series parser (``clive.terminal._parser``) into a screen with
xterm's behaviour over pyte's grid of cells (``clive.terminal._screen``). This module adds
speed: output that would scroll off the screen anyway is not drawn cell by cell, and
carriage-return redraws that a later redraw covers are skipped (see ``Emulator.feed``).

An exception in a handler never escapes ``feed``: a terminal that stops rendering because of
one odd byte leaves the agent blind, which is worse than one mis-drawn cell.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from pyte import modes as mo
from wcwidth import wcwidth

from clive.terminal._escapes import SeenSequences, has_escapes_or_controls
from clive.terminal._parser import Parser
from clive.terminal._screen import BRACKETED_PASTE, DECCKM, Cell, Screen

__all__ = ["Cell", "Cursor", "Emulator"]


# Anything that can move the cursor up or sideways across rows, change modes or margins, or
# address the screen: output between two of these only ever writes the row the cursor is on
# and moves down, which is what makes skipping scrolled-away output exact.
_NOT_ROW_LOCAL = re.compile(
    r"\x1b(?!\[[0-9;]*[mK])(?:\[[0-?]*[ -/]*[@-~]|[()#%][\s\S]|[\s\S])?"
    r"|[\x00-\x06\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]"
)
_SGR = re.compile(r"\x1b\[[0-9;]*m")
_ROW_LOCAL_CSI = re.compile(r"\x1b\[[0-9;]*[mK]")
# Bytes other than ESC, CR, LF and TAB below 32, and DEL, marked as NUL (the others stay).
_CONTROL_BYTE = b"\x00"
_CONTROLS_MARKED = bytes(
    0 if (code < 32 and code not in (9, 10, 13, 27)) or code == 127 else 1 for code in range(256)
)
# Characters every terminal draws one column wide (checked against wcwidth in the tests): a
# progress bar made of them has as many columns as characters, found at C speed.
SURELY_NARROW_RANGES = (
    (0x20, 0x7E),
    (0xA0, 0xAC),
    (0xAE, 0x2FF),
    (0x370, 0x377),
    (0x37A, 0x37F),
    (0x384, 0x38A),
    (0x38C, 0x38C),
    (0x38E, 0x3A1),
    (0x3A3, 0x482),
    (0x2010, 0x2027),
    (0x2030, 0x205E),
    (0x2500, 0x259F),
)
_SURELY_NARROW = re.compile(
    "["
    + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in SURELY_NARROW_RANGES)
    + "]*"
)
_ERASE_TO_LINE_END = re.compile(r"\x1b\[[02]?K")


@dataclass(frozen=True)
class Cursor:
    """Where the cursor is (0-based) and whether the program hid it."""

    x: int
    y: int
    hidden: bool = False


class Emulator:
    """A terminal screen that text is fed into: the model's eyes on the shell.

    ``respond`` receives what the terminal answers to the program (cursor position reports,
    device attributes) and must write it to the program's input.
    """

    def __init__(
        self,
        cols: int = 80,
        rows: int = 24,
        respond: Callable[[str], None] | None = None,
    ) -> None:
        self._screen = Screen(cols, rows, respond or (lambda _answer: None))
        self._parser = Parser(self._screen)
        self._row_local_seen = SeenSequences(_ROW_LOCAL_CSI)  # colours met lately

    # -- state ----------------------------------------------------------------------------

    @property
    def title(self) -> str:
        """The window title a program set (OSC 0 or 2)."""
        return self._screen.window_title

    @title.setter
    def title(self, value: str) -> None:
        self._screen.window_title = value

    @property
    def cols(self) -> int:
        return self._screen.columns

    @property
    def rows(self) -> int:
        return self._screen.lines

    @property
    def alt_screen(self) -> bool:
        """True while a full-screen program has switched to the alternate screen."""
        return self._screen.in_alt_screen

    @property
    def app_cursor_keys(self) -> bool:
        """True when the program asked for application cursor keys (DECCKM)."""
        return DECCKM in self._screen.mode

    @property
    def bracketed_paste(self) -> bool:
        """True when the program asked for bracketed paste (DECSET 2004)."""
        return BRACKETED_PASTE in self._screen.mode

    @property
    def in_sequence(self) -> bool:
        """True while a control sequence or string is still arriving (cut by a read)."""
        return not self._parser.in_ground

    @property
    def handler_errors(self) -> int:
        """How many sequences were dropped because handling them raised (a bug, counted)."""
        return self._parser.errors

    @property
    def cursor(self) -> Cursor:
        c = self._screen.cursor
        return Cursor(min(c.x, self.cols - 1), c.y, bool(c.hidden))

    def lines(self) -> list[str]:
        """The screen as text, one string per row, trailing blanks trimmed."""
        buffer = self._screen.buffer
        columns = range(self.cols)
        out = []
        for y in range(self.rows):
            row = buffer.get(y)
            out.append("" if row is None else "".join(row[x].data for x in columns).rstrip())
        return out

    def cells(self) -> list[list[Cell]]:
        """The screen as pyte cells (character plus colours and attributes), row by row."""
        buffer = self._screen.buffer
        return [[buffer[y][x] for x in range(self.cols)] for y in range(self.rows)]

    def resize(self, cols: int, rows: int) -> None:
        self._screen.resize(lines=rows, columns=cols)

    # -- input ----------------------------------------------------------------------------

    def feed(self, text: str, *, plain: bool = False) -> None:
        """Apply ``text`` to the screen, exactly as a terminal would.

        ``plain=True`` promises that ``text`` holds no escape or control character other than
        CR, LF and TAB (the caller checked it on the way in), which saves checking it again.

        Runs of output that only write the cursor's row and move down (plain text, colours,
        erase-in-line, CR, LF) are where a terminal spends its time on a verbose job; in such
        a run, rows that scroll out of sight before the run ends cannot affect the final
        screen, so they are replaced by the line feeds that scroll them away, and on a line
        redrawn with carriage returns (a progress bar) only the redraws still visible are
        drawn. Everything else goes through the parser unchanged, which keeps its state
        across calls: a sequence cut in two by a read is read as one.
        """
        parser = self._parser
        if not parser.in_ground:
            text = text[parser.finish_sequence(text) :]
            plain = False
        known = 0  # how much of text is known row-local: the search goes on from there
        if parser.in_ground:
            known = len(text) if plain else self._row_local_end(text)
            if known == len(text):
                self._feed_row_local(text)
                return
        # Between the sequences that are not row-local, the text is (a coloured log is one
        # such run from end to end).
        position = 0
        for match in _NOT_ROW_LOCAL.finditer(text, known):
            if match.start() > position:
                self._feed_segment(text[position : match.start()])
            parser.feed(match.group())
            position = match.end()
        if position < len(text):
            self._feed_segment(text[position:])

    def _row_local_end(self, text: str) -> int:
        """How much of ``text`` is known to hold nothing but text, CR, LF, TAB, colours and
        erase-in-line: ``len(text)`` when all of it, else a point no later than the first
        thing that is not (so that it is not looked for twice).

        A coloured log holds hundreds of thousands of escape sequences but only a handful of
        different ones: when every ESC starts one of those seen before (counted with
        ``str.count``, at C speed: two control sequences cannot start at one ESC), no regular
        expression has to look at the text.
        """
        escapes = text.count("\x1b")
        if escapes and not self._row_local_seen.cover(text, escapes):
            first = _NOT_ROW_LOCAL.search(text)
            if first:
                return first.start()
            self._row_local_seen.learn(text)
            return len(text)
        if text.isascii():
            controls = _CONTROL_BYTE in text.encode("ascii").translate(_CONTROLS_MARKED)
        else:
            controls = has_escapes_or_controls(text.replace("\x1b", ""))
        return 0 if controls else len(text)

    def _feed_segment(self, text: str) -> None:
        if not self._parser.in_ground:
            # The rest of a sequence (a title, or a sequence cut by the previous read): the
            # parser takes it, and what follows is text again.
            text = text[self._parser.finish_sequence(text) :]
        if text:
            self._feed_row_local(text)

    def _feed_row_local(self, text: str) -> None:
        rows = self.rows
        screen = self._screen
        if text.count("\n") >= 2 * rows + 2 and screen.margins in (None, (0, rows - 1)):
            cut = _cut_after_scrolled_rows(text, rows)
            # The skipped part must itself scroll a full screen, so the cursor is on the
            # bottom row when the kept part starts, as after the line feeds that replace it.
            if cut is not None and text.count("\n", 0, cut) >= rows:
                head, text = text[:cut], text[cut:]
                self._parser.feed("\n" * rows + "\r" + _sgr_state(head))
        if text.count("\r") > 2 and mo.IRM not in screen.mode:
            text = _skip_overdrawn_redraws(text, self.cols)
        self._parser.feed(text)


def _cut_after_scrolled_rows(text: str, rows: int) -> int | None:
    """Index just after a CR LF with at least ``rows`` line feeds after it, or None."""
    end = len(text)
    for _ in range(rows + 1):
        end = text.rindex("\n", 0, end)
    # The cut must leave the cursor at column 0: look for a CR LF at or before this point.
    for _ in range(rows):
        if end > 0 and text[end - 1] == "\r":
            return end + 1
        end = text.rfind("\n", 0, end)
        if end < 0:
            return None
    return None


def _sgr_state(text: str) -> str:
    """The colour and attribute sequences of ``text`` that still apply at its end."""
    reset = max(text.rfind("\x1b[m"), text.rfind("\x1b[0m"))
    return "".join(_SGR.findall(text, max(reset, 0)))


def collapse_redraws(text: str, cols: int) -> str:
    """``text`` without the carriage-return redraws that later ones cover, when that leaves
    the screen exactly as ``text`` would: ``text`` must only write rows in place (text,
    colours, erase-in-line, CR, LF), and start with no escape sequence in flight.

    A progress bar redrawn ten times a second then costs one redraw per piece of output.
    """
    if text.count("\r") <= 2 or has_escapes_or_controls(_ROW_LOCAL_CSI.sub("", text)):
        return text
    return _skip_overdrawn_redraws(text, cols)


def _skip_overdrawn_redraws(text: str, cols: int) -> str:
    """Drop carriage-return redraws of a line that a later redraw covers completely."""
    out = []
    for line in text.split("\n"):
        if line.count("\r") > 2:
            line = _skip_overdrawn_in_line(line, cols)
        out.append(line)
    return "\n".join(out)


def _skip_overdrawn_in_line(line: str, cols: int) -> str:
    first, *redraws = line.split("\r")
    widths = [_redraw_width(segment, cols) for segment in redraws]
    if any(w > cols or w < 0 for w in widths):
        # A redraw that wraps moves to the next row, and one whose width is unknown (a tab)
        # may: the rows later redraws cover are then not known. Keep everything.
        return line
    keep = [False] * len(redraws)
    widest_later = -1
    for i in range(len(redraws) - 1, -1, -1):
        if widths[i] > widest_later:
            keep[i] = True
            widest_later = max(widest_later, widths[i])
    out = [first]
    dropped_sgr: list[str] = []
    for segment, kept in zip(redraws, keep, strict=True):
        if kept:
            if dropped_sgr:
                out.append(_sgr_state("".join(dropped_sgr)))
                dropped_sgr = []
            out.append("\r" + segment)
        elif "\x1b" in segment:
            dropped_sgr.extend(_SGR.findall(segment))
    if dropped_sgr:
        out.append(_sgr_state("".join(dropped_sgr)))
    return "".join(out)


def _redraw_width(segment: str, cols: int) -> int:
    """Columns a redraw starting at column 0 covers; -1 when that cannot be known cheaply."""
    if "\t" in segment or "\b" in segment:
        return -1
    segment = segment.replace("\x07", "")  # a bell takes no column
    erases_to_end = False
    if "\x1b" in segment:
        erases_to_end = bool(_ERASE_TO_LINE_END.search(segment))
        segment = _SGR.sub("", _ERASE_TO_LINE_END.sub("", segment))
        if "\x1b" in segment:
            return -1
    if segment.isascii() or _SURELY_NARROW.fullmatch(segment):
        total = len(segment)
    else:
        total = 0
        for char in segment:
            width = wcwidth(char)
            if width <= 0:
                return -1  # a joiner or a combining mark: the columns depend on the neighbours
            total += width
    # Text then erase-to-end covers the whole row, unless the text itself wraps.
    return cols if erases_to_end and total <= cols else total
