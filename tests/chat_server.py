"""A local server speaking the chat completions API, for testing OpenAI-compatible backends.

It answers ``POST /v1/chat/completions`` with what was queued, streamed as server-sent events
over chunked HTTP/1.1 the way vLLM and OpenAI do, and keeps every request it got::

    with ChatServer() as server:
        server.enqueue(http_error(429, "slow down", retry_after="0.01"), streamed_turn("hi"))
        model = OpenAIModel("qwen", base_url=server.base_url)
        ...
        assert server.requests[0].body["stream"] is True

Builders make the replies: ``streamed_turn`` (text in deltas, ``tool_call``s split across
chunks or whole, usage with cached tokens, a finish reason), ``http_error``,
``error_mid_stream``, ``dropped_connection``, ``cut_short``, ``stall`` and ``unparseable_output``.
An empty queue answers 500 saying nothing was queued; any other path answers 404 like vLLM
(``{"detail": ...}``).

``ChatServer(window=N)`` behaves as llama.cpp's ``llama-server -c N`` does (checked against
it): it renders each request with a ChatML template and counts its tokens
(``tests/token_count.py``); a prompt of N tokens or more is refused with llama.cpp's 400
``exceed_context_size_error`` (with ``n_prompt_tokens`` and ``n_ctx``) and consumes nothing;
otherwise the usage reports the counted prompt, and a reply longer than the request's
``max_tokens``, or than the window leaves, stops there with ``finish_reason: "length"``. It
serves llama.cpp's ``GET /v1/models`` (``meta.n_ctx``), ``POST /apply-template`` and
``POST /tokenize`` too (``llama_endpoints=False``: it does not, as a proxy in front of it).
``respond``, instead of the queue, makes each reply from the request.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import socket
import threading
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from token_count import text_tokens

CHAT_PATH = "/v1/chat/completions"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server got it; header names are lower case."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any  # the JSON body, or None when it was not JSON
    prompt_tokens: int | None = None  # with a window: the prompt, as counted
    output_room: int | None = None  # with a window: tokens the reply may write


class Reply(Protocol):
    """Something queued: it writes one response to one request."""

    def send(self, handler: _Handler, request: RecordedRequest) -> None: ...


class ChatServer:
    """The server, on 127.0.0.1 and a free port, while used as a context manager.

    ``requests`` keeps the chat completion requests, ``side_requests`` the others (models,
    templates, tokens)."""

    def __init__(
        self,
        *,
        window: int | None = None,
        model: str = "smollm2",
        respond: Callable[[RecordedRequest], Reply] | None = None,
        llama_endpoints: bool = True,
    ) -> None:
        self.window = window
        self.llama_endpoints = llama_endpoints  # False: a window kept but neither said nor counted
        self.model = model
        self.respond = respond
        self.requests: list[RecordedRequest] = []
        self.side_requests: list[RecordedRequest] = []
        self.overflows = 0  # requests refused as longer than the window
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self.closing = threading.Event()  # set on close, to end stalls early
        self._http = _HTTPServer(self)
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """The API root to give a client, ``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self._http.server_address[1]}/v1"

    def enqueue(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies``, in order."""
        with self._lock:
            self._replies.extend(replies)

    def answer(self, request: RecordedRequest) -> tuple[Reply, RecordedRequest]:
        """Keep ``request``; the reply to send to it, and the request as the reply reads it."""
        with self._lock:
            if request.path != CHAT_PATH:
                self.side_requests.append(request)
                return self._side_reply(request), request
            if self.window is not None and isinstance(request.body, dict):
                prompt = text_tokens(chatml(request.body))
                if prompt >= self.window:
                    request = dataclasses.replace(request, prompt_tokens=prompt)
                    self.requests.append(request)
                    self.overflows += 1
                    return _overflow(prompt, self.window), request
                asked = request.body.get("max_tokens")
                room = self.window - prompt
                if isinstance(asked, int) and asked > 0:
                    room = min(room, asked)
                request = dataclasses.replace(request, prompt_tokens=prompt, output_room=room)
            self.requests.append(request)
            if self.respond is not None:
                return self.respond(request), request
            return (self._replies.popleft() if self._replies else _NOTHING_QUEUED), request

    def _side_reply(self, request: RecordedRequest) -> Reply:
        """llama.cpp's other endpoints, served with a window; else 404 as vLLM answers."""
        if self.window is None or not self.llama_endpoints:
            return _NOT_FOUND
        body = request.body if isinstance(request.body, dict) else {}
        if request.method == "GET" and request.path == "/v1/models":
            entry = {
                "id": self.model,
                "aliases": [self.model],
                "object": "model",
                "owned_by": "llamacpp",
                "meta": {"n_ctx": self.window, "n_ctx_train": 8192, "n_vocab": 49152},
            }
            return _Json(200, {"object": "list", "data": [entry]})
        if request.method == "POST" and request.path == "/apply-template":
            return _Json(200, {"prompt": chatml(body)})
        if request.method == "POST" and request.path == "/tokenize":
            count = text_tokens(str(body.get("content", "")))
            return _Json(200, {"tokens": list(range(count))})
        return _NOT_FOUND

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.closing.set()
        self._http.shutdown()
        self._http.server_close()


def unreachable_base_url() -> str:
    """An API root on a local port nothing listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


# --- builders ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamedCall:
    """A tool call as the server streams it (see ``tool_call``)."""

    name: str
    arguments: str  # sent as it is, so it may be malformed
    call_id: str | None  # None: the server sends no id
    index: int | None  # None: the call's position in the turn
    send_index: bool = True
    whole: bool = False  # id, name and arguments in one chunk


def tool_call(
    name: str,
    arguments: dict[str, Any] | str,
    *,
    call_id: str | None = "",
    whole: bool = False,
    index: int | None = None,
    send_index: bool = True,
) -> StreamedCall:
    """A tool call: the first chunk carries id and name, the arguments follow in three pieces
    (``whole``: everything in one chunk). ``arguments`` as a string is sent verbatim (malformed
    ones too). ``call_id=""`` makes up an id, None sends none; ``index`` overrides the position
    (Ollama sends 0 for every call), ``send_index=False`` leaves it out."""
    if call_id == "":
        call_id = f"chatcmpl-tool-{uuid.uuid4().hex[:12]}"
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return StreamedCall(name, text, call_id, index, send_index, whole)


@dataclass(frozen=True)
class _Turn:
    text: Sequence[str]
    reasoning: Sequence[str]
    calls: Sequence[StreamedCall]
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int | None
    finish_reason: str | None
    done: bool = True

    def send(self, handler: _Handler, request: RecordedRequest) -> None:
        turn = self if request.output_room is None else self._within(request)
        model = request.body.get("model", "") if isinstance(request.body, dict) else ""
        handler.start_stream()
        handler.send_chunk(model, {"role": "assistant", "content": ""})
        for piece in turn.reasoning:
            handler.send_chunk(model, {"reasoning_content": piece})
        for piece in turn.text:
            handler.send_chunk(model, {"content": piece})
        for position, call in enumerate(turn.calls):
            for piece in _call_pieces(call, position):
                handler.send_chunk(model, {"tool_calls": [piece]})
        if turn.finish_reason is not None:
            handler.send_chunk(model, {}, finish_reason=turn.finish_reason)
        options = request.body.get("stream_options") if isinstance(request.body, dict) else None
        if turn.done and isinstance(options, dict) and options.get("include_usage"):
            handler.send_event(_chunk(model, choices=[], usage=turn._usage()))
        if turn.done:
            handler.send_event("[DONE]")
        handler.end_stream()

    def _within(self, request: RecordedRequest) -> _Turn:
        """This turn as a server with a window sends it: usage counted, and cut at the room
        the request leaves (the text first, then the calls: a call cut short is left out, as
        llama.cpp's parser drops an unfinished one)."""
        room = request.output_room or 0
        text, calls, written = [], [], 0
        for piece in self.text:
            if written + text_tokens(piece) > room:
                break
            text.append(piece)
            written += text_tokens(piece)
        else:
            for call in self.calls:
                cost = text_tokens(call.name) + text_tokens(call.arguments) + 2
                if written + cost > room:
                    break
                calls.append(call)
                written += cost
        cut = len(text) < len(self.text) or len(calls) < len(self.calls)
        return dataclasses.replace(
            self,
            text=tuple(text),
            calls=tuple(calls),
            prompt_tokens=request.prompt_tokens or 0,
            completion_tokens=room if cut else written,
            finish_reason="length" if cut else self.finish_reason,
        )

    def _usage(self) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }
        if self.cached_tokens is not None:
            usage["prompt_tokens_details"] = {"cached_tokens": self.cached_tokens}
        return usage


def streamed_turn(
    text: str | Sequence[str] = "",
    tool_calls: Sequence[StreamedCall] = (),
    *,
    reasoning: str | Sequence[str] = "",
    prompt_tokens: int = 100,
    completion_tokens: int = 20,
    cached_tokens: int | None = None,
    finish_reason: str | None = None,
) -> Reply:
    """A whole turn: ``text`` in deltas (a string is split after each word, a sequence is sent
    piece by piece), ``reasoning`` likewise as ``reasoning_content``, then the tool calls, the
    finish reason (default ``tool_calls`` when there are calls, else ``stop``), the usage chunk
    when the request asked for it, and ``[DONE]``."""
    if finish_reason is None:
        finish_reason = "tool_calls" if tool_calls else "stop"
    return _Turn(
        _pieces(text),
        _pieces(reasoning),
        tuple(tool_calls),
        prompt_tokens,
        completion_tokens,
        cached_tokens,
        finish_reason,
    )


def cut_short(text: str | Sequence[str] = "partial") -> Reply:
    """A stream that ends cleanly after some text, with neither a finish reason nor [DONE]."""
    return _Turn(_pieces(text), (), (), 0, 0, None, finish_reason=None, done=False)


@dataclass(frozen=True)
class _HTTPError:
    status: int
    body: Any
    retry_after: str | None

    def send(self, handler: _Handler, request: RecordedRequest) -> None:
        headers = {} if self.retry_after is None else {"Retry-After": self.retry_after}
        handler.send_json(self.status, self.body, headers)


def http_error(
    status: int,
    message: str,
    *,
    error_type: str = "server_error",
    retry_after: str | None = None,
    body: Any = None,
) -> Reply:
    """An error status with an OpenAI error body ``{"error": {"message", "type", "code"}}``
    (or ``body`` instead), and a ``Retry-After`` header when given."""
    if body is None:
        body = {"error": {"message": message, "type": error_type, "code": status}}
    return _HTTPError(status, body, retry_after)


@dataclass(frozen=True)
class _ErrorMidStream:
    message: str
    text: Sequence[str]

    def send(self, handler: _Handler, request: RecordedRequest) -> None:
        handler.start_stream()
        for piece in self.text:
            handler.send_chunk("", {"content": piece})
        error = {"message": self.message, "type": "InternalServerError", "code": 500}
        handler.send_event({"error": error})
        handler.send_event("[DONE]")  # as vLLM does after an error
        handler.end_stream()


def error_mid_stream(message: str, *, text: str | Sequence[str] = "") -> Reply:
    """A stream that starts (with ``text``, if any) and then carries ``data: {"error": ...}``."""
    return _ErrorMidStream(message, _pieces(text))


@dataclass(frozen=True)
class _Dropped:
    text: Sequence[str]

    def send(self, handler: _Handler, request: RecordedRequest) -> None:
        handler.start_stream()
        for piece in self.text:
            handler.send_chunk("", {"content": piece})
        handler.close_connection = True  # without the last chunk: the body is incomplete


def dropped_connection(text: str | Sequence[str] = "partial") -> Reply:
    """A stream whose connection closes after ``text``, in the middle of the chunked body."""
    return _Dropped(_pieces(text))


@dataclass(frozen=True)
class _Stall:
    seconds: float

    def send(self, handler: _Handler, request: RecordedRequest) -> None:
        handler.start_stream()
        handler.send_chunk("", {"role": "assistant", "content": ""})
        handler.server.chat.closing.wait(self.seconds)
        handler.close_connection = True


def unparseable_output(format_name: str = "Hermes 2 Pro") -> Reply:
    """llama.cpp's answer when the model wrote a tool call its parser cannot read: 500."""
    message = f"The model produced output that does not match the expected {format_name} format"
    return http_error(500, message, error_type="server_error")


def _overflow(prompt: int, window: int) -> Reply:
    """llama.cpp's answer to a prompt that does not fit its window (server-context.cpp)."""
    message = (
        f"request ({prompt} tokens) exceeds the available context size ({window} tokens), "
        "try increasing it"
    )
    error = {
        "code": 400,
        "message": message,
        "type": "exceed_context_size_error",
        "n_prompt_tokens": prompt,
        "n_ctx": window,
    }
    return _HTTPError(400, {"error": error}, None)


def chatml(body: dict[str, Any]) -> str:
    """The prompt a ChatML template with tools makes of a chat request (as the Qwen2.5
    template llama.cpp is served with here: tools in the system message, calls as JSON)."""
    parts = []
    tools = body.get("tools")
    for message in body.get("messages") or ():
        content = message.get("content") or ""
        if message.get("role") == "system" and tools:
            content = f"{content}\n\n# Tools\n\n{json.dumps(tools)}"
        for call in message.get("tool_calls") or ():
            content += f"\n<tool_call>\n{json.dumps(call.get('function'))}\n</tool_call>"
        parts.append(f"<|im_start|>{message.get('role')}\n{content}<|im_end|>\n")
    return "".join(parts) + "<|im_start|>assistant\n"


@dataclass(frozen=True)
class _Json:
    status: int
    payload: Any

    def send(self, handler: _Handler, request: RecordedRequest) -> None:
        handler.send_json(self.status, self.payload)


def stall(seconds: float = 60.0) -> Reply:
    """A stream that starts and then sends nothing for ``seconds`` (or until the server
    closes): longer than the client's timeout, so that it gives up."""
    return _Stall(seconds)


# --- the server -------------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, chat: ChatServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.chat = chat


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked streams, so that a dropped stream shows
    server: _HTTPServer

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply, request = self.server.chat.answer(
            RecordedRequest(self.command, self.path, headers, body)
        )
        reply.send(self, request)

    def do_GET(self) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply, request = self.server.chat.answer(
            RecordedRequest(self.command, self.path, headers, None)
        )
        reply.send(self, request)

    def handle(self) -> None:
        # The client may hang up: it timed out, or stopped reading at an error.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            super().handle()

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def send_event(self, payload: Any) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        event = f"data: {data}\n\n".encode()
        self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")

    def send_chunk(
        self, model: str, delta: dict[str, Any], *, finish_reason: str | None = None
    ) -> None:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        self.send_event(_chunk(model, choices=[choice]))

    def end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``requests`` instead."""


_NOTHING_QUEUED = _HTTPError(
    500,
    {"error": {"message": "the test server has no reply queued", "type": "test_error"}},
    None,
)
_NOT_FOUND = _HTTPError(404, {"detail": "Not Found"}, None)


def _chunk(model: str, *, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": choices,
        **extra,
    }


def _call_pieces(call: StreamedCall, position: int) -> list[dict[str, Any]]:
    """The ``delta.tool_calls`` entries of one call, in the order they are sent."""
    first: dict[str, Any] = {"type": "function", "function": {"name": call.name}}
    if call.call_id is not None:
        first["id"] = call.call_id
    if call.whole:
        first["function"]["arguments"] = call.arguments
        pieces = [first]
    else:
        first["function"]["arguments"] = ""
        step = max(1, -(-len(call.arguments) // 3))
        rest = [call.arguments[i : i + step] for i in range(0, len(call.arguments), step)]
        pieces = [first, *({"function": {"arguments": text}} for text in rest)]
    if call.send_index:
        index = position if call.index is None else call.index
        pieces = [{"index": index, **piece} for piece in pieces]
    return pieces


def _pieces(text: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(text, str):
        return tuple(re.findall(r"\s*\S+\s*", text)) if text.strip() else ((text,) if text else ())
    return tuple(text)
