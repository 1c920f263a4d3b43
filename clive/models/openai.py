"""The OpenAI-compatible backend: any server speaking the chat completions API with tools.

vLLM, Ollama, llama.cpp, LM Studio and OpenAI itself all stream a turn the same way, as
server-sent events of ``chat.completion.chunk`` objects ending with ``data: [DONE]``. They differ
in details this module tolerates: tool-call pieces without an ``index``, or with index 0 for
every call of a turn (Ollama); a whole call in one chunk; calls without an id; usage in a last
chunk without choices; the thinking of reasoning models as ``reasoning_content`` or
``reasoning``; error bodies shaped ``{"error": {...}}``, ``{"object": "error", ...}`` or
``{"detail": ...}``.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx2

from clive.models._retry import RetryPolicy, Transient, parse_retry_after, with_retries
from clive.models.base import (
    CONTEXT_OVERFLOW_WORDS,
    DEFAULT_OUTPUT_LIMIT,
    ContextOverflow,
    InvalidOutput,
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

# Statuses worth another try besides every 5xx: timeout, conflict, too early, rate limit.
_TRANSIENT_STATUSES = frozenset({408, 409, 425, 429})
# What servers answer when they cannot make a turn of what the model wrote (a tool call that
# does not parse): llama.cpp's "The model produced output that does not match the expected
# ... format", vLLM's and others' "Failed to parse" / "could not parse" tool calls.
_UNPARSEABLE_OUTPUT_WORDS = re.compile(
    r"output that does not match the expected|fail(ed)? to parse|could not parse"
    r"|unable to parse",
    re.IGNORECASE,
)
# llama.cpp's overflow message, when the body does not carry n_ctx and n_prompt_tokens.
_OVERFLOW_FIGURES = re.compile(
    r"\((\d+) tokens\) (?:exceeds the available|is larger than the max) context size \((\d+)"
)
_WINDOW_SHARE_FOR_OUTPUT = 4  # else at most a quarter of the window: the rest is for reading
_DISCOVERY_TIMEOUT = 10.0  # seconds to ask the server about its model (its window)


class OpenAIModel:
    """A model behind an OpenAI-compatible chat completions endpoint, streamed, with tools.

    ``base_url`` is the API root, such as ``http://localhost:8000/v1`` (vLLM) or
    ``http://localhost:11434/v1`` (Ollama); the key is sent only when there is one.

    The context window, unless given, is asked of the server once (``GET /models``: llama.cpp
    says ``meta.n_ctx``, vLLM ``max_model_len``). A reply may write ``max_tokens`` tokens, by
    default 8,192 but never more than a quarter of a known window: a small model on a small
    server otherwise writes until its window is full.
    """

    scripted = False

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        api_key: str | None = None,
        max_tokens: int | None = None,
        prices: dict[str, Pricing] | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 600.0,
        context_limit: int | None = None,
    ) -> None:
        self.model = model
        self.name = f"openai:{model}"
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.max_tokens = max_tokens
        self.prices = prices or {}
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self._context_limit = context_limit
        self._asked_for_window = context_limit is not None
        self._can_count = True  # until the server shows it has no counting endpoints
        self._call_numbers = itertools.count(1)  # for calls the server sent without an id

    @property
    def context_limit(self) -> int | None:
        """The model's context window in tokens: as given, else as the server says it (asked
        once), else None."""
        if not self._asked_for_window:
            self._asked_for_window = True
            self._context_limit = self._served_window()
        return self._context_limit

    @property
    def output_limit(self) -> int:
        """Tokens a reply may write: as given, else 8,192 or a quarter of a known window."""
        if self.max_tokens is not None:
            return self.max_tokens
        window = self.context_limit
        if window is None:
            return DEFAULT_OUTPUT_LIMIT
        return max(1, min(DEFAULT_OUTPUT_LIMIT, window // _WINDOW_SHARE_FOR_OUTPUT))

    def _served_window(self) -> int | None:
        """The window the server says its model has, or None when it does not say."""
        try:
            with httpx2.Client(timeout=_DISCOVERY_TIMEOUT, headers=self._headers()) as client:
                response = client.get(f"{self.base_url}/models")
            listed = response.json().get("data") if response.is_success else None
        except (httpx2.HTTPError, httpx2.InvalidURL, ValueError, AttributeError):
            return None
        entries = [entry for entry in listed or () if isinstance(entry, dict)]
        named = [
            entry
            for entry in entries
            if self.model == entry.get("id") or self.model in (entry.get("aliases") or ())
        ]
        for entry in named or (entries if len(entries) == 1 else ()):
            meta = entry.get("meta") if isinstance(entry.get("meta"), dict) else {}
            for window in (
                meta.get("n_ctx"),
                entry.get("max_model_len"),
                entry.get("context_length"),
            ):
                if isinstance(window, int) and window > 0:
                    return window
        return None

    def count_tokens(
        self, system: str, messages: Sequence[Message], tools: Sequence[ToolSpec]
    ) -> int | None:
        """The request's prompt tokens as llama.cpp counts them (its ``/apply-template`` and
        ``/tokenize``); None from servers without them (asked once) or on any failure."""
        if not self._can_count:
            return None
        root = self.base_url.removesuffix("/v1")
        body = self._request_body(system, messages, tools)
        try:
            with httpx2.Client(timeout=_DISCOVERY_TIMEOUT, headers=self._headers()) as client:
                rendered = client.post(f"{root}/apply-template", json=body)
                if rendered.status_code in (404, 405, 501):
                    self._can_count = False
                    return None
                prompt = rendered.json().get("prompt") if rendered.is_success else None
                if not isinstance(prompt, str):
                    return None
                counted = client.post(
                    f"{root}/tokenize", json={"content": prompt, "add_special": True}
                )
                tokens = counted.json().get("tokens") if counted.is_success else None
        except (httpx2.HTTPError, httpx2.InvalidURL, ValueError, AttributeError):
            return None
        return len(tokens) if isinstance(tokens, list) else None

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def reply(
        self,
        system: str,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        *,
        on_text: TextListener | None = None,
        on_retry: RetryListener | None = None,
    ) -> ModelReply:
        """The model's next turn, streamed.

        Each retry sends the whole request again, so text ``on_text`` got from a stream that
        broke off comes again from the next one.
        """
        body = self._request_body(system, messages, tools)
        headers = {"Accept": "text/event-stream", **self._headers()}
        with httpx2.Client(timeout=self.timeout, headers=headers) as client:
            return with_retries(
                lambda: self._attempt(client, body, on_text),
                _transient_of,
                self.retry,
                on_retry,
            )

    def _request_body(
        self, system: str, messages: Sequence[Message], tools: Sequence[ToolSpec]
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": _chat_messages(system, messages),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if tools:  # some servers refuse an empty list
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.input_schema,
                    },
                }
                for tool in tools
            ]
        body["max_tokens"] = self.output_limit
        return body

    def _attempt(
        self, client: httpx2.Client, body: dict[str, Any], on_text: TextListener | None
    ) -> ModelReply:
        """One try: the reply, a ``_Retryable`` failure, or a ``ModelError``."""
        try:
            with client.stream("POST", f"{self.base_url}/chat/completions", json=body) as response:
                if not response.is_success:
                    response.read()
                    raise self._http_failure(response)
                turn = _StreamedTurn(on_text)
                for data in _event_data(response.iter_lines()):
                    if data == "[DONE]":
                        return self._finish(turn)
                    turn.add(_parse_chunk(data))
                # Some servers end without [DONE]; a finish_reason says the turn is whole.
                if turn.finish_reason is None:
                    raise _Retryable(
                        f"the stream from {self.base_url} ended before the reply was complete"
                    )
                return self._finish(turn)
        except httpx2.ConnectError as error:
            raise _Retryable(f"the server at {self.base_url} is not reachable ({error})") from error
        except httpx2.TimeoutException as error:
            raise _Retryable(
                f"the server at {self.base_url} did not answer for {self.timeout:g}s "
                f"({type(error).__name__})"
            ) from error
        except (httpx2.NetworkError, httpx2.RemoteProtocolError) as error:
            raise _Retryable(
                f"the connection to {self.base_url} broke off mid-reply ({error})"
            ) from error
        except (httpx2.HTTPError, httpx2.InvalidURL) as error:
            raise ModelError(
                f"cannot send a request to {self.base_url}: {error} "
                "(check --base-url: it looks like http://localhost:8000/v1)"
            ) from error

    def _finish(self, turn: _StreamedTurn) -> ModelReply:
        pricing = price_for(self.model, self.prices)
        return ModelReply(
            text="".join(turn.text),
            tool_calls=[call.tool_call(self._call_numbers) for call in turn.calls],
            usage=turn.usage,
            cost=None if pricing is None else pricing.cost(turn.usage),
            thinking="".join(turn.thinking),
            stop_reason=turn.finish_reason,
        )

    def _http_failure(self, response: httpx2.Response) -> Exception:
        """What an error status means: a ``_Retryable`` or a ``ModelError`` saying what to do."""
        status = response.status_code
        problem = f"{status} {_error_description(response)}"
        if status in (400, 413) or status >= 500:
            failure = _model_failure(problem, _error_payload(response), self.base_url)
            if failure is not None:
                return failure
        if status in _TRANSIENT_STATUSES or status >= 500:
            return _Retryable(problem, parse_retry_after(response.headers.get("retry-after")))
        if status == 401 and self.api_key:
            advice = "the API key was refused: check the key (OPENAI_API_KEY)"
        elif status == 401:
            advice = "this server wants an API key, and none was given: set OPENAI_API_KEY"
        elif status == 403:
            advice = f"the API key may not use {self.model}: check the key and the model name"
        elif status == 404:
            advice = (
                f"check --base-url ({self.base_url}; it usually ends in /v1) "
                f"and the model name ({self.model})"
            )
        elif "tool" in problem.lower():
            advice = (
                "the model, or the server as it was started, cannot call tools "
                "(vLLM needs --enable-auto-tool-choice and --tool-call-parser)"
            )
        else:
            advice = "the server refused the request"
        return ModelError(f"{self.base_url} answered {problem}: {advice}")


def _model_failure(problem: str, payload: Any, base_url: str) -> ModelError | None:
    """The failure an error stands for when it is about the request's size or the model's
    output, not the server: a ``ContextOverflow`` (with the figures the server gave) or an
    ``InvalidOutput``; None for any other error."""
    if CONTEXT_OVERFLOW_WORDS.search(problem):
        error = payload.get("error") if isinstance(payload, dict) else None
        error = error if isinstance(error, dict) else {}
        window, prompt_tokens = error.get("n_ctx"), error.get("n_prompt_tokens")
        if not isinstance(window, int) and (figures := _OVERFLOW_FIGURES.search(problem)):
            prompt_tokens, window = int(figures[1]), int(figures[2])
        return ContextOverflow(
            f"{base_url} answered {problem}: the conversation is longer than the model's "
            "context window",
            window=window if isinstance(window, int) else None,
            prompt_tokens=prompt_tokens if isinstance(prompt_tokens, int) else None,
        )
    if _UNPARSEABLE_OUTPUT_WORDS.search(problem):
        return InvalidOutput(f"the server could not read the model's reply: {problem}")
    return None


def _chat_messages(system: str, messages: Sequence[Message]) -> list[dict[str, Any]]:
    """The conversation as chat completions messages.

    A user message becomes one ``tool`` message per tool result, then a ``user`` message with
    its text and transient part (none when both are empty).
    """
    chat: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for message in messages:
        if message.role == "assistant":
            chat.append(_assistant_message(message))
            continue
        for result in message.tool_results:
            content = f"error: {result.content}" if result.is_error else result.content
            chat.append({"role": "tool", "tool_call_id": result.call_id, "content": content})
        text = "\n\n".join(part for part in (message.text, message.transient) if part)
        if text:
            chat.append({"role": "user", "content": text})
    return chat


def _assistant_message(message: Message) -> dict[str, Any]:
    if not message.tool_calls:
        return {"role": "assistant", "content": message.text}
    return {
        "role": "assistant",
        "content": message.text or None,
        "tool_calls": [
            {
                "id": call.id,
                "type": "function",
                "function": {
                    "name": call.name,
                    # A malformed call goes back as the model wrote it.
                    "arguments": call.input
                    if isinstance(call.input, str)
                    else json.dumps(call.input),
                },
            }
            for call in message.tool_calls
        ],
    }


@dataclass
class _PartialCall:
    """A tool call whose pieces are still arriving."""

    id: str | None
    name: str = ""
    arguments: list[str] = field(default_factory=list)

    def tool_call(self, numbers: Iterator[int]) -> ToolCall:
        """The finished call, its id drawn from ``numbers`` when the server sent none.

        Arguments that are not a JSON object stay the raw string, for the agent loop to report
        as an invalid call.
        """
        raw = "".join(self.arguments)
        try:
            value = json.loads(raw or "{}")  # a call without arguments
        except ValueError:
            value = raw
        return ToolCall(
            id=self.id or f"call-{next(numbers)}",
            name=self.name,
            input=value if isinstance(value, dict) else raw,
        )


class _StreamedTurn:
    """A turn put together from its chunks; content is passed to ``on_text`` as it comes."""

    def __init__(self, on_text: TextListener | None) -> None:
        self.on_text = on_text
        self.text: list[str] = []
        self.thinking: list[str] = []
        self.calls: list[_PartialCall] = []
        self.usage = Usage()
        self.finish_reason: str | None = None
        self._calls_by_index: dict[int, _PartialCall] = {}

    def add(self, chunk: dict[str, Any]) -> None:
        if chunk.get("usage"):
            self.usage = _usage(chunk["usage"])
        for choice in chunk.get("choices") or ():
            if choice.get("index") or 0:  # only the first choice is asked for
                continue
            delta = choice.get("delta") or {}
            if content := delta.get("content"):
                self.text.append(content)
                if self.on_text is not None:
                    self.on_text(content)
            if thinking := delta.get("reasoning_content") or delta.get("reasoning"):
                self.thinking.append(str(thinking))
            for piece in delta.get("tool_calls") or ():
                self._add_call_piece(piece)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]

    def _add_call_piece(self, piece: dict[str, Any]) -> None:
        index = piece.get("index")
        call_id = piece.get("id") or None
        function = piece.get("function") or {}
        current = self._calls_by_index.get(index) if index is not None else None
        if index is None and self.calls:
            current = self.calls[-1]
        # A new id where a call is under way is a new call: servers without an index, and
        # Ollama, which gives index 0 to every call of a turn.
        if current is None or (call_id and current.id and call_id != current.id):
            current = _PartialCall(call_id)
            self.calls.append(current)
            if index is not None:
                self._calls_by_index[index] = current
        current.id = current.id or call_id
        if function.get("name"):
            current.name = function["name"]
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            current.arguments.append(arguments)
        elif arguments is not None:  # an object, from servers that do not encode it
            current.arguments.append(json.dumps(arguments))


def _usage(usage: dict[str, Any]) -> Usage:
    prompt = usage.get("prompt_tokens") or 0
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return Usage(
        input_tokens=max(0, prompt - cached),
        output_tokens=usage.get("completion_tokens") or 0,
        cache_read_tokens=cached,
    )


def _event_data(lines: Iterable[str]) -> Iterable[str]:
    """The ``data:`` fields of a server-sent event stream, one line each (comments, ``event:``
    and blank lines skipped)."""
    for line in lines:
        if line.startswith("data:"):
            yield line[5:].strip()


def _parse_chunk(data: str) -> dict[str, Any]:
    """One chunk; an error the server reports mid-stream, or a garbled line, is retried."""
    try:
        chunk = json.loads(data)
    except ValueError:
        raise _Retryable(f"the server sent a line that is not JSON: {data[:200]!r}") from None
    if not isinstance(chunk, dict):
        raise _Retryable(f"the server sent a chunk that is not an object: {data[:200]!r}")
    if chunk.get("error") or chunk.get("object") == "error":
        problem = f"an error mid-stream: {_describe_error(chunk)}"
        if (failure := _model_failure(problem, chunk, "the server")) is not None:
            raise failure
        raise _Retryable(f"the server reported {problem}")
    return chunk


def _error_payload(response: httpx2.Response) -> Any:
    """The JSON body of an error response, or None."""
    try:
        return response.json()
    except ValueError:
        return None


def _error_description(response: httpx2.Response) -> str:
    """The error an HTTP error response carries, as ``type: message`` when it says."""
    described = _describe_error(_error_payload(response))
    return described or response.text.strip()[:300] or response.reason_phrase


def _describe_error(payload: Any) -> str | None:
    """The message of an error body: OpenAI and llama.cpp ``{"error": {...}}``, Ollama
    ``{"error": "..."}``, older vLLM ``{"object": "error", ...}``, FastAPI ``{"detail": ...}``."""
    if not isinstance(payload, dict):
        return None
    error = payload.get("error", payload)
    if isinstance(error, str):
        return error
    if not isinstance(error, dict):
        return None
    message = error.get("message") or error.get("detail")
    if not message:
        return None
    kind = error.get("type") or error.get("code")
    return f"{kind}: {message}" if isinstance(kind, str) and kind else str(message)


class _Retryable(Exception):
    """A failure ``with_retries`` tries again, with what it was."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.transient = Transient(reason, retry_after)


def _transient_of(error: Exception) -> Transient | None:
    return error.transient if isinstance(error, _Retryable) else None
