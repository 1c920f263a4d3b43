"""A local HTTP server speaking the Anthropic Messages API, for tests.

It answers ``POST /v1/messages`` from a queue of scripted responses, streamed as server-sent
events exactly as the real API streams them (chunked, ``event:`` and ``data:`` lines,
``message_start`` ... ``message_stop``, a ``ping``), and keeps every request it got (those to
the counting endpoint apart, in ``count_requests``)::

    with MessagesServer() as server:
        server.enqueue(
            http_error(529, "overloaded_error", "Overloaded"),
            reply(text("Hello", " world"), tool_use("type", {"text": "ls\\n"})),
        )
        model = AnthropicModel("claude-test", api_key="test-key", base_url=server.url)
        ...
        assert server.requests[1].body["messages"][0]["role"] == "user"

As a pytest fixture::

    @pytest.fixture
    def server() -> Iterator[MessagesServer]:
        with MessagesServer() as running:
            yield running

A response is a successful turn (``reply`` of ``text``, ``tool_use``, ``thinking`` and
``redacted_thinking`` blocks) or a failure: ``http_error``, ``error_mid_stream``, ``dropped``
(the connection closed mid-stream), ``ended_early`` (a clean end without ``message_stop``) and
``stall`` (silence longer than the client waits); ``after_events`` says how many events of a
turn go out before the failure, ``message_start`` and ``ping`` included (by default 4: the
message's start, its first block's start, a ping, the first delta). With nothing queued the
server answers 500 ``no response was queued``, so a test that sends more requests than it
expected fails clearly.
Non-streamed requests get a ``reply`` as one JSON message; failures that only exist in a stream
are refused with 400.

``MessagesServer(window=N)`` is a model with an N-token context window. It counts each
request's prompt with ``token_count.request_tokens``: over N, the answer is the API's 400
"prompt is too long: X tokens > N maximum" (``prompt_too_long``), and the queued response is
kept for the next request. Otherwise a ``reply`` reports the counted prompt as its input (less
the cache counts it was given), and the text, thinking and tool input of its blocks counted with
``text_tokens`` as its output; when they need more than ``max_tokens``, or than the window has
left, they are cut after that many tokens, with ``stop_reason`` ``max_tokens`` or
``model_context_window_exceeded``.

``POST /v1/messages/count_tokens`` answers ``{"input_tokens": N}``, N counted the same way,
unless failures were queued for it with ``enqueue_count``.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import json
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from token_count import request_tokens, text_tokens

MESSAGES_PATH = "/v1/messages"
COUNT_PATH = "/v1/messages/count_tokens"

SseEvent = tuple[str, dict[str, Any]]  # the event name, its JSON data

_tool_ids = itertools.count(1)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: dict[str, Any]


# --- The blocks of a turn --------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """A text block, streamed as one ``text_delta`` per piece."""

    pieces: tuple[str, ...]

    def start(self) -> dict[str, Any]:
        return {"type": "text", "text": ""}

    def deltas(self) -> list[dict[str, Any]]:
        return [{"type": "text_delta", "text": piece} for piece in self.pieces]

    def whole(self) -> dict[str, Any]:
        return {"type": "text", "text": "".join(self.pieces)}

    def output_tokens(self) -> int:
        return text_tokens("".join(self.pieces))

    def cut(self, tokens: int) -> Text:
        return Text(_first_tokens(self.pieces, tokens))


@dataclass(frozen=True)
class ToolUse:
    """A tool_use block, its input streamed as ``input_json_delta`` pieces of JSON text."""

    id: str
    name: str
    input_pieces: tuple[str, ...]

    def start(self) -> dict[str, Any]:
        return {"type": "tool_use", "id": self.id, "name": self.name, "input": {}}

    def deltas(self) -> list[dict[str, Any]]:
        # The API's first piece is often empty, as here.
        return [{"type": "input_json_delta", "partial_json": p} for p in ("", *self.input_pieces)]

    def whole(self) -> dict[str, Any]:
        raw = "".join(self.input_pieces)
        try:
            value = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            value = raw
        return {"type": "tool_use", "id": self.id, "name": self.name, "input": value}

    def output_tokens(self) -> int:
        return text_tokens("".join(self.input_pieces))

    def cut(self, tokens: int) -> ToolUse:
        return ToolUse(self.id, self.name, _first_tokens(self.input_pieces, tokens))


@dataclass(frozen=True)
class Thinking:
    """A thinking block: ``thinking_delta`` pieces, then one ``signature_delta``."""

    pieces: tuple[str, ...]
    signature: str

    def start(self) -> dict[str, Any]:
        return {"type": "thinking", "thinking": ""}

    def deltas(self) -> list[dict[str, Any]]:
        thoughts = [{"type": "thinking_delta", "thinking": piece} for piece in self.pieces]
        return [*thoughts, {"type": "signature_delta", "signature": self.signature}]

    def whole(self) -> dict[str, Any]:
        return {"type": "thinking", "thinking": "".join(self.pieces), "signature": self.signature}

    def output_tokens(self) -> int:
        return text_tokens("".join(self.pieces))

    def cut(self, tokens: int) -> Thinking:
        return Thinking(_first_tokens(self.pieces, tokens), self.signature)


@dataclass(frozen=True)
class RedactedThinking:
    """A redacted_thinking block: whole in its ``content_block_start``, no deltas."""

    data: str

    def start(self) -> dict[str, Any]:
        return self.whole()

    def deltas(self) -> list[dict[str, Any]]:
        return []

    def whole(self) -> dict[str, Any]:
        return {"type": "redacted_thinking", "data": self.data}

    def output_tokens(self) -> int:
        return 0  # opaque: not counted, never cut

    def cut(self, tokens: int) -> RedactedThinking:
        return self


Block = Text | ToolUse | Thinking | RedactedThinking


def _first_tokens(pieces: tuple[str, ...], tokens: int) -> tuple[str, ...]:
    """The longest start of the pieces' text holding at most ``tokens`` tokens, split as the
    pieces were."""
    whole = "".join(pieces)
    # A longer start never holds fewer tokens, so the longest is found by bisection.
    starts = range(len(whole) + 1)
    end = bisect.bisect_right(starts, tokens, key=lambda n: text_tokens(whole[:n])) - 1
    kept, start = [], 0
    for piece in pieces:
        if start >= end:
            break
        kept.append(piece[: end - start])
        start += len(piece)
    return tuple(kept)


def text(*pieces: str) -> Text:
    """A text block whose text arrives in ``pieces`` (one delta each)."""
    return Text(pieces)


def tool_use(name: str, input: dict[str, Any] | str, *, id: str = "", pieces: int = 3) -> ToolUse:
    """A tool call. A dict ``input`` is sent as JSON split into ``pieces`` deltas; a string is
    sent as it is (split the same way), for malformed input."""
    raw = input if isinstance(input, str) else json.dumps(input)
    size = -(-len(raw) // pieces) or 1
    chunks = tuple(raw[i : i + size] for i in range(0, len(raw), size))
    return ToolUse(id or f"toolu_{next(_tool_ids):04d}", name, chunks)


def thinking(*pieces: str, signature: str = "signature-of-the-thinking") -> Thinking:
    """A thinking block whose thoughts arrive in ``pieces``, signed with ``signature``."""
    return Thinking(pieces, signature)


def redacted_thinking(data: str) -> RedactedThinking:
    """A redacted thinking block carrying the opaque ``data``."""
    return RedactedThinking(data)


# --- Responses ---------------------------------------------------------------------------


class Response(Protocol):
    """Something the server can answer a request with."""

    def answer(self, exchange: _Exchange) -> None: ...


@dataclass(frozen=True)
class Reply:
    """A whole successful turn."""

    blocks: tuple[Block, ...]
    stop_reason: str
    usage: dict[str, int]

    def events(self, model: str, message_id: str) -> list[SseEvent]:
        """The turn as the API streams it."""
        message = {
            **self.message(model, message_id),
            "content": [],
            "stop_reason": None,
            "usage": {**self.usage, "output_tokens": 1},
        }
        events: list[SseEvent] = [("message_start", {"type": "message_start", "message": message})]
        for index, block in enumerate(self.blocks):
            start = {"type": "content_block_start", "index": index, "content_block": block.start()}
            events.append(("content_block_start", start))
            if index == 0:
                events.append(("ping", {"type": "ping"}))
            for delta in block.deltas():
                data = {"type": "content_block_delta", "index": index, "delta": delta}
                events.append(("content_block_delta", data))
            events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        # message_delta's usage is cumulative: the final counts.
        stop = {"stop_reason": self.stop_reason, "stop_sequence": None}
        events.append(
            ("message_delta", {"type": "message_delta", "delta": stop, "usage": self.usage})
        )
        events.append(("message_stop", {"type": "message_stop"}))
        return events

    def message(self, model: str, message_id: str) -> dict[str, Any]:
        """The turn as one non-streamed Message."""
        return {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [block.whole() for block in self.blocks],
            "stop_reason": self.stop_reason,
            "stop_sequence": None,
            "usage": self.usage,
        }

    def within(self, prompt: int, room: int, stop_reason: str) -> Reply:
        """This turn as a server counting tokens gives it: ``prompt`` tokens read (the cache
        counts kept, the input the rest), its blocks' tokens written, and when they need more
        than ``room``, the blocks cut after ``room`` tokens and ``stop_reason``."""
        blocks: list[Block] = []
        left = room
        for block in self.blocks:
            needed = block.output_tokens()
            if needed > left:
                if left > 0:
                    blocks.append(block.cut(left))
                left = -1  # cut short
                break
            blocks.append(block)
            left -= needed
        cache_read = min(self.usage["cache_read_input_tokens"], prompt)
        cache_write = min(self.usage["cache_creation_input_tokens"], prompt - cache_read)
        usage = {
            "input_tokens": prompt - cache_read - cache_write,
            "cache_creation_input_tokens": cache_write,
            "cache_read_input_tokens": cache_read,
            "output_tokens": room if left < 0 else room - left,
        }
        return Reply(tuple(blocks), stop_reason if left < 0 else self.stop_reason, usage)

    def answer(self, exchange: _Exchange) -> None:
        turn = exchange.fitted(self)
        if not exchange.streamed:
            exchange.send_json(200, turn.message(exchange.model, exchange.message_id))
            return
        exchange.stream_part(turn)
        exchange.end_stream()


def reply(
    *blocks: Block,
    stop_reason: str | None = None,
    input_tokens: int = 25,
    output_tokens: int = 10,
    cache_creation_input_tokens: int = 0,
    cache_read_input_tokens: int = 0,
) -> Reply:
    """A successful turn of ``blocks``; ``stop_reason`` defaults to ``tool_use`` when a tool
    is called, else ``end_turn``. ``message_start`` reports the input and cache counts with
    one output token, ``message_delta`` the final counts."""
    if stop_reason is None:
        calls_tool = any(isinstance(block, ToolUse) for block in blocks)
        stop_reason = "tool_use" if calls_tool else "end_turn"
    usage = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": cache_creation_input_tokens,
        "cache_read_input_tokens": cache_read_input_tokens,
        "output_tokens": output_tokens,
    }
    return Reply(blocks, stop_reason, usage)


@dataclass(frozen=True)
class HttpError:
    """An error status with the API's JSON error body."""

    status: int
    error_type: str
    message: str
    retry_after: str | None = None

    def answer(self, exchange: _Exchange) -> None:
        headers = {} if self.retry_after is None else {"retry-after": self.retry_after}
        exchange.send_error(self.status, self.error_type, self.message, headers)


def http_error(
    status: int, error_type: str, message: str = "", *, retry_after: str | None = None
) -> HttpError:
    """An HTTP error, e.g. ``http_error(429, "rate_limit_error", retry_after="3")``,
    ``http_error(529, "overloaded_error")``, ``http_error(500, "api_error")``."""
    return HttpError(status, error_type, message or error_type.replace("_", " "), retry_after)


def prompt_too_long(prompt_tokens: int, window: int) -> HttpError:
    """The API's answer to a prompt of ``prompt_tokens`` that a ``window`` cannot hold."""
    message = f"prompt is too long: {prompt_tokens} tokens > {window} maximum"
    return HttpError(400, "invalid_request_error", message)


@dataclass(frozen=True)
class ErrorMidStream:
    """A stream that starts well, then carries an ``error`` event (the API's way to fail
    after the 200 status is sent, e.g. overloaded_error)."""

    reply: Reply
    after_events: int
    error_type: str
    message: str

    def answer(self, exchange: _Exchange) -> None:
        if exchange.stream_part(self.reply, self.after_events):
            error = {"type": self.error_type, "message": self.message}
            exchange.send_event(("error", {"type": "error", "error": error}))
            exchange.end_stream()


def error_mid_stream(
    reply: Reply,
    *,
    after_events: int = 4,
    error_type: str = "overloaded_error",
    message: str = "Overloaded",
) -> ErrorMidStream:
    """The first ``after_events`` events of ``reply``, then an SSE ``error`` event."""
    return ErrorMidStream(reply, after_events, error_type, message)


@dataclass(frozen=True)
class Cut:
    """The first ``after_events`` events of a turn, then no more: the connection closed with
    the chunked body unfinished (``abrupt``), or the body ended cleanly without
    ``message_stop``."""

    reply: Reply
    after_events: int
    abrupt: bool

    def answer(self, exchange: _Exchange) -> None:
        if not exchange.stream_part(self.reply, self.after_events):
            return
        if self.abrupt:
            exchange.drop_connection()
        else:
            exchange.end_stream()


def dropped(reply: Reply, *, after_events: int = 4) -> Cut:
    """A connection dropped mid-stream: part of ``reply``, then the socket closes."""
    return Cut(reply, after_events, abrupt=True)


def ended_early(reply: Reply, *, after_events: int = 4) -> Cut:
    """A stream that ends cleanly, but before ``message_stop``."""
    return Cut(reply, after_events, abrupt=False)


@dataclass(frozen=True)
class Stall:
    """Silence for ``seconds`` (then the connection closes): before any answer when ``reply``
    is None, else after the first ``after_events`` events of ``reply``."""

    seconds: float
    reply: Reply | None
    after_events: int

    def answer(self, exchange: _Exchange) -> None:
        if self.reply is not None and not exchange.stream_part(self.reply, self.after_events):
            return
        exchange.wait(self.seconds)
        exchange.drop_connection()


def stall(seconds: float, *, reply: Reply | None = None, after_events: int = 4) -> Stall:
    """A server that goes silent for ``seconds``, longer than the client's timeout: before
    sending anything, or (with ``reply``) mid-stream."""
    return Stall(seconds, reply, after_events)


# --- The server ----------------------------------------------------------------------------


@dataclass
class _Exchange:
    """One request being answered: what the responses use to write to the client."""

    handler: _Handler
    body: dict[str, Any]
    message_id: str
    closing: threading.Event
    window: _Window | None = None
    streamed: bool = field(init=False)
    model: str = field(init=False)

    def __post_init__(self) -> None:
        self.streamed = bool(self.body.get("stream"))
        self.model = str(self.body.get("model", "claude-test"))

    def fitted(self, reply: Reply) -> Reply:
        """``reply`` as the server's window lets it answer this request."""
        return reply if self.window is None else self.window.fit(reply)

    def send_json(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        payload = json.dumps(body).encode()
        self.handler.send_response(status)
        self.handler.send_header("content-type", "application/json")
        self.handler.send_header("content-length", str(len(payload)))
        self.handler.send_header("request-id", f"req_{self.message_id}")
        for name, value in (headers or {}).items():
            self.handler.send_header(name, value)
        self.handler.end_headers()
        self.handler.wfile.write(payload)

    def send_error(
        self, status: int, error_type: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        body = {"type": "error", "error": {"type": error_type, "message": message}}
        self.send_json(status, body, headers)

    def stream_part(self, reply: Reply, events: int | None = None) -> bool:
        """Start the stream and send the first ``events`` events of ``reply`` (all of them by
        default). A request that was not streamed gets a 400 instead, and False."""
        if not self.streamed:
            message = "this scripted response is a stream: send the request with stream=true"
            self.send_error(400, "invalid_request_error", message)
            return False
        self.handler.send_response(200)
        self.handler.send_header("content-type", "text/event-stream; charset=utf-8")
        self.handler.send_header("cache-control", "no-cache")
        self.handler.send_header("transfer-encoding", "chunked")
        self.handler.send_header("request-id", f"req_{self.message_id}")
        self.handler.end_headers()
        for event in reply.events(self.model, self.message_id)[:events]:
            self.send_event(event)
        return True

    def send_event(self, event: SseEvent) -> None:
        name, data = event
        self._send_chunk(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())

    def end_stream(self) -> None:
        self.handler.wfile.write(b"0\r\n\r\n")

    def drop_connection(self) -> None:
        """Close the socket now, whatever was left unsaid."""
        self.handler.close_connection = True
        with contextlib.suppress(OSError):  # the client may be gone already
            self.handler.connection.shutdown(socket.SHUT_RDWR)

    def wait(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if the server is closing."""
        self.closing.wait(seconds)

    def _send_chunk(self, data: bytes) -> None:
        self.handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")


@dataclass(frozen=True)
class _Window:
    """What a context window of ``size`` tokens leaves one request: its prompt, counted, and
    the output room."""

    size: int
    prompt: int
    max_tokens: int | None

    @classmethod
    def of(cls, size: int, body: dict[str, Any]) -> _Window:
        """The window of ``size`` tokens as the request ``body`` finds it."""
        max_tokens = body.get("max_tokens")
        return cls(size, request_tokens(body), max_tokens if isinstance(max_tokens, int) else None)

    def fit(self, reply: Reply) -> Reply:
        """``reply`` with the prompt's usage, cut where the output room ends."""
        room, stop_reason = self.size - self.prompt, "model_context_window_exceeded"
        if self.max_tokens is not None and self.max_tokens <= room:
            room, stop_reason = self.max_tokens, "max_tokens"
        return reply.within(self.prompt, room, stop_reason)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked bodies, as the API
    server: _HttpServer

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            body = None
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = RecordedRequest("POST", self.path, headers, body or {})
        if self.path.split("?")[0] == COUNT_PATH:
            self._count(request, body)
        else:
            self._create(request, body)

    def _create(self, request: RecordedRequest, body: dict[str, Any] | None) -> None:
        """Answer a request for a message (or one to an unknown endpoint)."""
        messages = self.server.messages
        number = messages.record(request)
        exchange = _Exchange(self, request.body, f"msg_{number:04d}", messages.closing)
        if messages.window is not None and body is not None:
            exchange.window = _Window.of(messages.window, body)
        window = exchange.window
        if request.path.split("?")[0] != MESSAGES_PATH:
            exchange.send_error(404, "not_found_error", f"no such endpoint: POST {request.path}")
        elif body is None:
            exchange.send_error(400, "invalid_request_error", "the body is not a JSON object")
        elif window is not None and window.prompt > window.size:
            # Refused before the queue is looked at: the queued response waits for the next.
            messages.refusals += 1
            prompt_too_long(window.prompt, window.size).answer(exchange)
        elif (response := messages.next_response()) is None:
            message = f"no response was queued for request #{number} (enqueue one more)"
            exchange.send_error(500, "api_error", message)
        else:
            response.answer(exchange)

    def _count(self, request: RecordedRequest, body: dict[str, Any] | None) -> None:
        """Answer a request to the counting endpoint."""
        messages = self.server.messages
        number = messages.record_count(request)
        exchange = _Exchange(self, request.body, f"count_{number:04d}", messages.closing)
        if body is None:
            exchange.send_error(400, "invalid_request_error", "the body is not a JSON object")
        elif (response := messages.next_count_response()) is not None:
            response.answer(exchange)
        else:
            exchange.send_json(200, {"input_tokens": request_tokens(body)})

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a test's output is no place for an access log


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    messages: MessagesServer


class MessagesServer:
    """A running Messages API server on 127.0.0.1 (a free port), until ``close``.

    ``url`` is the base URL to give the client; ``requests`` lists every request received but
    those to the counting endpoint, which ``count_requests`` lists, in order; ``enqueue`` adds
    responses, given one per request in order. With ``window``, the server counts each prompt
    against a context window of that many tokens (see the module's docstring); it may be
    changed between requests.
    """

    def __init__(self, *, window: int | None = None) -> None:
        self.window = window
        self.refusals = 0  # requests refused as longer than the window
        self.requests: list[RecordedRequest] = []
        self.count_requests: list[RecordedRequest] = []
        self.closing = threading.Event()
        self._queue: deque[Response] = deque()
        self._count_queue: deque[Response] = deque()
        self._lock = threading.Lock()
        self._http = _HttpServer(("127.0.0.1", 0), _Handler)
        self._http.messages = self
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host}:{port}"

    def enqueue(self, *responses: Response) -> None:
        """Answer the next requests with ``responses``, in order."""
        with self._lock:
            self._queue.extend(responses)

    def enqueue_count(self, *responses: Response) -> None:
        """Answer the next requests to the counting endpoint with ``responses`` (failures, such
        as ``http_error(404, "not_found_error")``), in order, before counting again."""
        with self._lock:
            self._count_queue.extend(responses)

    @property
    def pending(self) -> int:
        """Responses queued and not given yet."""
        with self._lock:
            return len(self._queue)

    def record(self, request: RecordedRequest) -> int:
        """Keep ``request``; its number, from 1."""
        with self._lock:
            self.requests.append(request)
            return len(self.requests)

    def record_count(self, request: RecordedRequest) -> int:
        """Keep ``request`` to the counting endpoint; its number among those, from 1."""
        with self._lock:
            self.count_requests.append(request)
            return len(self.count_requests)

    def next_response(self) -> Response | None:
        """The response queued first, taken off the queue; None when there is none."""
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def next_count_response(self) -> Response | None:
        """The response queued first for the counting endpoint; None when there is none."""
        with self._lock:
            return self._count_queue.popleft() if self._count_queue else None

    def close(self) -> None:
        """Stop serving; stalled answers end at once."""
        self.closing.set()
        self._http.shutdown()
        self._http.server_close()
        self._thread.join()

    def __enter__(self) -> MessagesServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
