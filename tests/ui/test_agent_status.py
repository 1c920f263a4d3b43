"""The status folded from events, as live and replay show it: while a person is asked to approve
a command, it says so (not "typing"), and goes back to the call under way after the answer."""

from __future__ import annotations

from clive.session.events import Approval, ApprovalAsked, ModelTurn, ToolCall, ToolResult
from clive.ui._agent_status import AgentStatus, next_status


def _fold(*events) -> list[tuple[str, str]]:
    status, seen = AgentStatus(), []
    for event in events:
        status = next_status(status, event)
        seen.append((status.state, status.detail))
    return seen


def test_an_approval_asked_shows_as_waiting_for_it_then_the_call_goes_on():
    call = ToolCall(id="c1", name="type", input={"text": "sudo true\n"})
    seen = _fold(
        ModelTurn(t=1, step=1, model="m", tool_calls=[call]),
        ApprovalAsked(t=2, step=1, action="sudo true", rule="sudo"),
        Approval(t=5, step=1, action="sudo true", rule="sudo", approved=True, by="user"),
        ToolResult(t=6, step=1, call_id="c1", name="type", ok=True, content="typed"),
    )
    assert seen == [
        ("typing", ""),
        ("waiting for approval", "(sudo)"),
        ("typing", ""),
        ("observing", ""),
    ]
