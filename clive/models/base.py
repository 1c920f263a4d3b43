"""The one small protocol every model backend implements, and the types it speaks.

A backend turns the conversation (system prompt, messages, tools) into the model's next turn.
It reports text as it streams (``on_text``) and each retry it makes (``on_retry``), and raises
``ModelUnavailable`` when a transient failure outlasts its retries (the session then pauses and
can be resumed) or ``ModelError`` for a failure retrying cannot fix.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from clive.session.events import ToolCall, Usage

DEFAULT_OUTPUT_LIMIT = 8192  # tokens a reply may write, unless the settings say


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the model is told about it."""

    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True)
class ToolResultBlock:
    call_id: str
    content: str
    is_error: bool = False


@dataclass(frozen=True)
class Message:
    """One message of the conversation, in no provider's format.

    A user message is its tool results, then ``text``, then ``transient``: the part a later
    turn replaces (the screen of an observation, once newer screens exist). Backends that
    cache the conversation put the rolling cache breakpoint after ``text``, so that replacing
    ``transient`` never invalidates what is cached.

    ``reasoning`` holds an assistant turn's thinking blocks exactly as the backend received
    them (Anthropic wants them back, signatures and all, while a tool call is answered).
    ``compaction`` marks the request for notes before the context is cleared (a script
    answers it with its ``compact`` turns; a language model just reads the text).
    """

    role: Literal["user", "assistant"]
    text: str = ""
    tool_calls: Sequence[ToolCall] = ()
    tool_results: Sequence[ToolResultBlock] = ()
    transient: str = ""
    reasoning: Sequence[dict[str, Any]] = ()
    compaction: bool = False


@dataclass(frozen=True)
class ModelReply:
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    cost: float | None = None  # dollars; None when the backend cannot tell
    thinking: str = ""  # the model's extended thinking, when it was switched on
    reasoning: Sequence[dict[str, Any]] = ()  # see Message.reasoning
    stop_reason: str | None = None  # as the API said it: "length", "max_tokens", "tool_calls"...

    @property
    def cut_off(self) -> bool:
        """The reply stopped at the output limit (or at the end of the context window), not
        where the model ended it: its text or its last tool call may be incomplete."""
        return self.stop_reason in CUT_OFF_STOP_REASONS


# The stop reasons of a reply cut short: OpenAI's and llama.cpp's "length", Anthropic's
# "max_tokens", and Anthropic's "model_context_window_exceeded" (the window filled up while
# the model wrote).
CUT_OFF_STOP_REASONS = frozenset({"length", "max_tokens", "model_context_window_exceeded"})


class ModelError(RuntimeError):
    """The model could not give a reply; the message says why and what to do."""


class ContextOverflow(ModelError):
    """The conversation no longer fits the model's context window: compact it and ask again.

    ``window`` and ``prompt_tokens`` are the window and the request's size in tokens, when the
    server said them (llama.cpp's ``n_ctx`` and ``n_prompt_tokens``; Anthropic's "prompt is
    too long: 215000 tokens > 200000 maximum").
    """

    def __init__(
        self, message: str, *, window: int | None = None, prompt_tokens: int | None = None
    ) -> None:
        super().__init__(message)
        self.window = window
        self.prompt_tokens = prompt_tokens


class InvalidOutput(ModelError):
    """The server could not make a turn of what the model wrote (llama.cpp answers 500 "The
    model produced output that does not match the expected ... format" when a tool call does
    not parse). The model's doing, not the server's: the loop counts an invalid turn, tells
    the model, and asks again; nothing is retried and the session does not pause."""


# How APIs word a request too long for the model's context window (Anthropic, OpenAI, vLLM,
# llama.cpp, Ollama...), searched case-insensitively in the error's message.
CONTEXT_OVERFLOW_WORDS = re.compile(
    r"prompt is too long|context[_ ]length|context window|maximum context|too many tokens"
    r"|exceeds? the (available )?context|input is too long|n_ctx",
    re.IGNORECASE,
)


class ModelUnavailable(ModelError):
    """A transient failure (rate limit, overload, server error, timeout, a stream cut off)
    that outlasted the retries: the session pauses and can be resumed later."""


@dataclass(frozen=True)
class Retry:
    """One failed attempt that will be tried again after ``delay`` seconds."""

    attempt: int  # 1 for the first failure
    attempts: int  # how many tries in all
    delay: float
    reason: str  # what failed, e.g. "529 overloaded_error: Overloaded"


TextListener = Callable[[str], None]
RetryListener = Callable[[Retry], None]


class Model(Protocol):
    """A model backend: given the conversation so far, the next turn."""

    name: str
    scripted: bool  # replies come from a script, not from a language model
    context_limit: int | None  # tokens the model reads at most; None when unknown
    output_limit: int | None  # tokens a reply may write at most; None when unlimited

    def reply(
        self,
        system: str,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        *,
        on_text: TextListener | None = None,
        on_retry: RetryListener | None = None,
    ) -> ModelReply: ...

    def count_tokens(
        self, system: str, messages: Sequence[Message], tools: Sequence[ToolSpec]
    ) -> int | None:
        """The input tokens this request would cost, as the API counts them; None when the
        API has no way to count (the loop then estimates, calibrated on reported usage)."""
        ...


class Pricing(BaseModel):
    """Dollars per million tokens, for one model."""

    model_config = ConfigDict(extra="forbid")

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_read: float | None = Field(None, ge=0, description="default: a tenth of input")
    cache_write: float | None = Field(None, ge=0, description="default: 1.25 times input")

    def cost(self, usage: Usage) -> float:
        """What ``usage`` costs, in dollars."""
        cache_read = self.input * 0.1 if self.cache_read is None else self.cache_read
        cache_write = self.input * 1.25 if self.cache_write is None else self.cache_write
        return (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_read_tokens * cache_read
            + usage.cache_write_tokens * cache_write
        ) / 1e6


def price_for(model: str, prices: dict[str, Pricing]) -> Pricing | None:
    """The price of ``model``: an exact entry, else the longest entry it starts with
    (``claude-sonnet-4-5`` prices ``claude-sonnet-4-5-20250929``)."""
    if model in prices:
        return prices[model]
    matches = [name for name in prices if model.startswith(name)]
    return prices[max(matches, key=len)] if matches else None
