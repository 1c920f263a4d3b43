"""The notes request always fits the window: screens go first, then tool outputs, then the
oldest turns, then the end of the opening message; the task and the request stay."""

from __future__ import annotations

import itertools

from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis_profile import examples

from clive.agent.context import LEFT_OUT, ContextMeter, fit_notes_request, message_tokens
from clive.models.base import Message, ToolResultBlock
from clive.session.events import ToolCall

TASK = "Count the lines of every log file under /var/log and report the largest."
ASK = Message("user", "Write your notes now.", compaction=True)


def conversation(turns: int, *, screen: int = 200, output: int = 200) -> list[Message]:
    """An opening message, then ``turns`` assistant turns each answered by a user message
    (the last one is answered by the request for notes, as in the loop)."""
    messages = [Message("user", TASK, transient="screen " * screen)]
    for turn in range(1, turns + 1):
        call = ToolCall(id=f"c{turn}", name="type", input={"text": f"wc -l log{turn}"})
        messages.append(Message("assistant", f"turn {turn}", tool_calls=(call,)))
        if turn < turns:
            result = ToolResultBlock(f"c{turn}", "output " * output)
            messages.append(
                Message("user", f"view {turn}", tool_results=(result,), transient="s " * screen)
            )
    return messages


def asking(messages: list[Message]) -> Message:
    """The request for notes, carrying the results of the last assistant turn's calls."""
    calls = messages[-1].tool_calls if messages[-1].role == "assistant" else ()
    results = tuple(ToolResultBlock(call.id, "last output " * 50) for call in calls)
    return Message("user", ASK.text, tool_results=results, compaction=True)


def size_of(messages) -> int:
    return 1000 + sum(message_tokens(m) for m in messages)  # 1000: system prompt and tools


def well_formed(messages: list[Message]) -> bool:
    """What both APIs insist on: a user message first, no two assistant messages together,
    and every tool result answering a call of the assistant message just before it. (Two user
    messages together are fine: the Anthropic backend merges them.)"""
    if not messages or messages[0].role != "user":
        return False
    for before, message in itertools.pairwise(messages):
        if message.role == "assistant" and before.role != "user":
            return False
        called = {c.id for c in before.tool_calls} if before.role == "assistant" else set()
        if any(r.call_id not in called for r in message.tool_results):
            return False
    return True


def test_a_request_that_fits_goes_as_it_is():
    messages = conversation(3)
    fitted = fit_notes_request(messages, asking(messages), 100_000, size_of)
    assert fitted is not None and fitted.dropped == ""
    assert fitted.messages == [*messages, asking(messages)]


def test_screens_go_first_and_outputs_stay_when_that_is_enough():
    messages = conversation(3, screen=2000, output=20)
    whole = size_of([*messages, asking(messages)])
    fitted = fit_notes_request(messages, asking(messages), whole - 2000, size_of)
    assert fitted is not None
    assert fitted.dropped == "3 screens"
    assert not any(m.transient for m in fitted.messages)
    assert not any(r.content == LEFT_OUT for m in fitted.messages for r in m.tool_results)
    assert len(fitted.messages) == len(messages) + 1


def test_then_tool_outputs_then_the_oldest_turns_keeping_the_task_and_the_request():
    messages = conversation(12)
    budget = 1000 + 150
    fitted = fit_notes_request(messages, asking(messages), budget, size_of)
    assert fitted is not None
    assert size_of(fitted.messages) <= budget
    assert fitted.dropped.startswith("12 screens, 12 tool outputs, the ")
    assert "oldest turns" in fitted.dropped
    assert fitted.messages[0].text == TASK
    last = fitted.messages[-1]
    assert last.compaction and last.text.endswith(ASK.text)
    assert "oldest turns were left out of this request" in last.text
    assert well_formed(fitted.messages)
    # The newest turns are the ones kept.
    kept = [m.text for m in fitted.messages if m.role == "assistant"]
    assert kept == [f"turn {n}" for n in range(13 - len(kept), 13)]


def test_a_window_the_system_prompt_nearly_fills_has_no_notes_request():
    messages = conversation(4)
    assert fit_notes_request(messages, asking(messages), 1000 + 3, size_of) is None


def test_the_opening_is_cut_to_its_start_when_nothing_else_is_left():
    notes = "NOTE " * 5000
    messages = [Message("user", f"{TASK}\n\n{notes}")]
    fitted = fit_notes_request(messages, ASK, 1000 + 300, size_of)
    assert fitted is not None
    assert fitted.messages[0].text.startswith(TASK)
    assert LEFT_OUT in fitted.messages[0].text
    assert "the end of the opening message" in fitted.dropped


@given(
    turns=st.integers(1, 30),
    screen=st.integers(0, 500),
    output=st.integers(0, 500),
    budget=st.integers(1000, 60_000),
)
@settings(max_examples=examples(200), deadline=None)
@example(turns=1, screen=0, output=0, budget=1000)
@example(turns=1, screen=0, output=0, budget=1081)  # every turn left out: [opening, request]
def test_any_conversation_fits_any_budget_or_says_it_cannot(turns, screen, output, budget):
    messages = conversation(turns, screen=screen, output=output)
    fitted = fit_notes_request(messages, asking(messages), budget, size_of)
    if fitted is None:
        # Only when even the start of the task and the request do not fit.
        assert size_of([Message("user", TASK[:400]), ASK]) > budget - 200
        return
    assert size_of(fitted.messages) <= budget
    assert well_formed(fitted.messages)
    assert fitted.messages[0].text.startswith(TASK[:400])
    assert fitted.messages[-1].compaction


def test_the_meter_follows_the_server_count():
    meter = ContextMeter(fixed=1000)
    messages = conversation(2)
    raw = size_of(messages)
    assert meter.size(messages) == raw and not meter.measured
    meter.calibrate(messages, raw * 2 // 3)  # the server counts a third fewer
    assert meter.measured
    assert abs(meter.size(messages) - raw * 2 // 3) <= 1
    assert meter.fixed_tokens() == 667
