"""An emulator's whole state as JSON, and an emulator rebuilt from it: replay's keyframes.

Everything that decides what later output does is kept, not only what is visible: both
buffers while a full-screen program runs, the cursor and its colours, modes, margins, tab
stops, character sets, saved cursors, the title, and the parser's state inside a sequence
still arriving. So
an emulator restored from a keyframe and fed the rest of a recording ends exactly where one
fed the whole recording does.
"""

from __future__ import annotations

import json
from typing import Any

from pyte import charsets
from pyte.screens import Cursor, Margins, Savepoint, StaticDefaultDict

from clive.terminal._screen import Cell
from clive.terminal.emulator import Emulator

_VERSION = 2
_CHARSET_CODES = {id(table): code for code, table in charsets.MAPS.items()}


class _Styles:
    """Cell attributes (everything but the character) numbered as they are first seen."""

    def __init__(self) -> None:
        self.table: list[list[Any]] = []
        self._index: dict[tuple, int] = {}

    def number(self, char: Cell) -> int:
        style = tuple(char[1:])
        if style not in self._index:
            self._index[style] = len(self.table)
            self.table.append(list(style))
        return self._index[style]


def save_state(emulator: Emulator) -> str:
    """The state of ``emulator`` as a JSON string, inside a sequence or not."""
    screen = emulator._screen
    styles = _Styles()
    state = {
        "version": _VERSION,
        "cols": screen.columns,
        "rows": screen.lines,
        "buffer": _dump_buffer(screen.buffer, styles),
        "main_buffer": (
            None if screen._main_buffer is None else _dump_buffer(screen._main_buffer, styles)
        ),
        "cursor": _dump_cursor(screen.cursor, styles),
        "alt_saved_cursor": (
            None
            if screen._alt_saved_cursor is None
            else _dump_saved(screen._alt_saved_cursor, styles)
        ),
        "savepoints": _dump_savepoints(screen.savepoints, styles),
        "main_savepoints": _dump_savepoints(screen._main_savepoints, styles),
        "mode": sorted(screen.mode),
        "margins": None if screen.margins is None else list(screen.margins),
        "tabstops": sorted(screen.tabstops),
        "charset": screen.charset,
        "g0": _CHARSET_CODES[id(screen.g0_charset)],
        "g1": _CHARSET_CODES[id(screen.g1_charset)],
        "saved_columns": screen.saved_columns,
        "title": emulator.title,
        "parser": emulator._parser.saved(),
        "last_char": screen._last_char,
        "joining": screen._joining,
        "styles": styles.table,
    }
    return json.dumps(state, separators=(",", ":"))


def restore_state(text: str) -> Emulator:
    """A fresh emulator in the state ``save_state`` recorded (ValueError when it is not one)."""
    try:
        state = json.loads(text)
        version = state.get("version") if isinstance(state, dict) else None
        if version != _VERSION:
            raise ValueError(f"screen state version {version!r}, not {_VERSION}")
        return _restore(state)
    except (KeyError, TypeError, IndexError) as error:
        raise ValueError(f"not a screen state: {error!r}") from error


def _restore(state: dict[str, Any]) -> Emulator:
    emulator = Emulator(state["cols"], state["rows"])
    screen = emulator._screen
    styles = [tuple(style) for style in state["styles"]]
    screen.buffer = _load_buffer(screen, state["buffer"], styles)
    if state["main_buffer"] is not None:
        screen._main_buffer = _load_buffer(screen, state["main_buffer"], styles)
    screen.cursor = _load_cursor(state["cursor"], styles)
    if state["alt_saved_cursor"] is not None:
        screen._alt_saved_cursor = _load_saved(state["alt_saved_cursor"], styles)
    screen.savepoints = _load_savepoints(state["savepoints"], styles)
    screen._main_savepoints = _load_savepoints(state["main_savepoints"], styles)
    screen.mode = set(state["mode"])
    screen.margins = None if state["margins"] is None else Margins(*state["margins"])
    screen.tabstops = set(state["tabstops"])
    screen.charset = state["charset"]
    screen.g0_charset = charsets.MAPS[state["g0"]]
    screen.g1_charset = charsets.MAPS[state["g1"]]
    screen.saved_columns = state["saved_columns"]
    emulator.title = state["title"]
    emulator._parser.restore(state["parser"])
    screen._last_char = state["last_char"]
    screen._joining = state["joining"]
    return emulator


def _dump_savepoints(points: list[Savepoint], styles: _Styles) -> list:
    return [[*_dump_saved(point[:4], styles), point.origin, point.wrap] for point in points]


def _load_savepoints(points: list, styles: list[tuple]) -> list[Savepoint]:
    return [Savepoint(*_load_saved(point[:4], styles), point[4], point[5]) for point in points]


def _dump_buffer(buffer: dict, styles: _Styles) -> list:
    """Rows as ``[y, runs, blank]``; a run is ``[x, style, cells]`` over neighbouring cells of
    one style, ``cells`` a string when each cell holds one character, else a list of cells;
    ``blank`` is the row's cell where it holds none (``[data, style]``: erased in a colour).

    Cells are kept as held, blank ones too: that is what makes a restored screen the same
    screen for every later operation."""
    rows = []
    for y in sorted(buffer):
        runs: list[list[Any]] = []
        for x in sorted(buffer[y]):
            char = buffer[y][x]
            style = styles.number(char)
            run = runs[-1] if runs else None
            if run is not None and run[1] == style and run[0] + len(run[2]) == x:
                run[2].append(char.data)
            else:
                runs.append([x, style, [char.data]])
        for run in runs:
            if all(len(data) == 1 for data in run[2]):
                run[2] = "".join(run[2])
        default = buffer[y].default
        rows.append([y, runs, [default.data, styles.number(default)]])
    return rows


def _load_buffer(screen, rows: list, styles: list[tuple]) -> dict:
    buffer = screen._new_buffer()
    for y, runs, (data, style) in rows:
        row = buffer[y] = StaticDefaultDict(Cell(data, *styles[style]))
        for x, style, cells in runs:
            for offset, data in enumerate(cells):
                row[x + offset] = Cell(data, *styles[style])
    return buffer


def _dump_cursor(cursor: Cursor, styles: _Styles) -> list:
    return [cursor.x, cursor.y, bool(cursor.hidden), cursor.attrs.data, styles.number(cursor.attrs)]


def _load_cursor(fields: list, styles: list[tuple]) -> Cursor:
    x, y, hidden, data, style = fields
    cursor = Cursor(x, y, Cell(data, *styles[style]))
    cursor.hidden = hidden
    return cursor


def _dump_saved(saved: tuple, styles: _Styles) -> list:
    """A saved cursor with its character sets: ``(cursor, g0, g1, charset)``."""
    cursor, g0, g1, charset = saved
    return [_dump_cursor(cursor, styles), _CHARSET_CODES[id(g0)], _CHARSET_CODES[id(g1)], charset]


def _load_saved(fields: list, styles: list[tuple]) -> tuple:
    cursor, g0, g1, charset = fields
    return _load_cursor(cursor, styles), charsets.MAPS[g0], charsets.MAPS[g1], charset
