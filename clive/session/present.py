"""What each event says, in words: the one presenter behind the timeline, headless mode and the
Markdown report.

``Presenter`` reads a session's events in order and hands back ``Presented`` items: the facts
of an event as pieces that each output lays out its own way. A ``Said`` is one thing said (a
kind for styling, a mark, a name, the text, short facts, details); a model turn is a ``Turn``
(what the model said, its tool calls, whether it was cut off, what it spent). ``Numbers`` is how
an output writes numbers: the timeline rounds them (``1.5k``), headless mode and the report
write them whole (``EXACT``).

What a person types while they have the terminal is recorded key by key; the presenter gathers
it into the lines it submitted (see ``Presenter``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Literal

from clive.agent.input_line import InputLine
from clive.session.events import (
    Approval,
    ApprovalAsked,
    BudgetWarning,
    ContextCompacted,
    Control,
    Error,
    Event,
    ExperimentResult,
    InputSent,
    MeasurementStarted,
    ModelRetry,
    ModelText,
    ModelTurn,
    Note,
    Observation,
    SessionEnded,
    SessionStarted,
    TerminalResized,
    ToolCall,
    ToolResult,
    Usage,
)
from clive.session.writer import SECRET_INPUT
from clive.terminal.keys import key_names

Kind = Literal[
    "start",
    "observation",
    "text",
    "thinking",
    "usage",
    "call",
    "result",
    "failed",
    "note",
    "warning",
    "error",
    "control",
    "dim",
    "end",
]
"""What a thing said is, for styling (the timeline's ``timeline--<kind>``)."""


def format_duration(seconds: float) -> str:
    """``75.3`` as ``1m15s``; under a minute with a tenth of a second."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


@dataclass(frozen=True)
class Numbers:
    """How an output writes the numbers it says."""

    tokens: Callable[[int], str]  # a count of tokens
    money: Callable[[float], str]  # dollars
    elapsed: Callable[[float], str]  # how long a session took
    estimated: str  # written before a count that is an estimate ("~")
    arrow: str  # from one number to the next


EXACT = Numbers(
    tokens=str,
    money=lambda dollars: f"${dollars:.4f}",
    elapsed=format_duration,
    estimated="~",
    arrow="->",
)
"""Numbers written whole, in ASCII: headless mode and the report."""


@dataclass(frozen=True)
class Said:
    """One thing said: a row of the timeline, a clause of a headless line, a paragraph of the
    report. It reads ``mark name (facts): text``; an output without marks says ``title``
    where the timeline says the mark and the name."""

    kind: Kind
    text: str = ""  # what it says
    name: str = ""  # what happened, after the mark ("context compacted", "error")
    mark: str = ""  # the symbol an output with room for one puts first
    label: str = ""  # what happened, where no mark stands before it, when the name does not say
    facts: tuple[str, ...] = ()  # short facts about it, in brackets after the name
    wrap: bool = False  # long words (the model's, a note): wrapped, never cut
    verbatim: bool = False  # typed or run as it is (a command): kept literal

    @property
    def title(self) -> str:
        """What happened, for an output without marks."""
        return self.label or self.name

    def line(self, *, marked: bool) -> str:
        """All of it on one line: after its mark (``marked``), or under its title."""
        lead = self.name if marked else self.title
        if self.facts:
            lead = f"{lead} ({', '.join(self.facts)})".lstrip()
        said = f"{lead}: {self.text}" if lead and self.text else lead or self.text
        return f"{self.mark} {said}" if marked and self.mark else said


@dataclass(frozen=True)
class Call:
    """A tool call the model made."""

    name: str
    arguments: str  # its input, as JSON
    words: str  # as a reader is told it: "type 'ls' ⏎", "wait until done, up to 600s"


@dataclass(frozen=True)
class Turn:
    """What a model turn says."""

    said: Said  # the model's text; for a compaction, its notes
    compact: bool  # the turn wrote notes for a compaction (it calls no tool)
    thinking: Said | None
    calls: tuple[Call, ...]
    missing_call: str | None  # what stands for the tool call an acting turn did not make
    cut_off_by: str | None  # what cut the reply off, when something did
    stop_reason: str | None
    spent: tuple[str, ...]  # tokens, the context, money and seconds, as far as they are known


@dataclass(frozen=True)
class Presented:
    """What one event says, or what a person typed, gathered."""

    t: float
    step: int | None  # the step it belongs to, when it says
    said: tuple[Said, ...] = ()  # the headline first, then what goes with it
    turn: Turn | None = None  # a model turn's pieces (``said`` is empty)
    block: str = ""  # text shown whole where there is room: a traceback, what the model observed
    dropped: str = ""  # what a compaction's notes request left out to fit the window
    streamed: bool = False  # a piece of the model's text as it streams, before its turn

    @property
    def kind(self) -> Kind:
        """The headline's kind."""
        return self.turn.said.kind if self.turn is not None else self.said[0].kind


class Presenter:
    """Presents a session's events in order: ``add`` each one, ``finish`` at the end.

    What a person types while they have the terminal (``input_sent`` from the user) is gathered
    into what they did: each line they submitted, as it stood when Enter came (its edits
    followed by ``InputLine``, fed every key whoever typed it, so a line the agent began and
    the person finished is whole); keys that are not text by their names (``Up``, ``Tab``,
    ``C-c``); input typed without echo as ``[secret input]``, never the keys. A line is
    presented when it ends: Enter submits it, C-c abandons it. What is typed and not ended is
    presented when the typing stops: the terminal is given back, the session is quit or ends,
    someone else types, or ``finish`` is called. Other events pass through meanwhile, so a live
    view shows each line when it is entered, not key by key. A take-over in which nothing was
    typed says so when the terminal is given back. The harness's keys are presented as they
    come; the agent's say nothing (its tool call says it).
    """

    def __init__(self, numbers: Numbers = EXACT) -> None:
        self._numbers = numbers
        self._line = InputLine()
        self._typing: _Typing | None = None  # what the person typed since their last line
        self._typed = True  # something was typed since the terminal was taken over

    def add(self, event: Event) -> list[Presented]:
        """What ``event`` says, after the typing it ends."""
        watched = False
        match event:
            case InputSent():
                return self._input(event)
            case Control(action="take_over"):
                ended, self._typed = self.finish(), False
            case Control(action="give_back"):
                ended, watched = self.finish(), not self._typed
            case Control(action="quit") | SessionEnded():
                ended = self.finish()
            case _:
                ended = []
        presented = _present(event, self._numbers)
        if presented is None:
            return ended
        if watched:
            gave_back = presented.said[0]
            said = replace(gave_back, name=f"{gave_back.name}, having only watched")
            presented = replace(presented, said=(said,))
        return [*ended, presented]

    def finish(self) -> list[Presented]:
        """What was typed and not yet ended (once the events end, or the typing stops)."""
        typing, self._typing = self._typing, None
        if typing is None or not (typing.strokes or typing.secret):
            return []
        return [typing.presented()]

    def _input(self, event: InputSent) -> list[Presented]:
        if event.source != "user":
            ended = self.finish()
            typing = _Typing(event.t, event.source, event.secret)
            if not event.secret:
                for key, name in _keys(event.data):
                    self._line.feed(key)
                    typing.press(key, name)
            return [*ended, typing.presented()] if event.source == "harness" else ended
        self._typed = True
        ended = []
        if self._typing is not None and self._typing.secret != event.secret:
            ended = self.finish()  # secret input is never one line with what was echoed
        if self._typing is None:
            self._typing = _Typing(event.t, event.source, event.secret)
        self._typing.t = event.t
        if event.secret:
            return ended
        for key, name in _keys(event.data):
            line = self._line.current()
            submitted = self._line.feed(key)
            self._typing.press(key, name)
            if submitted or key == "\x03":  # Enter submitted the line, or C-c abandoned it
                # Readline's line when it could follow every key, else the keys themselves.
                whole = line.known and line.text.strip() != ""
                entered = whole and line.text in {submission.text for submission in submitted}
                ended.append(self._typing.presented(line.text if entered else None))
                self._typing = _Typing(event.t, event.source)
        return ended


@dataclass
class _Typing:
    """What one source typed since its last line ended: runs of text and named keys."""

    t: float
    source: str
    secret: bool = False
    strokes: list[tuple[bool, str]] = field(default_factory=list)  # (is text, text or name)

    def press(self, key: str, name: str | None) -> None:
        if name is None:  # a bracketed paste: its text
            self._text(_PASTE_MARKERS.sub("", key))
        elif len(name) == 1:
            self._text(name)
        else:
            self.strokes.append((False, name))

    def _text(self, text: str) -> None:
        if self.strokes and self.strokes[-1][0]:
            text = self.strokes.pop()[1] + text
        self.strokes.append((True, text))

    def presented(self, entered: str | None = None) -> Presented:
        if self.secret:
            verb, text = "typed", SECRET_INPUT
        elif entered is not None:
            verb, text = "entered", entered
        else:
            verb = "typed" if any(is_text for is_text, _ in self.strokes) else "pressed"
            text = " ".join(repr(words) if is_text else words for is_text, words in self.strokes)
        kind: Kind = "control" if self.source == "user" else "dim"
        said = Said(kind, text, name=f"the {self.source} {verb}", mark="»", verbatim=True)
        return Presented(self.t, None, (said,))


_PASTE = re.compile(r"(\x1b\[200~.*?(?:\x1b\[201~|$))", re.DOTALL)
_PASTE_MARKERS = re.compile(r"\x1b\[20[01]~")


def _keys(data: str) -> Iterator[tuple[str, str | None]]:
    """Each key in ``data`` with its name; a bracketed paste is one piece, named None."""
    for piece in _PASTE.split(data):
        if piece.startswith("\x1b[200~"):
            yield piece, None
        else:
            yield from key_names(piece)


# -- one event --------------------------------------------------------------------------------

_CONTROLS = {
    "pause": ("‖", "paused by the {source}"),
    "resume": ("▶", "resumed by the {source}"),
    "steer": ("»", "the {source} says"),
    "take_over": ("»", "the {source} took over the terminal"),
    "give_back": ("»", "the {source} gave the terminal back"),
    "quit": ("■", "quit by the {source}"),
}
_EXPERIMENT_KINDS: dict[str, Kind] = {"keep": "result", "baseline": "result", "discard": "dim"}


def _present(event: Event, numbers: Numbers) -> Presented | None:
    """What ``event`` says on its own; None when it says nothing (terminal output)."""
    step = getattr(event, "step", None)

    def presented(*pieces: Said, block: str = "", dropped: str = "") -> Presented:
        return Presented(event.t, step, pieces, block=block, dropped=dropped)

    match event:
        case SessionStarted():
            started, model = "session started", event.model
            if event.scripted:
                started, model = f"{started} (scripted: no language model)", f"{model} (scripted)"
            return presented(
                Said("start", event.task, mark="●", label=started, wrap=True),
                Said("dim", f"{model} · {event.cols}×{event.rows} · {event.cwd}"),
            )
        case Observation():
            facts = [event.state]
            if event.exit_code is not None:
                facts.append(f"exit {event.exit_code}")
            facts.append(f"{event.new_output_lines} new lines")
            facts.append(f"{numbers.estimated}{numbers.tokens(event.tokens)} tok")
            text = " · ".join(facts)
            return presented(
                Said("observation", text, mark="◇", label="observed"), block=event.text
            )
        case ModelText():
            return Presented(event.t, step, (Said("text", event.text, wrap=True),), streamed=True)
        case ModelTurn():
            return Presented(event.t, step, turn=_turn(event, numbers))
        case ModelRetry():
            retry = (
                f"model call failed ({event.reason}); "
                f"try {event.attempt + 1} of {event.attempts} in {event.delay:.1f}s"
            )
            return presented(Said("warning", name=retry, mark="↻"))
        case ContextCompacted():
            tokens = f"{numbers.estimated}{numbers.tokens(event.tokens_before)} {numbers.arrow} "
            tokens += f"{numbers.estimated}{numbers.tokens(event.tokens_after)} tokens"
            text = f"{tokens}; notes kept in notes.md"
            return presented(
                Said("note", text, name="context compacted", mark="✎"), dropped=event.dropped
            )
        case ApprovalAsked():
            name = "waiting for a person's approval"
            return presented(Said("warning", repr(event.action), name=name, mark="?"))
        case Approval():
            verdict = "approved" if event.approved else "REFUSED"  # a refusal stands out
            text = repr(event.action) + (f": {event.reason}" if event.reason else "")
            name = f"{verdict} by {event.by}"
            return presented(
                Said(
                    "warning" if event.approved else "failed",
                    text,
                    name=name,
                    mark="!",
                    facts=(event.rule,),
                )
            )
        case ToolResult(name="note", ok=True):
            return None  # the note event says it
        case ToolResult():
            facts = ["invalid call"] if event.invalid else []
            facts += [f"{event.duration:.1f}s"] if round(event.duration, 1) else []
            return presented(
                Said(
                    "result" if event.ok else "failed",
                    event.content,
                    name=event.name,
                    mark="✓" if event.ok else "✗",
                    label=f"{event.name} {'ok' if event.ok else 'FAILED'}",
                    facts=tuple(facts),
                )
            )
        case Note():
            return presented(Said("note", event.text, mark="✎", label="note", wrap=True))
        case Control():
            mark, name = _CONTROLS[event.action]
            name = name.format(source=event.source)
            return presented(Said("control", event.message, name=name, mark=mark, wrap=True))
        case BudgetWarning():
            text = f"{event.used:g} of {event.limit:g}"
            return presented(Said("warning", text, name=f"budget {event.budget}", mark="!"))
        case Error():
            lines = event.message.strip().splitlines() or [""]
            name = "fatal error" if event.fatal else "error"
            block = event.message if len(lines) > 1 else ""  # a traceback
            return presented(Said("error", lines[-1], name=name, mark="✗", wrap=True), block=block)
        case MeasurementStarted():
            which = "the baseline" if event.experiment == 0 else f"experiment {event.experiment}"
            where = "in its sandbox" if event.sandboxed else "without a sandbox"
            name = f"measuring {which} ({event.commit[:7]}) {where}"
            return presented(Said("dim", event.command, name=name, mark="⚗", verbatim=True))
        case ExperimentResult():
            status = event.status.value
            text = "no number" if event.metric is None else f"{event.metric:.10g}"
            if event.best_metric is not None:
                text += f" · best {event.best_metric:.10g}"
            if event.holdout is not None:
                text += f" · held-out {event.holdout:.10g}"
            name = f"experiment {event.experiment} {status}"
            hypothesis = f"hypothesis: {event.hypothesis}" if event.hypothesis else ""
            details = [
                Said("dim", line, wrap=True)
                for line in (event.description, hypothesis, event.reason)
            ]
            warnings = []
            if event.holdout_regressed:
                warnings.append(Said("failed", name="HELD-OUT METRIC WORSE", mark="!"))
            if event.plateau:
                warnings.append(Said("warning", name="plateau: no kept change lately", mark="!"))
            return presented(
                Said(_EXPERIMENT_KINDS.get(status, "failed"), text, name=name, mark="⚗"),
                *(detail for detail in details if detail.text),
                *warnings,
                block=event.output_tail,
            )
        case TerminalResized():
            return presented(Said("dim", name=f"terminal resized to {event.cols}×{event.rows}"))
        case SessionEnded():
            return presented(*_ending(event, numbers))
    return None  # terminal output: the terminal shows it


def _turn(turn: ModelTurn, numbers: Numbers) -> Turn:
    compact = turn.purpose == "compact"
    text = turn.text.strip()
    thinking = turn.thinking.strip()
    if compact:
        said = Said("text", text, name="notes for the compaction", wrap=True)
    else:
        said = Said("text", text, label="model", wrap=True)
    calls = tuple(
        Call(call.name, json.dumps(call.input, ensure_ascii=False), _call_words(call))
        for call in turn.tool_calls
    )
    spent = _spent(numbers, turn.usage, turn.cost, turn.context_tokens, turn.duration)
    return Turn(
        said=said,
        compact=compact,
        thinking=Said("thinking", thinking, name="thinking") if thinking else None,
        calls=calls,
        missing_call=None if compact or calls else turn.missing_call,
        cut_off_by=turn.cut_off_by,
        stop_reason=turn.stop_reason,
        spent=spent,
    )


def _call_words(call: ToolCall) -> str:
    data = call.input if isinstance(call.input, dict) else None
    if data is None:
        return f"{call.name} {call.input!r}"
    if call.name == "type" and isinstance(data.get("text"), str):
        return f"type {data['text']!r}" + (" ⏎" if data.get("enter", True) else "")
    if call.name == "keys" and isinstance(data.get("keys"), list):
        return "keys " + " ".join(str(key) for key in data["keys"])
    if call.name == "wait":
        until = data.get("until", "done")
        text = f"wait until {until}"
        if until == "pattern":
            text += f" /{data.get('pattern', '')}/"
        elif until == "quiet" and data.get("seconds"):
            text += f" for {data['seconds']:g}s"
        return text + f", up to {data.get('timeout', 600):g}s"
    if call.name == "note":
        return "note"
    if call.name == "finish":
        return f"finish: {data.get('summary', '')}"
    return f"{call.name} {json.dumps(data, ensure_ascii=False)}"


def _spent(
    numbers: Numbers, usage: Usage, cost: float | None, context: int = 0, seconds: float = 0.0
) -> tuple[str, ...]:
    """Tokens (as reported), the context read, money and seconds: what is known of them."""
    reported = usage != Usage()
    tokens = numbers.tokens
    parts = [f"{tokens(usage.input_tokens)} in", f"{tokens(usage.output_tokens)} out"]
    parts = parts if reported else []
    if usage.cache_read_tokens:
        parts.append(f"{tokens(usage.cache_read_tokens)} cache read")
    if usage.cache_write_tokens:
        parts.append(f"{tokens(usage.cache_write_tokens)} cache write")
    if context:
        parts.append(f"context {tokens(context)}")
    if cost is not None and (reported or cost):  # a script's turns cost nothing: not said
        parts.append(numbers.money(cost))
    if round(seconds, 1):
        parts.append(f"{seconds:.1f}s")
    return tuple(parts)


def _ending(ended: SessionEnded, numbers: Numbers) -> tuple[Said, Said]:
    totals = ended.totals
    why = ended.summary or ended.reason
    facts = (ended.reason,) if ended.summary and ended.reason else ()
    spent = [f"{totals.steps} steps", numbers.elapsed(totals.duration)]
    spent += _spent(numbers, totals.usage, totals.cost)
    if ended.best_metric is not None:
        at = f" at {ended.best_commit[:7]}" if ended.best_commit else ""
        spent.append(f"best {ended.best_metric:.10g}{at}")
    outcome = ended.outcome.value
    return (
        Said("end", why, name=outcome, mark="■", facts=facts, wrap=True),
        Said("usage", " · ".join(spent)),
    )
