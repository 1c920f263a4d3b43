"""What each control does to the screen: xterm's behaviour over pyte's grid of cells.

pyte stays the screen model (rows of cells in a dict, a cursor, modes, margins, tab stops,
character sets): the rest of clive reads that. A cell is a ``Cell``: pyte's ``Cell`` with the
two attributes it lacks (dim and hidden). Its operations are
replaced where they differ from xterm and tmux, which is most of them:

- the alternate screen (DECSET 47/1047/1049) with its own saved cursor, and a main screen
  kept as the full-screen program found it;
- scrolling margins: DECSTBM homes the cursor, moves stop at a margin only from inside the
  region, origin mode clamps addressing to the region, NEL is CR + LF;
- background colour erase: every operation that brings in blank cells (erase, scroll, insert
  and delete of lines and characters, a line feed at the bottom margin) fills them with the
  current background colour, and nothing else of the current attributes;
- one saved cursor per screen (DECSC/DECRC, SCO ``CSI s``/``CSI u``, DECSET 1048);
- SGR as xterm reads it: colon sub-parameters (``4:0``, ``38:2::r:g:b``), underline colour
  (58/59) consumed without touching anything else, and names for all 16 colours that are the
  same in both planes (pyte's table says "bfightmagenta");
- combining and enclosing marks and other zero-width characters join the cell before the
  cursor; after a zero-width joiner a wide character (an emoji) joins the cell too;
- answers to DSR and DA queries; SU, SD, REP, CHT, CBT.
"""

from __future__ import annotations

import copy
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from typing import NamedTuple

import pyte
from pyte import charsets
from pyte import modes as mo
from pyte.screens import Margins, Savepoint, StaticDefaultDict
from wcwidth import wcwidth

from clive.terminal._parser import MAX_PARAMS, parse_params

ALT_SCREEN_MODES = frozenset({47, 1047, 1049})
# Private modes pyte lacks, shifted left by 5 as pyte stores private modes.
DECCKM = 1 << 5
BRACKETED_PASTE = 2004 << 5
_SAVE_CURSOR_MODE = 1048
# Secondary device attributes: what tmux answers (a VT220 of firmware version 10).
SECONDARY_DA_ANSWER = "\x1b[>0;10;1c"
PRIMARY_DA_ANSWER = "\x1b[?62;22c"

_NAMES = ("black", "red", "green", "brown", "blue", "magenta", "cyan", "white")
_FG = {30 + i: name for i, name in enumerate(_NAMES)} | {
    90 + i: "bright" + name for i, name in enumerate(_NAMES)
}
_BG = {40 + i: name for i, name in enumerate(_NAMES)} | {
    100 + i: "bright" + name for i, name in enumerate(_NAMES)
}
_FLAGS = {
    1: ("bold", True),
    2: ("dim", True),
    3: ("italics", True),
    4: ("underscore", True),
    5: ("blink", True),
    6: ("blink", True),
    7: ("reverse", True),
    8: ("hidden", True),
    9: ("strikethrough", True),
    21: ("underscore", True),  # double underline
    22: ("bold", False),
    23: ("italics", False),
    24: ("underscore", False),
    25: ("blink", False),
    27: ("reverse", False),
    28: ("hidden", False),
    29: ("strikethrough", False),
}
_SGR_CACHE_SIZE = 4096
_REGIONAL_INDICATOR_A, _REGIONAL_INDICATOR_Z = "\U0001f1e6", "\U0001f1ff"


class Cell(NamedTuple):
    """One character cell: pyte's ``Char`` (same fields, same order) plus dim and hidden."""

    data: str = " "
    fg: str = "default"
    bg: str = "default"
    bold: bool = False
    italics: bool = False
    underscore: bool = False
    strikethrough: bool = False
    reverse: bool = False
    blink: bool = False
    dim: bool = False
    hidden: bool = False


# The blank cell. pyte's ``default_char`` makes a new one at each call (for DECSCNM, which
# clive ignores as tmux does): one object lets "is this blank the default" be an identity test.
DEFAULT_CHAR = Cell()


def _hex(red: int, green: int, blue: int) -> str:
    return f"{red:02x}{green:02x}{blue:02x}"


def _extended_colour(values: list[int | None]) -> str | None:
    """The colour ``5;n`` or ``2;r;g;b`` (what follows 38, 48 or 58) stands for, as tmux
    reads it: "default" for a missing or impossible palette index, None (no change) for an
    impossible true colour or an unknown kind."""
    kind = values[0] if values else None
    if kind == 5:
        index = values[1] if len(values) > 1 else None
        return "default" if index is None or index > 255 else pyte.graphics.FG_BG_256[index]
    if kind == 2 and len(values) >= 4:
        rgb = [value or 0 for value in values[1:4]]
        return None if max(rgb) > 255 else _hex(*rgb)
    return None


def _taken_by(kind: int | None) -> int:
    """How many parameters after 38, 48 or 58 a colour of this kind takes (tmux skips an
    unknown kind alone)."""
    return {5: 2, 2: 4}.get(kind, 1) if kind is not None else 0


def _width(char: str) -> int:
    """Columns ``char`` takes: wcwidth's answer, except that spacing combining marks (Indic
    vowel signs such as U+093F) take a column of their own, as tmux and glibc give them."""
    width = wcwidth(char)
    if width == 0 and unicodedata.category(char) == "Mc":
        return 1
    return width


class _CellsOf(dict):
    """Cells of one style by character, made on first use."""

    def __init__(self, style: Cell) -> None:
        super().__init__()
        self._style = style

    def __missing__(self, char: str) -> Cell:
        cell = self[char] = self._style._replace(data=char)
        return cell


class Screen(pyte.Screen):
    """A grid of cells that terminal output is applied to, as xterm would apply it.

    ``respond`` receives what the terminal answers a program (cursor position, device
    attributes). OSC strings other than the title's are ignored here: the shell's markers are
    read by the Terminal on the byte stream.
    """

    def __init__(
        self,
        columns: int,
        lines: int,
        respond: Callable[[str], None],
    ) -> None:
        self._respond = respond
        self._main_buffer: defaultdict | None = None
        self._main_savepoints: list[Savepoint] = []
        self._alt_saved_cursor: tuple | None = None
        self._last_char = ""  # what REP repeats: set by text, cleared by anything else
        self._joining = False  # a zero-width joiner came last: a wide character joins
        self._sgr_cache: dict[tuple, Cell] = {}
        self._cells_cache: dict[Cell, _CellsOf] = {}
        self.window_title = ""
        super().__init__(columns, lines)

    # -- the parser's calls --------------------------------------------------------------

    def print_text(self, text: str) -> None:
        table = self.g1_charset if self.charset else self.g0_charset
        if table is not charsets.LAT1_MAP:
            text = text.translate(table)
        if text.isascii() and not self._joining and mo.IRM not in self.mode:
            self._draw_ascii(text)
        else:
            self._draw(text)
        self._last_char = text[-1]

    def execute(self, control: str) -> None:
        self._last_char = ""
        self._joining = False
        if control == "\n" or control == "\x0b" or control == "\x0c":
            self.linefeed()
        elif control == "\r":
            self.cursor.x = 0
        elif control == "\x08":
            self.backspace()
        elif control == "\t":
            self.tab()
        elif control == "\x0e":
            self.charset = 1
        elif control == "\x0f":
            self.charset = 0

    def escape_dispatch(self, intermediates: str, final: str) -> None:
        self._last_char = ""
        self._joining = False
        if not intermediates:
            action = _ESCAPES.get(final)
            if action is not None:
                action(self)
        elif intermediates in "()" and final in charsets.MAPS:
            self.define_charset(final, intermediates)
        elif intermediates == "#" and final == "8":
            self.alignment_display()

    def csi_dispatch(self, private: str, params: str, intermediates: str, final: str) -> None:
        if final == "m" and not private and not intermediates:
            self._last_char = ""
            self._sgr(params)
            return
        if final == "b" and not private and not intermediates:
            values = parse_params(params)
            if values is not None:
                self.repeat_last(*values)
            return
        self._last_char = ""
        self._joining = False
        if intermediates:
            if intermediates == "!" and final == "p" and not private:
                self.soft_reset()
            return  # DECSCUSR, DECRQM...: nothing on the screen
        if ":" in params:
            return
        values = parse_params(params)
        if values is None:
            return  # more parameters, or larger ones, than a terminal keeps: dropped
        if private == "?":
            if final in "hl":
                self._set_modes(final, values, private=True)
            elif final in "JK":
                (self.erase_in_display if final == "J" else self.erase_in_line)(*values[:1])
        elif private == ">":
            if final == "c" and not any(values):
                self._respond(SECONDARY_DA_ANSWER)
        elif private:
            return
        elif final in "hl":
            self._set_modes(final, values, private=False)
        else:
            action = _CSI.get(final)
            if action is not None:
                action(self, *values)

    def _set_modes(self, final: str, values: list[int | None], *, private: bool) -> None:
        modes = [value for value in values if value is not None]
        if final == "h":
            self.set_mode(*modes, private=private)
        else:
            self.reset_mode(*modes, private=private)

    def osc_dispatch(self, payload: str) -> None:
        self._last_char = ""
        self._joining = False
        code, _, value = payload.partition(";")
        if code in ("0", "2"):
            self.window_title = value

    # -- text ----------------------------------------------------------------------------

    def _cells(self) -> _CellsOf:
        attrs = self.cursor.attrs
        cells = self._cells_cache.get(attrs)
        if cells is None:
            if len(self._cells_cache) > 256:
                self._cells_cache.clear()
            cells = self._cells_cache[attrs] = _CellsOf(attrs)
        return cells

    def _draw_ascii(self, text: str) -> None:
        """Printable ASCII: one column a character, drawn a row's worth at a time."""
        cursor = self.cursor
        columns = self.columns
        autowrap = mo.DECAWM in self.mode
        cells = self._cells()
        start, length = 0, len(text)
        while start < length:
            if cursor.x >= columns:
                if autowrap:
                    cursor.x = 0
                    self.index()
                else:
                    cursor.x = columns - 1
            x = cursor.x
            piece = text[start : start + columns - x]
            start += len(piece)
            if start < length and not autowrap:
                # Without autowrap the rest overwrites the last column: only its last counts.
                piece = piece[:-1] + text[-1]
                start = length
            row = self.buffer[cursor.y]
            end = x + len(piece)
            self._clear_wide_neighbours(row, x, end)
            row.update(zip(range(x, end), map(cells.__getitem__, piece), strict=True))
            # Without autowrap no wrap is left pending: the cursor stays on the last column.
            cursor.x = end if autowrap else min(end, columns - 1)

    def _draw(self, text: str) -> None:
        cursor = self.cursor
        columns = self.columns
        autowrap = mo.DECAWM in self.mode
        insert = mo.IRM in self.mode
        for char in text:
            width = 1 if " " <= char <= "~" else _width(char)
            if width <= 0:
                if char == "\u200d":
                    self._joining = True  # joins only if a wide character (an emoji) follows
                elif width == 0:
                    self._join_before_cursor(char)
                continue
            if _REGIONAL_INDICATOR_A <= char <= _REGIONAL_INDICATOR_Z and self._pairs_a_flag():
                self._join_before_cursor(char)  # two regional indicators make one flag
                continue
            if self._joining:
                self._joining = False
                if width == 2:
                    # tmux shows a ZWJ emoji sequence as one two-column cell.
                    self._join_before_cursor("\u200d" + char)
                    continue
            if cursor.x + width > columns:
                if autowrap:
                    cursor.x = 0
                    self.index()
                elif width > columns - min(cursor.x, columns - 1):
                    continue  # a wide character at the last column without autowrap: tmux drops it
                else:
                    cursor.x = columns - width
            if insert:
                self.insert_characters(width)
            row = self.buffer[cursor.y]
            self._clear_wide_neighbours(row, cursor.x, cursor.x + width)
            row[cursor.x] = cursor.attrs._replace(data=char)
            if width == 2:
                row[cursor.x + 1] = cursor.attrs._replace(data="")
            cursor.x += width
            if not autowrap:
                cursor.x = min(cursor.x, columns - 1)

    def _clear_wide_neighbours(self, row: StaticDefaultDict, start: int, end: int) -> None:
        """Overwriting half of a wide character leaves its other half a plain blank (tmux)."""
        if start > 0 and row[start].data == "":
            row[start - 1] = DEFAULT_CHAR
        if end < self.columns and row[end].data == "" and row[end - 1].data != "":
            row[end] = DEFAULT_CHAR

    def _pairs_a_flag(self) -> bool:
        """True when the cell before the cursor holds a lone regional indicator."""
        x = min(self.cursor.x, self.columns) - 2
        data = self.buffer[self.cursor.y][x].data if x >= 0 else ""
        return len(data) == 1 and _REGIONAL_INDICATOR_A <= data <= _REGIONAL_INDICATOR_Z

    def _join_before_cursor(self, char: str) -> None:
        """A zero-width character joins the cell before the cursor (the wide one it covers)."""
        x = min(self.cursor.x, self.columns) - 1
        row = self.buffer[self.cursor.y]
        if x > 0 and row[x].data == "":
            x -= 1
        if x < 0:
            return
        cell = row[x]
        row[x] = cell._replace(data=unicodedata.normalize("NFC", cell.data + char))

    def repeat_last(self, count: int | None = None) -> None:
        """REP: draw the last printed character ``count`` more times, if text came last."""
        if self._last_char:
            self.print_text(self._last_char * min(max(count or 1, 1), self.lines * self.columns))

    # -- blank cells: background colour erase ----------------------------------------------

    @property
    def default_char(self) -> Cell:
        return DEFAULT_CHAR

    def _blank(self) -> Cell:
        bg = self.cursor.attrs.bg
        return DEFAULT_CHAR if bg == "default" else DEFAULT_CHAR._replace(bg=bg)

    def _new_buffer(self) -> defaultdict:
        return defaultdict(lambda: StaticDefaultDict(self.default_char))

    def _clear_rows(self, first: int, last: int) -> None:
        """Rows ``first`` to ``last`` (inclusive) become blank."""
        blank = self._blank()
        buffer = self.buffer
        for y in range(first, last + 1):
            if blank is DEFAULT_CHAR:
                buffer.pop(y, None)
            else:
                buffer[y] = StaticDefaultDict(blank)

    def _clear_cells(self, y: int, first: int, end: int) -> None:
        """Cells ``first`` up to ``end`` (exclusive) of row ``y`` become blank."""
        blank = self._blank()
        row = self.buffer[y]
        if first <= 0 and end >= self.columns:
            self._clear_rows(y, y)
        elif blank is DEFAULT_CHAR and row.default == blank:
            for x in range(max(first, 0), min(end, self.columns)):
                row.pop(x, None)
        else:
            for x in range(max(first, 0), min(end, self.columns)):
                row[x] = blank

    def _scroll_region_up(self, top: int, bottom: int, count: int) -> None:
        buffer = self.buffer
        count = min(count, bottom - top + 1)
        for y in range(top, bottom + 1 - count):
            if y + count in buffer:
                buffer[y] = buffer[y + count]
            else:
                buffer.pop(y, None)
        self._clear_rows(bottom + 1 - count, bottom)

    def _scroll_region_down(self, top: int, bottom: int, count: int) -> None:
        buffer = self.buffer
        count = min(count, bottom - top + 1)
        for y in range(bottom, top - 1 + count, -1):
            if y - count in buffer:
                buffer[y] = buffer[y - count]
            else:
                buffer.pop(y, None)
        self._clear_rows(top, top + count - 1)

    def _region(self) -> tuple[int, int]:
        return self.margins or (0, self.lines - 1)

    # -- moving down and up ----------------------------------------------------------------

    def index(self) -> None:
        top, bottom = self._region()
        if self.cursor.y == bottom:
            self._scroll_region_up(top, bottom, 1)
        elif self.cursor.y < self.lines - 1:
            self.cursor.y += 1

    def reverse_index(self) -> None:
        top, bottom = self._region()
        if self.cursor.y == top:
            self._scroll_region_down(top, bottom, 1)
        elif self.cursor.y > 0:
            self.cursor.y -= 1

    def linefeed(self) -> None:
        self.index()
        if mo.LNM in self.mode:
            self.cursor.x = 0

    def next_line(self) -> None:
        """NEL: a carriage return and a line feed."""
        self.cursor.x = 0
        self.index()

    def scroll_up(self, count: int | None = None, *_: int | None) -> None:
        """SU: scroll the scrolling region up by ``count`` lines (text moves up)."""
        self._scroll_region_up(*self._region(), count or 1)

    def scroll_down(self, count: int | None = None, *_: int | None) -> None:
        """SD: scroll the scrolling region down by ``count`` lines (text moves down)."""
        self._scroll_region_down(*self._region(), count or 1)

    # -- cursor movement -----------------------------------------------------------------

    def _row_in_region(self, y: int) -> int:
        """Row ``y`` (0-based, counted from the top margin in origin mode), kept inside."""
        if mo.DECOM in self.mode:
            top, bottom = self._region()
            return min(max(top + y, top), bottom)
        return min(max(y, 0), self.lines - 1)

    def cursor_position(self, line: int | None = None, column: int | None = None, *_) -> None:
        self.cursor.y = self._row_in_region((line or 1) - 1)
        self.cursor.x = min((column or 1) - 1, self.columns - 1)

    def cursor_to_line(self, line: int | None = None, *_: int | None) -> None:
        self.cursor.y = self._row_in_region((line or 1) - 1)
        self.cursor.x = min(self.cursor.x, self.columns - 1)

    def cursor_to_column(self, column: int | None = None, *_: int | None) -> None:
        self.cursor.x = min((column or 1) - 1, self.columns - 1)

    def cursor_up(self, count: int | None = None, *_: int | None) -> None:
        top = self._region()[0]
        limit = top if self.cursor.y >= top else 0
        self.cursor.y = max(self.cursor.y - (count or 1), limit)
        self.cursor.x = min(self.cursor.x, self.columns - 1)

    def cursor_down(self, count: int | None = None, *_: int | None) -> None:
        bottom = self._region()[1]
        limit = bottom if self.cursor.y <= bottom else self.lines - 1
        self.cursor.y = min(self.cursor.y + (count or 1), limit)
        self.cursor.x = min(self.cursor.x, self.columns - 1)

    def cursor_up1(self, count: int | None = None, *_: int | None) -> None:
        self.cursor_up(count)
        self.cursor.x = 0

    def cursor_down1(self, count: int | None = None, *_: int | None) -> None:
        self.cursor_down(count)
        self.cursor.x = 0

    def cursor_back(self, count: int | None = None, *_: int | None) -> None:
        self.cursor.x = max(min(self.cursor.x, self.columns - 1) - (count or 1), 0)

    def cursor_forward(self, count: int | None = None, *_: int | None) -> None:
        self.cursor.x = min(self.cursor.x + (count or 1), self.columns - 1)

    def backspace(self) -> None:
        self.cursor_back()

    def tab(self, count: int | None = None, *_: int | None) -> None:
        """HT and CHT: to the next tab stop ``count`` times, or the last column. A wrap left
        pending stays pending (tmux)."""
        if self.cursor.x >= self.columns:
            return
        for _ in range(min(count or 1, self.columns)):
            x = self.cursor.x
            self.cursor.x = min((s for s in self.tabstops if s > x), default=self.columns - 1)
        self.cursor.x = min(self.cursor.x, self.columns - 1)

    def back_tab(self, count: int | None = None, *_: int | None) -> None:
        """CBT: to the previous tab stop ``count`` times, or the first column."""
        for _ in range(min(count or 1, self.columns)):
            x = min(self.cursor.x, self.columns - 1)
            self.cursor.x = max((s for s in self.tabstops if s < x), default=0)

    def clear_tab_stop(self, how: int | None = 0, *_: int | None) -> None:
        if not how:
            self.tabstops.discard(self.cursor.x)
        elif how == 3:
            self.tabstops = set()

    # -- margins -------------------------------------------------------------------------

    def set_margins(self, top: int | None = None, bottom: int | None = None, *_) -> None:
        """DECSTBM: set the scrolling region (ignored unless at least two rows) and home."""
        first = (top or 1) - 1
        last = min(bottom or self.lines, self.lines) - 1
        if last <= first:
            return
        self.margins = None if (first, last) == (0, self.lines - 1) else Margins(first, last)
        self.cursor_position()

    # -- erasing, inserting, deleting ------------------------------------------------------

    def erase_in_display(self, how: int | None = 0, *_: int | None) -> None:
        y = self.cursor.y
        if not how:
            self.erase_in_line(0)
            self._clear_rows(y + 1, self.lines - 1)
        elif how == 1:
            self._clear_rows(0, y - 1)
            self.erase_in_line(1)
        elif how == 2:
            self._clear_rows(0, self.lines - 1)
        # 3 erases the scrollback, which this screen does not keep.

    def erase_in_line(self, how: int | None = 0, *_: int | None) -> None:
        x = min(self.cursor.x, self.columns - 1)
        if not how:
            self._clear_cells(self.cursor.y, x, self.columns)
        elif how == 1:
            self._clear_cells(self.cursor.y, 0, x + 1)
        elif how == 2:
            self._clear_cells(self.cursor.y, 0, self.columns)

    def erase_characters(self, count: int | None = None, *_: int | None) -> None:
        x = min(self.cursor.x, self.columns - 1)
        self._clear_cells(self.cursor.y, x, x + (count or 1))

    def insert_characters(self, count: int | None = None, *_: int | None) -> None:
        x = min(self.cursor.x, self.columns - 1)
        count = min(count or 1, self.columns - x)
        row = self.buffer[self.cursor.y]
        for column in range(self.columns - 1, x + count - 1, -1):
            row[column] = row[column - count]
        self._clear_cells(self.cursor.y, x, x + count)

    def delete_characters(self, count: int | None = None, *_: int | None) -> None:
        x = min(self.cursor.x, self.columns - 1)
        count = min(count or 1, self.columns - x)
        row = self.buffer[self.cursor.y]
        for column in range(x, self.columns - count):
            row[column] = row[column + count]
        self._clear_cells(self.cursor.y, self.columns - count, self.columns)

    def insert_lines(self, count: int | None = None, *_: int | None) -> None:
        """IL. The cursor goes to the first column, even outside the region (ECMA-48 and
        xterm; tmux keeps the column)."""
        self.cursor.x = 0
        top, bottom = self._region()
        if top <= self.cursor.y <= bottom:
            self._scroll_region_down(self.cursor.y, bottom, count or 1)

    def delete_lines(self, count: int | None = None, *_: int | None) -> None:
        """DL, with the cursor to the first column as for IL."""
        self.cursor.x = 0
        top, bottom = self._region()
        if top <= self.cursor.y <= bottom:
            self._scroll_region_up(self.cursor.y, bottom, count or 1)

    def alignment_display(self) -> None:
        """DECALN: fill the screen with E, reset the margins, home the cursor."""
        self.margins = None
        for y in range(self.lines):
            self.buffer[y] = StaticDefaultDict(self.default_char._replace(data="E"))
        self.cursor.x = self.cursor.y = 0

    # -- saving the cursor ---------------------------------------------------------------

    def save_cursor(self, *_: int | None) -> None:
        """DECSC and SCO ``CSI s``: one saved cursor per screen, a new save replaces it."""
        self.savepoints = [
            Savepoint(
                copy.copy(self.cursor),
                self.g0_charset,
                self.g1_charset,
                self.charset,
                mo.DECOM in self.mode,
                mo.DECAWM in self.mode,
            )
        ]

    def restore_cursor(self, *_: int | None) -> None:
        """DECRC and SCO ``CSI u``: back to the saved cursor, or home with defaults."""
        if not self.savepoints:
            self.mode.discard(mo.DECOM)
            hidden = self.cursor.hidden
            self.cursor = pyte.screens.Cursor(0, 0, DEFAULT_CHAR)
            self.cursor.hidden = hidden
            self.g0_charset, self.g1_charset, self.charset = charsets.LAT1_MAP, charsets.LAT1_MAP, 0
            return
        saved = self.savepoints[0]
        hidden = self.cursor.hidden
        self.cursor = copy.copy(saved.cursor)
        self.cursor.hidden = hidden
        self.g0_charset, self.g1_charset, self.charset = saved[1:4]
        if saved.origin:
            self.mode.add(mo.DECOM)
        else:
            self.mode.discard(mo.DECOM)
        # A cursor saved past the last column (a wrap pending) comes back on it, as in tmux.
        self.cursor.x = min(self.cursor.x, self.columns - 1)
        self.cursor.y = min(self.cursor.y, self.lines - 1)

    # -- modes ---------------------------------------------------------------------------

    def set_mode(self, *modes: int, **kwargs) -> None:
        private = kwargs.get("private", False)
        for mode in modes:
            if private and mode in ALT_SCREEN_MODES:
                self._enter_alt_screen(mode)
            elif private and mode == _SAVE_CURSOR_MODE:
                self.save_cursor()
            else:
                self._change_mode(mode, private, on=True)

    def reset_mode(self, *modes: int, **kwargs) -> None:
        private = kwargs.get("private", False)
        for mode in modes:
            if private and mode in ALT_SCREEN_MODES:
                self._leave_alt_screen(mode)
            elif private and mode == _SAVE_CURSOR_MODE:
                self.restore_cursor()
            else:
                self._change_mode(mode, private, on=False)

    def _change_mode(self, mode: int, private: bool, *, on: bool) -> None:
        key = mode << 5 if private else mode
        if key == mo.DECSCNM:
            return  # reverse video of the whole screen: tmux ignores it too
        if on:
            self.mode.add(key)
        else:
            self.mode.discard(key)
        if key == mo.DECCOLM:
            # The 80/132-column switch is refused, as xterm does by default; the screen is
            # still cleared and the cursor homed, as tmux does.
            self.margins = None
            self._clear_rows(0, self.lines - 1)
            self.cursor.x = self.cursor.y = 0
        elif key == mo.DECOM:
            self.cursor_position()
        elif key == mo.DECTCEM:
            self.cursor.hidden = not on

    # -- the alternate screen ------------------------------------------------------------

    @property
    def in_alt_screen(self) -> bool:
        return self._main_buffer is not None

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
        self._main_savepoints, self.savepoints = self.savepoints, []
        self.buffer = self._new_buffer()

    def _leave_alt_screen(self, mode: int) -> None:
        if self._main_buffer is not None:
            self.buffer = self._main_buffer
            self._main_buffer = None
            self.savepoints, self._main_savepoints = self._main_savepoints, []
        # 1049 restores the cursor it saved even when 47 or 1047 already left (xterm, tmux).
        if mode == 1049 and self._alt_saved_cursor is not None:
            cursor, self.g0_charset, self.g1_charset, self.charset = self._alt_saved_cursor
            cursor.hidden = self.cursor.hidden
            self.cursor = cursor
            self.cursor.x = min(self.cursor.x, self.columns - 1)
            self.cursor.y = min(self.cursor.y, self.lines - 1)
            self._alt_saved_cursor = None

    # -- reset and resize ----------------------------------------------------------------

    def reset(self) -> None:
        self._main_buffer = None
        self._main_savepoints = []
        self._alt_saved_cursor = None
        self._last_char = ""
        self._joining = False
        super().reset()
        self.savepoints = []
        self.cursor.attrs = DEFAULT_CHAR
        self.g1_charset = charsets.LAT1_MAP  # G1 is ASCII until designated, as in tmux

    def resize(self, lines: int | None = None, columns: int | None = None) -> None:
        """Resize as tmux does: when rows shrink, rows below the cursor go first, then rows
        from the top; the main screen by its own cursor while a full-screen program runs."""
        lines = lines or self.lines
        columns = columns or self.columns
        if lines == self.lines and columns == self.columns:
            return
        cursors = [self.cursor]
        main_cursor = self.cursor
        if self._main_buffer is not None and self._alt_saved_cursor is not None:
            main_cursor = self._alt_saved_cursor[0]
            cursors.append(main_cursor)
        for buffer, cursor in ((self.buffer, self.cursor), (self._main_buffer, main_cursor)):
            if buffer is None:
                continue
            if lines < self.lines:
                below = max(0, self.lines - 1 - cursor.y)
                _shift_rows_up(buffer, max(0, self.lines - lines - below), self.lines)
            if columns < self.columns:
                for row in buffer.values():
                    for x in range(columns, self.columns):
                        row.pop(x, None)
            for y in [y for y in buffer if y >= lines]:
                del buffer[y]
        for cursor in cursors:
            if lines < self.lines:
                below = max(0, self.lines - 1 - cursor.y)
                cursor.y -= max(0, self.lines - lines - below)
            cursor.x = min(max(cursor.x, 0), columns - 1)
            cursor.y = min(max(cursor.y, 0), lines - 1)
        self.lines, self.columns = lines, columns
        self.tabstops = set(range(8, columns, 8))
        self.margins = None

    # -- answers -------------------------------------------------------------------------

    def report_device_status(self, mode: int | None = 0, *_: int | None) -> None:
        if mode == 5:
            self._respond("\x1b[0n")
        elif mode == 6:
            x = min(self.cursor.x, self.columns - 1) + 1
            y = self.cursor.y + 1
            if mo.DECOM in self.mode and self.margins is not None:
                y -= self.margins.top
            self._respond(f"\x1b[{y};{x}R")

    def report_device_attributes(self, mode: int | None = 0, *_: int | None) -> None:
        if not mode:
            self._respond(PRIMARY_DA_ANSWER)

    # -- colours and attributes ----------------------------------------------------------

    def soft_reset(self) -> None:
        """DECSTR: modes, margins, colours and the saved cursor back to their defaults; the
        screen and the cursor's place stay."""
        for key in (mo.IRM, mo.DECOM, DECCKM):
            self.mode.discard(key)
        self.mode.update({mo.DECAWM, mo.DECTCEM})
        self.cursor.hidden = False
        self.cursor.attrs = DEFAULT_CHAR
        self.margins = None
        self.g0_charset, self.g1_charset, self.charset = charsets.LAT1_MAP, charsets.LAT1_MAP, 0
        self.savepoints = []

    def _sgr(self, params: str) -> None:
        attrs = self.cursor.attrs
        key = (params, attrs)
        cached = self._sgr_cache.get(key)
        if cached is None:
            if len(self._sgr_cache) >= _SGR_CACHE_SIZE:
                self._sgr_cache.clear()
            cached = self._sgr_cache[key] = self._apply_sgr(params, attrs)
        self.cursor.attrs = cached

    def _apply_sgr(self, params: str, attrs: Cell) -> Cell:
        if not params or params == "0":
            return self.default_char
        change: dict[str, object] = {}
        fields = params.split(";")
        if len(fields) > MAX_PARAMS or max(map(len, params.replace(":", ";").split(";"))) > 10:
            return attrs  # dropped whole, as tmux does
        index = 0
        while index < len(fields):
            field = fields[index]
            index += 1
            if ":" in field:
                self._sgr_sub_parameters(field, change)
                continue
            code = int(field) if field else 0
            if code in (38, 48, 58):
                rest = [int(f) if f.isdigit() else None for f in fields[index : index + 4]]
                taken = _taken_by(rest[0] if rest else None)
                colour = _extended_colour(rest[:taken])
                index += taken
                if colour is not None and code != 58:
                    change["fg" if code == 38 else "bg"] = colour
            else:
                self._sgr_code(code, change)
        return attrs._replace(**change) if change else attrs

    def _sgr_code(self, code: int, change: dict[str, object]) -> None:
        if code == 0:
            change.update(self.default_char._asdict())
            del change["data"]
        elif code in _FLAGS:
            name, value = _FLAGS[code]
            change[name] = value
            if code == 22:
                change["dim"] = False
        elif code in _FG:
            change["fg"] = _FG[code]
        elif code in _BG:
            change["bg"] = _BG[code]
        elif code == 39:
            change["fg"] = "default"
        elif code == 49:
            change["bg"] = "default"

    def _sgr_sub_parameters(self, field: str, change: dict[str, object]) -> None:
        """``4:3`` (an underline style), ``38:2::r:g:b`` or ``38:5:n`` (ITU T.416 colours)."""
        parts = [int(p) if p.isdigit() else None for p in field.split(":")]
        code = parts[0]
        if code == 4:
            change["underscore"] = parts[1] != 0
        elif code in (38, 48):
            values = parts[1:]
            if values[:1] == [2] and len(values) >= 5:
                values = [2, *values[-3:]]  # drop the colour space id
            colour = _extended_colour(values)
            if colour is not None:
                change["fg" if code == 38 else "bg"] = colour
        elif code != 58:
            self._sgr_code(code, change)


def _shift_rows_up(buffer: defaultdict, count: int, lines: int) -> None:
    if count <= 0:
        return
    for y in range(lines):
        source = y + count
        if source < lines and source in buffer:
            buffer[y] = buffer[source]
        else:
            buffer.pop(y, None)


_ESCAPES: dict[str, Callable[[Screen], None]] = {
    "D": Screen.index,
    "E": Screen.next_line,
    "M": Screen.reverse_index,
    "H": pyte.Screen.set_tab_stop,
    "7": Screen.save_cursor,
    "8": Screen.restore_cursor,
    "c": Screen.reset,
}

_CSI: dict[str, Callable[..., None]] = {
    "@": Screen.insert_characters,
    "A": Screen.cursor_up,
    "B": Screen.cursor_down,
    "C": Screen.cursor_forward,
    "D": Screen.cursor_back,
    "E": Screen.cursor_down1,
    "F": Screen.cursor_up1,
    "G": Screen.cursor_to_column,
    "H": Screen.cursor_position,
    "I": Screen.tab,
    "J": Screen.erase_in_display,
    "K": Screen.erase_in_line,
    "L": Screen.insert_lines,
    "M": Screen.delete_lines,
    "P": Screen.delete_characters,
    "S": Screen.scroll_up,
    "T": Screen.scroll_down,
    "X": Screen.erase_characters,
    "Z": Screen.back_tab,
    "`": Screen.cursor_to_column,
    "a": Screen.cursor_forward,
    "c": Screen.report_device_attributes,
    "d": Screen.cursor_to_line,
    "e": Screen.cursor_down,
    "f": Screen.cursor_position,
    "g": Screen.clear_tab_stop,
    "n": Screen.report_device_status,
    "r": Screen.set_margins,
    "s": Screen.save_cursor,
    "u": Screen.restore_cursor,
}
