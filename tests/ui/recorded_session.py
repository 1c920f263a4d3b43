"""A small session recorded with a fake clock, so every time in it is known: four steps, colours,
wide characters, and a pager on the alternate screen."""

from __future__ import annotations

from pathlib import Path

from clive.session import Redactor, Session, SessionInfo, SessionWriter
from clive.session.events import (
    ModelTurn,
    Note,
    Observation,
    Outcome,
    SessionEnded,
    SessionStarted,
    ToolCall,
    ToolResult,
    Totals,
    Usage,
)

COLS, ROWS = 80, 24
MODEL = "script:count-errors.jsonl"
# When each step starts (its observation), and when the session ends.
STEP_TIMES = {1: 1.0, 2: 5.0, 3: 10.0, 4: 15.0}
DURATION = 20.0
# The pager is on the screen between these two times.
PAGER_OPENS, PAGER_CLOSES = 7.2, 12.2

PROMPT = "\x1b[1;32muser@box\x1b[0m:\x1b[1;34m~/work\x1b[0m$ "
LISTING = (
    "ls\r\n\x1b[1;31merror.log\x1b[0m  notes.txt  数据.csv  "
    "\x1b[38;5;208morange\x1b[0m \x1b[48;2;10;20;200mblue\x1b[0m\r\n"
)
PAGER = (
    "less error.log\r\n\x1b[?1049h\x1b[H\x1b[2J"
    "2026-11-23 10:00:01 \x1b[32mINFO\x1b[0m started\r\n"
    "2026-11-23 10:00:02 \x1b[31;1mERROR\x1b[0m disk full\r\n"
    "\x1b[24;1H\x1b[7merror.log (END)\x1b[0m"
)


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record_session(directory: Path) -> Session:
    """Write the session into ``directory`` (which must not exist) and open it."""
    clock = _Clock()
    info = SessionInfo(
        id=directory.name,
        task="count the errors in the logs",
        model=MODEL,
        cwd="/home/user/work",
        cols=COLS,
        rows=ROWS,
        started_at="2026-11-23T10:00:00+00:00",
        scripted=True,
    )
    writer = SessionWriter(
        directory,
        info,
        clock=clock,
        background_flush=False,
        redactor=Redactor(from_environment=False),
    )

    def at(t: float) -> _Clock:
        clock.now = t
        return clock

    writer.append(
        SessionStarted(
            session_id=info.id,
            task=info.task,
            model=MODEL,
            cwd=info.cwd,
            cols=COLS,
            rows=ROWS,
            started_at=info.started_at,
        )
    )
    writer.terminal_output(PROMPT.encode(), at(0.2).now)
    steps = [
        ("prompt", "Let me see what is here.", "c1", "type", {"text": "ls"}, LISTING + PROMPT),
        ("prompt", "Read the log in a pager.", "c2", "type", {"text": "less error.log"}, PAGER),
        ("pager", "One error: disk full. Leave the pager.", "c3", "keys", {"keys": ["q"]}, None),
        ("prompt", "Done.", "c4", "finish", {"summary": "one error: disk full"}, None),
    ]
    for step, (state, text, call_id, tool, tool_input, output) in enumerate(steps, start=1):
        start = STEP_TIMES[step]
        at(start)
        writer.marker(f"step {step}")
        writer.append(
            Observation(step=step, text="(screen)", tokens=100 * step, state=state, exit_code=0)
        )
        at(start + 2.0)
        call = ToolCall(id=call_id, name=tool, input=tool_input)
        writer.append(
            ModelTurn(
                step=step,
                model=MODEL,
                text=text,
                tool_calls=[call],
                usage=Usage(input_tokens=1000 * step, output_tokens=50),
                cost=0.01,
                duration=2.0,
            )
        )
        if tool == "type":
            writer.terminal_input(tool_input["text"].encode() + b"\r", at(start + 2.1).now)
            writer.terminal_output(output.encode(), at(start + 2.2).now)
        elif tool == "keys":
            writer.terminal_input(b"q", at(start + 2.1).now)
            writer.terminal_output(b"\x1b[?1049l" + PROMPT.encode(), at(start + 2.2).now)
            writer.append(Note(step=step, text="the log has one error: disk full"))
        at(start + 3.0)
        writer.append(ToolResult(step=step, call_id=call_id, name=tool, ok=True, content="done"))
    at(DURATION)
    writer.close(
        SessionEnded(
            outcome=Outcome.FINISHED,
            summary="one error: disk full",
            totals=Totals(
                steps=4, usage=Usage(input_tokens=10000, output_tokens=200), cost=0.04, duration=20
            ),
        )
    )
    return Session(directory)
