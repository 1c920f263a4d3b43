"""The presenter: what each event says, and what a person typed during a take-over, gathered
into the lines it submitted."""

from __future__ import annotations

import pytest

from clive.session.events import (
    Approval,
    BudgetWarning,
    ContextCompacted,
    Control,
    Error,
    Event,
    ExperimentResult,
    ExperimentStatus,
    InputSent,
    MeasurementStarted,
    ModelRetry,
    ModelText,
    ModelTurn,
    Note,
    Observation,
    Outcome,
    SessionEnded,
    SessionStarted,
    TerminalOutput,
    TerminalResized,
    ToolCall,
    ToolResult,
    Totals,
    Usage,
)
from clive.session.present import EXACT, Numbers, Presented, Presenter
from clive.terminal.keys import encode_keys

ROUNDED = Numbers(
    tokens=lambda n: f"{n / 1000:.1f}k", money=str, elapsed=str, estimated="", arrow="→"
)


def _presented(*events: Event, numbers: Numbers = EXACT) -> list[Presented]:
    presenter = Presenter(numbers)
    return [item for event in events for item in presenter.add(event)] + presenter.finish()


def _said(*events: Event) -> list[str]:
    """Everything the events say, each piece on a line after its mark (as the timeline)."""
    return [said.line(marked=True) for item in _presented(*events) for said in item.said]


def _keys(*keys: str, source: str = "user", t: float = 0.0) -> list[InputSent]:
    """Each key (a tmux name) pressed on its own, as the live view sends them."""
    return [InputSent(t=t, data=encode_keys(key).decode(), source=source) for key in keys]


TAKE_OVER, GIVE_BACK = Control(action="take_over"), Control(action="give_back")

EVENTS = [
    (
        SessionStarted(
            session_id="s", task="speed up training", model="m", cwd="/w", cols=80, rows=24,
            started_at="2026-11-23T10:00:00+00:00", scripted=True,
        ),
        ["● speed up training", "m (scripted) · 80×24 · /w"],
        "session started (scripted: no language model): speed up training",
    ),
    (
        Observation(step=1, text="[step 1]\nscreen", tokens=1234, state="prompt", exit_code=0),
        ["◇ prompt · exit 0 · 0 new lines · ~1234 tok"],
        "observed: prompt · exit 0 · 0 new lines · ~1234 tok",
    ),
    (
        ModelRetry(step=1, attempt=1, attempts=5, delay=2.0, reason="overloaded"),
        ["↻ model call failed (overloaded); try 2 of 5 in 2.0s"],
        "model call failed (overloaded); try 2 of 5 in 2.0s",
    ),
    (
        ContextCompacted(step=1, tokens_before=90000, tokens_after=4000, notes="n"),
        ["✎ context compacted: ~90000 -> ~4000 tokens; notes kept in notes.md"],
        "context compacted: ~90000 -> ~4000 tokens; notes kept in notes.md",
    ),
    (
        Approval(step=1, action="rm -rf build", rule="rm", approved=False, by="user", reason="no"),
        ["! REFUSED by user (rm): 'rm -rf build': no"],
        "REFUSED by user (rm): 'rm -rf build': no",
    ),
    (
        ToolResult(
            step=1, call_id="c", name="keys", ok=False, content="unknown key", invalid=True,
            duration=1.5,
        ),
        ["✗ keys (invalid call, 1.5s): unknown key"],
        "keys FAILED (invalid call, 1.5s): unknown key",
    ),
    (
        ToolResult(step=1, call_id="c", name="type", ok=True, content="typed"),
        ["✓ type: typed"],
        "type ok: typed",
    ),
    (Note(step=1, text="baseline is 41 s"), ["✎ baseline is 41 s"], "note: baseline is 41 s"),
    (
        BudgetWarning(budget="cost", used=4.1, limit=5.0),
        ["! budget cost: 4.1 of 5"],
        "budget cost: 4.1 of 5",
    ),
    (
        Error(message="Traceback...\nValueError: bad", step=1, fatal=True),
        ["✗ fatal error: ValueError: bad"],
        "fatal error: ValueError: bad",
    ),
    (Control(action="pause"), ["‖ paused by the user"], "paused by the user"),
    (
        Control(action="steer", message="try a smaller batch"),
        ["» the user says: try a smaller batch"],
        "the user says: try a smaller batch",
    ),
    (
        Control(action="quit", source="harness"),
        ["■ quit by the harness"],
        "quit by the harness",
    ),
    (
        MeasurementStarted(experiment=0, commit="abcdef123", command="python bench.py"),
        ["⚗ measuring the baseline (abcdef1) without a sandbox: python bench.py"],
        "measuring the baseline (abcdef1) without a sandbox: python bench.py",
    ),
    (
        ExperimentResult(
            experiment=2, commit="abc1234", metric=0.25, status=ExperimentStatus.DISCARD,
            description="learning rate 0.01", best_metric=0.125, reason="not better than 0.125",
        ),
        ["⚗ experiment 2 discard: 0.25 · best 0.125", "learning rate 0.01",
         "not better than 0.125"],
        "experiment 2 discard: 0.25 · best 0.125",
    ),
    (
        TerminalResized(cols=100, rows=30),
        ["terminal resized to 100×30"],
        "terminal resized to 100×30",
    ),
    (
        InputSent(data="\x15", source="harness"),
        ["» the harness pressed: C-u"],
        "the harness pressed: C-u",
    ),
    (
        SessionEnded(
            outcome=Outcome.FINISHED, summary="it is faster", reason="the model finished",
            totals=Totals(steps=3, usage=Usage(input_tokens=900, output_tokens=20), cost=0.5,
                          duration=75),
            best_metric=0.125, best_commit="def567890",
        ),
        ["■ finished (the model finished): it is faster",
         "3 steps · 1m15s · 900 in · 20 out · $0.5000 · best 0.125 at def5678"],
        "finished (the model finished): it is faster",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("event", "marked", "plain"), EVENTS, ids=[event.type for event, _, _ in EVENTS]
)
def test_each_event_says_what_happened_after_a_mark_or_in_words(event, marked, plain):
    [item] = _presented(event)
    assert [said.line(marked=True) for said in item.said] == marked
    assert item.said[0].line(marked=False) == plain
    assert item.step == getattr(event, "step", None)


def test_a_model_turn_says_its_text_calls_cut_off_and_what_it_spent():
    turn = ModelTurn(
        step=3,
        model="m",
        text="  Let me look.  ",
        thinking="hmm",
        tool_calls=[
            ToolCall(id="1", name="type", input={"text": "ls -la"}),
            ToolCall(id="2", name="wait", input={"until": "pattern", "pattern": "done"}),
        ],
        usage=Usage(input_tokens=1500, output_tokens=30, cache_read_tokens=700),
        cost=0.0042,
        duration=2.0,
        context_tokens=2300,
        stop_reason="length",
        cut_off=True,
    )
    [item] = _presented(turn)
    said = item.turn
    assert said is not None and item.step == 3 and not item.said
    assert said.said.line(marked=False) == "model: Let me look."
    assert said.said.line(marked=True) == "Let me look."
    assert said.thinking is not None and said.thinking.line(marked=True) == "thinking: hmm"
    assert [(call.name, call.arguments, call.words) for call in said.calls] == [
        ("type", '{"text": "ls -la"}', "type 'ls -la' ⏎"),
        (
            "wait",
            '{"until": "pattern", "pattern": "done"}',
            "wait until pattern /done/, up to 600s",
        ),
    ]
    assert said.missing_call is None
    assert (said.cut_off_by, said.stop_reason) == ("the output limit", "length")
    assert said.spent == ("1500 in", "30 out", "700 cache read", "context 2300", "$0.0042", "2.0s")
    [rounded] = _presented(turn, numbers=ROUNDED)
    assert rounded.turn is not None
    assert rounded.turn.spent[:4] == ("1.5k in", "0.0k out", "0.7k cache read", "context 2.3k")


def test_a_turn_without_a_call_says_what_stands_for_it_and_a_script_s_spends_nothing():
    [acting] = _presented(ModelTurn(step=1, model="m", stop_reason="invalid_output", cost=0.0))
    assert acting.turn is not None
    assert acting.turn.missing_call == "a reply the server could not read"
    assert acting.turn.spent == ()  # nothing reported, nothing paid
    [notes] = _presented(ModelTurn(step=1, model="m", text="NOTES", purpose="compact"))
    assert notes.turn is not None and notes.turn.compact and notes.turn.missing_call is None
    assert notes.turn.said.line(marked=True) == "notes for the compaction: NOTES"


def test_streamed_text_is_a_piece_of_its_step_and_output_says_nothing():
    [piece] = _presented(ModelText(step=2, text="Let me "))
    assert piece.streamed and piece.step == 2 and piece.said[0].text == "Let me "
    silent = [
        TerminalOutput(data="hello"),
        InputSent(data="ls\r", source="agent"),  # its tool call says it
        ToolResult(step=1, call_id="c", name="note", ok=True, content="noted"),  # the note does
    ]
    assert _presented(*silent) == []


def test_numbers_are_written_the_output_s_way_and_what_is_kept_aside_goes_with_them():
    compacted = ContextCompacted(
        step=1, tokens_before=90000, tokens_after=4000, notes="n", dropped="3 screens"
    )
    [item] = _presented(compacted, numbers=ROUNDED)
    assert item.said[0].text.startswith("90.0k → 4.0k tokens")
    assert item.dropped == "3 screens"
    [error] = _presented(Error(message="Traceback...\n  f()\nValueError: bad"))
    assert error.block.startswith("Traceback") and error.said[0].text == "ValueError: bad"
    [observed] = _presented(Observation(step=1, text="[step 1]\nscreen", tokens=1, state="x"))
    assert observed.block == "[step 1]\nscreen"


# -- what the user typed ----------------------------------------------------------------------


def test_a_typed_line_is_what_was_on_it_when_enter_came():
    typed = _keys(*"rm -rf /", "C-u", *"ls -lx", "BSpace", "a", "Left", "Left", "BSpace", "Enter")
    assert _said(TAKE_OVER, *typed, GIVE_BACK) == [
        "» the user took over the terminal",
        "» the user entered: ls la",
        "» the user gave the terminal back",
    ]


def test_two_commands_are_two_lines_each_when_it_was_entered():
    items = _presented(
        TAKE_OVER, *_keys(*"ls", "Enter", t=1.0), *_keys(*"pwd", "Enter", t=2.0), GIVE_BACK
    )
    typed = [(item.t, item.said[0].line(marked=False)) for item in items[1:-1]]
    assert typed == [(1.0, "the user entered: ls"), (2.0, "the user entered: pwd")]
    assert {item.kind for item in items[1:-1]} == {"control"}


def test_keys_that_are_not_text_are_named():
    typed = [
        *_keys(*"git sta", "Tab", "Enter"),  # completion: the line is not known
        *_keys("Up", "Up", "Enter"),  # history
        *_keys(*"sleep 9", "Enter", "C-c"),  # run, then interrupted
        *_keys(*"ls -l", "C-c"),  # a line abandoned
        *_keys("Escape", ":", "q", "M-x"),  # left on the line until the terminal is given back
    ]
    assert _said(TAKE_OVER, *typed, GIVE_BACK)[1:-1] == [
        "» the user typed: 'git sta' Tab Enter",
        "» the user pressed: Up Up Enter",
        "» the user entered: sleep 9",
        "» the user pressed: C-c",
        "» the user typed: 'ls -l' C-c",
        "» the user typed: Escape ':q' M-x",
    ]


def test_secret_input_is_never_shown():
    password = [InputSent(data=key, source="user", secret=True) for key in "hunter2\r"]
    typed = [*_keys(*"sudo ls", "Enter"), *password, *_keys(*"id", "Enter")]
    said = _said(TAKE_OVER, *typed, *password, GIVE_BACK)
    assert said[1:-1] == [
        "» the user entered: sudo ls",
        "» the user typed: [secret input]",
        "» the user entered: id",
        "» the user typed: [secret input]",
    ]
    assert "hunter2" not in "".join(said)


def test_a_take_over_that_typed_nothing_says_so():
    assert _said(TAKE_OVER, TerminalOutput(data="progress 40%"), GIVE_BACK) == [
        "» the user took over the terminal",
        "» the user gave the terminal back, having only watched",
    ]
    typed = _said(TAKE_OVER, *_keys("q"), GIVE_BACK)
    assert typed[-1] == "» the user gave the terminal back"


def test_a_line_the_agent_began_and_the_user_finished_is_entered_whole():
    began = InputSent(data="echo hel", source="agent")
    assert _said(began, TAKE_OVER, *_keys(*"lo", "Enter"))[1] == "» the user entered: echo hello"


def test_a_line_ends_at_enter_not_at_other_events_and_a_paste_is_text():
    typed = [
        *_keys(*"make "),
        TerminalResized(cols=100, rows=30),
        InputSent(data="\x1b[200~test\x1b[201~", source="user"),  # a bracketed paste
        *_keys("Enter"),
    ]
    assert _said(TAKE_OVER, *typed) == [
        "» the user took over the terminal",
        "terminal resized to 100×30",
        "» the user entered: make test",
    ]


def test_what_is_typed_and_not_entered_comes_when_the_typing_stops():
    unfinished = [TAKE_OVER, *_keys(*"vim")]
    assert _said(*unfinished, GIVE_BACK)[1:] == [
        "» the user typed: 'vim'",
        "» the user gave the terminal back",
    ]
    ended = SessionEnded(outcome=Outcome.QUIT, reason="quit by the user")
    assert _said(*unfinished, ended)[1] == "» the user typed: 'vim'"
    assert _said(*unfinished)[1] == "» the user typed: 'vim'"  # at the end of the events
