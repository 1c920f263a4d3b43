"""What the agent is doing, folded from its events: the status bar's state, step and spending."""

from __future__ import annotations

from dataclasses import dataclass, replace

from clive.session.events import (
    Approval,
    ApprovalAsked,
    Control,
    Error,
    Event,
    ModelRetry,
    ModelTurn,
    Observation,
    SessionEnded,
    SessionStarted,
    ToolCall,
    ToolResult,
)

_CONTROL_STATES = {
    "pause": "paused",
    "resume": "running",
    "take_over": "user in control",
    "give_back": "running",
    "quit": "quitting",
}


@dataclass(frozen=True)
class AgentStatus:
    """The agent's state since ``since`` (seconds into the session), and the totals so far."""

    state: str = ""
    detail: str = ""
    since: float = 0.0
    step: int | None = None
    tokens: int = 0
    cost: float | None = None
    pending_calls: tuple[ToolCall, ...] = ()


def next_status(status: AgentStatus, event: Event) -> AgentStatus:
    """``status`` after ``event``."""
    t = event.t
    if isinstance(event, SessionStarted):
        return replace(status, state="starting", detail="", since=t)
    if isinstance(event, Observation):
        return replace(status, state="thinking", detail="", since=t, step=event.step)
    if isinstance(event, ModelRetry):
        return replace(status, state="retrying", detail=f"({event.reason})", since=t)
    if isinstance(event, ModelTurn):
        usage = event.usage
        tokens = status.tokens + usage.input_tokens + usage.output_tokens
        tokens += usage.cache_read_tokens + usage.cache_write_tokens
        cost = status.cost
        if event.cost is not None:
            cost = (cost or 0.0) + event.cost
        status = replace(status, tokens=tokens, cost=cost, step=event.step)
        return _acting(status, tuple(event.tool_calls), t)
    if isinstance(event, ToolResult):
        calls = tuple(c for c in status.pending_calls if c.id != event.call_id)
        return _acting(status, calls, t)
    if isinstance(event, ApprovalAsked):
        return replace(status, state="waiting for approval", detail=f"({event.rule})", since=t)
    if isinstance(event, Approval):
        return _acting(status, status.pending_calls, t)
    if isinstance(event, Control) and event.action in _CONTROL_STATES:
        return replace(status, state=_CONTROL_STATES[event.action], detail="", since=t)
    if isinstance(event, Error) and event.fatal:
        return replace(status, state="failed", detail="", since=t)
    if isinstance(event, SessionEnded):
        return replace(status, state=event.outcome.value, detail="", since=t, pending_calls=())
    return status


def _acting(status: AgentStatus, calls: tuple[ToolCall, ...], t: float) -> AgentStatus:
    """The state while ``calls`` are carried out, the first of them now."""
    if not calls:
        return replace(status, state="observing", detail="", since=t, pending_calls=())
    call = calls[0]
    data = call.input if isinstance(call.input, dict) else {}
    state, detail = call.name, ""
    if call.name in ("type", "keys"):
        state = "typing"
    elif call.name == "wait":
        state = "waiting"
        until = data.get("until", "done")
        if until == "pattern":
            detail = f"for /{data.get('pattern', '')}/"
        elif until == "quiet":
            detail = f"for {data.get('seconds') or 5:g}s of quiet"
        else:
            detail = "for the command to end"
    elif call.name == "note":
        state = "writing a note"
    elif call.name == "finish":
        state = "finishing"
    return replace(status, state=state, detail=detail, since=t, pending_calls=calls)
