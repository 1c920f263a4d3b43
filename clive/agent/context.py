"""The context window: how many tokens the conversation takes, and a notes request that fits.

clive has no model's tokenizer. It estimates (``estimate_tokens``) and scales the estimate by
what the server last counted: the prompt tokens a reply reports, a counting endpoint's answer,
or the size an overflow error names. Against llama.cpp the raw estimate was 50% high; scaled,
it follows the server within a few percent.

When the context is full the model is asked for its notes, and that request must fit the
window, or the session dies exactly when it needed to compact. ``fit_notes_request`` shrinks it
until it fits: screens first, then tool outputs, then the oldest turns, then the end of the
opening message, always keeping the task (the opening's start) and the request for notes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from clive.agent.observation import estimate_tokens
from clive.models.base import Message, ToolResultBlock

LEFT_OUT = "(left out to fit the context window)"
SCREEN_GONE = "(The screen of this step is no longer shown.)"  # an old screen, in the context
_MIN_OPENING_CHARS = 400  # of the opening message, however small the window: the task's start
_TOOL_CALL_OVERHEAD = 10  # estimated tokens of a tool call's name, id and framing


def message_tokens(message: Message) -> int:
    """The raw estimate of one message's tokens."""
    return (
        estimate_tokens(message.text)
        + estimate_tokens(message.transient)
        + sum(estimate_tokens(result.content) for result in message.tool_results)
        + sum(estimate_tokens(str(call.input)) + _TOOL_CALL_OVERHEAD for call in message.tool_calls)
    )


class ContextMeter:
    """Token counts of requests: the raw estimate of ``fixed`` (system prompt and tools) and of
    the messages, times ``ratio``, the server's count over the estimate when last measured."""

    def __init__(self, fixed: int) -> None:
        self.fixed = fixed
        self.ratio = 1.0
        self.measured = False  # the ratio comes from a server's count, not a guess

    def scale(self, raw: int) -> int:
        """``raw`` estimated tokens as the server would count them."""
        return math.ceil(raw * self.ratio)

    def size(self, messages: Sequence[Message]) -> int:
        """A request of ``messages``, system prompt and tools included, in the server's tokens."""
        return self.scale(self.fixed + sum(message_tokens(m) for m in messages))

    def fixed_tokens(self) -> int:
        """The system prompt and tools alone, in the server's tokens."""
        return self.scale(self.fixed)

    def calibrate(self, messages: Sequence[Message], counted: int) -> None:
        """The server counted ``counted`` tokens for a request of ``messages``."""
        raw = self.fixed + sum(message_tokens(m) for m in messages)
        if raw > 0 and counted > 0:
            self.ratio = counted / raw
            self.measured = True


@dataclass(frozen=True)
class NotesRequest:
    """The conversation to send when asking for notes, and what was left out of it."""

    messages: list[Message]
    dropped: str  # e.g. "3 screens, 5 tool outputs, the 4 oldest turns"; "" for nothing


def fit_notes_request(
    conversation: Sequence[Message],
    request: Message,
    budget: int,
    size: Callable[[Sequence[Message]], int],
) -> NotesRequest | None:
    """``conversation`` then ``request`` (the request for notes), shrunk until ``size`` of it
    is at most ``budget``; None when even the request with the start of the opening message
    does not fit (the system prompt and tools alone nearly fill the window).

    ``conversation`` opens with a user message (the task, earlier notes) and alternates from
    there; ``request`` carries the results of the last assistant message's tool calls.
    """
    messages = [*conversation, request]
    dropped: list[str] = []

    def fits() -> bool:
        return size(messages) <= budget

    def result() -> NotesRequest:
        return NotesRequest(messages, ", ".join(dropped))

    if fits():
        return result()
    screens = sum(1 for m in messages if m.transient and m.transient != SCREEN_GONE)
    if any(m.transient for m in messages):
        messages = [dataclasses.replace(m, transient="") for m in messages]
        if screens:
            dropped.append(_count(screens, "screen"))
        if fits():
            return result()
    outputs = sum(1 for m in messages for r in m.tool_results if _worth_dropping(r))
    if outputs:
        messages = [_without_outputs(m) for m in messages]
        dropped.append(_count(outputs, "tool output"))
        if fits():
            return result()
    # [opening, assistant, user, ..., assistant, request]: an assistant turn goes with the user
    # message after it (which answers its tool calls), oldest first; the last turn goes with
    # the results in the request. The request says how many turns it leaves out.
    asked, turns = messages[-1], 0
    while not fits() and len(messages) > 2:
        if len(messages) > 3:
            del messages[1:3]
        else:
            asked = dataclasses.replace(asked, tool_results=())
            del messages[1]
        turns += 1
        these = "the oldest turn was" if turns == 1 else f"the {turns} oldest turns were"
        said = f"(To fit the context window, {these} left out of this request.)"
        messages[-1] = dataclasses.replace(asked, text=f"{said}\n\n{asked.text}")
    if turns:
        dropped.append("the oldest turn" if turns == 1 else f"the {turns} oldest turns")
        if fits():
            return result()
    opening = messages[0]
    cut = len(opening.text)
    while not fits() and cut > _MIN_OPENING_CHARS:
        cut = max(_MIN_OPENING_CHARS, cut // 2)
        messages[0] = dataclasses.replace(
            opening, text=opening.text[:cut] + f"\n[... the rest {LEFT_OUT} ...]"
        )
    if cut < len(opening.text):
        dropped.append("the end of the opening message (the notes are all in notes.md)")
    return result() if fits() else None


def _worth_dropping(result: ToolResultBlock) -> bool:
    """Whether a tool output is longer than what would stand in its place."""
    return len(result.content) > len(LEFT_OUT)


def _without_outputs(message: Message) -> Message:
    if not any(_worth_dropping(r) for r in message.tool_results):
        return message
    results = tuple(
        ToolResultBlock(r.call_id, LEFT_OUT, r.is_error) if _worth_dropping(r) else r
        for r in message.tool_results
    )
    return dataclasses.replace(message, tool_results=results)


def _count(number: int, thing: str) -> str:
    return f"{number} {thing}" if number == 1 else f"{number} {thing}s"
