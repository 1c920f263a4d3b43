"""Headless lines: one per event, the tool calls and tokens of a turn always whole."""

from __future__ import annotations

from clive.commands._print import EventLines
from clive.session.events import (
    ContextCompacted,
    Control,
    Event,
    InputSent,
    ModelTurn,
    Outcome,
    SessionEnded,
    ToolCall,
    Totals,
    Usage,
)

WIDTH = 160  # characters after the time
USAGE = Usage(input_tokens=1234, output_tokens=56, cache_read_tokens=7)
TOKENS = "[1234 in, 56 out, 7 cache read, $0.0042]"


def _turn(text: str, *calls: ToolCall, **extra) -> ModelTurn:
    return ModelTurn(
        step=3, model="m", text=text, tool_calls=list(calls), usage=USAGE, cost=0.0042, **extra
    )


def event_line(event: Event) -> str:
    """The line ``event`` prints, on its own."""
    [line] = EventLines().add(event)
    return line


def _text(line: str) -> str:
    """The line without its time."""
    return line.split("] ", 1)[1]


def test_a_long_reply_gives_way_to_the_tool_call_and_the_tokens():
    said = "I will look at the test output first, then decide what to change. " * 10
    call = ToolCall(id="1", name="type", input={"text": "pytest -x -q tests/test_parser.py"})
    line = event_line(_turn(said, call))
    assert line.endswith('-> type {"text": "pytest -x -q tests/test_parser.py"} ' + TOKENS)
    assert _text(line).startswith("step 3 model: I will look at the test")
    assert "... ->" in line and len(_text(line)) == WIDTH


def test_a_short_reply_is_printed_whole():
    call = ToolCall(id="1", name="wait", input={"seconds": 5})
    line = event_line(_turn("Waiting.", call))
    assert _text(line) == f'step 3 model: Waiting. -> wait {{"seconds": 5}} {TOKENS}'


def test_tool_calls_too_long_for_the_line_are_shortened_but_the_tokens_stay():
    heredoc = {"text": "cat > notes.txt <<'EOF'\n" + "a line of the notes\n" * 40 + "EOF"}
    line = event_line(_turn("Writing the notes.", ToolCall(id="1", name="type", input=heredoc)))
    assert _text(line).startswith("step 3 model: Writing the notes. -> type {")
    assert line.endswith("... " + TOKENS) and len(_text(line)) == WIDTH
    said = "I will write everything I learnt so far into the notes file now. " * 3
    line = event_line(_turn(said, ToolCall(id="1", name="type", input=heredoc)))
    assert _text(line).startswith("step 3 model: I will write every... -> type {")
    assert line.endswith("... " + TOKENS) and len(_text(line)) == WIDTH


def test_a_reply_cut_off_at_the_output_limit_says_so():
    cut = _turn("Let me explain at length " * 30, stop_reason="length", cut_off=True)
    line = event_line(cut)
    assert line.endswith(f"-> no tool call; CUT OFF by the output limit {TOKENS}")
    whole = event_line(_turn("Done?", stop_reason="stop"))
    assert "CUT OFF" not in whole and whole.endswith(f"-> no tool call {TOKENS}")
    window = _turn("x", stop_reason="model_context_window_exceeded", cut_off=True)
    assert "CUT OFF by the context window filling up" in event_line(window)


def test_notes_cut_off_for_a_compaction_say_so():
    notes = _turn("NOTES: ...", purpose="compact", stop_reason="max_tokens", cut_off=True)
    assert _text(event_line(notes)) == (
        f"step 3 model wrote its notes for compaction; CUT OFF by the output limit {TOKENS}"
    )


def test_a_compaction_says_what_its_notes_request_left_out():
    compacted = ContextCompacted(
        step=9, tokens_before=1900, tokens_after=700, notes="n", dropped="3 screens, 2 outputs"
    )
    assert _text(event_line(compacted)) == (
        "step 9 context compacted: ~1900 -> ~700 tokens; notes kept in notes.md; "
        "left out of the notes request: 3 screens, 2 outputs"
    )
    whole = compacted.model_copy(update={"dropped": ""})
    assert _text(event_line(whole)).endswith("notes kept in notes.md")


def test_a_turn_without_a_tool_call_says_so_and_one_the_server_could_not_read_says_that():
    assert _text(event_line(_turn("Thinking aloud."))).startswith(
        "step 3 model: Thinking aloud. -> no tool call ["
    )
    unread = ModelTurn(step=4, model="m", stop_reason="invalid_output")
    assert _text(event_line(unread)) == "step 4 model: -> a reply the server could not read"


def test_a_take_over_prints_the_lines_the_user_entered_and_the_keys_by_name():
    keys = [InputSent(t=2.0, data=key, source="user") for key in [*"ls -l", "\x7f", "a", "\r"]]
    events = [
        Control(t=1.0, action="take_over"),
        *keys,
        InputSent(t=3.0, data="\x03", source="user"),
        Control(t=4.0, action="give_back"),
    ]
    lines = EventLines()
    assert [line for event in events for line in lines.add(event)] == [
        "[    1.0s] the user took over the terminal",
        "[    2.0s] the user entered: ls -a",
        "[    3.0s] the user pressed: C-c",
        "[    4.0s] the user gave the terminal back",
    ]


def test_the_end_says_the_outcome_after_what_the_session_spent():
    ended = SessionEnded(
        t=75.0,
        outcome=Outcome.FINISHED,
        summary="Done.",
        totals=Totals(steps=4, usage=USAGE, cost=0.0042, duration=75.0),
    )
    assert _text(event_line(ended)) == (
        "session ended: finished after 4 steps · 1m15s · 1234 in · 56 out · 7 cache read · "
        "$0.0042: Done."
    )
