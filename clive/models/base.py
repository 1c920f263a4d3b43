"""The one small protocol every model backend implements, and the types it speaks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from clive.session.events import ToolCall, Usage


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
    """One message of the conversation, in no provider's format."""

    role: Literal["user", "assistant"]
    text: str = ""
    tool_calls: Sequence[ToolCall] = ()
    tool_results: Sequence[ToolResultBlock] = ()


@dataclass(frozen=True)
class ModelReply:
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    cost: float | None = None  # dollars; None when the backend cannot tell


class ModelError(RuntimeError):
    """The model could not give a reply; the message says why and what to do."""


class Model(Protocol):
    """A model backend: given the conversation so far, the next turn."""

    name: str
    scripted: bool  # replies come from a script, not from a language model

    def reply(
        self, system: str, messages: Sequence[Message], tools: Sequence[ToolSpec]
    ) -> ModelReply: ...
