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
    prompt_too_long,
    redacted_thinking,
    reply,
    stall,
    text,
    thinking,
    tool_use,
)
from token_count import request_tokens

from clive.models._retry import RetryPolicy
from clive.models.anthropic import AnthropicModel
from clive.models.base import (
    ContextOverflow,
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
SYSTEM = "You drive a terminal."
TOOLS = [
    ToolSpec("type", "Type text into the terminal.", {"type": "object"}),
    ToolSpec("finish", "End the task.", {"type": "object"}),
]
TASK = [Message("user", text="list the files", transient="$ ")]


@pytest.fixture
def server() -> Iterator[MessagesServer]:
    with MessagesServer() as running:
        yield running


@pytest.fixture
def no_credentials(monkeypatch, tmp_path) -> None:
    """No Anthropic key in the environment, nor a credentials profile on disk."""
    for name in [name for name in os.environ if name.startswith("ANTHROPIC_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))


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
        SYSTEM,
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
    assert not answer.cut_off


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


# --- Replies cut short -----------------------------------------------------------------------

CUT_OFF_STOP_REASONS = ["max_tokens", "model_context_window_exceeded"]


@pytest.mark.parametrize("stop_reason", CUT_OFF_STOP_REASONS)
def test_a_reply_cut_short_keeps_its_partial_text_and_is_cut_off(server, stop_reason):
    server.enqueue(reply(text("The files are ", "a.txt, b.txt and"), stop_reason=stop_reason))
    answer = ask(make_model(server))
    assert answer.text == "The files are a.txt, b.txt and"
    assert answer.stop_reason == stop_reason and answer.cut_off


@pytest.mark.parametrize("stop_reason", CUT_OFF_STOP_REASONS)
def test_a_tool_call_cut_short_comes_back_as_its_raw_partial_json(server, stop_reason):
    partial = '{"text": "ls -la /t'
    server.enqueue(reply(text("Listing."), tool_use("type", partial), stop_reason=stop_reason))
    answer = ask(make_model(server))
    assert answer.text == "Listing."
    assert [call.input for call in answer.tool_calls] == [partial]
    assert answer.stop_reason == stop_reason and answer.cut_off


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


def test_an_overload_mid_stream_outlasting_the_retries_is_unavailable(server):
    server.enqueue(*[error_mid_stream(reply(text("Hel", "lo")))] * 3)
    pieces: list[str] = []
    retries: list[Retry] = []
    with pytest.raises(ModelUnavailable, match="overloaded_error mid-stream: Overloaded") as raised:
        ask(make_model(server), pieces=pieces, retries=retries)
    assert "tried 3 times" in str(raised.value)
    assert pieces == ["Hel"] * 3, "each attempt streamed its start before the error"
    assert [r.reason for r in retries] == ["overloaded_error mid-stream: Overloaded"] * 2


def test_an_error_mid_stream_that_retrying_cannot_fix_is_not_retried(server):
    refused = error_mid_stream(GOOD, error_type="invalid_request_error", message="bad block")
    server.enqueue(refused, GOOD)
    retries: list[Retry] = []
    with pytest.raises(ModelError, match="invalid_request_error mid-stream: bad block") as raised:
        ask(make_model(server), retries=retries)
    assert not isinstance(raised.value, ModelUnavailable)
    assert len(server.requests) == 1 and retries == []


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
    server.enqueue(http_error(400, "invalid_request_error", "messages: roles must alternate"))
    with pytest.raises(ModelError, match="400 invalid_request_error: messages: roles") as raised:
        ask(make_model(server))
    assert not isinstance(raised.value, ContextOverflow)
    assert len(server.requests) == 1


def test_a_prompt_too_long_is_an_overflow_that_says_the_window_and_the_prompt_size(server):
    server.enqueue(prompt_too_long(215_000, 200_000), GOOD)
    retries: list[Retry] = []
    with pytest.raises(ContextOverflow, match="prompt is too long") as raised:
        ask(make_model(server), retries=retries)
    assert (raised.value.window, raised.value.prompt_tokens) == (200_000, 215_000)
    # The SDK read the API's error, request id included.
    assert raised.value.__cause__.request_id == "req_msg_0001"
    assert len(server.requests) == 1 and retries == [] and server.pending == 1


def test_an_overflow_that_does_not_say_its_sizes_is_an_overflow_of_unknown_sizes(server):
    server.enqueue(http_error(400, "invalid_request_error", "prompt is too long"))
    with pytest.raises(ContextOverflow) as raised:
        ask(make_model(server))
    assert (raised.value.window, raised.value.prompt_tokens) == (None, None)


def test_no_api_key_is_a_model_error_before_any_request(server, no_credentials):
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


# --- Counting tokens -------------------------------------------------------------------------


def test_counting_sends_what_a_reply_would_read_and_gives_the_api_s_count(server):
    model = make_model(server, thinking_budget=2048)
    counted = model.count_tokens(SYSTEM, CONVERSATION, TOOLS)
    server.enqueue(reply(text("ok")))
    ask(model, CONVERSATION)
    [count], [create] = server.count_requests, server.requests
    assert count.path == "/v1/messages/count_tokens"
    # The same system prompt, messages, tools and thinking; no output limit, no stream.
    read = {k: v for k, v in create.body.items() if k not in ("max_tokens", "stream")}
    assert count.body == read and "thinking" in read
    assert counted == request_tokens(count.body) > 0


COUNTING_REFUSED = {
    "no_endpoint_404": http_error(404, "not_found_error", "Not Found"),
    "not_permitted_403": http_error(403, "permission_error", "counting is not allowed"),
    "refused_400": http_error(400, "invalid_request_error", "thinking: unknown parameter"),
}


@pytest.mark.parametrize("refusal", COUNTING_REFUSED.values(), ids=COUNTING_REFUSED.keys())
def test_an_api_that_will_not_count_gives_none_and_is_not_asked_again(server, refusal):
    server.enqueue_count(refusal)
    model = make_model(server)
    assert model.count_tokens(SYSTEM, TASK, TOOLS) is None
    assert model.count_tokens(SYSTEM, TASK, TOOLS) is None, "the server would count now"
    assert len(server.count_requests) == 1


COUNTING_FAILED = {
    "overloaded_529": http_error(529, "overloaded_error", "Overloaded"),
    "server_error_500": http_error(500, "api_error", "Internal error"),
    "rate_limited_429": http_error(429, "rate_limit_error", "Slow down", retry_after="600"),
    "connection_closed": stall(0),
}


@pytest.mark.parametrize("failure", COUNTING_FAILED.values(), ids=COUNTING_FAILED.keys())
def test_a_count_that_fails_transiently_is_none_this_once_and_never_retried(server, failure):
    server.enqueue_count(failure)
    model = make_model(server)
    assert model.count_tokens(SYSTEM, TASK, TOOLS) is None
    assert len(server.count_requests) == 1, "not retried"
    assert model.count_tokens(SYSTEM, TASK, TOOLS) == request_tokens(server.count_requests[1].body)


def test_a_count_of_an_unreachable_api_is_none():
    with MessagesServer() as gone:
        model = make_model(gone)
    assert model.count_tokens(SYSTEM, TASK, TOOLS) is None


def test_a_count_refused_as_too_long_is_the_size_the_api_names(server):
    server.enqueue_count(prompt_too_long(215_000, 200_000))
    assert make_model(server).count_tokens(SYSTEM, TASK, TOOLS) == 215_000


def test_a_count_without_an_api_key_is_none_and_asks_nothing(server, no_credentials):
    model = AnthropicModel("claude-test", base_url=server.url)
    assert model.count_tokens(SYSTEM, TASK, TOOLS) is None
    assert server.count_requests == []


# --- A server with a context window -----------------------------------------------------------


def test_a_prompt_over_the_window_is_refused_and_the_queued_reply_waits(server):
    model = make_model(server)
    server.enqueue(reply(text("Hello")))
    server.window = 10
    with pytest.raises(ContextOverflow) as raised:
        ask(model)
    prompt = request_tokens(server.requests[0].body)
    assert (raised.value.window, raised.value.prompt_tokens) == (10, prompt)
    assert server.pending == 1
    server.window = prompt  # the prompt fits, with no room left to write
    answer = ask(model)
    assert answer.usage.input_tokens == prompt and server.pending == 0
    assert answer.text == "" and answer.stop_reason == "model_context_window_exceeded"


def test_every_request_of_a_growing_conversation_is_checked_against_the_window(server):
    server.window = 300
    model = make_model(server)
    conversation = list(TASK)
    answered: list[int] = []
    with pytest.raises(ContextOverflow) as raised:
        for step in range(100):
            server.enqueue(reply(text(f"Step {step} done.")))
            answered.append(ask(model, conversation).usage.input_tokens)
            conversation += [
                Message("assistant", text=f"Step {step} done."),
                Message("user", text="the output of the command " * 3),
            ]
    sizes = [request_tokens(request.body) for request in server.requests]
    assert answered == sizes[:-1], "each reply reports the prompt the server counted"
    assert len(answered) > 2 and answered == sorted(answered) and max(answered) <= 300
    assert raised.value.prompt_tokens == sizes[-1] > 300
    assert server.pending == 1, "the refused request left its reply queued"


def test_a_reply_longer_than_max_tokens_stops_there(server):
    server.window = 100_000
    server.enqueue(reply(text("one two ", "three four five six seven")))
    pieces: list[str] = []
    answer = ask(make_model(server, max_tokens=5), pieces=pieces)
    assert pieces == ["one two ", "three four five "]
    assert answer.text == "one two three four five "
    assert answer.stop_reason == "max_tokens" and answer.cut_off
    assert answer.usage.output_tokens == 5


def test_a_tool_call_longer_than_max_tokens_is_cut_in_its_json(server):
    server.window = 100_000
    server.enqueue(reply(text("Listing."), tool_use("type", {"text": "ls -la /tmp"})))
    answer = ask(make_model(server, max_tokens=9))  # "Listing." is 2 of them
    assert answer.text == "Listing."
    assert [call.input for call in answer.tool_calls] == ['{"text": "ls ']
    assert answer.stop_reason == "max_tokens" and answer.cut_off


def test_a_reply_that_would_overflow_the_window_stops_as_it_fills(server):
    model = make_model(server, max_tokens=1000)
    prompt = model.count_tokens(SYSTEM, TASK, TOOLS)
    server.window = prompt + 3
    server.enqueue(reply(tool_use("type", {"text": "ls\n"})))
    answer = ask(model)
    assert [call.input for call in answer.tool_calls] == ['{"text']
    assert answer.stop_reason == "model_context_window_exceeded" and answer.cut_off
    assert answer.usage.input_tokens == prompt and answer.usage.output_tokens == 3


def test_a_reply_that_fits_is_whole_and_reports_the_tokens_the_server_counted(server):
    server.window = 100_000
    model = make_model(server)
    server.enqueue(
        reply(
            thinking("Plain."),
            text("Listing the files."),
            tool_use("type", {"text": "ls"}),
            cache_read_input_tokens=20,
            output_tokens=999,
        )
    )
    answer = ask(model, pieces=[])
    assert answer.text == "Listing the files." and answer.stop_reason == "tool_use"
    assert answer.tool_calls[0].input == {"text": "ls"} and not answer.cut_off
    # The cache reads and the input make the prompt the counting endpoint gives.
    counted = model.count_tokens(SYSTEM, TASK, TOOLS)
    assert answer.usage.cache_read_tokens == 20
    assert answer.usage.input_tokens + 20 == counted == request_tokens(server.requests[0].body)
    # "Plain." 2, "Listing the files." 4, '{"text": "ls"}' 9.
    assert answer.usage.output_tokens == 15


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
