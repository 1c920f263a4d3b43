"""The agent loop: observe the terminal, ask the model, run its tool calls, record it all.

    while no budget is spent:
        view = observe()                 # header, new output, screen
        reply = ask the model            # text and tool calls
        for each tool call: act          # type, keys, wait, note, finish
    end, with the outcome and why

Every step is recorded as it happens (``SessionWriter``), so a session killed at any moment
is readable up to that moment.
"""

from __future__ import annotations

import dataclasses
import time
import traceback

from pydantic import BaseModel, Field

from clive.agent.observation import ObservationLimits, Observer, View
from clive.agent.prompts import Prompts
from clive.agent.tools import NoteInput, ToolOutcome, ToolRunner, TypeInput, tool_specs, validate
from clive.models.base import Message, Model, ModelError, ModelReply, ToolResultBlock
from clive.session.events import (
    BudgetWarning,
    Error,
    ModelTurn,
    Note,
    Observation,
    SessionEnded,
    ToolCall,
    ToolResult,
    Totals,
)
from clive.session.events import Outcome as SessionOutcome
from clive.session.info import OUTPUTS_DIR
from clive.session.writer import SessionWriter
from clive.terminal import ScreenState, Terminal

_WARN_AT = 0.8  # a budget warning when this share of a budget is spent


class AgentSettings(BaseModel):
    """Budgets and limits of one session."""

    max_steps: int = Field(500, ge=1, description="model turns before the session stops")
    max_time: float | None = Field(None, gt=0, description="seconds of wall time")
    max_invalid_calls: int = Field(3, ge=1, description="invalid tool calls in a row")


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
    ) -> None:
        self.terminal = terminal
        self.model = model
        self.writer = writer
        self.prompts = prompts
        self.settings = settings or AgentSettings()
        self.observer = Observer(terminal, writer.directory / OUTPUTS_DIR, limits)
        self.tools = ToolRunner(terminal, lambda: self.observer.last_mark, self._time_left)
        self.tool_specs = tool_specs(prompts.tools)
        self.messages: list[Message] = []
        self.totals = Totals()
        self.input_source = "agent"
        self._invalid_in_a_row = 0
        self._warned: set[str] = set()
        self._last_view_message: tuple[int, View] | None = None
        terminal.add_output_listener(writer.terminal_output)
        terminal.add_input_listener(self._record_input)

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
        step = 0
        while (limit := self._spent_budget(step)) is None:
            step += 1
            self.writer.marker(f"step {step}")
            view = self._observe(step)
            self._tell(task if step == 1 else complaint, results, view)
            if view.state is ScreenState.EXITED:
                return self._ended(SessionOutcome.SHELL_EXITED, reason="the shell exited")

            reply = self._ask(step)
            if reply is None:
                return self._ended(SessionOutcome.MODEL_ERROR, reason="the model failed")

            results, complaint = [], ""
            for call in reply.tool_calls:
                outcome = self._act(step, call)
                results.append(ToolResultBlock(call.id, outcome.content, not outcome.ok))
                if outcome.finished:
                    return self._ended(SessionOutcome.FINISHED, summary=outcome.content)
            if not reply.tool_calls:
                self._invalid_in_a_row += 1
                complaint = "You did not call a tool. Act with a tool, or call finish."
            if self._invalid_in_a_row >= self.settings.max_invalid_calls:
                return self._ended(
                    SessionOutcome.INVALID_TOOL_CALLS,
                    reason=f"{self._invalid_in_a_row} invalid tool calls in a row",
                )
        return limit

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
        """Add the next user message; the previous observation shrinks to its short form."""
        if self._last_view_message is not None:
            index, old = self._last_view_message
            message = self.messages[index]
            shrunk = message.text.replace(old.text, old.short_text)
            self.messages[index] = dataclasses.replace(message, text=shrunk)
        body = f"{text}\n\n{view.text}" if text else view.text
        self.messages.append(Message("user", body, tool_results=tuple(results)))
        self._last_view_message = (len(self.messages) - 1, view)

    # -- think ------------------------------------------------------------------------------

    def _ask(self, step: int) -> ModelReply | None:
        started = time.monotonic()
        try:
            reply = self.model.reply(self.prompts.system, self.messages, self.tool_specs)
        except ModelError as error:
            self.writer.append(Error(message=str(error), fatal=True, step=step))
            return None
        if self.terminal.reads_secret_input():
            # What the model types at a password prompt must not reach the log either.
            for call in reply.tool_calls:
                if call.name == "type" and isinstance(call.input, dict):
                    self.writer.redactor.add_secret(str(call.input.get("text", "")))
        self.messages.append(Message("assistant", reply.text, tool_calls=tuple(reply.tool_calls)))
        self.totals.steps = step
        self.totals.usage = self.totals.usage + reply.usage
        if reply.cost is not None:
            self.totals.cost = (self.totals.cost or 0.0) + reply.cost
        self.writer.append(
            ModelTurn(
                step=step,
                model=self.model.name,
                text=reply.text,
                tool_calls=reply.tool_calls,
                usage=reply.usage,
                cost=reply.cost,
                duration=round(time.monotonic() - started, 3),
            )
        )
        return reply

    # -- act --------------------------------------------------------------------------------

    def _act(self, step: int, call: ToolCall) -> ToolOutcome:
        started = time.monotonic()
        checked = validate(call.name, call.input)
        if isinstance(checked, ToolOutcome):
            outcome = checked
        elif isinstance(checked, NoteInput):
            self.writer.append_note(checked.text)
            self.writer.append(Note(step=step, text=checked.text))
            outcome = ToolOutcome(True, "noted")
        else:
            if isinstance(checked, TypeInput) and self.terminal.reads_secret_input():
                self.writer.redactor.add_secret(checked.text)
            outcome = self.tools.run(checked)
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
            )
        )
        return outcome

    def _record_input(self, data: bytes, when: float) -> None:
        secret = self.terminal.reads_secret_input()
        self.writer.terminal_input(data, when, source=self.input_source, secret=secret)

    # -- budgets and the end ----------------------------------------------------------------

    def _time_left(self) -> float | None:
        if self.settings.max_time is None:
            return None
        return max(0.0, self.settings.max_time - self.writer.elapsed())

    def _spent_budget(self, steps: int) -> SessionEnded | None:
        settings = self.settings
        budgets = [("steps", steps, settings.max_steps, SessionOutcome.STEP_LIMIT)]
        if settings.max_time is not None:
            budgets.append(
                ("time", self.writer.elapsed(), settings.max_time, SessionOutcome.TIME_LIMIT)
            )
        for name, used, limit, outcome in budgets:
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
        return SessionEnded(outcome=outcome, summary=summary, reason=reason, totals=self.totals)
