"""Whole sessions with real backends (the real SDK over HTTP) against local API servers:
streamed text, caching, cost, every failure retried, a pause when retries run out and the
resume after it, budgets in dollars and tokens, compaction."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from chat_server import ChatServer, streamed_turn, tool_call
from chat_server import http_error as http_error_chat
from messages_server import (
    MessagesServer,
    dropped,
    error_mid_stream,
    http_error,
    reply,
    text,
    tool_use,
)

from clive.agent.loop import AgentSettings
from clive.agent.task import resume_task, run_task
from clive.config import DEFAULT_PRICES
from clive.models._retry import RetryPolicy
from clive.models.anthropic import AnthropicModel
from clive.models.openai import OpenAIModel
from clive.session import Session
from clive.session.events import (
    BudgetWarning,
    ContextCompacted,
    ModelRetry,
    ModelText,
    ModelTurn,
    Outcome,
    ToolResult,
)

MODEL = "claude-sonnet-4-5"  # priced in the default table: $3 in, $15 out per million
FAST = RetryPolicy(attempts=3, initial=0.01, maximum=0.02)


@pytest.fixture
def server() -> Iterator[MessagesServer]:
    with MessagesServer() as running:
        yield running


def _anthropic(server: MessagesServer, retry: RetryPolicy = FAST) -> AnthropicModel:
    return AnthropicModel(
        MODEL, api_key="test-key", base_url=server.url, prices=DEFAULT_PRICES, retry=retry
    )


def _run(tmp_path, model, task="say hello", **settings):
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    seen = []
    writer, ended = run_task(
        task,
        model,
        sessions_dir=tmp_path / "sessions",
        cwd=work,
        settings=AgentSettings(**settings),
        user_rc=False,
        on_event=seen.append,
    )
    return Session(writer.directory), ended, seen


def _finish(summary="done", **usage):
    return reply(tool_use("finish", {"summary": summary}), **usage)


def test_a_session_streams_caches_and_accounts_its_cost(tmp_path, server):
    server.enqueue(
        reply(
            text("I'll say ", "hello ", "in the shell."),
            tool_use("type", {"text": "echo hello"}),
            input_tokens=1200,
            output_tokens=40,
            cache_creation_input_tokens=3000,
        ),
        _finish("said hello", input_tokens=300, output_tokens=20, cache_read_input_tokens=3900),
    )
    session, ended, seen = _run(tmp_path, _anthropic(server))
    assert ended.outcome is Outcome.FINISHED, ended.reason

    streamed = [e.text for e in seen if isinstance(e, ModelText) and e.step == 1]
    assert len(streamed) >= 3 and "".join(streamed) == "I'll say hello in the shell."
    events = session.log().events
    assert not [e for e in events if isinstance(e, ModelText)], "streamed text is not stored"
    first, second = [e for e in events if isinstance(e, ModelTurn)]
    assert first.text == "I'll say hello in the shell."
    assert first.usage.cache_write_tokens == 3000 and second.usage.cache_read_tokens == 3900
    expected = (1200 * 3 + 40 * 15 + 3000 * 3.75) / 1e6
    assert first.cost == pytest.approx(expected)
    assert ended.totals.cost == pytest.approx(first.cost + second.cost)
    assert session.info.totals.cost == pytest.approx(ended.totals.cost)
    assert ended.totals.usage.cache_read_tokens == 3900

    # The second request re-reads the first from the cache: breakpoints on the system
    # prompt, the tools, and the conversation; the tool result answers the type call.
    body = server.requests[1].body
    assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
    assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    last_user = body["messages"][-1]["content"]
    assert last_user[0]["type"] == "tool_result" and "typed 10 characters" in str(last_user[0])
    assert any("cache_control" in block for block in last_user)
    assert last_user[-1]["text"].startswith("Screen ("), "the screen comes after the breakpoint"
    assert "cache_control" not in last_user[-1]

    listing = subprocess.run(
        [sys.executable, "-m", "clive", "sessions", "--sessions-dir", str(tmp_path / "sessions")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"${ended.totals.cost:.2f}" in listing.stdout


def test_every_kind_of_failure_is_retried_within_a_session(tmp_path, server):
    server.enqueue(
        http_error(429, "rate_limit_error", "slow down", retry_after="0"),
        http_error(529, "overloaded_error", "Overloaded"),
        _finish(),  # step 1 gets through on its third try
    )
    session, ended, _ = _run(tmp_path, _anthropic(server))
    assert ended.outcome is Outcome.FINISHED
    retries = [e for e in session.log().events if isinstance(e, ModelRetry)]
    assert [r.attempt for r in retries] == [1, 2]
    assert "429" in retries[0].reason and retries[0].delay == 0
    assert "529" in retries[1].reason or "overloaded" in retries[1].reason


def test_a_dropped_stream_a_server_error_and_an_error_event_are_retried(tmp_path, server):
    server.enqueue(
        dropped(_finish()),
        http_error(500, "api_error", "Internal server error"),
        error_mid_stream(_finish()),
        _finish("through"),
    )
    retry = RetryPolicy(attempts=4, initial=0.01, maximum=0.02)
    session, ended, _ = _run(tmp_path, _anthropic(server, retry))
    assert ended.outcome is Outcome.FINISHED and ended.summary == "through"
    reasons = [e.reason for e in session.log().events if isinstance(e, ModelRetry)]
    assert len(reasons) == 3


def test_when_retries_run_out_the_session_pauses_and_resumes_later(tmp_path, server):
    server.enqueue(
        reply(tool_use("type", {"text": "echo first > state.txt"})),
        *[http_error(529, "overloaded_error", "Overloaded")] * 3,
    )
    session, ended, _ = _run(tmp_path, _anthropic(server))
    assert ended.outcome is Outcome.PAUSED
    assert "unavailable" in ended.reason and "clive resume" in ended.reason
    assert session.info.outcome is Outcome.PAUSED

    server.enqueue(
        reply(tool_use("type", {"text": "cat state.txt"})),
        _finish("resumed"),
    )
    writer, resumed = resume_task(Session(session.directory), _anthropic(server), user_rc=False)
    assert resumed.outcome is Outcome.FINISHED and resumed.summary == "resumed"
    opening = server.requests[-2].body["messages"][0]["content"]
    assert "This session stopped after step 1: paused" in str(opening)
    results = [e for e in Session(writer.directory).log().events if isinstance(e, ToolResult)]
    assert [r.step for r in results] == [1, 2, 3]


def test_a_cost_budget_warns_then_stops_the_session(tmp_path, server):
    # Each turn costs 1000 * $3 / 1e6 + 100 * $15 / 1e6 = $0.0045.
    turn = {"input_tokens": 1000, "output_tokens": 100}
    for _ in range(3):
        server.enqueue(reply(tool_use("note", {"text": "thinking it over"}), **turn))
    session, ended, _ = _run(tmp_path, _anthropic(server), max_cost=0.0105)
    assert ended.outcome is Outcome.COST_LIMIT and "cost budget" in ended.reason
    warnings = [e for e in session.log().events if isinstance(e, BudgetWarning)]
    assert [w.budget for w in warnings] == ["cost"]
    assert ended.totals.steps == 3


def test_a_token_budget_stops_the_session(tmp_path, server):
    server.enqueue(
        reply(tool_use("note", {"text": "a"}), input_tokens=500, output_tokens=100),
        reply(tool_use("note", {"text": "b"}), input_tokens=500, output_tokens=100),
    )
    _, ended, _ = _run(tmp_path, _anthropic(server), max_tokens=1000)
    assert ended.outcome is Outcome.TOKEN_LIMIT and ended.totals.steps == 2


def test_near_the_context_limit_the_model_writes_notes_and_starts_afresh(tmp_path):
    # The server counts as the API would (tests/token_count.py) and refuses what its window
    # cannot hold; clive is told the same window, so it compacts before anything is refused.
    with MessagesServer(window=1700) as server:
        server.enqueue(
            reply(text("Counting."), tool_use("type", {"text": "seq 1 300"})),
            reply(text("NOTES: printed 1 to 300; next, finish.")),
            _finish("compacted and done"),
        )
        session, ended, _ = _run(tmp_path, _anthropic(server), context_limit=1700)
    assert ended.outcome is Outcome.FINISHED, ended.reason
    (compacted,) = [e for e in session.log().events if isinstance(e, ContextCompacted)]
    assert "NOTES: printed" in compacted.notes
    assert server.refusals == 0 and len(server.requests) == 3
    request = server.requests[1].body["messages"][-1]["content"]
    assert request[0]["type"] == "tool_result", "the pending tool call is answered first"
    assert "about to be cleared" in str(request)
    fresh = server.requests[2].body["messages"]
    assert len(fresh) == 1 and "NOTES: printed" in str(fresh[0]["content"])
    assert "say hello" in str(fresh[0]["content"]), "the task opens the fresh context"
    assert "NOTES: printed" in (session.directory / "notes.md").read_text()


def test_a_request_too_long_for_the_model_compacts_and_asks_again(tmp_path):
    # clive believes the model's 200,000 tokens; the server holds 2,000. The refusal names
    # the window, and clive keeps to it from then on.
    turn = reply(text("NOTES: printing numbers."), tool_use("type", {"text": "seq 1 300"}))
    with MessagesServer(window=2000) as server:
        # A request for notes may take the finish (as notes it says nothing): two of them.
        server.enqueue(*[turn] * 8, _finish("fitted"), _finish("fitted"))
        session, ended, _ = _run(tmp_path, _anthropic(server))
    assert ended.outcome is Outcome.FINISHED and ended.summary == "fitted", ended.reason
    events = session.log().events
    compactions = [e for e in events if isinstance(e, ContextCompacted)]
    assert server.refusals == 1, "the window is learnt from the one refusal"
    assert compactions and "NOTES" in compactions[0].notes
    asked = [r for r in server.requests if "about to be cleared" in str(r.body["messages"][-1])]
    assert asked and all(
        m["content"][0]["type"] == "tool_result" for m in (r.body["messages"][-1] for r in asked)
    ), "the pending tool call is answered"


def test_a_reply_stopped_by_a_full_window_compacts_next_and_says_why(tmp_path, server):
    server.enqueue(
        reply(text("I was writing a long"), stop_reason="model_context_window_exceeded"),
        reply(text("NOTES: nothing done yet.")),
        _finish("done after compacting"),
    )
    session, ended, _ = _run(tmp_path, _anthropic(server))
    assert ended.outcome is Outcome.FINISHED, ended.reason
    events = session.log().events
    first = next(e for e in events if isinstance(e, ModelTurn))
    assert first.cut_off and first.stop_reason == "model_context_window_exceeded"
    (compacted,) = [e for e in events if isinstance(e, ContextCompacted)]
    assert compacted.step == 2  # the context was small, yet the window said it was full
    fresh = str(server.requests[2].body["messages"])
    assert "NOTES: nothing done yet." in fresh
    assert "the context window filled up while you wrote" in fresh
    assert "You did not call a tool" in fresh


def test_a_conversation_that_never_fits_ends_with_a_clear_reason(tmp_path, server):
    too_long = http_error(400, "invalid_request_error", "prompt is too long: 9 tokens > 8")
    server.enqueue(reply(tool_use("note", {"text": "n"})), too_long, reply(text("N")), too_long)
    _, ended, _ = _run(tmp_path, _anthropic(server))
    assert ended.outcome is Outcome.MODEL_ERROR and "context window" in ended.reason


def test_a_malformed_tool_input_is_an_invalid_call_the_model_reads(tmp_path, server):
    server.enqueue(
        reply(tool_use("type", '{"text": "ls", ')),  # cut short: not JSON
        _finish("recovered"),
    )
    session, ended, _ = _run(tmp_path, _anthropic(server))
    assert ended.outcome is Outcome.FINISHED and ended.totals.invalid_tool_calls == 1
    result = next(e for e in session.log().events if isinstance(e, ToolResult))
    assert not result.ok and "not a JSON object" in result.content
    told = server.requests[1].body["messages"][-1]["content"][0]
    assert told["type"] == "tool_result" and told["is_error"] is True


def test_the_openai_compatible_backend_runs_the_same_session(tmp_path):
    with ChatServer() as chat:
        chat.enqueue(
            streamed_turn(
                ["I'll say ", "hello."],
                [tool_call("type", {"text": "echo hello"})],
                prompt_tokens=900,
                cached_tokens=600,
                completion_tokens=30,
            ),
            streamed_turn("", [tool_call("finish", {"summary": "said hello"})]),
        )
        prices = {"local-model": DEFAULT_PRICES[MODEL]}
        model = OpenAIModel("local-model", base_url=chat.base_url, prices=prices, retry=FAST)
        session, ended, seen = _run(tmp_path, model)
    assert ended.outcome is Outcome.FINISHED and ended.summary == "said hello"
    assert "".join(e.text for e in seen if isinstance(e, ModelText)) == "I'll say hello."
    first = next(e for e in session.log().events if isinstance(e, ModelTurn))
    assert first.usage.cache_read_tokens == 600 and first.usage.input_tokens == 300
    assert first.cost == pytest.approx((300 * 3 + 600 * 0.3 + 30 * 15) / 1e6)
    output = "".join(e.data for e in session.output())
    assert "hello" in output.replace("echo hello", "")


def test_an_openai_compatible_server_s_context_error_compacts(tmp_path):
    with ChatServer() as chat:
        chat.enqueue(
            streamed_turn("", [tool_call("note", {"text": "start"})]),
            http_error_chat(
                400,
                "This model's maximum context length is 8192 tokens. However, you requested "
                "9000 tokens (8000 in the messages, 1000 in the completion).",
                error_type="BadRequestError",
            ),
            streamed_turn("NOTES: started."),
            streamed_turn("", [tool_call("finish", {"summary": "fitted"})]),
        )
        model = OpenAIModel("small-model", base_url=chat.base_url, retry=FAST)
        session, ended, _ = _run(tmp_path, model)
    assert ended.outcome is Outcome.FINISHED and ended.summary == "fitted"
    assert [e for e in session.log().events if isinstance(e, ContextCompacted)]


def test_the_command_line_streams_a_session_against_a_messages_server(tmp_path, server):
    server.enqueue(
        reply(text("Listing."), tool_use("type", {"text": "ls"}), cache_read_input_tokens=50),
        _finish("listed"),
    )
    (tmp_path / "work").mkdir()
    done = subprocess.run(
        [
            sys.executable, "-m", "clive", "--base-url", server.url, "--model", MODEL,
            "--cwd", str(tmp_path / "work"), "--sessions-dir", str(tmp_path / "s"),
            "--no-user-rc", "list the files",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "ANTHROPIC_API_KEY": "sk-ant-test-" + "x" * 40},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "step 1 model: Listing. -> type" in done.stdout and "50 cache read" in done.stdout
    assert "session ended: finished" in done.stdout
    assert server.requests[0].headers.get("authorization", "").startswith("Bearer sk-ant-test-")
