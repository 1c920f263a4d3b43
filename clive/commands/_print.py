"""What ``--headless`` prints: one readable line for each thing the presenter says."""

from __future__ import annotations

from dataclasses import replace

from clive.session.events import Event
from clive.session.present import EXACT, Presented, Presenter, Turn, format_duration

_WIDTH = 160  # characters after the time
_CALLS_WIDTH = 80  # at least this much of a turn's tool calls, whatever the width left
_SAID_WIDTH = 40  # and this much of its text, when there is room for both


class EventLines:
    """Events as lines, in order: what the user typed during a take-over comes as the lines it
    submitted (see ``Presenter``), the model's streamed text not at all (its turn says it)."""

    def __init__(self) -> None:
        self._presenter = Presenter(EXACT)

    def add(self, event: Event) -> list[str]:
        """The lines ``event`` adds (none for terminal output)."""
        return [_line(item) for item in self._presenter.add(event) if not item.streamed]


def _line(item: Presented) -> str:
    """``item`` in one line of at most ``_WIDTH`` characters after the time. A model turn's tool
    calls, marks and tokens are always there: its text gives way to them."""
    if item.turn is not None:
        text = _turn(item.step, item.turn)
    else:
        text = _clip(_one_line(_clauses(item)), _WIDTH)
    return f"[{format_duration(item.t):>8}] {text}"


def _clauses(item: Presented) -> str:
    if item.kind == "end":  # the outcome, and what the session spent
        outcome, spent = item.said
        ended = replace(outcome, label=f"session ended: {outcome.name} after {spent.text}")
        return ended.line(marked=False)
    clauses = [said.line(marked=False) for said in item.said]
    if item.dropped:
        clauses.append(f"left out of the notes request: {item.dropped}")
    step = "" if item.step is None else f"step {item.step} "
    return step + "; ".join(clauses)


def _turn(step: int | None, turn: Turn) -> str:
    """A model turn in at most ``_WIDTH`` characters (more only for tool calls that do not
    fit in ``_CALLS_WIDTH``): the text shortened first, then the calls."""
    tail = f"; CUT OFF by {turn.cut_off_by}" if turn.cut_off_by else ""
    tail += f" [{', '.join(turn.spent)}]" if turn.spent else ""
    if turn.compact:
        return f"step {step} model wrote its notes for compaction{tail}"
    head = f"step {step} model: "
    calls = "; ".join(f"{call.name} {call.arguments}" for call in turn.calls)
    said = _one_line(turn.said.text)
    room = _WIDTH - len(head) - len("-> ") - len(tail)
    # Long calls leave the text its first words, or "..." at least: the model said something.
    calls_room = max(room - min(len(said), _SAID_WIDTH) - 1, _CALLS_WIDTH)
    calls = _clip(_one_line(calls or turn.missing_call or ""), calls_room)
    if said:
        said = _clip(said, max(room - len(calls) - 1, len("..."))) + " "
    return f"{head}{said}-> {calls}{tail}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 3, 0)] + "..."
