"""A session as a Markdown report: the task, each step (what the model saw, said and did),
and how it ended. ``clive show`` prints it; ``clive export --format md`` writes it."""

from __future__ import annotations

import json

from clive.session.events import (
    BudgetWarning,
    ContextCompacted,
    Control,
    Error,
    InputSent,
    ModelTurn,
    Note,
    Observation,
    SessionEnded,
    ToolResult,
)
from clive.session.info import RESULTS_FILE
from clive.session.reader import Session


def markdown_report(session: Session, *, full_observations: bool = False) -> str:
    """The report; ``full_observations`` includes each screen, else only each header."""
    info = session.info
    log = session.log()
    # A task file's text is long: its first line is the title, the rest follows.
    title, _, rest = info.task.strip().partition("\n")
    out = [f"# {title.lstrip('# ').strip()}", ""]
    if rest.strip():
        out += [rest.strip(), ""]
    facts = [
        ("session", session.name),
        ("model", info.model + (" (scripted: no language model)" if info.scripted else "")),
        ("started", info.started_at),
        ("directory", info.cwd),
        ("outcome", info.outcome.value + (f" ({info.reason})" if info.reason else "")),
        ("steps", str(info.totals.steps)),
        ("duration", f"{info.totals.duration:.1f}s"),
    ]
    if info.totals.cost is not None:
        facts.append(("cost", f"${info.totals.cost:.4f}"))
    out += [f"- **{name}:** {value}" for name, value in facts] + [""]
    out += _results_table(session)
    for event in log.events:
        out += _section(event, full_observations)
    if log.torn_tail is not None:
        out += [
            "",
            f"> The log ends with a line cut short (the harness was killed): "
            f"`{log.torn_tail[:120]}`",
        ]
    if log.bad_lines:
        out += ["", f"> Lines that are not events: {', '.join(map(str, log.bad_lines))}"]
    return "\n".join(out).rstrip() + "\n"


def _results_table(session: Session) -> list[str]:
    """The experiments of a task with a metric, from results.tsv, as a table."""
    path = session.directory / RESULTS_FILE
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    if len(lines) < 2:
        return []
    rows = [line.split("\t") for line in lines]
    out = ["## Experiments", ""]
    out.append("| " + " | ".join(rows[0]) + " |")
    out.append("|" + " --- |" * len(rows[0]))
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows[1:]]
    return [*out, ""]


def _section(event, full: bool) -> list[str]:
    if isinstance(event, Observation):
        header, _, rest = event.text.partition("\n")
        lines = [f"## Step {event.step}", "", f"**Observed** `{header}`", ""]
        if full:
            lines += [_fence(rest), ""]
        return lines
    if isinstance(event, ModelTurn):
        return _turn(event)
    if isinstance(event, ContextCompacted):
        dropped = (
            f" Left out of the notes request to fit the window: {event.dropped}."
            if event.dropped
            else ""
        )
        return [
            f"**Context compacted:** ~{event.tokens_before} -> ~{event.tokens_after} tokens; "
            f"the notes are in notes.md.{dropped}",
            "",
        ]
    if isinstance(event, ToolResult):
        mark = "Result" if event.ok else "Failed"
        return [f"**{mark}** ({event.name}, {event.duration:.1f}s): {event.content}", ""]
    if isinstance(event, Note):
        return [f"**Note:** {event.text}", ""]
    if isinstance(event, InputSent) and event.source == "user":
        return [f"**The user typed** `{event.data!r}`", ""]
    if isinstance(event, Control):
        return [
            f"**{event.source.capitalize()}: {event.action.replace('_', ' ')}** {event.message}",
            "",
        ]
    if isinstance(event, BudgetWarning):
        return [f"**Budget warning:** {event.used:g} of {event.limit:g} {event.budget}", ""]
    if isinstance(event, Error):
        return ["**Error:**", "", _fence(event.message), ""]
    if isinstance(event, SessionEnded):
        lines = ["## End", "", f"**Outcome:** {event.outcome.value}"]
        if event.reason:
            lines.append(f"({event.reason})")
        if event.summary:
            lines += ["", event.summary]
        return [*lines, ""]
    return []


def _turn(event: ModelTurn) -> list[str]:
    """What the model said and called, whether its reply was cut off or called no tool, and
    the tokens of the turn."""
    said = event.text.strip()
    lines = []
    if event.purpose == "compact":
        lines += [f"**Notes for the compaction:** {said}", ""]
    elif said:
        lines += [f"**Model:** {said}", ""]
    for call in event.tool_calls:
        lines += [f"**Tool call** `{call.name}` `{_inline(call.input)}`", ""]
    if event.purpose == "act" and not event.tool_calls:
        missing = event.missing_call[0].upper() + event.missing_call[1:]
        lines += [f"**{missing}** (an invalid turn: the model was told to call one)", ""]
    if event.cut_off:
        stop = f" (stop reason `{event.stop_reason}`)" if event.stop_reason else ""
        lines += [f"**Cut off** by {event.cut_off_by}{stop}: the model was told so", ""]
    usage = event.usage
    reported = usage.input_tokens or usage.output_tokens or usage.cache_read_tokens
    tokens = [
        *([f"{usage.input_tokens} in", f"{usage.output_tokens} out"] if reported else []),
        *([f"{usage.cache_read_tokens} cache read"] if usage.cache_read_tokens else []),
        *([f"{usage.cache_write_tokens} cache write"] if usage.cache_write_tokens else []),
        f"context {event.context_tokens}",
        *([f"${event.cost:.4f}"] if reported and event.cost is not None else []),
    ]
    return [*lines, f"*Tokens: {', '.join(tokens)}*", ""]


def _fence(text: str) -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}text\n{text}\n{fence}"


def _inline(value: object) -> str:
    return json.dumps(value, ensure_ascii=False).replace("`", "'")
