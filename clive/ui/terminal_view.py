"""``TerminalView``: a terminal screen drawn cell for cell, as the emulator holds it."""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len, set_cell_size
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from clive.terminal.emulator import Cell, Cursor

# pyte names the eight ANSI colours after the VT100's ("brown" is yellow); "bright" + a name
# is the aixterm colour 90-97 (and 100-107 for backgrounds).
_ANSI_NUMBERS = {
    "black": 0,
    "red": 1,
    "green": 2,
    "brown": 3,
    "yellow": 3,
    "blue": 4,
    "magenta": 5,
    "cyan": 6,
    "white": 7,
}


def rich_color(name: str) -> Color | None:
    """A pyte colour as a Rich colour: None for ``default`` (and anything unknown)."""
    number = _ANSI_NUMBERS.get(name)
    if number is not None:
        return Color.from_ansi(number)
    if name.startswith("bright") and (number := _ANSI_NUMBERS.get(name[6:])) is not None:
        return Color.from_ansi(number + 8)
    if len(name) == 6:  # 256-colour and true colour cells hold "rrggbb"
        try:
            return Color.from_rgb(int(name[0:2], 16), int(name[2:4], 16), int(name[4:6], 16))
        except ValueError:
            return None
    return None


class TerminalView(ScrollView, can_focus=False):
    """A terminal screen: every cell's character, colours and attributes, and the cursor.

    ``show(cells, cursor)`` gives it the screen (``Emulator.cells()`` and ``Emulator.cursor``).
    Only rows whose cells changed since the last call are drawn again, so calling it for every
    frame costs a comparison per row when nothing moved. The widget is as large as the
    terminal (columns by rows) and scrolls when the space given to it is smaller, keeping the
    cursor in sight. With ``fit`` it takes all the space it is given instead, and says how
    much that is (``Room``): the app then gives the shell that size.
    """

    class Room(Message):
        """The space the view has, in cells, changed (a fitted view only)."""

        def __init__(self, cols: int, rows: int) -> None:
            super().__init__()
            self.cols, self.rows = cols, rows

    DEFAULT_CSS = """
    TerminalView {
        width: auto;
        height: auto;
        max-width: 100%;
        max-height: 100%;
        background: $background;
        color: $foreground;
        scrollbar-size: 1 1;
    }
    """

    def __init__(
        self,
        cols: int = 80,
        rows: int = 24,
        *,
        fit: bool = False,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.fit = fit
        if fit:
            self.styles.width = self.styles.height = "1fr"
        blank = Cell()
        self._cells: list[list[Cell]] = [[blank] * cols for _ in range(rows)]
        self._cursor = Cursor(0, 0, hidden=True)
        self._strips: list[Strip | None] = [None] * rows
        self._styles: dict[tuple, Style] = {}
        self.virtual_size = Size(cols, rows)

    # -- what it shows --------------------------------------------------------------------

    @property
    def cells(self) -> list[list[Cell]]:
        """The screen shown, row by row (do not modify)."""
        return self._cells

    @property
    def cursor(self) -> Cursor:
        return self._cursor

    @property
    def screen_size(self) -> tuple[int, int]:
        """The terminal's size shown: (columns, rows)."""
        return self.virtual_size.width, self.virtual_size.height

    def show(self, cells: Sequence[Sequence[Cell]], cursor: Cursor) -> None:
        """Show this screen; rows equal to the ones shown are not drawn again."""
        rows = len(cells)
        cols = len(cells[0]) if rows else 0
        if (cols, rows) != self.screen_size:
            self._cells = [list(row) for row in cells]
            self._cursor = cursor
            self._strips = [None] * rows
            self.virtual_size = Size(cols, rows)
            self.refresh(layout=True)
            self.call_after_refresh(self._keep_cursor_in_sight)
            return
        changed = set()
        if cursor != self._cursor:
            changed.update((self._cursor.y, cursor.y))
            self._cursor = cursor
        shown = self._cells
        for y, cells_of_row in enumerate(cells):
            row = list(cells_of_row)  # a copy: the caller may reuse its lists
            if row != shown[y]:
                shown[y] = row
                changed.add(y)
        for y in changed:
            if 0 <= y < rows:
                self._strips[y] = None
                self.refresh_line(y)
        if changed:
            self._keep_cursor_in_sight()

    def _keep_cursor_in_sight(self) -> None:
        """Scroll, when the screen is larger than the view, so that the cursor shows (the
        prompt, at the bottom of a tall shell in a short view)."""
        if self._cursor.hidden:
            return
        region = self.scrollable_content_region
        x, y = self.scroll_offset
        cursor_x, cursor_y = self._cursor.x, self._cursor.y
        if x <= cursor_x < x + region.width and y <= cursor_y < y + region.height:
            return
        self.scroll_to_region(Region(cursor_x, cursor_y, 1, 1), animate=False, immediate=True)

    def on_resize(self, event: events.Resize) -> None:
        if self.fit:
            self.post_message(self.Room(event.size.width, event.size.height))

    # -- drawing --------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        # Default colours come from the widget's style: a new theme redraws every row.
        self._styles.clear()
        self._strips = [None] * len(self._strips)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.size.width
        base = self.rich_style
        if row >= len(self._cells):
            return Strip.blank(width, base)
        strip = self._strips[row]
        if strip is None:
            strip = self._strips[row] = self._render_row(row)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _render_row(self, y: int) -> Strip:
        row = self._cells[y]
        cols = len(row)
        cursor_x = -1
        if not self._cursor.hidden and self._cursor.y == y:
            cursor_x = min(self._cursor.x, cols - 1)
            if cursor_x > 0 and row[cursor_x].data == "":
                cursor_x -= 1  # on the right half of a wide character: show it on the whole
        segments: list[Segment] = []
        run: list[str] = []
        run_key: tuple | None = None
        for x, cell in enumerate(row):
            text = cell.data
            if not text:
                continue  # the right half of a wide character: drawn with its left half
            width = 2 if x + 1 < cols and row[x + 1].data == "" else 1
            if cell_len(text) != width:
                text = set_cell_size(text, width)  # keep every later cell in its column
            key = (*cell[1:], x == cursor_x)
            if key != run_key:
                if run:
                    segments.append(Segment("".join(run), self._style(run_key)))
                run = []
                run_key = key
            run.append(text)
        if run:
            segments.append(Segment("".join(run), self._style(run_key)))
        return Strip(segments, cols)

    def _style(self, key: tuple) -> Style:
        style = self._styles.get(key)
        if style is None:
            style = self._styles[key] = self._make_style(*key)
        return style

    def _make_style(
        self,
        fg: str,
        bg: str,
        bold: bool,
        italics: bool,
        underscore: bool,
        strikethrough: bool,
        reverse: bool,
        blink: bool,
        dim: bool,
        hidden: bool,
        cursor: bool,
    ) -> Style:
        base = self.rich_style
        color = rich_color(fg) or base.color
        bgcolor = rich_color(bg) or base.bgcolor
        swap = reverse != cursor  # the cursor is reverse video, on reversed text too
        if swap and color is not None and bgcolor is not None:
            color, bgcolor, swap = bgcolor, color, False
        if hidden:
            color = bgcolor  # concealed text: drawn in the background's colour
        return Style(
            color=color,
            bgcolor=bgcolor,
            bold=bold or None,
            dim=dim or None,
            italic=italics or None,
            underline=underscore or None,
            strike=strikethrough or None,
            blink=blink or None,
            reverse=swap or None,
        )
