"""The Anthropic backend against a local Messages API server: the real SDK, over real HTTP."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from messages_server import (
    MessagesServer,
    dropped,
    ended_early,
    error_mid_stream,
    http_error,
    redacted_thinking,
    reply,
    stall,
    text,
    thinking,
    tool_use,
)

from clive.models._retry import RetryPolicy
from clive.models.anthropic import AnthropicModel
from clive.models.base import (
    Message,
    ModelError,
    ModelReply,
    ModelUnavailable,
    Pricing,
    Retry,
    ToolResultBlock,
    ToolSpec,
)
from clive.session.events import ToolCall, Usage

API_KEY = "sk-ant-test-key"
TOOLS = [
    ToolSpec("type", "Type text into the terminal.", {"type": "object"}),
    ToolSpec("finish", "End the task.", {"type": "object"}),
]
TASK = [Message("user", text="list the files", transient="$ ")]


@pytest.fixture
def server() -> Iterator[MessagesServer]:
    with MessagesServer() as running:
        yield running


def make_model(server: MessagesServer, **options: Any) -> AnthropicModel:
    options.setdefault("retry", RetryPolicy(attempts=3, initial=0.01, maximum=0.01))
    return AnthropicModel("claude-test", api_key=API_KEY, base_url=server.url, **options)


def ask(
    model: AnthropicModel,
    messages: list[Message] = TASK,
    *,
    pieces: list[str] | None = None,
    retries: list[Retry] | None = None,
) -> ModelReply:
    """One reply to ``messages``, collecting streamed text and retries in the lists given."""
    return model.reply(
        "You drive a terminal.",
        messages,
        TOOLS,
        on_text=None if pieces is None else pieces.append,
        on_retry=None if retries is None else retries.append,
    )


def breakpoints(value: Any) -> int:
    """How many ``cache_control`` markers ``value`` holds, at any depth."""
    if isinstance(value, dict):
        return ("cache_control" in value) + sum(breakpoints(v) for v in value.values())
    if isinstance(value, list):
        return sum(breakpoints(v) for v in value)
    return 0


def unmarked(value: Any) -> Any:
    """``value`` without its ``cache_control`` markers."""
    if isinstance(value, dict):
        return {k: unmarked(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [unmarked(v) for v in value]
    return value


# --- Replies ---------------------------------------------------------------------------------


def test_text_streams_in_pieces_and_the_reply_text_is_whole(server):
    server.enqueue(reply(text("Let me ", "look at ", "the files.")))
    pieces: list[str] = []
    answer = ask(make_model(server), pieces=pieces)
    assert pieces == ["Let me ", "look at ", "the files."]
    assert answer.text == "Let me look at the files."
    assert answer.tool_calls == [] and answer.stop_reason == "end_turn"


def test_tool_input_split_across_deltas_is_parsed(server):
    call = tool_use("type", {"text": "ls -la\n", "submit": True}, id="toolu_ls", pieces=5)
    server.enqueue(reply(call))
    answer = ask(make_model(server))
    assert answer.tool_calls == [
        ToolCall(id="toolu_ls", name="type", input={"text": "ls -la\n", "submit": True})
    ]
    assert answer.stop_reason == "tool_use"


def test_several_tool_calls_come_back_in_order_after_the_text(server):
    server.enqueue(
        reply(
            text("Two things."),
            tool_use("type", {"text": "ls\n"}, id="toolu_1"),
            tool_use("finish", {"summary": "done"}, id="toolu_2"),
        )
    )
    answer = ask(make_model(server))
    assert answer.text == "Two things."
    assert [(c.id, c.name, c.input) for c in answer.tool_calls] == [
        ("toolu_1", "type", {"text": "ls\n"}),
        ("toolu_2", "finish", {"summary": "done"}),
    ]


def test_text_blocks_on_either_side_of_a_call_are_one_text_in_paragraphs(server):
    server.enqueue(reply(text("Before."), tool_use("type", {"text": "ls\n"}), text("After.")))
    pieces: list[str] = []
    answer = ask(make_model(server), pieces=pieces)
    assert answer.text == "Before.\n\nAfter."
    assert "".join(pieces) == answer.text


def test_malformed_tool_input_comes_back_as_the_raw_string(server):
    server.enqueue(reply(tool_use("type", '{"text": "ls\\n", "submit": tr')))
    answer = ask(make_model(server))
    assert answer.tool_calls[0].input == '{"text": "ls\\n", "submit": tr'


def test_usage_counts_cache_tokens_and_the_price_table_gives_the_cost(server):
    server.enqueue(
        reply(
            text("ok"),
            input_tokens=100,
            output_tokens=50,
            cache_creation_input_tokens=2000,
            cache_read_input_tokens=3000,
        )
    )
    prices = {"claude-te": Pricing(input=1, output=1), "claude-test": Pricing(input=3, output=15)}
    answer = ask(make_model(server, prices=prices))
    # message_start said 1 output token; message_delta's cumulative 50 wins.
    assert answer.usage == Usage(
        input_tokens=100, output_tokens=50, cache_read_tokens=3000, cache_write_tokens=2000
    )
    # The longest matching price; cache reads at a tenth of input, writes at 1.25 times.
    assert answer.cost == pytest.approx((100 * 3 + 50 * 15 + 3000 * 0.3 + 2000 * 3.75) / 1e6)


def test_cost_is_unknown_without_a_price(server):
    server.enqueue(reply(text("ok")))
    assert ask(make_model(server, prices={"gpt": Pricing(input=1, output=1)})).cost is None


def test_thinking_sends_the_budget_and_returns_signed_reasoning(server):
    server.enqueue(
        reply(
            thinking("The user wants ", "a listing.", signature="sig-1"),
            redacted_thinking("opaque-bytes"),
            text("Listing."),
            tool_use("type", {"text": "ls\n"}),
        )
    )
    pieces: list[str] = []
    answer = ask(make_model(server, thinking_budget=2048, max_tokens=1024), pieces=pieces)
    body = server.requests[0].body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["max_tokens"] > 2048
    assert answer.reasoning == [
        {"type": "thinking", "thinking": "The user wants a listing.", "signature": "sig-1"},
        {"type": "redacted_thinking", "data": "opaque-bytes"},
    ]
    assert answer.thinking == "The user wants a listing."
    assert pieces == ["Listing."], "thinking is not the model's text"


def test_without_a_budget_no_thinking_is_asked_for(server):
    server.enqueue(reply(text("ok")))
    ask(make_model(server, max_tokens=1234))
    body = server.requests[0].body
    assert "thinking" not in body and body["max_tokens"] == 1234


def test_a_thinking_budget_below_the_api_minimum_is_refused(server):
    with pytest.raises(ValueError, match="at least 1024"):
        make_model(server, thinking_budget=500)


# --- Requests --------------------------------------------------------------------------------


def test_the_api_key_and_version_are_sent(server):
    server.enqueue(reply(text("ok")))
    ask(make_model(server))
    headers = server.requests[0].headers
    # The SDK (2.x) sends the key as a bearer token, which the API takes as x-api-key.
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert headers["anthropic-version"]
    assert server.requests[0].path == "/v1/messages"
    assert server.requests[0].body["stream"] is True


def test_system_and_the_last_tool_carry_cache_breakpoints(server):
    server.enqueue(reply(text("ok")))
    ask(make_model(server))
    body = server.requests[0].body
    assert body["system"] == [
        {"type": "text", "text": "You drive a terminal.", "cache_control": {"type": "ephemeral"}}
    ]
    assert body["tools"] == [
        {
            "name": "type",
            "description": "Type text into the terminal.",
            "input_schema": {"type": "object"},
        },
        {
            "name": "finish",
            "description": "End the task.",
            "input_schema": {"type": "object"},
            "cache_control": {"type": "ephemeral"},
        },
    ]


CONVERSATION = [
    Message("user", text="list the files", transient="screen 1"),
    Message("assistant", text="Listing.", tool_calls=[ToolCall(id="t1", name="type", input={})]),
    Message(
        "user",
        tool_results=[ToolResultBlock("t1", "typed")],
        text="ls ran",
        transient="screen 2",
    ),
    Message("assistant", tool_calls=[ToolCall(id="t2", name="type", input={"text": "pwd\n"})]),
    Message(
        "user",
        tool_results=[ToolResultBlock("t2", "typed"), ToolResultBlock("t3", "no such tool", True)],
        transient="screen 3",
    ),
]


def test_tool_results_come_first_then_text_then_the_transient_part(server):
    server.enqueue(reply(text("ok")))
    ask(make_model(server), CONVERSATION)
    second_user = server.requests[0].body["messages"][2]
    assert second_user == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": "typed", "is_error": False},
            {"type": "text", "text": "ls ran", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "screen 2"},
        ],
    }


def test_rolling_breakpoints_sit_before_the_transient_part_of_the_last_user_messages(server):
    server.enqueue(reply(text("ok")))
    ask(make_model(server), CONVERSATION)
    body = server.requests[0].body
    first, _, second, _, last = body["messages"]
    assert breakpoints(first) == 0, "only the last two user messages carry one"
    # With text: on the text. Without: on the last tool result. Never on the transient part,
    # which a later turn replaces.
    assert second["content"][1] == {
        "type": "text",
        "text": "ls ran",
        "cache_control": {"type": "ephemeral"},
    }
    assert last["content"] == [
        {"type": "tool_result", "tool_use_id": "t2", "content": "typed", "is_error": False},
        {
            "type": "tool_result",
            "tool_use_id": "t3",
            "content": "no such tool",
            "is_error": True,
            "cache_control": {"type": "ephemeral"},
        },
        {"type": "text", "text": "screen 3"},
    ]
    assert breakpoints(body) == 4, "tools, system, two user messages: the API's most"


def test_a_later_turn_keeps_the_cached_prefix_byte_for_byte(server):
    """Replacing an old screen and adding turns changes nothing before the previous request's
    last breakpoint but where the breakpoints are (which the cache does not key on), so what
    that request cached is read."""
    server.enqueue(reply(text("one")), reply(text("two")))
    model = make_model(server)
    ask(model, CONVERSATION[:3])
    replaced = dataclasses.replace(CONVERSATION[2], transient="(an older screen)")
    ask(model, [*CONVERSATION[:2], replaced, *CONVERSATION[3:]])
    before, after = (unmarked(request.body["messages"]) for request in server.requests)
    assert after[:2] == before[:2]
    assert after[2]["content"][:2] == before[2]["content"][:2]
    assert after[2]["content"][2] != before[2]["content"][2]
    assert server.requests[1].body["messages"][2]["content"][1]["cache_control"]


def test_assistant_reasoning_is_sent_back_unchanged_before_text_and_calls(server):
    reasoning = [
        {"type": "thinking", "thinking": "Hmm.", "signature": "sig-1"},
        {"type": "redacted_thinking", "data": "opaque-bytes"},
    ]
    call = ToolCall(id="t1", name="type", input={"text": "ls\n"})
    messages = [
        TASK[0],
        Message("assistant", text="Listing.", tool_calls=[call], reasoning=reasoning),
        Message("user", tool_results=[ToolResultBlock("t1", "typed")]),
    ]
    server.enqueue(reply(text("ok")))
    ask(make_model(server, thinking_budget=2048), messages)
    assert server.requests[0].body["messages"][1] == {
        "role": "assistant",
        "content": [
            *reasoning,
            {"type": "text", "text": "Listing."},
            {"type": "tool_use", "id": "t1", "name": "type", "input": {"text": "ls\n"}},
        ],
    }


def test_a_malformed_call_is_sent_back_with_an_empty_input(server):
    messages = [
        TASK[0],
        Message("assistant", tool_calls=[ToolCall(id="t1", name="type", input='{"text": ')]),
        Message("user", tool_results=[ToolResultBlock("t1", "invalid input", True)]),
    ]
    server.enqueue(reply(text("ok")))
    ask(make_model(server), messages)
    tool_use_block = server.requests[0].body["messages"][1]["content"][0]
    assert tool_use_block == {"type": "tool_use", "id": "t1", "name": "type", "input": {}}


def test_neighbours_of_one_role_are_merged_and_empty_messages_left_out(server):
    messages = [
        Message("user", text="list the files"),
        Message("assistant"),
        Message("user", text="and be quick"),
        Message("assistant", text="Sure."),
        Message("assistant", text="Listing."),
        Message("user", text="go on"),
    ]
    server.enqueue(reply(text("ok")))
    ask(make_model(server), messages)
    sent = server.requests[0].body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert [block["text"] for block in sent[0]["content"]] == ["list the files", "and be quick"]
    assert [block["text"] for block in sent[1]["content"]] == ["Sure.", "Listing."]


# --- Failures --------------------------------------------------------------------------------

GOOD = reply(text("Hel", "lo"))
TRANSIENT_FAILURES = {
    "overloaded_529": (http_error(529, "overloaded_error", "Overloaded"), "529 overloaded_error"),
    "server_error_500": (http_error(500, "api_error", "Internal error"), "500 api_error"),
    "error_event_mid_stream": (error_mid_stream(GOOD), "overloaded_error mid-stream"),
    "dropped_mid_stream": (dropped(GOOD), "the connection dropped mid-stream"),
    "ended_without_message_stop": (ended_early(GOOD), "ended before message_stop"),
    "stall_before_answering": (stall(60), "no answer from the API within 1s"),
    "stall_mid_stream": (stall(60, reply=GOOD), "the response stream stalled for 1s"),
}


@pytest.mark.parametrize(
    ("failure", "reason"), TRANSIENT_FAILURES.values(), ids=TRANSIENT_FAILURES.keys()
)
def test_a_transient_failure_is_retried_and_reported(server, failure, reason):
    server.enqueue(failure, reply(text("Hello")))
    retries: list[Retry] = []
    answer = ask(make_model(server, timeout=1.0), retries=retries)
    assert answer.text == "Hello"
    assert len(server.requests) == 2
    assert [(r.attempt, r.attempts) for r in retries] == [(1, 3)]
    assert reason in retries[0].reason


def test_a_retry_restarts_the_turn_and_the_reply_holds_only_the_last_attempt(server):
    server.enqueue(dropped(reply(text("Hel", "lo", " there")), after_events=4), GOOD)
    pieces: list[str] = []
    answer = ask(make_model(server), pieces=pieces)
    assert pieces == ["Hel", "Hel", "lo"], "what the failed attempt streamed was shown"
    assert answer.text == "Hello"


def test_a_rate_limit_is_retried_after_the_retry_after_the_server_asks(server):
    server.enqueue(http_error(429, "rate_limit_error", "Slow down", retry_after="0.05"), GOOD)
    retries: list[Retry] = []
    answer = ask(make_model(server), retries=retries)
    assert answer.text == "Hello"
    assert [r.delay for r in retries] == [0.05]
    assert retries[0].reason == "429 rate_limit_error: Slow down"


def test_failures_outlasting_the_retries_raise_model_unavailable_naming_them(server):
    server.enqueue(*[http_error(529, "overloaded_error", "Overloaded")] * 3)
    retries: list[Retry] = []
    with pytest.raises(ModelUnavailable, match="529 overloaded_error: Overloaded") as raised:
        ask(make_model(server), retries=retries)
    assert "tried 3 times" in str(raised.value)
    assert len(server.requests) == 3 and len(retries) == 2


def test_an_unreachable_api_is_retried_then_unavailable():
    with MessagesServer() as gone:
        model = make_model(gone)
    retries: list[Retry] = []
    with pytest.raises(ModelUnavailable, match="cannot reach the API"):
        ask(model, retries=retries)
    assert len(retries) == 2


def test_a_refused_key_is_a_model_error_and_is_not_retried(server):
    server.enqueue(http_error(401, "authentication_error", "invalid x-api-key"), GOOD)
    retries: list[Retry] = []
    with pytest.raises(ModelError, match="check ANTHROPIC_API_KEY") as raised:
        ask(make_model(server), retries=retries)
    assert not isinstance(raised.value, ModelUnavailable)
    assert "401 authentication_error: invalid x-api-key" in str(raised.value)
    assert len(server.requests) == 1 and retries == []
    assert server.pending == 1, "the reply queued for a retry was never asked for"


def test_an_unknown_model_is_a_model_error_naming_it(server):
    server.enqueue(http_error(404, "not_found_error", "model: claude-test"))
    with pytest.raises(ModelError, match="does not know the model 'claude-test'"):
        ask(make_model(server))
    assert len(server.requests) == 1


def test_a_refused_request_says_what_the_api_said(server):
    server.enqueue(http_error(400, "invalid_request_error", "prompt is too long"))
    with pytest.raises(ModelError, match="400 invalid_request_error: prompt is too long"):
        ask(make_model(server))
    assert len(server.requests) == 1


def test_no_api_key_is_a_model_error_before_any_request(server, monkeypatch, tmp_path):
    for name in [name for name in os.environ if name.startswith("ANTHROPIC_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))  # no credentials profile on disk either
    model = AnthropicModel("claude-test", base_url=server.url)
    with pytest.raises(ModelError, match="set ANTHROPIC_API_KEY"):
        ask(model)
    assert server.requests == []


def test_broken_credentials_settings_are_a_model_error(server, monkeypatch, tmp_path):
    for name in [name for name in os.environ if name.startswith("ANTHROPIC_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(tmp_path))  # names no profile there
    with pytest.raises(ModelError, match="cannot set up the Anthropic API client"):
        AnthropicModel("claude-test", base_url=server.url)


# --- The test server itself ------------------------------------------------------------------


def test_the_server_answers_an_unqueued_request_with_a_clear_500(server):
    with pytest.raises(ModelUnavailable, match="no response was queued for request #1"):
        ask(make_model(server, retry=RetryPolicy(attempts=1)))


def test_the_server_answers_a_non_streamed_request_with_one_message(server):
    server.enqueue(reply(text("Hello"), tool_use("type", {"text": "ls\n"}, id="toolu_1")))
    client = anthropic.Anthropic(api_key=API_KEY, base_url=server.url, max_retries=0)
    message = client.messages.create(
        model="claude-test", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    )
    assert [block.type for block in message.content] == ["text", "tool_use"]
    assert message.content[1].input == {"text": "ls\n"}
    assert message.stop_reason == "tool_use" and message.usage.output_tokens == 10
