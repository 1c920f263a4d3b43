"""Long sessions against a server with a small window, as llama.cpp serves a small model:
compaction as often as needed and never death by overflow, a window too small said at once,
output the server could not parse counted as the model's, replies cut at the output limit told.

The model is a script behind the real HTTP API (tests/chat_server.py ``respond``): it answers a
request for notes with notes and anything else with the next command. No language model."""

from __future__ import annotations

import pytest
from chat_server import ChatServer, RecordedRequest, streamed_turn, tool_call, unparseable_output

from clive.agent.control import AgentControl
from clive.agent.loop import AgentSettings
from clive.agent.prompts import load_prompts
from clive.agent.task import run_task
from clive.models._retry import RetryPolicy
from clive.models.openai import OpenAIModel
from clive.session import Session
from clive.session.events import ContextCompacted, Error, ModelTurn, Outcome, Totals
from clive.session.reader import totals_from_events

FAST = RetryPolicy(attempts=2, initial=0.01, maximum=0.02)
COMPACT = load_prompts().compact.splitlines()[0]
WINDOW = 3072  # this server counts clive's system prompt and tools as about 1,600 tokens


class EchoScript:
    """Types ``echo step-N`` for N in 1..``steps``, then finishes; writes notes when asked,
    and reports what each request looked like."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.acted = 0
        self.notes_asked = 0
        self.told: list[str] = []  # the last user message of each acting request

    def __call__(self, request: RecordedRequest):
        last = request.body["messages"][-1]
        content = last.get("content") or ""
        if COMPACT in content:
            self.notes_asked += 1
            return streamed_turn(f"NOTES {self.notes_asked}: echoed up to step-{self.acted}.")
        self.told.append(content)
        self.acted += 1
        if self.acted > self.steps:
            return streamed_turn("", [tool_call("finish", {"summary": "echoed them all"})])
        return streamed_turn(
            f"Step {self.acted}.", [tool_call("type", {"text": f"echo step-{self.acted}"})]
        )


def run(tmp_path, model, **settings):
    (tmp_path / "work").mkdir(exist_ok=True)
    writer, ended = run_task(
        "echo one line a step, then finish",
        model,
        sessions_dir=tmp_path / "sessions",
        cwd=tmp_path / "work",
        settings=AgentSettings(**settings),
        cols=80,
        rows=24,
        user_rc=False,
    )
    return Session(writer.directory), ended


@pytest.mark.slow
def test_a_long_session_in_a_small_window_compacts_as_needed_and_never_overflows(tmp_path):
    script = EchoScript(steps=40)
    with ChatServer(window=WINDOW, respond=script) as server:
        session, ended = run(
            tmp_path, OpenAIModel("smollm2", base_url=server.base_url), max_steps=60
        )
    assert ended.outcome is Outcome.FINISHED, ended.reason
    events = session.log().events
    compactions = [e for e in events if isinstance(e, ContextCompacted)]
    assert len(compactions) >= 3 and script.notes_asked == len(compactions)
    assert server.overflows == 0  # the server counted every request, and refused none
    assert all(r.prompt_tokens < WINDOW for r in server.requests)
    # The estimate was calibrated on the server's counts: what clive said it sent is what the
    # server counted.
    acting = [e for e in events if isinstance(e, ModelTurn) and e.purpose == "act"]
    counted = [r.prompt_tokens for r in server.requests if COMPACT not in str(r.body)]
    assert [e.context_tokens for e in acting] == counted
    # The notes carry over, and the shell went on through every compaction.
    assert any("NOTES" in told for told in script.told[1:])
    assert "step-40" in "".join(e.data for e in session.output())


@pytest.mark.slow
def test_a_window_learnt_from_an_overflow_is_then_kept(tmp_path):
    """A server that neither says its window nor counts (as a proxy in front of llama.cpp):
    the first overflow names the window; clive compacts, asks again, and keeps within it."""
    script = EchoScript(steps=30)
    with ChatServer(window=WINDOW, respond=script, llama_endpoints=False) as server:
        session, ended = run(
            tmp_path, OpenAIModel("smollm2", base_url=server.base_url), max_steps=45
        )
    assert ended.outcome is Outcome.FINISHED, ended.reason
    events = session.log().events
    overflows = [e for e in events if isinstance(e, Error) and "context size" in e.message]
    assert len(overflows) == server.overflows == 1 and not overflows[0].fatal
    assert len([e for e in events if isinstance(e, ContextCompacted)]) >= 2


def test_a_window_smaller_than_the_prompt_and_tools_ends_at_once_saying_so(tmp_path):
    script = EchoScript(steps=3)
    with ChatServer(window=2048, respond=script) as server:
        session, ended = run(tmp_path, OpenAIModel("smollm2", base_url=server.base_url))
    assert ended.outcome is Outcome.MODEL_ERROR
    assert "context window (2048 tokens) cannot hold even a fresh conversation" in ended.reason
    assert "system prompt and the tool descriptions take about" in ended.reason
    assert server.requests == []  # counted, not sent: no compaction tried either
    assert session.info.reason == ended.reason


def test_an_overflow_at_the_first_step_ends_with_the_figures_not_a_compaction(tmp_path):
    script = EchoScript(steps=3)
    with ChatServer(window=1800, respond=script, llama_endpoints=False) as server:
        _, ended = run(tmp_path, OpenAIModel("smollm2", base_url=server.base_url))
    assert ended.outcome is Outcome.MODEL_ERROR
    assert "context window (1800 tokens) cannot hold even a fresh conversation" in ended.reason
    assert script.notes_asked == 0 and server.overflows == 1


def test_unparseable_output_is_an_invalid_turn_the_model_is_told_of(tmp_path):
    script = EchoScript(steps=1)
    replies = iter([unparseable_output(), unparseable_output()])

    def respond(request):
        return next(replies, None) or script(request)

    with ChatServer(window=8192, respond=respond) as server:
        session, ended = run(tmp_path, OpenAIModel("smollm2", base_url=server.base_url))
    assert ended.outcome is Outcome.FINISHED, ended.reason
    assert ended.totals.invalid_tool_calls == 2
    assert "could not be read" in script.told[0] and "does not match" in script.told[0]
    events = session.log().events
    errors = [e for e in events if isinstance(e, Error)]
    assert len(errors) == 2 and not any(e.fatal for e in errors)
    unread = [e for e in events if isinstance(e, ModelTurn) and e.stop_reason == "invalid_output"]
    assert [e.step for e in unread] == [1, 2]
    # Resume counts from the events as the loop counted.
    assert totals_from_events(events, Totals()).invalid_tool_calls == 2


@pytest.mark.slow
def test_notes_the_server_could_not_read_are_none_and_the_session_goes_on(tmp_path):
    script = EchoScript(steps=8)
    spoilt = []

    def respond(request):
        if COMPACT in str(request.body["messages"][-1]) and not spoilt:
            spoilt.append(request)
            return unparseable_output()
        return script(request)

    with ChatServer(window=WINDOW, respond=respond) as server:
        session, ended = run(tmp_path, OpenAIModel("smollm2", base_url=server.base_url))
    assert ended.outcome is Outcome.FINISHED, ended.reason
    compactions = [e for e in session.log().events if isinstance(e, ContextCompacted)]
    assert spoilt and compactions[0].notes == "(the model wrote no notes)"
    assert "NOTES" in compactions[-1].notes


def test_unparseable_output_every_time_ends_as_invalid_calls_not_a_pause(tmp_path):
    with ChatServer(window=8192, respond=lambda request: unparseable_output()) as server:
        model = OpenAIModel("smollm2", base_url=server.base_url, retry=FAST)
        _, ended = run(tmp_path, model, max_invalid_calls=3)
    assert ended.outcome is Outcome.INVALID_TOOL_CALLS
    assert ended.totals.invalid_tool_calls == 3 and ended.totals.steps == 3


def test_a_reply_cut_at_the_output_limit_is_recorded_and_told(tmp_path):
    script = EchoScript(steps=1)
    rambling = streamed_turn(" ".join(["ramble"] * 200), [tool_call("type", {"text": "ls"})])
    replies = iter([rambling])

    def respond(request):
        return next(replies, None) or script(request)

    with ChatServer(window=8192, respond=respond) as server:
        model = OpenAIModel("smollm2", base_url=server.base_url, max_tokens=50)
        session, ended = run(tmp_path, model)
    assert ended.outcome is Outcome.FINISHED, ended.reason
    first = next(e for e in session.log().events if isinstance(e, ModelTurn))
    assert first.cut_off and first.stop_reason == "length" and first.tool_calls == []
    assert "cut off at the output limit (50 tokens)" in script.told[0]
    assert ended.totals.invalid_tool_calls == 1  # no tool call came of it


def test_turns_without_a_tool_call_count_as_invalid_calls(tmp_path):
    with ChatServer(respond=lambda request: streamed_turn("I think, therefore I am.")) as server:
        session, ended = run(
            tmp_path, OpenAIModel("m", base_url=server.base_url), max_invalid_calls=3
        )
    assert ended.outcome is Outcome.INVALID_TOOL_CALLS
    assert ended.totals.invalid_tool_calls == 3
    assert session.info.totals.invalid_tool_calls == 3
    # Resume counts from the events as the loop counted.
    assert totals_from_events(session.log().events, Totals()).invalid_tool_calls == 3


def test_what_the_user_said_is_not_lost_with_a_reply_that_could_not_be_read(tmp_path):
    script = EchoScript(steps=1)
    replies = iter([unparseable_output()])
    control = AgentControl()
    control.steer("REMEMBER-PURPLE")

    def respond(request):
        return next(replies, None) or script(request)

    with ChatServer(window=8192, respond=respond) as server:
        (tmp_path / "work").mkdir()
        _, ended = run_task(
            "echo one line a step, then finish",
            OpenAIModel("smollm2", base_url=server.base_url),
            sessions_dir=tmp_path / "sessions",
            cwd=tmp_path / "work",
            user_rc=False,
            control=control,
        )
    assert ended.outcome is Outcome.FINISHED, ended.reason
    first, second = (str(r.body["messages"]) for r in server.requests[:2])
    assert "REMEMBER-PURPLE" in first and "REMEMBER-PURPLE" in second
    assert "could not be read" in second
