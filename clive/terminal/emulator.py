"""The terminal emulator: pyte 0.8.2 with what a real terminal has and pyte lacks.

pyte parses escape sequences and keeps a grid of cells. clive adds the alternate screen
(DECSET 47/1047/1049), answers to DSR and DA queries, scroll up/down (SU/SD) and repeat (REP),
zero-width joiners and variation selectors that join the previous cell instead of cutting the
text run short, tolerance of sequences pyte mishandles (private SGR such as vim's
``ESC[>4;2m``, colon sub-parameters, DCS/APC strings, C1 controls), and speed: output that
would scroll off the screen anyway is not drawn cell by cell (see ``Emulator.feed``).

An exception in a handler never escapes ``feed``: a terminal that stops rendering because of
one odd byte leaves the agent blind, which is worse than one mis-drawn cell.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import pyte
from pyte import modes as mo
from pyte.screens import Char, StaticDefaultDict
from wcwidth import wcwidth

from clive.terminal._escapes import has_escapes_or_controls, split_unfinished_escape

_ALT_SCREEN_MODES = frozenset({47, 1047, 1049})
_DECCKM = 1 << 5  # pyte stores private modes shifted left by 5.
_BRACKETED_PASTE = 2004 << 5
# ESC[>c (secondary device attributes) is rewritten to ESC[9999c, a parameter no program sends
# (pyte caps parameters at 9999), so pyte's dispatcher answers it in turn.
_SECONDARY_DA = 9999
_ZERO_WIDTH_JOINERS = frozenset({"\u200d", "\ufe0e", "\ufe0f"})

# Strings pyte would otherwise draw as text or handle wrongly; removed (or answered) before
# pyte sees them: OSC (the title is taken from it), DCS/APC/PM/SOS strings, CSI sequences
# with a <, =, > prefix or colon sub-parameters, and C1 controls.
_PREFILTER = re.compile(
    r"\x1b\](?P<osc>[^\x07\x1b]*)(?:\x07|\x1b\\)"
    r"|\x1b\][^\x07\x1b]*(?=\x1b[^\\])"  # an OSC cut short by another sequence, as xterm does
    r"|\x1b[P_^X][\s\S]*?(?:\x07|\x1b\\)"
    r"|\x1b\[(?P<prefix>[<=>])(?P<pparams>[0-9;:]*)[ -/]*(?P<pfinal>[@-~])"
    r"|\x1b\[(?P<cparams>[0-9;]*:[0-9;:]*)[ -/]*(?P<cfinal>[@-~])"
    r"|[\x80-\x9f]"
)
_PREFILTER_START = re.compile(r"\x1b(?:[\]P_^X]|\[[<=>])")
_COLON_CSI = re.compile(r"\x1b\[[0-9;]*:")
_C1_CONTROL = re.compile(r"[\x80-\x9f]")

# Anything that can move the cursor up or sideways across rows, change modes or margins, or
# address the screen: output between two of these only ever writes the row the cursor is on
# and moves down, which is what makes skipping scrolled-away output exact.
_NOT_ROW_LOCAL = re.compile(
    r"\x1b(?!\[[0-9;]*[mK])(?:\[[0-?]*[ -/]*[@-~]|[()#%][\s\S]|[\s\S])?"
    r"|[\x00-\x06\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]"
)
_SGR = re.compile(r"\x1b\[[0-9;]*m")
_ROW_LOCAL_CSI = re.compile(r"\x1b\[[0-9;]*[mK]")
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


class _Screen(pyte.Screen):
    """pyte's screen with the alternate screen, SU/SD/REP and a forgiving ``draw``."""

    def __init__(self, columns: int, lines: int, respond: Callable[[str], None]) -> None:
        self._respond = respond
        self._main_buffer: defaultdict | None = None
        self._alt_saved_cursor: tuple | None = None
        self._last_cell: tuple[int, int] | None = None
        self._last_char = ""
        self._joining = False
        super().__init__(columns, lines)

    # -- alternate screen ---------------------------------------------------------------

    @property
    def in_alt_screen(self) -> bool:
        return self._main_buffer is not None

    def _new_buffer(self) -> defaultdict:
        return defaultdict(lambda: StaticDefaultDict(self.default_char))

    def _enter_alt_screen(self, mode: int) -> None:
        if self._main_buffer is not None:
            return
        if mode == 1049:
            self._alt_saved_cursor = (
                copy.copy(self.cursor),
                self.g0_charset,
                self.g1_charset,
                self.charset,
            )
        self._main_buffer = self.buffer
        self.buffer = self._new_buffer()
        self.dirty.update(range(self.lines))

    def _leave_alt_screen(self, mode: int) -> None:
        if self._main_buffer is None:
            return
        self.buffer = self._main_buffer
        self._main_buffer = None
        self._last_cell = None
        if mode == 1049 and self._alt_saved_cursor is not None:
            cursor, self.g0_charset, self.g1_charset, self.charset = self._alt_saved_cursor
            self.cursor = cursor
            self.ensure_hbounds()
            self.ensure_vbounds()
        self._alt_saved_cursor = None
        self.dirty.update(range(self.lines))

    def set_mode(self, *modes: int, **kwargs) -> None:
        if kwargs.get("private"):
            for mode in modes:
                if mode in _ALT_SCREEN_MODES:
                    self._enter_alt_screen(mode)
            modes = tuple(m for m in modes if m not in _ALT_SCREEN_MODES)
        super().set_mode(*modes, **kwargs)

    def reset_mode(self, *modes: int, **kwargs) -> None:
        if kwargs.get("private"):
            for mode in modes:
                if mode in _ALT_SCREEN_MODES:
                    self._leave_alt_screen(mode)
            modes = tuple(m for m in modes if m not in _ALT_SCREEN_MODES)
        super().reset_mode(*modes, **kwargs)

    def reset(self) -> None:
        self._main_buffer = None
        self._alt_saved_cursor = None
        self._last_cell = None
        super().reset()

    # -- resize as tmux does it ---------------------------------------------------------

    def resize(self, lines: int | None = None, columns: int | None = None) -> None:
        """Resize; when rows shrink, drop rows below the cursor first, then from the top."""
        lines = lines or self.lines
        columns = columns or self.columns
        if lines == self.lines and columns == self.columns:
            return
        for buffer in filter(None, (self.buffer, self._main_buffer)):
            if lines < self.lines:
                below = max(0, self.lines - 1 - self.cursor.y)
                from_top = max(0, self.lines - lines - below)
                _shift_rows_up(buffer, from_top, self.lines)
            if columns < self.columns:
                for row in buffer.values():
                    for x in range(columns, self.columns):
                        row.pop(x, None)
            for y in [y for y in buffer if y >= lines]:
                del buffer[y]
        if lines < self.lines:
            below = max(0, self.lines - 1 - self.cursor.y)
            self.cursor.y -= max(0, self.lines - lines - below)
        self.lines, self.columns = lines, columns
        self.tabstops = set(range(8, columns, 8))
        self.dirty.update(range(lines))
        self.set_margins()
        self.ensure_hbounds()
        self.ensure_vbounds()

    # -- sequences pyte lacks -----------------------------------------------------------

    def scroll_up(self, count: int | None = None, **kwargs) -> None:
        """SU: scroll the scrolling region up by ``count`` lines (text moves up)."""
        if kwargs.get("private"):
            return
        top, bottom = self.margins or (0, self.lines - 1)
        count = min(max(count or 1, 1), bottom - top + 1)
        for y in range(top, bottom + 1):
            source = y + count
            if source <= bottom and source in self.buffer:
                self.buffer[y] = self.buffer[source]
            else:
                self.buffer.pop(y, None)
        self.dirty.update(range(self.lines))

    def scroll_down(self, count: int | None = None, **kwargs) -> None:
        """SD: scroll the scrolling region down by ``count`` lines (text moves down)."""
        if kwargs.get("private"):
            return
        top, bottom = self.margins or (0, self.lines - 1)
        count = min(max(count or 1, 1), bottom - top + 1)
        for y in range(bottom, top - 1, -1):
            source = y - count
            if source >= top and source in self.buffer:
                self.buffer[y] = self.buffer[source]
            else:
                self.buffer.pop(y, None)
        self.dirty.update(range(self.lines))

    def repeat_last(self, count: int | None = None, **kwargs) -> None:
        """REP: draw the last printed character ``count`` more times."""
        if self._last_char and not kwargs.get("private"):
            self.draw(self._last_char * min(max(count or 1, 1), self.lines * self.columns))

    def select_graphic_rendition(self, *attrs: int, **kwargs) -> None:
        # pyte raises TypeError on private SGR (ESC[?...m); terminals ignore it.
        if not kwargs.get("private"):
            super().select_graphic_rendition(*attrs)

    def report_device_status(self, mode: int = 0, **kwargs) -> None:
        if kwargs.get("private"):
            return
        if mode == 5:
            self._respond("\x1b[0n")
        elif mode == 6:
            x = min(self.cursor.x, self.columns - 1) + 1
            y = self.cursor.y + 1
            if mo.DECOM in self.mode and self.margins is not None:
                y -= self.margins.top
            self._respond(f"\x1b[{y};{x}R")

    def report_device_attributes(self, mode: int = 0, *_args: int, **kwargs) -> None:
        if mode == _SECONDARY_DA:
            self._respond("\x1b[>0;10;1c")
        elif mode == 0 and not kwargs.get("private"):
            self._respond("\x1b[?62;22c")

    def write_process_input(self, data: str) -> None:
        self._respond(data)

    # -- drawing --------------------------------------------------------------------------

    def draw(self, data: str) -> None:
        """Draw text; zero-width joiners and selectors attach to the previous cell."""
        data = data.translate(self.g1_charset if self.charset else self.g0_charset)
        cursor = self.cursor
        columns = self.columns
        autowrap = mo.DECAWM in self.mode
        insert = mo.IRM in self.mode
        for char in data:
            width = 1 if " " <= char <= "~" else wcwidth(char)
            if width <= 0:
                if width == 0 and (char in _ZERO_WIDTH_JOINERS or unicodedata.combining(char)):
                    self._join_previous(char)
                    # After a zero-width joiner the next character is part of the same
                    # glyph: tmux shows a ZWJ emoji sequence as one two-column cell.
                    self._joining = char == "\u200d"
                continue
            if self._joining:
                self._joining = False
                if self._last_cell is not None:
                    self._join_previous(char)
                    continue
            if cursor.x + width > columns:
                if autowrap:
                    self.dirty.add(cursor.y)
                    cursor.x = 0
                    self.index()
                else:
                    cursor.x = columns - width
            if insert:
                self.insert_characters(width)
            row = self.buffer[cursor.y]
            self._clear_wide_neighbours(row, cursor.x, width)
            row[cursor.x] = cursor.attrs._replace(data=char)
            if width == 2:
                row[cursor.x + 1] = cursor.attrs._replace(data="")
            self._last_cell = (cursor.x, cursor.y)
            self._last_char = char
            cursor.x += width
        self.dirty.add(cursor.y)

    def _clear_wide_neighbours(self, row: StaticDefaultDict, x: int, width: int) -> None:
        """Overwriting half of a wide character blanks its other half, as terminals do."""
        if row[x].data == "" and x > 0:
            row[x - 1] = row[x - 1]._replace(data=" ")
        end = x + width
        if end < self.columns and row[end].data == "" and row[end - 1].data != "":
            row[end] = row[end]._replace(data=" ")

    def _join_previous(self, char: str) -> None:
        if self._last_cell is None:
            return
        x, y = self._last_cell
        cell = self.buffer[y][x]
        self.buffer[y][x] = cell._replace(data=unicodedata.normalize("NFC", cell.data + char))
        self.dirty.add(y)

    # -- reading --------------------------------------------------------------------------

    def row_text(self, y: int) -> str:
        row = self.buffer[y]
        return "".join(row[x].data for x in range(self.columns)).rstrip()


def _shift_rows_up(buffer: defaultdict, count: int, lines: int) -> None:
    if count <= 0:
        return
    for y in range(lines):
        source = y + count
        if source < lines and source in buffer:
            buffer[y] = buffer[source]
        else:
            buffer.pop(y, None)


class _Stream(pyte.Stream):
    """pyte's parser with SU, SD and REP, and a ``feed`` that survives handler errors."""

    csi: ClassVar = {**pyte.Stream.csi, "S": "scroll_up", "T": "scroll_down", "b": "repeat_last"}
    events = pyte.Stream.events | {"scroll_up", "scroll_down", "repeat_last"}

    def feed(self, data: str) -> None:
        draw = self.listener.draw
        match_text = self._text_pattern.match
        plain = self._taking_plain_text
        offset, length = 0, len(data)
        while offset < length:
            try:
                if plain:
                    match = match_text(data, offset)
                    if match:
                        offset = match.end()
                        draw(match.group())
                    else:
                        plain = False
                else:
                    plain = self._parser.send(data[offset])
                    offset += 1
            except Exception:
                # The handler failed on this sequence: drop it and carry on with the rest.
                self._initialize_parser()
                plain = self._taking_plain_text
                offset += 1
        self._taking_plain_text = plain


class Emulator:
    """A terminal screen that text is fed into: the model's eyes on the shell.

    ``respond`` receives what the terminal answers to the program (cursor position reports,
    device attributes) and must write it to the program's input.
    """

    def __init__(
        self, cols: int = 80, rows: int = 24, respond: Callable[[str], None] | None = None
    ) -> None:
        self._screen = _Screen(cols, rows, respond or (lambda _answer: None))
        self._stream = _Stream(self._screen)
        # Honour ESC ( 0 line drawing (curses boxes) in a UTF-8 stream, as tmux does.
        self._stream.use_utf8 = False
        self.title = ""
        self._held_back = ""

    # -- state ----------------------------------------------------------------------------

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
        return _DECCKM in self._screen.mode

    @property
    def bracketed_paste(self) -> bool:
        """True when the program asked for bracketed paste (DECSET 2004)."""
        return _BRACKETED_PASTE in self._screen.mode

    @property
    def cursor(self) -> Cursor:
        c = self._screen.cursor
        return Cursor(min(c.x, self.cols - 1), c.y, bool(c.hidden))

    def lines(self) -> list[str]:
        """The screen as text, one string per row, trailing blanks trimmed."""
        return [self._screen.row_text(y) for y in range(self.rows)]

    def cells(self) -> list[list[Char]]:
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
        drawn. Everything else goes through pyte unchanged. An escape sequence cut off at the
        end of ``text`` is held back until the rest of it arrives.
        """
        if self._held_back:
            plain = False  # the sequence held back last time now comes first
        text, self._held_back = split_unfinished_escape(self._held_back + text)
        if not self._held_back and (plain or not has_escapes_or_controls(text)):
            self._feed_row_local(text)
            return
        if _needs_prefilter(text):
            text = _PREFILTER.sub(self._prefiltered, text)
        if "\x1b[" in text and not has_escapes_or_controls(_ROW_LOCAL_CSI.sub("", text)):
            self._feed_row_local(text)  # colours and erase-in-line only: a coloured log
            return
        position = 0
        for match in _NOT_ROW_LOCAL.finditer(text):
            if match.start() > position:
                self._feed_row_local(text[position : match.start()])
            self._stream.feed(match.group())
            position = match.end()
        if position < len(text):
            self._feed_row_local(text[position:])

    def _prefiltered(self, match: re.Match) -> str:
        osc = match.group("osc")
        if osc is not None:
            code, _, value = osc.partition(";")
            if code in ("0", "2"):
                self.title = value
            return ""
        if match.group("prefix"):
            if match.group("prefix") == ">" and match.group("pfinal") == "c":
                # Answered by pyte's dispatcher, so that answers keep the order of questions.
                return f"\x1b[{_SECONDARY_DA}c"
            return ""
        if match.group("cfinal") == "m":
            return "\x1b[" + _colon_sgr_to_semicolons(match.group("cparams")) + "m"
        return ""

    def _feed_row_local(self, text: str) -> None:
        rows = self.rows
        if text.count("\n") >= 2 * rows + 2 and self._screen.margins in (None, (0, rows - 1)):
            cut = _cut_after_scrolled_rows(text, rows)
            # The skipped part must itself scroll a full screen, so the cursor is on the
            # bottom row when the kept part starts, as after the line feeds that replace it.
            if cut is not None and text.count("\n", 0, cut) >= rows:
                head, text = text[:cut], text[cut:]
                self._stream.feed("\n" * rows + "\r" + _sgr_state(head))
        if text.count("\r") > 2:
            text = _skip_overdrawn_redraws(text, self.cols)
        self._stream.feed(text)


def _needs_prefilter(text: str) -> bool:
    """True when ``text`` has something pyte must not see (each test runs at C speed)."""
    if "\x1b" in text and _PREFILTER_START.search(text):
        return True
    if ":" in text and _COLON_CSI.search(text):
        return True
    return not text.isascii() and bool(_C1_CONTROL.search(text))


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
            if width < 0:
                return -1
            total += width
    # Text then erase-to-end covers the whole row, unless the text itself wraps.
    return cols if erases_to_end and total <= cols else total


def _colon_sgr_to_semicolons(params: str) -> str:
    """``38:2::255:0:0`` (ITU T.416) to ``38;2;255;0;0``; ``4:3`` (curly underline) to ``4``."""
    out = []
    for group in params.split(";"):
        parts = group.split(":")
        if parts[0] in ("38", "48", "58") and len(parts) > 2:
            if parts[1] == "2" and len(parts) >= 6:
                parts = [parts[0], "2", *parts[-3:]]  # drop the colour-space id
            out.append(";".join(p or "0" for p in parts))
        else:
            out.append(parts[0])
    return ";".join(out)
