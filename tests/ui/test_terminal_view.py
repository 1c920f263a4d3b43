"""The terminal view draws exactly the emulator's cells: text, colours, attributes, the cursor."""

from __future__ import annotations

import pytest
from rich.cells import cell_len
from rich.color import Color
from textual.app import App, ComposeResult

from clive.terminal.emulator import Cursor, Emulator
from clive.ui.terminal_view import TerminalView, rich_color

pytestmark = pytest.mark.anyio


class _ViewApp(App[None]):
    def __init__(self, cols: int = 20, rows: int = 4) -> None:
        super().__init__()
        self._size = (cols, rows)

    def compose(self) -> ComposeResult:
        yield TerminalView(*self._size)


def _columns(strip) -> list:
    """(text, style) of every cell of a strip, a wide character on its first cell only."""
    cells = []
    for segment in strip:
        for char in segment.text:
            cells.append((char, segment.style))
            if cell_len(char) == 2:
                cells.append(("", segment.style))
    return cells


def _row_text(cells) -> str:
    return "".join(cell.data for cell in cells)


async def test_strips_match_the_emulator_cells():
    emulator = Emulator(20, 4)
    emulator.feed(
        "\x1b[31mred\x1b[0m \x1b[1;44mbold\x1b[0m \x1b[7mrev\x1b[0m 数x\r\n"
        "\x1b[38;5;208mo\x1b[48;2;10;20;30mt\x1b[0m \x1b[3;4;9mius\x1b[0m "
        "\x1b[95mb\x1b[0m \x1b[5mk\x1b[0m\r\n"
        "cursor here"
    )
    app = _ViewApp()
    async with app.run_test() as pilot:
        view = app.query_one(TerminalView)
        view.show(emulator.cells(), emulator.cursor)
        await pilot.pause()
        base = view.rich_style
        strips = [view.render_line(y) for y in range(4)]

        # Every row is as wide as the terminal, and reads as the emulator's row.
        for y, strip in enumerate(strips):
            assert strip.cell_length == 20
            assert strip.text == _row_text(c for c in emulator.cells()[y] if c.data)
        row = _columns(strips[0])
        assert [text for text, _ in row[:3]] == list("red")
        assert row[0][1].color == Color.from_ansi(1) and row[0][1].bgcolor == base.bgcolor
        bold = row[4][1]
        assert bold.bold and bold.bgcolor == Color.from_ansi(4) and bold.color == base.color
        # Reverse video swaps the colours.
        reverse = row[9][1]
        assert reverse.color == base.bgcolor and reverse.bgcolor == base.color
        # The wide character takes two cells; the next character stays in its column.
        assert row[13] == ("数", row[13][1]) and row[14][0] == "" and row[15][0] == "x"

        second = _columns(strips[1])
        assert second[0][1].color == rich_color("ff8700")
        assert second[1][1].bgcolor == Color.from_rgb(10, 20, 30)
        italic = second[3][1]
        assert italic.italic and italic.underline and italic.strike
        assert second[7][1].color == Color.from_ansi(13)
        assert second[9][1].blink and not second[8][1].blink

        # The cursor is reverse video where it is.
        x, y = emulator.cursor.x, emulator.cursor.y
        assert (x, y) == (11, 2)
        cursor = _columns(strips[2])[x][1]
        assert cursor.color == base.bgcolor and cursor.bgcolor == base.color
        assert _columns(strips[2])[x - 1][1].bgcolor == base.bgcolor


async def test_a_hidden_cursor_is_not_drawn_and_one_on_reverse_text_shows_normal():
    emulator = Emulator(10, 2)
    emulator.feed("\x1b[7mab\x1b[0m")
    app = _ViewApp(10, 2)
    async with app.run_test() as pilot:
        view = app.query_one(TerminalView)
        base = view.rich_style
        view.show(emulator.cells(), Cursor(1, 0))
        await pilot.pause()
        on_reverse = _columns(view.render_line(0))[1][1]
        assert on_reverse.color == base.color and on_reverse.bgcolor == base.bgcolor
        view.show(emulator.cells(), Cursor(3, 0, hidden=True))
        await pilot.pause()
        assert all(style.bgcolor == base.bgcolor for _, style in _columns(view.render_line(0))[2:])


async def test_only_rows_that_changed_are_drawn_again(monkeypatch):
    emulator = Emulator(20, 4)
    emulator.feed("one\r\ntwo\r\nthree")
    app = _ViewApp()
    async with app.run_test() as pilot:
        view = app.query_one(TerminalView)
        view.show(emulator.cells(), emulator.cursor)
        await pilot.pause()
        for y in range(4):
            view.render_line(y)
        drawn: list[int] = []
        render_row = view._render_row
        monkeypatch.setattr(view, "_render_row", lambda y: drawn.append(y) or render_row(y))

        view.show(emulator.cells(), emulator.cursor)  # nothing changed
        for y in range(4):
            view.render_line(y)
        assert drawn == []

        emulator.feed("\x1b[1;1HONE")  # row 0 changes, and the cursor leaves row 2 for row 0
        view.show(emulator.cells(), emulator.cursor)
        for y in range(4):
            view.render_line(y)
        assert sorted(drawn) == [0, 2]
        assert view.render_line(0).text.startswith("ONE")


async def test_the_view_takes_the_terminals_size_and_follows_a_resize():
    app = _ViewApp(20, 4)
    async with app.run_test(size=(100, 40)) as pilot:
        view = app.query_one(TerminalView)
        assert view.size == (20, 4)
        emulator = Emulator(30, 6)
        emulator.feed("wider")
        view.show(emulator.cells(), emulator.cursor)
        await pilot.pause()
        assert view.screen_size == (30, 6)
        assert view.size == (30, 6)
        assert view.render_line(0).text.startswith("wider")


def test_pyte_colour_names_map_to_ansi_and_rgb_colours():
    assert rich_color("default") is None
    assert rich_color("brown") == Color.from_ansi(3)  # pyte's name for yellow
    assert rich_color("brightblack") == Color.from_ansi(8)
    assert rich_color("brightwhite") == Color.from_ansi(15)
    assert rich_color("ff0080") == Color.from_rgb(255, 0, 128)
    assert rich_color("nonsense") is None
