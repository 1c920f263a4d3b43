"""The Anthropic backend: Claude through the Messages API, streamed, with tool use.

Requests are cached as the conversation grows: one ``cache_control`` breakpoint on the last
tool, one on the system prompt, and a rolling one on each of the last two user messages,
placed after their ``text`` and before their ``transient`` part, so that a later turn replacing
an old screen never invalidates the cached prefix (four breakpoints, the API's most).

clive retries through ``with_retries`` (the SDK's own retries are off), so that every retry is
reported and ``retry-after`` honoured the same way in every backend. A retry starts the request
again from scratch: text already passed to ``on_text`` by the failed attempt has been shown, and
the retry's text follows it; the reply holds only the attempt that succeeded.

``count_tokens`` asks the API's counting endpoint, once per call and never retried: a server
without one (a proxy, a compatible server) is not asked again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2

from clive.models._retry import RetryPolicy, Transient, parse_retry_after, with_retries
from clive.models.base import (
    CONTEXT_OVERFLOW_WORDS,
    ContextOverflow,
    Message,
    ModelError,
    ModelReply,
    Pricing,
    RetryListener,
    TextListener,
    ToolSpec,
    price_for,
)
from clive.session.events import ToolCall, Usage

_EPHEMERAL = {"type": "ephemeral"}
_ROLLING_BREAKPOINTS = 2  # user messages carrying one; with tools and system, the API's 4
_MIN_THINKING_BUDGET = 1024  # the API refuses less
_ANSWER_ROOM = 4096  # output tokens left for the answer when the thinking budget fills max_tokens

# The sizes in the API's overflow message: "prompt is too long: 215000 tokens > 200000 maximum".
_PROMPT_SIZES = re.compile(r"(\d+) tokens > (\d+)")

# The HTTP status an error type stands for, for errors that arrive inside a 200 stream.
_STATUS_OF_ERROR_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


class _StreamCut(Exception):
    """The response stream ended before ``message_stop``: the turn is incomplete."""


class AnthropicModel:
    """Claude, through the official SDK: streamed replies, tool calls, prompt caching, and
    extended thinking when ``thinking_budget`` is set.

    ``prices`` maps model names (or prefixes) to ``Pricing``, for the cost of each reply; with
    no price for ``model``, costs are None. ``timeout`` is how long a request may wait for any
    data, in seconds.
    """

    scripted = False

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        max_tokens: int = 8192,
        thinking_budget: int | None = None,
        prices: dict[str, Pricing] | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 600.0,
        context_limit: int = 200_000,
    ) -> None:
        if thinking_budget is not None and thinking_budget < _MIN_THINKING_BUDGET:
            raise ValueError(
                f"thinking_budget must be at least {_MIN_THINKING_BUDGET} tokens "
                f"(the API's least), not {thinking_budget}"
            )
        self.name = model
        self.context_limit: int | None = context_limit
        self.max_tokens = max_tokens
        self.thinking_budget = thinking_budget
        self.prices = prices or {}
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self._counts = True  # False once the API has no counting endpoint, or refuses it
        try:
            self._client = anthropic.Anthropic(
                api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout
            )
        except anthropic.AnthropicError as error:  # e.g. a broken credentials profile
            raise ModelError(f"cannot set up the Anthropic API client: {error}") from error

    @property
    def output_limit(self) -> int:
        """The ``max_tokens`` a reply is asked with: with thinking, room for an answer beyond
        the thinking budget."""
        if self.thinking_budget is not None and self.max_tokens <= self.thinking_budget:
            return self.thinking_budget + _ANSWER_ROOM
        return self.max_tokens

    def reply(
        self,
        system: str,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        *,
        on_text: TextListener | None = None,
        on_retry: RetryListener | None = None,
    ) -> ModelReply:
        """The model's next turn, its text passed to ``on_text`` as it streams (after a
        failure mid-stream, the retry's text follows what was already passed).

        Raises ``ModelUnavailable`` when a transient failure outlasts the retries, and
        ``ModelError`` when the API refuses the request.
        """
        if not self._has_key():
            raise ModelError("no Anthropic API key: set ANTHROPIC_API_KEY")
        request = {**self._prompt(system, messages, tools), "max_tokens": self.output_limit}
        try:
            return with_retries(
                lambda: self._stream(request, on_text), self._classify, self.retry, on_retry
            )
        except anthropic.APIStatusError as error:
            if (overflow := _overflow(error)) is not None:
                window, prompt_tokens = overflow
                raise ContextOverflow(
                    self._explain(error), window=window, prompt_tokens=prompt_tokens
                ) from error
            raise ModelError(self._explain(error)) from error
        except anthropic.AnthropicError as error:
            raise ModelError(f"the Anthropic API client failed: {error}") from error

    def count_tokens(
        self, system: str, messages: Sequence[Message], tools: Sequence[ToolSpec]
    ) -> int | None:
        """The input tokens of this request, from the API's counting endpoint; None when it
        cannot say. Never raises and never retries: a transient failure gives None for this
        call, and an API without the endpoint (or refusing it) is not asked again."""
        if not self._counts or not self._has_key():
            return None
        try:
            counted = self._client.messages.count_tokens(**self._prompt(system, messages, tools))
        except anthropic.APIStatusError as error:
            if (overflow := _overflow(error)) is not None:
                return overflow[1]  # the size it refuses is the count
            if self._classify(error) is None:
                self._counts = False
            return None
        except (anthropic.AnthropicError, httpx2.HTTPError):
            return None  # cannot reach the API: perhaps next time
        tokens = getattr(counted, "input_tokens", None)
        if not isinstance(tokens, int):
            self._counts = False  # an answer that is not a count: no endpoint worth asking
            return None
        return tokens

    def _has_key(self) -> bool:
        client = self._client
        return not (
            client.api_key is None and client.auth_token is None and client.credentials is None
        )

    def _prompt(
        self, system: str, messages: Sequence[Message], tools: Sequence[ToolSpec]
    ) -> dict[str, Any]:
        """What the model reads, as the Messages API and its counting endpoint take it."""
        params: dict[str, Any] = {"model": self.name, "messages": _messages_param(messages)}
        if system:
            params["system"] = [{"type": "text", "text": system, "cache_control": _EPHEMERAL}]
        if tools:
            params["tools"] = _tools_param(tools)
        if self.thinking_budget is not None:
            params["thinking"] = {"type": "enabled", "budget_tokens": self.thinking_budget}
        return params

    def _stream(self, request: dict[str, Any], on_text: TextListener | None) -> ModelReply:
        """One attempt: the streamed turn, or the failure that cut it short."""
        turn = _Turn(on_text)
        with self._client.messages.create(**request, stream=True) as stream:
            for event in stream:
                turn.add(event)
        if not turn.stopped:
            raise _StreamCut("the response stream ended before message_stop")
        pricing = price_for(self.name, self.prices)
        return ModelReply(
            text="".join(turn.text),
            tool_calls=turn.tool_calls,
            usage=turn.usage,
            cost=None if pricing is None else pricing.cost(turn.usage),
            thinking="\n\n".join(turn.thinking),
            reasoning=turn.reasoning,
            stop_reason=turn.stop_reason,
        )

    def _classify(self, error: Exception) -> Transient | None:
        """Whether ``error`` is worth retrying, and why."""
        if isinstance(error, anthropic.APITimeoutError):
            return Transient(f"no answer from the API within {self.timeout:g}s")
        if isinstance(error, httpx2.TimeoutException):
            # The SDK wraps the timeouts before the response starts, not those mid-stream.
            return Transient(f"the response stream stalled for {self.timeout:g}s")
        if isinstance(error, anthropic.APIConnectionError):
            return Transient(f"cannot reach the API: {error.__cause__ or error}")
        if isinstance(error, httpx2.TransportError):
            # A connection dropped while the stream is read reaches us unwrapped.
            name = type(error).__name__
            return Transient(f"the connection dropped mid-stream ({name}: {error})")
        if isinstance(error, _StreamCut):
            return Transient(str(error))
        if isinstance(error, anthropic.APIStatusError):
            status = _status(error)
            if status in (408, 409, 429) or status >= 500:
                retry_after = parse_retry_after(error.response.headers.get("retry-after"))
                return Transient(_describe(error), retry_after)
        return None

    def _explain(self, error: anthropic.APIStatusError) -> str:
        """What a refusal means, and what to do about it."""
        status, what = _status(error), _describe(error)
        if status == 401:
            return f"the API key was refused ({what}): check ANTHROPIC_API_KEY"
        if status == 402:
            return f"the account cannot pay for this request ({what}): check its billing"
        if status == 403:
            return f"the API key may not do this ({what}): check its permissions"
        if status == 404:
            return f"the API does not know the model {self.name!r} ({what}): check the model name"
        if status == 413:
            return f"the request is too large for the API ({what}): the conversation is too long"
        return f"the API refused the request ({what})"


@dataclass
class _Turn:
    """A turn assembled from the stream's events."""

    on_text: TextListener | None
    text: list[str] = field(default_factory=list)
    thinking: list[str] = field(default_factory=list)
    reasoning: list[dict[str, Any]] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    stop_reason: str | None = None
    stopped: bool = False
    _open: dict[int, _OpenBlock] = field(default_factory=dict)

    def add(self, event: Any) -> None:
        """Take one streamed event into the turn."""
        match event.type:
            case "message_start":
                self.usage = _usage(self.usage, event.message.usage)
            case "content_block_start":
                block = event.content_block
                if block.type == "text" and self.text:
                    self._say("\n\n")  # between text blocks, as between paragraphs
                self._open[event.index] = _OpenBlock(block)
                if block.type == "text" and block.text:
                    self._say(block.text)
            case "content_block_delta" if event.index in self._open:
                self._open[event.index].pieces.append(_delta_piece(event.delta))
                if event.delta.type == "text_delta":
                    self._say(event.delta.text)
            case "content_block_stop" if event.index in self._open:
                self._close(self._open.pop(event.index))
            case "message_delta":
                self.stop_reason = event.delta.stop_reason
                self.usage = _usage(self.usage, event.usage)
            case "message_stop":
                self.stopped = True

    def _say(self, text: str) -> None:
        self.text.append(text)
        if self.on_text is not None:
            self.on_text(text)

    def _close(self, block: _OpenBlock) -> None:
        start = block.start
        match start.type:
            case "tool_use":
                self.tool_calls.append(ToolCall(id=start.id, name=start.name, input=block.input()))
            case "thinking":
                thought, signature = block.thought()
                self.thinking.append(thought)
                self.reasoning.append(
                    {"type": "thinking", "thinking": thought, "signature": signature}
                )
            case "redacted_thinking":
                self.reasoning.append({"type": "redacted_thinking", "data": start.data})


@dataclass
class _OpenBlock:
    """A content block whose deltas are still arriving."""

    start: Any  # the content block of content_block_start
    pieces: list[tuple[str, str]] = field(default_factory=list)  # (delta type, its text)

    def input(self) -> Any:
        """A tool call's input: the JSON its pieces make, or the raw text when that is not
        JSON (the agent loop reports a malformed call to the model)."""
        raw = "".join(text for kind, text in self.pieces if kind == "input_json_delta")
        if not raw:
            return self.start.input
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw

    def thought(self) -> tuple[str, str]:
        """A thinking block's text and signature."""
        thought = getattr(self.start, "thinking", "") or ""
        signature = getattr(self.start, "signature", "") or ""
        for kind, text in self.pieces:
            if kind == "thinking_delta":
                thought += text
            elif kind == "signature_delta":
                signature += text
        return thought, signature


def _delta_piece(delta: Any) -> tuple[str, str]:
    text = {
        "text_delta": "text",
        "input_json_delta": "partial_json",
        "thinking_delta": "thinking",
        "signature_delta": "signature",
    }.get(delta.type)
    return delta.type, "" if text is None else getattr(delta, text)


def _usage(usage: Usage, reported: Any) -> Usage:
    """``usage`` updated with the counts ``reported`` (those of message_delta are cumulative,
    so the latest win; a count left out keeps its value)."""
    counts = {
        "input_tokens": reported.input_tokens,
        "output_tokens": reported.output_tokens,
        "cache_read_tokens": reported.cache_read_input_tokens,
        "cache_write_tokens": reported.cache_creation_input_tokens,
    }
    return usage.model_copy(update={k: v for k, v in counts.items() if v is not None})


def _overflow(error: anthropic.APIStatusError) -> tuple[int | None, int | None] | None:
    """When ``error`` says the prompt does not fit the context window: the window and the
    prompt's size in tokens, each None when the message does not say it. None otherwise."""
    if _status(error) not in (400, 413) or not CONTEXT_OVERFLOW_WORDS.search(_describe(error)):
        return None
    sizes = _PROMPT_SIZES.search(error.api_message or "")
    if sizes is None:
        return None, None
    return int(sizes[2]), int(sizes[1])


def _status(error: anthropic.APIStatusError) -> int:
    """The HTTP status of ``error``; for an error event inside a stream (sent with 200), the
    status its error type stands for."""
    if error.status_code >= 400:
        return error.status_code
    return _STATUS_OF_ERROR_TYPE.get(error.type or "", 500)


def _describe(error: anthropic.APIStatusError) -> str:
    """e.g. ``529 overloaded_error: Overloaded``, or ``overloaded_error mid-stream: Overloaded``."""
    kind = error.type or "error"
    detail = error.api_message or error.message
    if error.status_code >= 400:
        return f"{error.status_code} {kind}: {detail}"
    return f"{kind} mid-stream: {detail}"


def _tools_param(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    """The tools as the API takes them, the last one a cache breakpoint."""
    params: list[dict[str, Any]] = [
        {"name": t.name, "description": t.description, "input_schema": t.input_schema}
        for t in tools
    ]
    if params:
        params[-1]["cache_control"] = _EPHEMERAL
    return params


def _messages_param(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """The conversation as the API takes it: rolling cache breakpoints on the last user
    messages, messages with no content left out, and neighbours of one role merged (the API
    wants the roles to alternate)."""
    converted: list[tuple[str, list[dict[str, Any]]]] = []
    users_seen = 0
    for message in reversed(messages):
        if message.role == "user":
            content, anchor = _user_content(message)
            users_seen += 1
            if anchor is not None and users_seen <= _ROLLING_BREAKPOINTS:
                anchor["cache_control"] = _EPHEMERAL
        else:
            content = _assistant_content(message)
        converted.append((message.role, content))
    merged: list[dict[str, Any]] = []
    for role, content in reversed(converted):
        if not content:
            continue
        if merged and merged[-1]["role"] == role:
            merged[-1]["content"].extend(content)
        else:
            merged.append({"role": role, "content": content})
    return merged


def _user_content(message: Message) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A user message's blocks, and the one a cache breakpoint goes on: its text, else its
    last tool result; never the transient part after them."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "tool_result",
            "tool_use_id": result.call_id,
            "content": result.content,
            "is_error": result.is_error,
        }
        for result in message.tool_results
    ]
    if message.text:
        blocks.append({"type": "text", "text": message.text})
    anchor = blocks[-1] if blocks else None
    if message.transient:
        blocks.append({"type": "text", "text": message.transient})
    return blocks, anchor


def _assistant_content(message: Message) -> list[dict[str, Any]]:
    """An assistant message's blocks: its thinking as received, its text, its tool calls."""
    blocks: list[dict[str, Any]] = list(message.reasoning)
    if message.text:
        blocks.append({"type": "text", "text": message.text})
    for call in message.tool_calls:
        # A malformed call's input is not an object; the API only takes one.
        call_input = call.input if isinstance(call.input, dict) else {}
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": call_input})
    return blocks
