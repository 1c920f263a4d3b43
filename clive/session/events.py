"""Everything that happens in a session, as typed events: one discriminated union.

The running agent publishes these; the session writer stores them; headless mode prints them;
replay reads them back. Terminal output and input are events too, but on disk their bytes live
once, in ``terminal.cast`` (asciicast v2), not again in ``events.jsonl``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class Outcome(StrEnum):
    """How a session ended. ``interrupted`` is never written: it is what a reader concludes
    when a session has no end event (the harness was killed)."""

    FINISHED = "finished"
    STEP_LIMIT = "step_limit"
    TIME_LIMIT = "time_limit"
    INVALID_TOOL_CALLS = "invalid_tool_calls"
    MODEL_ERROR = "model_error"
    SHELL_EXITED = "shell_exited"
    QUIT = "quit"
    COST_LIMIT = "cost_limit"
    EXPERIMENT_LIMIT = "experiment_limit"  # the task file's experiments or failures in a row
    TOKEN_LIMIT = "token_limit"
    PAUSED = "paused"  # the model stayed unavailable through its retries: resumable
    ERROR = "error"  # clive itself failed
    INTERRUPTED = "interrupted"
    RUNNING = "running"


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    t: float = 0.0  # seconds since the session started
    scripted: bool = False  # the model of this session is a script, not a language model


class Usage(BaseModel):
    """Tokens a model turn used."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
        )


class ToolCall(BaseModel):
    """One tool call as the model made it (the input is not validated yet)."""

    id: str
    name: str
    input: Any = None


class SessionStarted(_Event):
    type: Literal["session_started"] = "session_started"
    session_id: str
    task: str
    model: str
    cwd: str
    cols: int
    rows: int
    settings: dict[str, Any] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=dict)
    started_at: str  # ISO 8601, local time with offset


class TerminalOutput(_Event):
    type: Literal["terminal_output"] = "terminal_output"
    data: str


class InputSent(_Event):
    type: Literal["input_sent"] = "input_sent"
    data: str
    source: Literal["agent", "user", "harness"] = "agent"
    secret: bool = False  # typed while input was not echoed: ``data`` is only a placeholder


class TerminalResized(_Event):
    type: Literal["terminal_resized"] = "terminal_resized"
    cols: int
    rows: int


class ModelTurn(_Event):
    type: Literal["model_turn"] = "model_turn"
    step: int
    model: str
    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    cost: float | None = None  # dollars; None when unknown
    duration: float = 0.0  # seconds the model took
    thinking: str = ""  # extended thinking, when it was switched on
    context_tokens: int = 0  # the conversation the model read (reported, else estimated)
    purpose: Literal["act", "compact"] = "act"
    # As the API said it ("length", "max_tokens", "tool_calls"), or "invalid_output" for a reply
    # the server could not read (an invalid turn; the error event says what the server said).
    stop_reason: str | None = None
    cut_off: bool = False  # stopped at the output limit: the model was told its reply was cut

    @property
    def cut_off_by(self) -> str | None:
        """What cut the reply off, as a reader is told ("the output limit", "the context
        window filling up"), or None when it ended where the model ended it."""
        if not self.cut_off:
            return None
        if self.stop_reason == "model_context_window_exceeded":
            return "the context window filling up"
        return "the output limit"

    @property
    def missing_call(self) -> str:
        """What stands for the tool call of an acting turn without one."""
        if self.stop_reason == "invalid_output":
            return "a reply the server could not read"
        return "no tool call"


class ModelText(_Event):
    """A piece of the model's text as it streams (published live, never written: the whole
    text is in the ``model_turn`` that follows)."""

    type: Literal["model_text"] = "model_text"
    step: int
    text: str


class ModelRetry(_Event):
    """A model call failed for a reason that may pass; clive tries again after ``delay``."""

    type: Literal["model_retry"] = "model_retry"
    step: int
    attempt: int
    attempts: int
    delay: float
    reason: str


class ContextCompacted(_Event):
    """The conversation neared the model's context limit: the model wrote its notes, and a
    fresh context started from the task, the notes and the current observation."""

    type: Literal["context_compacted"] = "context_compacted"
    step: int
    tokens_before: int
    tokens_after: int
    notes: str
    dropped: str = ""  # what the notes request left out to fit the window, e.g. "4 screens"


class ApprovalAsked(_Event):
    """A risky action waits for a person to approve it (the ``approval`` event follows)."""

    type: Literal["approval_asked"] = "approval_asked"
    step: int
    action: str
    rule: str


class Approval(_Event):
    """A risky action and what was decided about it."""

    type: Literal["approval"] = "approval"
    step: int
    action: str  # what the model wanted to do, e.g. the command it typed
    rule: str  # why it is risky: the rule it matched, or "every action" with --approve always
    approved: bool
    by: Literal["user", "policy"] = "policy"
    reason: str = ""


class Observation(_Event):
    type: Literal["observation"] = "observation"
    step: int
    text: str  # exactly what the model was given
    tokens: int  # estimated (see clive.agent.observation.estimate_tokens)
    state: str
    exit_code: int | None = None
    cwd: str | None = None
    new_output_lines: int = 0
    full_output_path: str | None = None  # under the session directory, when truncated


class ToolResult(_Event):
    type: Literal["tool_result"] = "tool_result"
    step: int
    call_id: str
    name: str
    ok: bool
    content: str
    duration: float = 0.0
    invalid: bool = False  # the call itself was wrong (unknown tool, bad input)


class Note(_Event):
    type: Literal["note"] = "note"
    step: int
    text: str


class Control(_Event):
    type: Literal["control"] = "control"
    action: Literal["pause", "resume", "steer", "take_over", "give_back", "quit"]
    message: str = ""
    source: Literal["user", "harness"] = "user"


class BudgetWarning(_Event):
    type: Literal["budget_warning"] = "budget_warning"
    budget: str
    used: float
    limit: float


class Error(_Event):
    type: Literal["error"] = "error"
    message: str
    fatal: bool = False
    step: int | None = None


class Totals(BaseModel):
    steps: int = 0
    usage: Usage = Field(default_factory=Usage)
    cost: float | None = None
    duration: float = 0.0
    invalid_tool_calls: int = 0


class SessionEnded(_Event):
    type: Literal["session_ended"] = "session_ended"
    outcome: Outcome
    summary: str = ""
    reason: str = ""
    totals: Totals = Field(default_factory=Totals)
    best_metric: float | None = None  # with experiments: the best measured, and its commit
    best_commit: str | None = None


class ExperimentStatus(StrEnum):
    """What the harness did with an experiment after measuring it."""

    BASELINE = "baseline"  # the measurement of the starting commit, before any change
    KEEP = "keep"  # better than the best so far by more than the noise: the commit stays
    DISCARD = "discard"  # not better: the working tree was reset to the best commit
    CRASH = "crash"  # failed, printed no number, or was stopped (budget, alert, stall)
    INVALID = "invalid"  # a protected file changed: reverted without being measured
    LOST = "lost"  # its worker's machine went away while it was measured (a fleet's)


class ExperimentResult(_Event):
    """One experiment of a task with a metric, as the harness measured it: the number is
    the one it read off the terminal, never one the model reported."""

    type: Literal["experiment_result"] = "experiment_result"
    experiment: int  # 0 is the baseline
    commit: str  # the experiment's commit (full hash), kept or not
    metric: float | None = None  # None when nothing was measured (crash, invalid)
    values: list[float] = Field(default_factory=list)  # the number of each repeat
    status: ExperimentStatus
    seconds: float = 0.0  # wall time of the metric command's runs
    description: str = ""  # what the model said it tried
    best_metric: float | None = None  # the best so far, after this experiment
    best_commit: str = ""  # the commit of the best so far (the one the tree is at)
    reason: str = ""  # why this status: the comparison, the exit code, the watcher that fired
    output_tail: str = ""  # with a crash: the last lines the metric command printed
    hypothesis: str = ""  # why the model expected the change to help
    margin: float | None = None  # the noise margin a change had to beat the best by
    remeasured: int = 0  # runs added because the change was better but within the noise
    plateau: bool = False  # the task's plateau of experiments without a kept change is reached
    holdout: float | None = None  # the held-out metric, where it was measured
    holdout_values: list[float] = Field(default_factory=list)  # at the baseline: its noise
    holdout_regressed: bool = False  # kept, but the held-out metric got worse beyond its noise


class MeasurementStarted(_Event):
    """The harness starts measuring an experiment: in a terminal of its own (recorded in
    ``measurement.cast``), on the tree it committed as ``commit``."""

    type: Literal["measurement_started"] = "measurement_started"
    experiment: int  # 0 is the baseline
    commit: str  # what is measured: the harness's commit of the exported tree
    command: str
    sandboxed: bool = False
    description: str = ""


Event = Annotated[
    SessionStarted
    | TerminalOutput
    | InputSent
    | TerminalResized
    | ModelTurn
    | ModelText
    | ModelRetry
    | ContextCompacted
    | ApprovalAsked
    | Approval
    | Observation
    | ToolResult
    | Note
    | Control
    | BudgetWarning
    | Error
    | SessionEnded
    | MeasurementStarted
    | ExperimentResult,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(line: str | bytes) -> Event:
    """One JSON line of ``events.jsonl`` as an event (raises pydantic.ValidationError)."""
    return EVENT_ADAPTER.validate_json(line)
