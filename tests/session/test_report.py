"""The Markdown report (``clive show``): each step's turn, its tokens, and what went wrong."""

from __future__ import annotations

from clive.session import Session, SessionInfo, SessionWriter
from clive.session.events import (
    ContextCompacted,
    Control,
    InputSent,
    ModelTurn,
    Observation,
    Outcome,
    SessionEnded,
    ToolCall,
    Usage,
)
from clive.session.redact import Redactor
from clive.session.report import markdown_report
from clive.session.writer import SECRET_INPUT


def _report(tmp_path, *events) -> str:
    info = SessionInfo(
        id="s", task="fix it", model="m", cwd="/", cols=80, rows=24, started_at="2026-01-01"
    )
    writer = SessionWriter(
        tmp_path / "s", info, redactor=Redactor(from_environment=False), background_flush=False
    )
    for event in events:
        writer.append(event)
    writer.close(SessionEnded(outcome=Outcome.FINISHED))
    return markdown_report(Session(writer.directory))


def _observed(step: int) -> Observation:
    return Observation(step=step, text=f"[step {step}]\nscreen", tokens=10, state="prompt")


def _step(report: str, step: int) -> str:
    return report.split(f"## Step {step}\n", 1)[1].split("## ", 1)[0]


def test_each_turn_shows_its_tokens_and_a_turn_without_a_tool_call_is_marked(tmp_path):
    report = _report(
        tmp_path,
        _observed(1),
        ModelTurn(
            step=1,
            model="m",
            text="I think the parser is wrong.",
            usage=Usage(input_tokens=1200, output_tokens=40, cache_read_tokens=300),
            context_tokens=1540,
            cost=0.0042,
        ),
        _observed(2),
        ModelTurn(
            step=2,
            model="m",
            tool_calls=[ToolCall(id="1", name="type", input={"text": "make test"})],
            usage=Usage(input_tokens=1300, output_tokens=12),
            context_tokens=1612,
        ),
    )
    first = _step(report, 1)
    assert "**Model:** I think the parser is wrong." in first
    assert "**No tool call**" in first
    assert "*Tokens: 1200 in, 40 out, 300 cache read, context 1540, $0.0042*" in first
    second = _step(report, 2)
    assert "**No tool call**" not in second and '`type` `{"text": "make test"}`' in second
    assert "*Tokens: 1300 in, 12 out, context 1612*" in second


def test_a_reply_cut_off_and_a_compaction_s_leftovers_are_shown(tmp_path):
    report = _report(
        tmp_path,
        _observed(1),
        ModelTurn(step=1, model="m", text="Long " * 50, stop_reason="length", cut_off=True),
        _observed(2),
        ModelTurn(step=2, model="m", text="NOTES: the parser.", purpose="compact"),
        ContextCompacted(
            step=2, tokens_before=1900, tokens_after=600, notes="n", dropped="3 screens"
        ),
    )
    assert "**Cut off** by the output limit (stop reason `length`)" in _step(report, 1)
    second = _step(report, 2)
    assert "**Notes for the compaction:** NOTES: the parser." in second
    assert "**No tool call**" not in second, "a notes request asks for no tool"
    assert "Left out of the notes request to fit the window: 3 screens." in second
    assert "~1900 -> ~600 tokens" in second


def test_a_take_over_shows_the_lines_the_user_entered_and_never_secret_input(tmp_path):
    typed = [*"cat notes", *"\x7f" * 5, *"notes.txt\r"]
    report = _report(
        tmp_path,
        _observed(1),
        Control(action="take_over"),
        *(InputSent(data=key, source="user") for key in typed),
        InputSent(data=SECRET_INPUT, source="user", secret=True),
        InputSent(data="\x1b[A", source="user"),
        Control(action="give_back"),
        Control(action="take_over"),
        Control(action="give_back"),
    )
    assert _step(report, 1).split("\n\n")[1:] == [
        "**The user took over the terminal**",
        "**The user entered:** `cat notes.txt`",
        "**The user typed:** `[secret input]`",
        "**The user pressed:** `Up`",
        "**The user gave the terminal back**",
        "**The user took over the terminal**",
        "**The user gave the terminal back, having only watched**",
        "",
    ]
