"""The agent loop end to end: a scripted model, a real shell, a session on disk."""

from __future__ import annotations

import pytest
from scripted import RecordingScript, finish, run_script, type_, wait, write_script

from clive.agent.loop import SCREEN_GONE
from clive.agent.task import run_task
from clive.session.events import (
    BudgetWarning,
    Error,
    ModelTurn,
    Note,
    Observation,
    Outcome,
    SessionEnded,
    SessionStarted,
    ToolResult,
)


def _results(session) -> list[ToolResult]:
    return [e for e in session.log().events if isinstance(e, ToolResult)]


def test_scripted_session_runs_commands_and_finishes(tmp_path):
    session, ended = run_script(
        tmp_path,
        [
            {"text": "Let me make a file.", **type_("echo hello > greeting.txt")},
            type_("cat greeting.txt; false"),
            finish("wrote greeting.txt"),
        ],
    )
    assert ended.outcome is Outcome.FINISHED
    assert ended.summary == "wrote greeting.txt"
    assert (tmp_path / "work" / "greeting.txt").read_text() == "hello\n"
    events = session.log().events
    kinds = [e.type for e in events]
    assert kinds[0] == "session_started" and kinds[-1] == "session_ended"
    assert all(e.scripted for e in events), "every event of a scripted session says so"
    observations = [e for e in events if isinstance(e, Observation)]
    assert [o.step for o in observations] == [1, 2, 3]
    # The third observation saw the second command's output and its exit code.
    assert "hello" in observations[2].text and observations[2].exit_code == 1
    assert "last exit code: 1" in observations[2].text
    turns = [e for e in events if isinstance(e, ModelTurn)]
    assert turns[0].text == "Let me make a file." and turns[0].tool_calls[0].name == "type"
    assert session.info.outcome is Outcome.FINISHED and session.info.totals.steps == 3


def test_events_are_in_time_order_with_one_observation_per_step(tmp_path):
    session, _ = run_script(tmp_path, [type_("true"), type_("true"), finish()])
    events = session.log().events
    times = [e.t for e in events]
    assert times == sorted(times)
    started = events[0]
    assert isinstance(started, SessionStarted) and started.cols == 80 and started.rows == 24
    assert started.versions["clive"] and started.settings["max_steps"] == 500


def test_invalid_tool_calls_get_readable_errors_then_end_the_session(tmp_path):
    session, ended = run_script(
        tmp_path,
        [
            {"tool": "typo", "input": {"text": "ls"}},
            {"tool": "type", "input": {"txt": "ls"}},
            {"tool": "wait", "input": {"until": "pattern"}},
            finish("never reached"),
        ],
    )
    assert ended.outcome is Outcome.INVALID_TOOL_CALLS
    assert ended.totals.invalid_tool_calls == 3
    results = _results(session)
    assert [r.ok for r in results] == [False, False, False]
    assert "unknown tool 'typo'" in results[0].content and "type, keys, wait" in results[0].content
    assert "text: Field required" in results[1].content
    assert "txt: Extra inputs are not permitted" in results[1].content
    assert "until=pattern needs a pattern" in results[2].content
    # The model reads each error with the next observation.
    assert session.info.outcome is Outcome.INVALID_TOOL_CALLS


def test_a_valid_call_resets_the_count_of_invalid_ones(tmp_path):
    _, ended = run_script(
        tmp_path,
        [
            {"tool": "keys", "input": {"keys": ["NoSuchKey"]}},
            {"tool": "keys", "input": {"keys": []}},
            type_("true"),
            {"tool": "nope"},
            {"tool": "nope"},
            finish(),
        ],
    )
    assert ended.outcome is Outcome.FINISHED
    assert ended.totals.invalid_tool_calls == 4


def test_a_turn_without_a_tool_call_counts_as_invalid(tmp_path):
    _, ended = run_script(
        tmp_path, [{"text": "thinking"}, {"text": "still thinking"}], max_invalid_calls=2
    )
    assert ended.outcome is Outcome.INVALID_TOOL_CALLS


def test_step_budget_stops_cleanly_with_a_warning_first(tmp_path):
    session, ended = run_script(tmp_path, [type_("true")] * 10, max_steps=5)
    assert ended.outcome is Outcome.STEP_LIMIT
    assert "steps budget (5)" in ended.reason
    assert ended.totals.steps == 5
    warnings = [e for e in session.log().events if isinstance(e, BudgetWarning)]
    assert [(w.budget, w.used, w.limit) for w in warnings] == [("steps", 4, 5)]


def test_time_budget_cuts_a_long_wait_short(tmp_path):
    session, ended = run_script(
        tmp_path, [type_("sleep 30"), wait(until="done", timeout=3600), finish()], max_time=4
    )
    assert ended.outcome is Outcome.TIME_LIMIT
    wait_result = _results(session)[1]  # it says so: not the 30 s sleep, not the hour
    assert "time budget cut the wait short" in wait_result.content


def test_wait_for_a_pattern_while_the_command_runs(tmp_path):
    session, ended = run_script(
        tmp_path,
        [
            type_("sleep 1; echo READY-42; sleep 20"),
            wait(until="pattern", pattern=r"READY-\d+", timeout=10),
            {"tool": "keys", "input": {"keys": ["C-c"]}},
            finish(),
        ],
    )
    assert ended.outcome is Outcome.FINISHED
    result = _results(session)[1]
    assert "the pattern matched" in result.content and "READY-42" in result.content


def test_wait_until_done_reports_the_exit_code(tmp_path):
    session, _ = run_script(
        tmp_path, [type_("sleep 4; exit_with() { return 7; }; exit_with"), wait(), finish()]
    )
    result = _results(session)[1]
    assert result.ok and "exit code 7" in result.content


def test_wait_until_quiet(tmp_path):
    session, _ = run_script(
        tmp_path,
        [type_("python3"), wait(until="quiet", seconds=0.5, timeout=10), type_("exit()"), finish()],
    )
    assert "output went quiet" in _results(session)[1].content


def test_keys_reach_a_full_screen_program(tmp_path):
    session, ended = run_script(
        tmp_path,
        [
            type_("seq 1 200 | less"),
            {"tool": "keys", "input": {"keys": ["G"]}},
            {"tool": "keys", "input": {"keys": ["q"]}},
            finish(),
        ],
    )
    observations = [e for e in session.log().events if isinstance(e, Observation)]
    assert observations[1].state == "pager"
    assert "200" in observations[2].text and observations[2].state == "pager"
    assert observations[3].state == "prompt"
    assert ended.outcome is Outcome.FINISHED


def test_notes_go_to_the_notes_file_and_the_log(tmp_path):
    session, _ = run_script(
        tmp_path, [{"tool": "note", "input": {"text": "baseline is 3.2 s"}}, finish()]
    )
    assert "baseline is 3.2 s" in (session.directory / "notes.md").read_text()
    notes = [e for e in session.log().events if isinstance(e, Note)]
    assert [n.text for n in notes] == ["baseline is 3.2 s"]


def test_a_script_that_runs_out_ends_as_a_model_error(tmp_path):
    session, ended = run_script(tmp_path, [type_("true")])
    assert ended.outcome is Outcome.MODEL_ERROR
    errors = [e for e in session.log().events if isinstance(e, Error)]
    assert "no turn left after 1 turns" in errors[0].message


def test_the_shell_exiting_ends_the_session(tmp_path):
    _, ended = run_script(tmp_path, [type_("exit 3"), finish()])
    assert ended.outcome is Outcome.SHELL_EXITED


def test_long_output_comes_as_head_and_tail_with_the_full_text_saved(tmp_path):
    session, _ = run_script(tmp_path, [type_("seq 1 5000"), finish()])
    observation = [e for e in session.log().events if isinstance(e, Observation)][1]
    assert observation.full_output_path == "outputs/step-0002.txt"
    full = (session.directory / observation.full_output_path).read_text()
    assert full.split("\n")[1:5001] == [str(n) for n in range(1, 5001)]
    assert "\n1\n" in observation.text and "\n5000\n" in observation.text
    assert "\n2500\n" not in observation.text
    assert "lines ...]" in observation.text


def test_output_already_on_screen_is_not_repeated(tmp_path):
    session, _ = run_script(tmp_path, [type_("echo one; echo two"), finish()])
    observation = [e for e in session.log().events if isinstance(e, Observation)][1]
    assert "all on the screen below" in observation.text
    assert "New output (" not in observation.text and observation.text.count("echo two") == 1


def test_older_observations_lose_their_screen_in_the_conversation(tmp_path):
    model = RecordingScript(
        write_script(tmp_path / "t.jsonl", [type_("echo A"), type_("echo B"), finish()])
    )
    (tmp_path / "work").mkdir()
    run_task("a scripted task", model, sessions_dir=tmp_path / "s", cwd=tmp_path / "work")
    users = [m for m in model.conversations[-1] if m.role == "user"]
    assert [m.transient for m in users[:-1]] == [SCREEN_GONE, SCREEN_GONE]
    assert users[-1].transient.startswith("Screen (")
    assert all("Screen (" not in m.text for m in users)
    assert users[0].text.startswith("a scripted task"), "the task stays in the first message"


@pytest.mark.parametrize("enter", [True, False])
def test_type_without_enter_leaves_the_line_unsubmitted(tmp_path, enter):
    session, _ = run_script(tmp_path, [type_("echo typed-only", enter=enter), finish()])
    observation = [e for e in session.log().events if isinstance(e, Observation)][1]
    assert (observation.text.count("typed-only") == 2) is enter


def test_session_ended_is_the_last_event(tmp_path):
    session, ended = run_script(tmp_path, [finish("bye")])
    last = session.log().events[-1]
    assert isinstance(last, SessionEnded) and last.summary == "bye"
    assert ended.totals.steps == 1


def test_a_failing_terminal_listener_is_recorded_and_the_session_goes_on(tmp_path, monkeypatch):
    from clive.session.writer import SessionWriter

    record = SessionWriter.terminal_output

    def fails_on_boom(self, data: bytes, when: float) -> None:
        if b"BOOM" in data:
            raise ValueError("a listener's bug")
        record(self, data, when)

    monkeypatch.setattr(SessionWriter, "terminal_output", fails_on_boom)
    session, ended = run_script(tmp_path, [type_("echo BOOM"), type_("echo after"), finish()])
    assert ended.outcome is Outcome.FINISHED
    errors = [e for e in session.log().events if isinstance(e, Error)]
    assert len(errors) == 1 and not errors[0].fatal
    assert "a listener's bug" in errors[0].message and "went on" in errors[0].message
    assert "after" in _results(session)[1].content
