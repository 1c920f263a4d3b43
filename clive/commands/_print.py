"""Events as one readable line each: what ``--headless`` prints."""

from __future__ import annotations

import json

from clive.session.events import (
    Approval,
    BudgetWarning,
    ContextCompacted,
    Control,
    Error,
    Event,
    ExperimentResult,
    InputSent,
    MeasurementStarted,
    ModelRetry,
    ModelTurn,
    Note,
    Observation,
    SessionEnded,
    SessionStarted,
    ToolResult,
)

_WIDTH = 160  # characters after the time
_CALLS_WIDTH = 80  # at least this much of a turn's tool calls, whatever the width left
_SAID_WIDTH = 40  # and this much of its text, when there is room for both


def event_line(event: Event) -> str | None:
    """``event`` as one line, or None for events not worth a line (terminal output). A model
    turn's tool calls, marks and tokens are always there: its text gives way to them."""
    if isinstance(event, ModelTurn):
        text = _turn(event)
    else:
        described = _describe(event)
        if described is None:
            return None
        text = _clip(_one_line(described), _WIDTH)
    return f"[{format_duration(event.t):>8}] {text}"


def _turn(event: ModelTurn) -> str:
    """A model turn in at most ``_WIDTH`` characters (more only for tool calls that do not
    fit in ``_CALLS_WIDTH``): the text shortened first, then the calls."""
    tail = (f"; CUT OFF by {event.cut_off_by}" if event.cut_off else "") + _tokens(event)
    if event.purpose == "compact":
        return f"step {event.step} model wrote its notes for compaction{tail}"
    head = f"step {event.step} model: "
    calls = "; ".join(f"{c.name} {_compact(c.input)}" for c in event.tool_calls)
    said = _one_line(event.text)
    room = _WIDTH - len(head) - len("-> ") - len(tail)
    # Long calls leave the text its first words, or "..." at least: the model said something.
    calls_room = max(room - min(len(said), _SAID_WIDTH) - 1, _CALLS_WIDTH)
    calls = _clip(_one_line(calls or event.missing_call), calls_room)
    if said:
        said = _clip(said, max(room - len(calls) - 1, len("..."))) + " "
    return f"{head}{said}-> {calls}{tail}"


def _tokens(event: ModelTurn) -> str:
    """What the turn used, as the model reported it (nothing when it reported nothing)."""
    usage = event.usage
    if not (usage.input_tokens or usage.output_tokens or usage.cache_read_tokens):
        return ""
    parts = [f"{usage.input_tokens} in", f"{usage.output_tokens} out"]
    parts += [f"{usage.cache_read_tokens} cache read"] if usage.cache_read_tokens else []
    parts += [f"{usage.cache_write_tokens} cache write"] if usage.cache_write_tokens else []
    parts += [] if event.cost is None else [f"${event.cost:.4f}"]
    return f" [{', '.join(parts)}]"


def _describe(event: Event) -> str | None:
    if isinstance(event, SessionStarted):
        scripted = " (scripted: no language model)" if event.scripted else ""
        return f"session started{scripted}: {event.task!r} with {event.model} in {event.cwd}"
    if isinstance(event, Observation):
        code = "" if event.exit_code is None else f", last exit {event.exit_code}"
        return (
            f"step {event.step} observed: {event.state}{code}, "
            f"{event.new_output_lines} new lines, ~{event.tokens} tokens"
        )
    if isinstance(event, ModelRetry):
        return (
            f"step {event.step} model call failed ({event.reason}); "
            f"try {event.attempt + 1} of {event.attempts} in {event.delay:.1f}s"
        )
    if isinstance(event, ContextCompacted):
        dropped = f"; left out of the notes request: {event.dropped}" if event.dropped else ""
        return (
            f"step {event.step} context compacted: ~{event.tokens_before} -> "
            f"~{event.tokens_after} tokens; notes kept in notes.md{dropped}"
        )
    if isinstance(event, Approval):
        verdict = "approved" if event.approved else "REFUSED"
        why = f" ({event.reason})" if event.reason else ""
        return f"step {event.step} {verdict} by {event.by}: {event.rule}: {event.action!r}{why}"
    if isinstance(event, ToolResult):
        if event.name == "note" and event.ok:
            return None  # the note event says it
        mark = "ok" if event.ok else "FAILED"
        return f"step {event.step} {event.name} {mark}: {event.content}"
    if isinstance(event, Note):
        return f"step {event.step} note: {event.text}"
    if isinstance(event, InputSent):
        return f"user typed {event.data!r}" if event.source == "user" else None
    if isinstance(event, Control):
        return f"{event.source} {event.action.replace('_', ' ')} {event.message}".rstrip()
    if isinstance(event, BudgetWarning):
        return f"budget warning: {event.used:g} of {event.limit:g} {event.budget} used"
    if isinstance(event, Error):
        return f"error: {event.message.strip().splitlines()[-1] if event.message.strip() else ''}"
    if isinstance(event, MeasurementStarted):
        where = "in its sandbox" if event.sandboxed else "without a sandbox"
        name = "the baseline" if event.experiment == 0 else f"experiment {event.experiment}"
        return f"measuring {name} ({event.commit[:7]}) {where}: {event.command}"
    if isinstance(event, ExperimentResult):
        metric = "no number" if event.metric is None else f"{event.metric:.10g}"
        best = "" if event.best_metric is None else f"; best {event.best_metric:.10g}"
        why = f" ({event.reason})" if event.reason else ""
        return f"experiment {event.experiment} {event.status.value}: {metric}{best}{why}"
    if isinstance(event, SessionEnded):
        totals = event.totals
        cost = "" if totals.cost is None else f", ${totals.cost:.4f}"
        usage = totals.usage
        if usage.input_tokens or usage.output_tokens or usage.cache_read_tokens:
            cost += (
                f" ({usage.input_tokens} in, {usage.output_tokens} out, "
                f"{usage.cache_read_tokens} cache read, {usage.cache_write_tokens} cache write)"
            )
        why = event.summary or event.reason
        return (
            f"session ended: {event.outcome.value} after {totals.steps} steps, "
            f"{format_duration(totals.duration)}{cost}" + (f": {why}" if why else "")
        )
    return None


def _compact(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 3, 0)] + "..."


def format_duration(seconds: float) -> str:
    """``75.3`` as ``1m15s``; under a minute with a tenth of a second."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
