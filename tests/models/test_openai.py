"""The OpenAI-compatible backend against a real local chat completions server."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from chat_server import (
    ChatServer,
    Reply,
    cut_short,
    dropped_connection,
    error_mid_stream,
    http_error,
    stall,
    streamed_turn,
    tool_call,
    unparseable_output,
    unreachable_base_url,
)

from clive.models._retry import RetryPolicy
from clive.models.base import (
    ContextOverflow,
    InvalidOutput,
    Message,
    ModelError,
    ModelUnavailable,
    Pricing,
    Retry,
    ToolResultBlock,
    ToolSpec,
)
from clive.models.openai import OpenAIModel
from clive.session.events import ToolCall, Usage

FAST = RetryPolicy(attempts=3, initial=0.01, maximum=0.01)
TYPE = ToolSpec(
    name="type",
    description="Type keys into the terminal",
    input_schema={"type": "object", "properties": {"keys": {"type": "string"}}},
)
ASK = [Message(role="user", text="list the files")]


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    with ChatServer() as server:
        yield server


def model_for(server: ChatServer, **options: object) -> OpenAIModel:
    options.setdefault("retry", FAST)
    return OpenAIModel("qwen3-coder", base_url=server.base_url, **options)  # type: ignore[arg-type]


def test_model_names_itself_after_the_served_model(chat_server: ChatServer) -> None:
    model = model_for(chat_server, context_limit=32768)
    assert model.name == "openai:qwen3-coder"
    assert model.scripted is False
    assert model.context_limit == 32768


def test_text_streams_to_on_text_in_pieces(chat_server: ChatServer) -> None:
    chat_server.enqueue(streamed_turn(["Hel", "lo ", "world"]))
    pieces: list[str] = []
    reply = model_for(chat_server).reply("sys", ASK, [TYPE], on_text=pieces.append)
    assert pieces == ["Hel", "lo ", "world"]
    assert reply.text == "Hello world"
    assert reply.tool_calls == []
    assert reply.stop_reason == "stop"


def test_tool_call_arguments_split_across_chunks_are_joined(chat_server: ChatServer) -> None:
    chat_server.enqueue(
        streamed_turn("Listing.", [tool_call("type", {"keys": "ls -la\n"}, call_id="c1")])
    )
    reply = model_for(chat_server).reply("sys", ASK, [TYPE])
    assert reply.text == "Listing."
    assert reply.tool_calls == [ToolCall(id="c1", name="type", input={"keys": "ls -la\n"})]
    assert reply.stop_reason == "tool_calls"


def test_tool_call_whole_in_one_chunk(chat_server: ChatServer) -> None:
    chat_server.enqueue(
        streamed_turn(tool_calls=[tool_call("type", {"keys": "ls\n"}, call_id="c1", whole=True)])
    )
    reply = model_for(chat_server).reply("sys", ASK, [TYPE])
    assert reply.tool_calls == [ToolCall(id="c1", name="type", input={"keys": "ls\n"})]


def test_several_tool_calls_keep_their_order(chat_server: ChatServer) -> None:
    chat_server.enqueue(
        streamed_turn(
            tool_calls=[
                tool_call("type", {"keys": "cd /tmp\n"}, call_id="a"),
                tool_call("type", {"keys": "ls\n"}, call_id="b", whole=True),
                tool_call("wait", {}, call_id="c"),
            ]
        )
    )
    reply = model_for(chat_server).reply("sys", ASK, [TYPE])
    assert reply.tool_calls == [
        ToolCall(id="a", name="type", input={"keys": "cd /tmp\n"}),
        ToolCall(id="b", name="type", input={"keys": "ls\n"}),
        ToolCall(id="c", name="wait", input={}),
    ]


def test_tool_calls_without_index_are_told_apart_by_id(chat_server: ChatServer) -> None:
    chat_server.enqueue(
        streamed_turn(
            tool_calls=[
                tool_call("type", {"keys": "a"}, call_id="a", send_index=False),
                tool_call("type", {"keys": "b"}, call_id="b", send_index=False),
            ]
        )
    )
    reply = model_for(chat_server).reply("sys", ASK, [TYPE])
    assert [(call.id, call.input) for call in reply.tool_calls] == [
        ("a", {"keys": "a"}),
        ("b", {"keys": "b"}),
    ]


def test_tool_calls_all_at_index_zero_are_told_apart_by_id(chat_server: ChatServer) -> None:
    # Ollama gives every call of a turn index 0.
    chat_server.enqueue(
        streamed_turn(
            tool_calls=[
                tool_call("type", {"keys": "a"}, call_id="a", index=0),
                tool_call("type", {"keys": "b"}, call_id="b", index=0),
            ]
        )
    )
    reply = model_for(chat_server).reply("sys", ASK, [TYPE])
    assert [(call.id, call.input) for call in reply.tool_calls] == [
        ("a", {"keys": "a"}),
        ("b", {"keys": "b"}),
    ]


def test_tool_calls_without_ids_get_distinct_made_up_ids(chat_server: ChatServer) -> None:
    chat_server.enqueue(
        streamed_turn(
            tool_calls=[
                tool_call("type", {"keys": "a"}, call_id=None),
                tool_call("type", {"keys": "b"}, call_id=None),
            ]
        )
    )
    reply = model_for(chat_server).reply("sys", ASK, [TYPE])
    ids = [call.id for call in reply.tool_calls]
    assert all(call_id.startswith("call-") for call_id in ids)
    assert len(set(ids)) == 2
    assert [call.input for call in reply.tool_calls] == [{"keys": "a"}, {"keys": "b"}]


@pytest.mark.parametrize("arguments", ['{"keys": "ls', '["ls"]', "null"])
def test_arguments_that_are_not_a_json_object_stay_the_raw_string(
    chat_server: ChatServer, arguments: str
) -> None:
    chat_server.enqueue(streamed_turn(tool_calls=[tool_call("type", arguments, call_id="c1")]))
    reply = model_for(chat_server).reply("sys", ASK, [TYPE])
    assert reply.tool_calls == [ToolCall(id="c1", name="type", input=arguments)]


def test_reasoning_content_becomes_thinking_not_text(chat_server: ChatServer) -> None:
    chat_server.enqueue(streamed_turn("Done.", reasoning=["The user ", "wants files."]))
    pieces: list[str] = []
    reply = model_for(chat_server).reply("sys", ASK, [TYPE], on_text=pieces.append)
    assert reply.thinking == "The user wants files."
    assert pieces == ["Done."]


def test_usage_counts_cached_tokens_apart_and_prices_the_turn(chat_server: ChatServer) -> None:
    chat_server.enqueue(
        streamed_turn("ok", prompt_tokens=1000, completion_tokens=50, cached_tokens=600)
    )
    prices = {"qwen3": Pricing(input=1.0, output=2.0, cache_read=0.5)}
    reply = model_for(chat_server, prices=prices).reply("sys", ASK, [TYPE])
    assert reply.usage == Usage(input_tokens=400, output_tokens=50, cache_read_tokens=600)
    assert reply.cost == pytest.approx((400 * 1.0 + 50 * 2.0 + 600 * 0.5) / 1e6)


def test_cost_is_unknown_without_a_price(chat_server: ChatServer) -> None:
    chat_server.enqueue(streamed_turn("ok", prompt_tokens=10, completion_tokens=2))
    reply = model_for(chat_server).reply("sys", ASK, [TYPE])
    assert reply.usage == Usage(input_tokens=10, output_tokens=2)
    assert reply.cost is None


def test_request_streams_with_usage_and_describes_the_tools(chat_server: ChatServer) -> None:
    chat_server.enqueue(streamed_turn("ok"))
    model_for(chat_server, max_tokens=4096).reply("You drive a terminal.", ASK, [TYPE])
    [request] = chat_server.requests
    assert request.path == "/v1/chat/completions"
    assert request.body["model"] == "qwen3-coder"
    assert request.body["stream"] is True
    assert request.body["stream_options"] == {"include_usage": True}
    assert request.body["max_tokens"] == 4096
    assert request.body["messages"] == [
        {"role": "system", "content": "You drive a terminal."},
        {"role": "user", "content": "list the files"},
    ]
    assert request.body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "type",
                "description": "Type keys into the terminal",
                "parameters": TYPE.input_schema,
            },
        }
    ]


def test_conversation_becomes_assistant_tool_calls_then_tool_messages(
    chat_server: ChatServer,
) -> None:
    chat_server.enqueue(streamed_turn("ok"))
    messages = [
        Message(role="user", text="list the files", transient="$ "),
        Message(
            role="assistant",
            text="Listing.",
            tool_calls=[
                ToolCall(id="c1", name="type", input={"keys": "ls\n"}),
                ToolCall(id="c2", name="type", input='{"keys": "l'),
            ],
        ),
        Message(
            role="user",
            tool_results=[
                ToolResultBlock(call_id="c1", content="typed"),
                ToolResultBlock(call_id="c2", content="not JSON", is_error=True),
            ],
            text="Screen changed.",
            transient="$ ls\na b",
        ),
        Message(role="assistant", tool_calls=[ToolCall(id="c3", name="wait", input={})]),
        Message(role="user", tool_results=[ToolResultBlock(call_id="c3", content="waited")]),
    ]
    model_for(chat_server).reply("sys", messages, [TYPE])
    assert chat_server.requests[0].body["messages"][1:] == [
        {"role": "user", "content": "list the files\n\n$ "},
        {
            "role": "assistant",
            "content": "Listing.",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "type", "arguments": json.dumps({"keys": "ls\n"})},
                },
                {
                    "id": "c2",
                    "type": "function",
                    "function": {"name": "type", "arguments": '{"keys": "l'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "typed"},
        {"role": "tool", "tool_call_id": "c2", "content": "error: not JSON"},
        {"role": "user", "content": "Screen changed.\n\n$ ls\na b"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c3", "type": "function", "function": {"name": "wait", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c3", "content": "waited"},
    ]


def test_authorization_header_is_sent_only_with_a_key(chat_server: ChatServer) -> None:
    chat_server.enqueue(streamed_turn("ok"), streamed_turn("ok"))
    model_for(chat_server, api_key="sk-test").reply("sys", ASK, [TYPE])
    model_for(chat_server).reply("sys", ASK, [TYPE])
    with_key, without_key = chat_server.requests
    assert with_key.headers["authorization"] == "Bearer sk-test"
    assert "authorization" not in without_key.headers


def test_base_url_with_a_trailing_slash_reaches_the_endpoint(chat_server: ChatServer) -> None:
    chat_server.enqueue(streamed_turn("ok"))
    model = OpenAIModel("m", base_url=chat_server.base_url + "/", retry=FAST)
    assert model.reply("sys", ASK, [TYPE]).text == "ok"
    assert chat_server.requests[0].path == "/v1/chat/completions"


TRANSIENT_FAILURES = {
    "429": (http_error(429, "Rate limit reached", error_type="rate_limit_exceeded"), "429"),
    "500": (http_error(500, "Internal error"), "500"),
    "503": (http_error(503, "Service Unavailable"), "503"),
    "529": (http_error(529, "Overloaded", error_type="overloaded_error"), "529"),
    "error_mid_stream": (error_mid_stream("CUDA out of memory", text="Li"), "CUDA out of memory"),
    "dropped_connection": (dropped_connection("Li"), "broke off"),
    "cut_short": (cut_short("Li"), "ended before the reply was complete"),
}


@pytest.mark.parametrize(("failure", "reason"), TRANSIENT_FAILURES.values(), ids=TRANSIENT_FAILURES)
def test_transient_failure_is_retried_then_succeeds(
    chat_server: ChatServer, failure: Reply, reason: str
) -> None:
    chat_server.enqueue(failure, streamed_turn("recovered"))
    retries: list[Retry] = []
    reply = model_for(chat_server).reply("sys", ASK, [TYPE], on_retry=retries.append)
    assert reply.text == "recovered"
    assert len(retries) == 1
    assert retries[0].attempt == 1
    assert retries[0].attempts == FAST.attempts
    assert reason in retries[0].reason
    first, second = chat_server.requests
    assert first.body == second.body  # each retry sends the whole request again


def test_stall_longer_than_the_timeout_is_retried(chat_server: ChatServer) -> None:
    chat_server.enqueue(stall(), streamed_turn("recovered"))
    retries: list[Retry] = []
    model = model_for(chat_server, timeout=1.0, retry=RetryPolicy(attempts=4, initial=0.01))
    reply = model.reply("sys", ASK, [TYPE], on_retry=retries.append)
    assert reply.text == "recovered"
    assert "did not answer for 1s" in retries[0].reason


def test_retry_after_header_sets_the_retry_delay(chat_server: ChatServer) -> None:
    chat_server.enqueue(http_error(429, "slow down", retry_after="0.05"), streamed_turn("ok"))
    retries: list[Retry] = []
    model_for(chat_server).reply("sys", ASK, [TYPE], on_retry=retries.append)
    assert [retry.delay for retry in retries] == [0.05]


def test_failures_outlasting_the_retries_make_the_model_unavailable(
    chat_server: ChatServer,
) -> None:
    chat_server.enqueue(*[http_error(503, "engine is restarting")] * FAST.attempts)
    with pytest.raises(ModelUnavailable, match="503 server_error: engine is restarting"):
        model_for(chat_server).reply("sys", ASK, [TYPE])
    assert len(chat_server.requests) == FAST.attempts


def test_refused_key_is_a_model_error_after_one_request(chat_server: ChatServer) -> None:
    chat_server.enqueue(http_error(401, "Incorrect API key provided", error_type="auth"))
    with pytest.raises(ModelError, match="check the key") as raised:
        model_for(chat_server, api_key="sk-wrong").reply("sys", ASK, [TYPE])
    assert not isinstance(raised.value, ModelUnavailable)
    assert "Incorrect API key provided" in str(raised.value)
    assert len(chat_server.requests) == 1


def test_missing_key_is_a_model_error_saying_none_was_given(chat_server: ChatServer) -> None:
    chat_server.enqueue(http_error(401, "Unauthorized"))
    with pytest.raises(ModelError, match="none was given"):
        model_for(chat_server).reply("sys", ASK, [TYPE])


def test_wrong_path_names_the_base_url_and_the_model(chat_server: ChatServer) -> None:
    base_url = chat_server.base_url.removesuffix("/v1")  # the usual mistake: no /v1
    model = OpenAIModel("qwen3-coder", base_url=base_url, retry=FAST)
    with pytest.raises(ModelError, match="404 Not Found") as raised:
        model.reply("sys", ASK, [TYPE])
    assert base_url in str(raised.value)
    assert "qwen3-coder" in str(raised.value)
    assert [r.path for r in chat_server.side_requests] == ["/models", "/chat/completions"]


def test_server_without_tool_calling_is_a_model_error_saying_so(chat_server: ChatServer) -> None:
    message = '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser'
    vllm_body = {"object": "error", "message": message, "type": "BadRequestError", "code": 400}
    chat_server.enqueue(http_error(400, message, body=vllm_body))
    with pytest.raises(ModelError, match="cannot call tools") as raised:
        model_for(chat_server).reply("sys", ASK, [TYPE])
    assert f"400 BadRequestError: {message}" in str(raised.value)
    assert len(chat_server.requests) == 1


def test_unreachable_server_makes_the_model_unavailable_naming_the_url() -> None:
    base_url = unreachable_base_url()
    retries: list[Retry] = []
    model = OpenAIModel("m", base_url=base_url, retry=FAST)
    with pytest.raises(ModelUnavailable, match="is not reachable") as raised:
        model.reply("sys", ASK, [TYPE], on_retry=retries.append)
    assert base_url in str(raised.value)
    assert len(retries) == FAST.attempts - 1


def test_empty_queue_answers_500_saying_nothing_was_queued(chat_server: ChatServer) -> None:
    with pytest.raises(ModelUnavailable, match="no reply queued"):
        model_for(chat_server).reply("sys", ASK, [TYPE])


# -- a server that behaves as llama.cpp's llama-server did when clive met it -------------------
# (tests/chat_server.py with ``window=``): its window read from ``/v1/models``, replies kept
# below it, an overflow that names its figures, a reply cut at ``max_tokens``, output the server
# could not parse, and the server's own token count.


def test_the_window_is_asked_of_the_server_once_and_replies_keep_to_a_quarter_of_it():
    with ChatServer(window=4096) as server:
        server.enqueue(streamed_turn("one"), streamed_turn("two"))
        model = model_for(server)
        assert model.context_limit == 4096
        assert model.output_limit == 1024
        model.reply("system", ASK, [TYPE])
        model.reply("system", ASK, [TYPE])
        assert [r.body["max_tokens"] for r in server.requests] == [1024, 1024]
        assert [r.path for r in server.side_requests] == ["/v1/models"]


def test_a_limit_given_wins_over_what_the_server_says():
    with ChatServer(window=4096) as server:
        server.enqueue(streamed_turn("one"))
        model = model_for(server, max_tokens=300, context_limit=2000)
        model.reply("system", ASK, [TYPE])
        assert model.context_limit == 2000 and model.output_limit == 300
        assert server.requests[0].body["max_tokens"] == 300
        assert server.side_requests == []  # nothing to ask


def test_a_server_that_does_not_say_its_window_gets_the_default_limit():
    with ChatServer() as server:
        server.enqueue(streamed_turn("one"))
        model = model_for(server)
        model.reply("system", ASK, [TYPE])
        assert model.context_limit is None and model.output_limit == 8192
        assert server.requests[0].body["max_tokens"] == 8192


def test_a_prompt_longer_than_the_window_is_an_overflow_with_the_server_s_figures():
    with ChatServer(window=200) as server:
        server.enqueue(streamed_turn("never sent"))
        model = model_for(server, max_tokens=50)
        with pytest.raises(ContextOverflow, match="exceeds the available context size") as raised:
            model.reply("system", [Message("user", "word " * 300)], [TYPE])
        assert raised.value.window == 200
        assert raised.value.prompt_tokens == server.requests[0].prompt_tokens
        assert raised.value.prompt_tokens > 300
        assert server.overflows == 1 and len(server.requests) == 1  # not retried
        # The queued reply is still there for the next request that fits.
        assert model.reply("system", ASK, [TYPE]).text == "never sent"


def test_a_reply_longer_than_max_tokens_is_cut_and_says_so():
    long_text = " ".join(f"word{n}" for n in range(100))
    with ChatServer(window=4096) as server:
        server.enqueue(streamed_turn(long_text, [tool_call("type", {"text": "ls"})]))
        reply = model_for(server, max_tokens=20).reply("system", ASK, [TYPE])
    assert reply.stop_reason == "length" and reply.cut_off
    assert reply.text.split() == [f"word{n}" for n in range(20)]
    assert reply.tool_calls == []  # the call never came: it was after the cut
    assert reply.usage.output_tokens == 20


def test_a_reply_that_fits_is_not_cut():
    with ChatServer(window=4096) as server:
        server.enqueue(streamed_turn("short", [tool_call("type", {"text": "ls"})]))
        reply = model_for(server).reply("system", ASK, [TYPE])
    assert reply.stop_reason == "tool_calls" and not reply.cut_off
    assert [call.input for call in reply.tool_calls] == [{"text": "ls"}]


def test_output_the_server_could_not_parse_is_the_model_s_not_a_retry():
    with ChatServer(window=4096) as server:
        server.enqueue(unparseable_output(), streamed_turn("not asked for"))
        retries = []
        with pytest.raises(InvalidOutput, match="does not match the expected"):
            model_for(server).reply("system", ASK, [TYPE], on_retry=retries.append)
        assert retries == [] and len(server.requests) == 1


def test_unparseable_output_reported_mid_stream_is_the_model_s_too():
    message = "The model produced output that does not match the expected Hermes 2 Pro format"
    with ChatServer() as server:
        server.enqueue(error_mid_stream(message, text="<tool_call> {"))
        with pytest.raises(InvalidOutput, match="Hermes 2 Pro"):
            model_for(server).reply("system", ASK, [TYPE])
        assert len(server.requests) == 1


def test_an_overflow_reported_mid_stream_is_an_overflow():
    with ChatServer() as server:
        server.enqueue(error_mid_stream("the request exceeds the available context size"))
        with pytest.raises(ContextOverflow):
            model_for(server).reply("system", ASK, [TYPE])


def test_counting_asks_the_server_and_agrees_with_the_usage_it_reports():
    with ChatServer(window=4096) as server:
        server.enqueue(streamed_turn("ok"))
        model = model_for(server)
        counted = model.count_tokens("system prompt", ASK, [TYPE])
        reply = model.reply("system prompt", ASK, [TYPE])
    assert counted is not None and counted == reply.usage.input_tokens
    assert [r.path for r in server.side_requests][-2:] == ["/apply-template", "/tokenize"]


def test_a_server_without_counting_is_asked_once():
    with ChatServer() as server:
        model = model_for(server)
        assert model.count_tokens("system", ASK, [TYPE]) is None
        assert model.count_tokens("system", ASK, [TYPE]) is None
        paths = [r.path for r in server.side_requests]
        assert paths.count("/apply-template") == 1 and "/tokenize" not in paths
