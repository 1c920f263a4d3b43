"""Lines made to fit a width: text cut with an ellipsis, and one-line summaries that shorten
their least important parts first (the status bar, the experiments panel's counts)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.console import Console, ConsoleOptions
from rich.text import Text


def fold(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells, an ellipsis saying it was cut (0: not cut)."""
    if width and cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…"
    return text


@dataclass(frozen=True)
class Part:
    """A piece of a summary line: its ``forms``, from the fullest to the shortest (an empty
    one drops it)."""

    forms: tuple[str, ...]
    style: str = ""


def fit(parts: Mapping[str, Part], shorten: Sequence[str], width: int, separator: str) -> Text:
    """``parts`` (in the order shown) joined by ``separator`` within ``width`` cells. While the
    line is too long, the next part named in ``shorten`` takes its next form (names of parts
    absent, or already at their shortest, are passed over); if that is not enough, the line
    is cut with an ellipsis."""
    chosen = dict.fromkeys(parts, 0)

    def line() -> Text:
        shown = [(part.forms[chosen[name]], part.style) for name, part in parts.items()]
        return Text(separator).join(Text(form, style=style) for form, style in shown if form)

    text = line()
    steps = iter(shorten)
    while text.cell_len > width:
        name = next(steps, None)
        if name is None:
            text.truncate(width, overflow="ellipsis")
            break
        if name in parts and chosen[name] + 1 < len(parts[name].forms):
            chosen[name] += 1
            text = line()
    return text


@dataclass
class FittedLine:
    """A Rich renderable: ``fit`` at the width it is drawn in (for a ``Static``)."""

    parts: Mapping[str, Part]
    shorten: Sequence[str]
    separator: str

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Text]:
        yield fit(self.parts, self.shorten, options.max_width, self.separator)
