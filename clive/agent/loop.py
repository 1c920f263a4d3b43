"""The agent loop: observe the terminal, ask the model, run its tool calls, record it all.

    while no budget is spent:
        view = observe()                 # header, new output, screen
        if the context is nearly full:   # the model writes notes; a fresh context starts
            compact()
        reply = ask the model            # text and tool calls, streamed
        for each tool call: act          # type, keys, wait, note, finish (risky: approval)
    end, with the outcome and why

Every step is recorded as it happens (``SessionWriter``), so a session killed at any moment
is readable up to that moment.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import traceback
from dataclasses import dataclass

from pydantic import BaseModel, Field

from clive.agent.approval import ApprovalPolicy, ApprovalRequest
from clive.agent.context import SCREEN_GONE, ContextMeter, NotesRequest, fit_notes_request
from clive.agent.control import AgentControl
from clive.agent.input_line import InputLine, Submission, keystrokes, screen_line
from clive.agent.observation import ObservationLimits, Observer, View, estimate_tokens
from clive.agent.prompts import Prompts
from clive.agent.tools import (
    ExperimentInput,
    KeysInput,
    NoteInput,
    ToolOutcome,
    ToolRunner,
    TypeInput,
    tool_specs,
    typed_secrets,
    validate,
)
from clive.experiments.runner import ExperimentRunner
from clive.models.base import (
    ContextOverflow,
    InvalidOutput,
    Message,
    Model,
    ModelError,
    ModelReply,
    ModelUnavailable,
    Retry,
    ToolResultBlock,
)
from clive.session.events import (
    Approval,
    ApprovalAsked,
    BudgetWarning,
    ContextCompacted,
    Control,
    Error,
    ModelRetry,
    ModelText,
    ModelTurn,
    Note,
    Observation,
    SessionEnded,
    TerminalResized,
    ToolCall,
    ToolResult,
    Totals,
)
from clive.session.events import Outcome as SessionOutcome
from clive.session.info import NOTES_FILE, OUTPUTS_DIR
from clive.session.writer import SessionWriter
from clive.terminal import (
    CallbackError,
    ScreenState,
    Terminal,
    TerminalError,
    UnknownKeyError,
)

_WARN_AT = 0.8  # a budget warning when this share of a budget is spent
_MAX_NOTES_CHARS = 20_000  # of notes in a fresh context; the rest stays in notes.md
_MIN_NOTES_CHARS = 400  # however small the window
_STEPPED_IN = ToolOutcome(False, "not done: the user stepped in while this waited for approval")
# Before a line clive could not follow is read from the screen: output quiet this long (the
# program has drawn it), at most this long.
_LINE_DRAWN_QUIET = 0.3
_LINE_DRAWN_TIMEOUT = 2.0
_NOTES_ATTEMPTS = 3  # requests for notes that overflow, refitted each time, before giving up


class AgentSettings(BaseModel):
    """Budgets and limits of one session."""

    max_steps: int = Field(500, ge=1, description="model turns before the session stops")
    max_time: float | None = Field(None, gt=0, description="seconds of wall time")
    max_cost: float | None = Field(None, gt=0, description="dollars")
    max_tokens: int | None = Field(None, ge=1, description="tokens of every kind, in all")
    max_invalid_calls: int = Field(3, ge=1, description="invalid tool calls in a row")
    context_limit: int | None = Field(None, ge=1, description="tokens; default: the model's")
    compact_at: float = Field(0.8, gt=0, lt=1, description="share of the context limit")


@dataclass(frozen=True)
class Resumption:
    """Where a resumed session takes up: its totals so far and what the model is told."""

    totals: Totals
    situation: str
    notes: list[str]  # the notes a fresh context carries: the last compaction's and later


class Agent:
    """Drives ``terminal`` with ``model`` for one task, recording into ``writer``."""

    def __init__(
        self,
        terminal: Terminal,
        model: Model,
        writer: SessionWriter,
        prompts: Prompts,
        settings: AgentSettings | None = None,
        limits: ObservationLimits | None = None,
        approval: ApprovalPolicy | None = None,
        resumption: Resumption | None = None,
        control: AgentControl | None = None,
        experiments: ExperimentRunner | None = None,
    ) -> None:
        self.terminal = terminal
        self.model = model
        self.writer = writer
        self.prompts = prompts
        self.settings = settings or AgentSettings()
        self.approval = approval or ApprovalPolicy("never", {})
        self.resumption = resumption
        self.control = control or AgentControl()
        self.control.listen(self._record_control)
        self.control.add_waker(terminal.wake)
        self.control.add_resizer(self._resize)
        self.observer = Observer(terminal, writer.directory / OUTPUTS_DIR, limits)
        self.tools = ToolRunner(
            terminal, lambda: self.observer.last_mark, self._time_left, self.control.must_stop
        )
        self.experiments = experiments
        self.extra_tools = ("experiment",) if experiments is not None else ()
        self.tool_specs = tool_specs(prompts.tools, self.extra_tools)
        self.messages: list[Message] = []
        self.totals = resumption.totals.model_copy(deep=True) if resumption else Totals()
        self.input_source = "agent"
        self._invalid_in_a_row = 0
        self._warned: set[str] = set()
        self._context_tokens = 0  # what the model read at its last turn, as it reported
        self._paused_reason = ""  # set when the model stayed unavailable through its retries
        self._turns_since_compaction: int | None = None  # None: no compaction yet
        self._overflow: ContextOverflow | None = None  # the last request did not fit
        self._invalid_output = ""  # the server could not read the model's last reply
        self._window_full = False  # the model's last reply stopped at the end of the window
        self._window_learned: int | None = None  # the window an overflow error named
        self._failure = ""  # why the model cannot go on, when there is more to say than "failed"
        # The notes a fresh context opens with: the last compaction's, then later notes.
        self.notes: list[str] = list(resumption.notes) if resumption else []
        self.meter = ContextMeter(
            estimate_tokens(prompts.system)
            + estimate_tokens(
                "".join(spec.description + str(spec.input_schema) for spec in self.tool_specs)
            )
        )
        terminal.add_output_listener(writer.terminal_output)
        terminal.add_error_listener(self._record_terminal_failure)
        terminal.add_input_listener(self._record_input)
        # What is typed on the current line, by anyone: approval judges what Enter submits.
        self.line = InputLine()
        terminal.add_input_listener(self._follow_line)

    def _record_terminal_failure(self, failure: CallbackError) -> None:
        """A callback on the terminal's stream failed: the terminal went on; say so."""
        with contextlib.suppress(RuntimeError):  # the session has ended meanwhile
            self.writer.append(Error(message=failure.message, fatal=False))

    # -- the loop ---------------------------------------------------------------------------

    def run(self, task: str) -> SessionEnded:
        """Work on ``task`` until the model finishes or a budget runs out; record the end."""
        try:
            ended = self._loop(task)
        except KeyboardInterrupt as interrupt:
            how = str(interrupt) or "Ctrl-C"
            ended = self._ended(SessionOutcome.QUIT, reason=f"stopped by the user ({how})")
        except Exception as error:
            self.writer.append(Error(message=traceback.format_exc(), fatal=True))
            ended = self._ended(SessionOutcome.ERROR, reason=f"clive failed: {error!r}")
        self.writer.close(ended)
        return ended

    def _loop(self, task: str) -> SessionEnded:
        results: list[ToolResultBlock] = []
        complaint = ""
        step = self.totals.steps
        while (limit := self._spent_budget(step)) is None:
            if not self.control.checkpoint():
                return self._quit()
            # A take-over from here on (the model thinking, most likely) makes its planned
            # actions stale: they are skipped.
            take_overs = self.control.take_over_count
            step += 1
            self.writer.marker(f"step {step}")
            view = self._observe(step)
            told = self._from_the_user(complaint)  # said once: a request it was in may fail
            if not self.messages:
                situation = self.resumption.situation if self.resumption else ""
                self._start_context(task, view, situation, told)
                if not self._opening_fits():
                    return self._model_failed()
            elif self._context_is_full(view):
                if not self._compact(step, task, results, view, told):
                    return self._model_failed()
            else:
                self._tell(told, results, view)
            if view.state is ScreenState.EXITED:
                return self._ended(SessionOutcome.SHELL_EXITED, reason="the shell exited")

            reply = self._ask(step)
            if reply is None and self._overflow is not None:
                # The model's window is smaller than clive thought: compact now, ask again.
                unanswered = self.messages.pop()
                if not self.messages:
                    return self._too_big_to_start(self._overflow)
                self._overflow = None
                if not self._compact(step, task, list(unanswered.tool_results), view, told):
                    return self._model_failed()
                reply = self._ask(step)
                if reply is None and self._overflow is not None:
                    return self._too_big_to_start(self._overflow)
            if reply is None and self._invalid_output:
                # What the model wrote could not be read as a turn: an invalid turn, told.
                # The request goes again next step, with what it told the model.
                results = list(self.messages.pop().tool_results)
                unread = (
                    f"Your last reply could not be read ({self._invalid_output}). Call one "
                    "tool, its arguments one JSON object as the tool's schema says."
                )
                complaint = f"{told}\n\n{unread}" if told else unread
                self._invalid_output = ""
                self.totals.steps = step
                self._count_invalid()
                if self._invalid_in_a_row >= self.settings.max_invalid_calls:
                    return self._too_many_invalid()
                continue
            if reply is None:
                return self._model_failed()

            results, complaint = [], ""
            for call in reply.tool_calls:
                if not self.control.checkpoint():
                    return self._quit()
                if self.control.take_over_count != take_overs:
                    outcome = self._skip(step, call)
                else:
                    outcome = self._act(step, call, take_overs)
                results.append(ToolResultBlock(call.id, outcome.content, not outcome.ok))
                if outcome.finished:
                    return self._ended(SessionOutcome.FINISHED, summary=outcome.content)
            if self.experiments is not None and (why := self.experiments.limit_reached):
                return self._ended(SessionOutcome.EXPERIMENT_LIMIT, reason=why)
            if not reply.tool_calls:
                self._count_invalid()
                complaint = "You did not call a tool. Act with a tool, or call finish."
            if reply.cut_off:
                complaint = f"{self._cut_off_complaint(reply)} {complaint}".strip()
            if self._invalid_in_a_row >= self.settings.max_invalid_calls:
                return self._too_many_invalid()
        return limit

    def _count_invalid(self) -> None:
        """A turn without a tool call clive could run: counted in a row and in all."""
        self._invalid_in_a_row += 1
        self.totals.invalid_tool_calls += 1

    def _too_many_invalid(self) -> SessionEnded:
        return self._ended(
            SessionOutcome.INVALID_TOOL_CALLS,
            reason=f"{self._invalid_in_a_row} invalid tool calls in a row",
        )

    def _cut_off_complaint(self, reply: ModelReply) -> str:
        """What the model is told about a reply that stopped at a limit, not where it ended."""
        if reply.stop_reason == "model_context_window_exceeded":
            self._window_full = True
            return (
                "Your last reply was cut off: the context window filled up while you wrote. "
                "The conversation will be compacted."
            )
        limit = self.model.output_limit
        size = f" ({limit} tokens)" if limit else ""
        return (
            f"Your last reply was cut off at the output limit{size}: anything after that point "
            "was lost, including any tool call it held. Write less before acting: one short "
            "sentence, then the tool call."
        )

    # -- observe ----------------------------------------------------------------------------

    def _observe(self, step: int) -> View:
        view = self.observer.observe(step, self.writer.elapsed(), self.settings.max_steps)
        path = view.full_output_path
        self.writer.append(
            Observation(
                step=step,
                text=view.text,
                tokens=view.tokens,
                state=view.state.value,
                exit_code=view.exit_code,
                cwd=view.cwd,
                new_output_lines=view.new_output_lines,
                full_output_path=str(path.relative_to(self.writer.directory)) if path else None,
            )
        )
        return view

    def _tell(self, text: str, results: list[ToolResultBlock], view: View) -> None:
        """Add the next user message; the screen of the one before is no longer shown."""
        for index in range(len(self.messages) - 1, -1, -1):
            message = self.messages[index]
            if message.role == "user" and message.transient:
                self.messages[index] = dataclasses.replace(message, transient=SCREEN_GONE)
                break
        body = f"{text}\n\n{view.short}" if text else view.short
        self.messages.append(
            Message("user", body, tool_results=tuple(results), transient=view.screen)
        )

    def _from_the_user(self, complaint: str) -> str:
        """What the person did and said since the last step, before anything else."""
        parts = [
            f"The user took the terminal for {spell.seconds:.0f}s, then gave it back: what "
            "they typed and what it printed are in the new output below."
            for spell in self.control.take_take_overs()
        ]
        resizes = self.control.take_resizes()
        if resizes:
            cols, rows = resizes[-1]
            parts.append(f"The terminal was resized to {cols} columns by {rows} rows.")
        parts += [f"Message from the user: {message}" for message in self.control.take_steers()]
        return "\n\n".join([*parts, complaint] if complaint else parts)

    def _start_context(self, task: str, view: View, situation: str, told: str = "") -> None:
        """A fresh conversation: the task, the notes kept so far, where things stand, and
        ``told``: what the model is told at this step besides."""
        notes = "\n\n".join(self.notes).strip()
        # Notes take at most half of what the window leaves beside the system prompt, tools,
        # screen and reply (about 4 characters a raw token), so a fresh context has room to
        # work before the next compaction.
        limit = self._context_limit()
        room = _MAX_NOTES_CHARS
        if limit is not None:
            free = (
                limit
                - self._output_room(limit)
                - self.meter.fixed_tokens()
                - self.meter.scale(view.tokens)
            )
            room = min(room, max(_MIN_NOTES_CHARS, int(free / 2 / self.meter.ratio * 4)))
        if len(notes) > room:
            notes = (
                f"[... the start is left out: all the notes are in {NOTES_FILE} ...]\n"
                + notes[-room:]
            )
        opening = self.prompts.fresh_context(task, notes, situation) if notes or situation else task
        self.messages = []
        self._context_tokens = 0
        self._window_full = False
        self._tell(f"{opening}\n\n{told}" if told else opening, [], view)

    # -- think ------------------------------------------------------------------------------

    def _ask(
        self, step: int, purpose: str = "act", messages: list[Message] | None = None
    ) -> ModelReply | None:
        """The model's reply to ``messages`` (default: the conversation, which the reply then
        joins), or None when there is none: the reason is recorded, and kept in ``_overflow``,
        ``_invalid_output``, ``_paused_reason`` or ``_failure`` for the loop."""
        sent = self.messages if messages is None else messages
        started = time.monotonic()
        try:
            reply = self.model.reply(
                self.prompts.system,
                sent,
                self.tool_specs,
                on_text=lambda text: self._stream_text(step, text),
                on_retry=lambda retry: self._record_retry(step, retry),
            )
        except ContextOverflow as error:
            self.writer.append(Error(message=str(error), fatal=False, step=step))
            self._learn_window(error, sent)
            self._overflow = error
            return None
        except InvalidOutput as error:
            # A turn the server could not read: recorded as a turn without a tool call.
            self.writer.append(Error(message=str(error), fatal=False, step=step))
            self.writer.append(
                ModelTurn(
                    step=step,
                    model=self.model.name,
                    duration=round(time.monotonic() - started, 3),
                    purpose=purpose,
                    stop_reason="invalid_output",
                )
            )
            self._invalid_output = str(error)
            return None
        except ModelUnavailable as error:
            self.writer.append(Error(message=str(error), fatal=True, step=step))
            self._paused_reason = (
                f"the model is unavailable: {error}. Resume later with: "
                f"clive resume {self.writer.directory}"
            )
            return None
        except ModelError as error:
            self.writer.append(Error(message=str(error), fatal=True, step=step))
            return None
        if self.terminal.reads_secret_input():
            # What the model types at a password prompt must not reach the log either.
            for call in reply.tool_calls:
                for secret in typed_secrets(call.name, call.input):
                    self.writer.redactor.add_secret(secret)
        usage = reply.usage
        read = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
        if read:
            self.meter.calibrate(sent, read)
        # What the model read: as it reported, else estimated (before the reply joins it).
        context = read or self.meter.size(sent)
        if messages is None:
            self.messages.append(
                Message(
                    "assistant",
                    reply.text,
                    tool_calls=tuple(reply.tool_calls),
                    reasoning=tuple(reply.reasoning),
                )
            )
            self._context_tokens = read + usage.output_tokens if read else 0
        self.totals.steps = step
        self.totals.usage = self.totals.usage + usage
        if purpose == "act" and self._turns_since_compaction is not None:
            self._turns_since_compaction += 1
        if reply.cost is not None:
            self.totals.cost = (self.totals.cost or 0.0) + reply.cost
        self.writer.append(
            ModelTurn(
                step=step,
                model=self.model.name,
                text=reply.text,
                tool_calls=reply.tool_calls,
                usage=usage,
                cost=reply.cost,
                duration=round(time.monotonic() - started, 3),
                thinking=reply.thinking,
                context_tokens=context,
                purpose=purpose,
                stop_reason=reply.stop_reason,
                cut_off=reply.cut_off,
            )
        )
        return reply

    def _model_failed(self) -> SessionEnded:
        if self._paused_reason:
            return self._ended(SessionOutcome.PAUSED, reason=self._paused_reason)
        return self._ended(SessionOutcome.MODEL_ERROR, reason=self._failure or "the model failed")

    def _stream_text(self, step: int, text: str) -> None:
        self.writer.publish(
            ModelText(
                t=round(self.writer.elapsed(), 6),
                step=step,
                text=text,
                scripted=self.writer.scripted,
            )
        )

    def _record_retry(self, step: int, retry: Retry) -> None:
        self.writer.append(
            ModelRetry(
                step=step,
                attempt=retry.attempt,
                attempts=retry.attempts,
                delay=round(retry.delay, 3),
                reason=retry.reason,
            )
        )

    # -- the context ------------------------------------------------------------------------

    def _context_limit(self) -> int | None:
        """The window: the smallest of the one set, the model's, and one an overflow named."""
        known = [
            limit
            for limit in (
                self.settings.context_limit,
                self.model.context_limit,
                self._window_learned,
            )
            if limit
        ]
        return min(known) if known else None

    def _output_room(self, limit: int) -> int:
        """Tokens of the window kept free for the reply (a server counts the reply in it)."""
        output = self.model.output_limit
        if output:
            return min(output, limit // 4)
        return round((1 - self.settings.compact_at) * limit)

    def _learn_window(self, overflow: ContextOverflow, sent: list[Message]) -> None:
        """What an overflow error says: the window, and how many tokens the request was."""
        if overflow.window:
            known = self._window_learned
            self._window_learned = overflow.window if known is None else min(known, overflow.window)
        if overflow.prompt_tokens:
            self.meter.calibrate(sent, overflow.prompt_tokens)

    def _count(self, messages: list[Message]) -> int | None:
        """The request's tokens as the API counts them (the meter is calibrated on it), or
        None where it cannot count."""
        counted = self.model.count_tokens(self.prompts.system, messages, self.tool_specs)
        if counted:
            self.meter.calibrate(messages, counted)
        return counted

    def _opening_fits(self) -> bool:
        """Whether the first request of a context can fit the window; when it cannot, for
        sure (counted), ``_failure`` says why. Counting also calibrates the estimates."""
        limit = self._context_limit()
        if limit is None or self.meter.measured:
            return True
        counted = self._count(self.messages)
        if counted is None or counted + self._output_room(limit) <= limit:
            return True
        self._failure = self._does_not_fit(counted, limit)
        return False

    def _too_big_to_start(self, overflow: ContextOverflow) -> SessionEnded:
        """The first request of a context overflowed: nothing is left to compact."""
        limit = overflow.window or self._context_limit()
        size = overflow.prompt_tokens
        if limit is None or size is None:
            self._failure = (
                "the conversation does not fit the model's context window, even compacted: "
                f"{overflow}"
            )
        else:
            self._failure = self._does_not_fit(size, limit)
        return self._model_failed()

    def _does_not_fit(self, size: int, limit: int) -> str:
        """Why a request of ``size`` tokens, the smallest clive can make, cannot be sent."""
        fixed, room = self.meter.fixed_tokens(), self._output_room(limit)
        rest = max(0, size - fixed)
        what = "the task, the notes and the screen" if self.notes else "the task and the screen"
        return (
            f"the model's context window ({limit} tokens) cannot hold even a fresh "
            f"conversation: the system prompt and the tool descriptions take about {fixed} "
            f"tokens, {what} {rest}, and {room} are kept for the reply. Serve the model with "
            "a larger context (llama.cpp: -c 8192), or give a smaller --max-output-tokens"
        )

    def _context_is_full(self, view: View) -> bool:
        """Whether to compact before this step: the conversation with the new observation
        passes the share of the window set to compact at (a fresh context has two turns of
        grace), or would leave too little room for the reply (no grace: never past the
        window)."""
        limit = self._context_limit()
        if limit is None:
            return False
        if self._window_full:
            return True
        size = (self._context_tokens or self.meter.size(self.messages)) + self.meter.scale(
            view.tokens
        )
        hard = limit - self._output_room(limit)
        if size > hard:
            return True
        if self._turns_since_compaction is not None and self._turns_since_compaction < 2:
            return False
        return size > self.settings.compact_at * limit

    def _compact(
        self, step: int, task: str, results: list[ToolResultBlock], view: View, told: str = ""
    ) -> bool:
        """Ask the model for its notes, keep them, and start a fresh context with them (and
        ``told``, what the model is told at this step besides).
        False when the model could not be asked: ``_failure`` or ``_paused_reason`` says why.

        The request for notes is made to fit the window (``fit_notes_request``); if it still
        overflows (the estimate was off), it is fitted again on what the server said."""
        before = self.meter.size(self.messages) + self.meter.scale(view.tokens)
        ask = Message("user", self.prompts.compact, tool_results=tuple(results), compaction=True)
        reply, dropped = None, ""
        for _ in range(_NOTES_ATTEMPTS):
            fitted = self._notes_request(ask)
            if fitted is None:
                return False
            self._overflow = None
            reply = self._ask(step, purpose="compact", messages=fitted.messages)
            dropped = fitted.dropped
            if reply is not None or self._overflow is None:
                break
        if reply is None and self._invalid_output:
            # Notes the server could not read: none are kept, and the session goes on.
            self._invalid_output = ""
            reply = ModelReply()
        if reply is None:
            if self._overflow is not None:
                self._failure = (
                    "the conversation does not fit the model's context window, even "
                    f"compacted: the request for notes overflowed {_NOTES_ATTEMPTS} times "
                    f"({self._overflow})"
                )
            return False
        notes = [reply.text.strip()] if reply.text.strip() else []
        for call in reply.tool_calls:
            checked = validate(call.name, call.input)
            if isinstance(checked, NoteInput):
                notes.append(checked.text.strip())
        written = "\n\n".join(notes) or "(the model wrote no notes)"
        self.writer.append_note(f"## Notes at step {step} (context compacted)\n\n{written}")
        # The model was asked for everything it needs: these notes replace the earlier ones
        # in its context (notes.md keeps them all).
        self.notes = [written]
        self._turns_since_compaction = 0
        situation = (
            "The conversation was cleared to stay within the context limit; the terminal is "
            "as you left it, and your notes above are what you kept."
        )
        self._start_context(task, view, situation, told)
        self.writer.append(
            ContextCompacted(
                step=step,
                tokens_before=before,
                tokens_after=self.meter.size(self.messages),
                notes=written,
                dropped=dropped,
            )
        )
        return True

    def _notes_request(self, ask: Message) -> NotesRequest | None:
        """The conversation and ``ask`` (the request for notes), fitted to the window and
        checked with the API's count where it has one; None, with ``_failure`` said, when not
        even the request alone fits."""
        limit = self._context_limit()
        if limit is None:
            return NotesRequest([*self.messages, ask], "")
        budget = limit - self._output_room(limit)
        for _ in range(_NOTES_ATTEMPTS):
            fitted = fit_notes_request(self.messages, ask, budget, self.meter.size)
            if fitted is None:
                self._failure = self._does_not_fit(self.meter.size([ask]), limit)
                return None
            counted = self._count(fitted.messages)
            if counted is None or counted <= budget:
                return fitted
        return fitted

    # -- act --------------------------------------------------------------------------------

    def _act(self, step: int, call: ToolCall, take_overs: int = 0) -> ToolOutcome:
        started = time.monotonic()
        checked = validate(call.name, call.input, self.extra_tools)
        if isinstance(checked, ToolOutcome):
            outcome = checked
        elif isinstance(checked, ExperimentInput):
            outcome = self._experiment(checked.description, checked.hypothesis)
        elif isinstance(checked, NoteInput):
            self.writer.append_note(checked.text)
            self.notes.append(checked.text)
            self.writer.append(Note(step=step, text=checked.text))
            outcome = ToolOutcome(True, "noted")
        elif isinstance(checked, TypeInput | KeysInput) and (
            refusal := self._refusal(step, checked)
        ):
            outcome = refusal
        elif isinstance(checked, TypeInput | KeysInput) and not self._still_ours(take_overs):
            outcome = _STEPPED_IN
        else:
            if self.terminal.reads_secret_input():
                for secret in typed_secrets(call.name, call.input):
                    self.writer.redactor.add_secret(secret)
            outcome = self.tools.run(
                checked, before_submit=lambda: self._screen_refusal(step, take_overs)
            )
        self._invalid_in_a_row = self._invalid_in_a_row + 1 if outcome.invalid else 0
        self.totals.invalid_tool_calls += outcome.invalid
        self.writer.append(
            ToolResult(
                step=step,
                call_id=call.id,
                name=call.name,
                ok=outcome.ok,
                content=outcome.content,
                duration=round(time.monotonic() - started, 3),
                invalid=outcome.invalid,
            )
        )
        return outcome

    def _experiment(self, description: str, hypothesis: str = "") -> ToolOutcome:
        """The harness commits, measures and decides (clive.experiments): the model only
        reads the result."""
        assert self.experiments is not None
        self.input_source = "harness"
        try:
            ok, text = self.experiments.experiment(description, hypothesis)
        finally:
            self.input_source = "agent"
        return ToolOutcome(ok, text)

    def _still_ours(self, take_overs: int) -> bool:
        """After waiting for an approval: the agent may still act (no quit, no take-over)."""
        return self.control.checkpoint() and self.control.take_over_count == take_overs

    def _skip(self, step: int, call: ToolCall) -> ToolOutcome:
        outcome = ToolOutcome(
            False, "not done: the user took the terminal before this ran; look again first"
        )
        self.writer.append(
            ToolResult(
                step=step, call_id=call.id, name=call.name, ok=False, content=outcome.content
            )
        )
        return outcome

    def _resize(self, cols: int, rows: int) -> None:
        """The person's view asked for another size: the shell gets it now, the recording says
        so (the cast's resize event, a ``terminal_resized`` event)."""
        if (cols, rows) == (self.terminal.cols, self.terminal.rows):
            return
        with contextlib.suppress(TerminalError):
            self.terminal.resize(cols, rows)
            with contextlib.suppress(RuntimeError):  # the session has ended meanwhile
                self.writer.resize(cols, rows)
                self.writer.append(TerminalResized(cols=cols, rows=rows))

    def _record_control(self, action: str, message: str) -> None:
        if action == "take_over":
            self.input_source = "user"
        elif action == "give_back":
            self.input_source = "agent"
        with contextlib.suppress(RuntimeError):  # the session has ended meanwhile
            self.writer.append(Control(action=action, message=message, source="user"))

    def _quit(self) -> SessionEnded:
        return self._ended(SessionOutcome.QUIT, reason="quit by the user")

    # -- approval: each line judged as it is submitted, however it was typed ---------------

    def _refusal(self, step: int, call: TypeInput | KeysInput) -> ToolOutcome | None:
        """None when ``call`` may be sent; else what the model reads. The lines the call
        would submit, with what is already on the line, are judged before anything is typed
        (one request for them all); a line clive cannot follow is judged just before its
        Enter (``_screen_refusal``)."""
        if self.approval.mode == "never":
            return None
        try:
            writes = _writes_of(call)
        except UnknownKeyError:
            return None  # the runner reports it, and presses nothing
        line, secret = self.line.copy(), self.terminal.reads_secret_input()
        submitted: list[Submission] = []
        for typed, keys_pressed in writes:
            for submission in line.feed(typed, secret=secret):
                if not submission.known and not keys_pressed:
                    return ToolOutcome(
                        False,
                        "not done: a line end in this text follows keys clive cannot follow "
                        "(an escape sequence, Tab), so that line cannot be judged before it "
                        "runs. Type it without the line end, look, then press Enter.",
                    )
                if submission.known and submission.text.strip():  # an empty line runs nothing
                    submitted.append(submission)
        readings = [reading for submission in submitted for reading in submission.readings]
        rule = self.approval.rule_for_line(readings) if submitted else None
        if rule is None:
            return None
        return self._decided(step, _shown(submitted), rule, "nothing was typed")

    def _screen_refusal(self, step: int, take_overs: int) -> ToolOutcome | None:
        """Just before a key submits a line clive could not follow (history, completion):
        judge the line as the screen shows it, and as far as clive followed it."""
        if self.approval.mode == "never" or self.line.known:
            return None  # a line clive followed was judged before anything was typed
        self.terminal.wait(quiet=_LINE_DRAWN_QUIET, timeout=_LINE_DRAWN_TIMEOUT)
        submission = self.line.current()
        shown = "" if submission.secret else screen_line(self.terminal.snapshot())
        readings = (shown, *submission.readings)
        rule = self.approval.rule_for_line(readings)
        if rule is None or not any(reading.strip() for reading in readings):
            return None
        action = submission.shown if submission.secret else f"{shown} (read from the screen)"
        refusal = self._decided(step, action, rule, "Enter was not pressed")
        if refusal is None and not self._still_ours(take_overs):
            return _STEPPED_IN
        return refusal

    def _decided(self, step: int, action: str, rule: str, done: str) -> ToolOutcome | None:
        """Ask whether ``action`` may run: None if so; else the line is cleared, so that
        nothing of it runs, and the refusal the model reads is returned."""
        if self.approval.approver is not None:  # a person is asked: replay shows the wait
            self.writer.append(ApprovalAsked(step=step, action=action, rule=rule))
        decision = self.approval.decide(ApprovalRequest(step, action, rule))
        self.writer.append(
            Approval(
                step=step,
                action=action,
                rule=rule,
                approved=decision.approved,
                by=decision.by,
                reason=decision.reason,
            )
        )
        if decision.approved:
            return None
        why = f": {decision.reason}" if decision.reason else ""
        return ToolOutcome(
            False,
            f"refused, {done}: the line needs approval ({rule}) and was not approved{why}."
            f"{self._clear_line()} Find a safer way, or finish and say what you need.",
        )

    def _clear_line(self) -> str:
        """Clear what is typed on the line (a refused line must not run with a later Enter)."""
        if self.line.empty:
            return ""
        keys = ["C-u"] if self.line.known and self.line.cursor_at_end else ["C-e", "C-u"]
        self.input_source = "harness"
        try:
            self.terminal.send_keys(keys)
        except TerminalError:
            return ""
        finally:
            self.input_source = "agent"
        return f" What was typed on the line before was cleared ({' '.join(keys)})."

    def _follow_line(self, data: bytes, when: float) -> None:
        secret = self.terminal.reads_secret_input()
        self.line.feed(data.decode("utf-8", "surrogateescape"), secret=secret)

    def _record_input(self, data: bytes, when: float) -> None:
        secret = self.terminal.reads_secret_input()
        self.writer.terminal_input(data, when, source=self.input_source, secret=secret)

    # -- budgets and the end ----------------------------------------------------------------

    def _time_left(self) -> float | None:
        if self.settings.max_time is None:
            return None
        return max(0.0, self.settings.max_time - self.writer.elapsed())

    def _spent_budget(self, steps: int) -> SessionEnded | None:
        settings, totals = self.settings, self.totals
        usage = totals.usage
        tokens = (
            usage.input_tokens
            + usage.output_tokens
            + usage.cache_read_tokens
            + usage.cache_write_tokens
        )
        budgets = [
            ("steps", steps, settings.max_steps, SessionOutcome.STEP_LIMIT),
            ("time", self.writer.elapsed(), settings.max_time, SessionOutcome.TIME_LIMIT),
            ("cost", totals.cost or 0.0, settings.max_cost, SessionOutcome.COST_LIMIT),
            ("tokens", tokens, settings.max_tokens, SessionOutcome.TOKEN_LIMIT),
        ]
        for name, used, limit, outcome in budgets:
            if limit is None:
                continue
            if used >= limit:
                return self._ended(outcome, reason=f"the {name} budget ({limit:g}) is spent")
            if used >= _WARN_AT * limit and name not in self._warned:
                self._warned.add(name)
                self.writer.append(BudgetWarning(budget=name, used=used, limit=limit))
        return None

    def _ended(
        self, outcome: SessionOutcome, *, summary: str = "", reason: str = ""
    ) -> SessionEnded:
        self.totals.duration = round(self.writer.elapsed(), 3)
        best = {}
        if self.experiments is not None:
            best = {
                "best_metric": self.experiments.best_metric,
                "best_commit": self.experiments.best_commit,
            }
        return SessionEnded(
            outcome=outcome, summary=summary, reason=reason, totals=self.totals, **best
        )


def _writes_of(call: TypeInput | KeysInput) -> list[tuple[str, bool]]:
    """What the runner writes for ``call``, each with whether it is pressed as keys: the
    runner stops before a key that submits, so a line clive cannot follow is judged there."""
    if isinstance(call, KeysInput):
        return [(keystrokes(call.keys), True)]
    text = call.text.rstrip("\n")
    if "\n" in text:  # pasted: a Tab goes in as it is, not completed (C-v Tab, for the model)
        text = text.replace("\t", "\x16\t")
    return [(text, False), *([("\r", True)] if call.enter else [])]


def _shown(submitted: list[Submission]) -> str:
    """The lines of one call, as an approval request shows them: a line that a later one
    repeats (each line of a paste, then the paste) once."""
    texts = [submission.shown for submission in submitted]
    return "\n".join(
        text
        for index, text in enumerate(texts)
        if not any(text in later.split("\n") for later in texts[index + 1 :])
    )
