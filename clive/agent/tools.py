"""The model's tools: typed inputs, and what each does to the terminal.

Names and inputs are fixed (scripts rely on them): ``type`` {text, enter}, ``keys`` {keys},
``wait`` {until, pattern, seconds, timeout}, ``note`` {text}, ``finish`` {summary}. An input
that does not validate becomes an error result the model can read, never an exception.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from clive.agent.input_line import keystrokes, submits
from clive.models.base import ToolSpec
from clive.terminal import Terminal, TerminalError, WaitReason
from clive.terminal.keys import UnknownKeyError
from clive.terminal.transcript import Mark

MAX_WAIT = 86400.0
# After typing a command, wait this long at most for it to finish, so that a quick command's
# result is in the next observation without a wait call.
_SETTLE_AFTER_ENTER = 3.0
_SETTLE_QUIET = 0.5


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TypeInput(_Input):
    text: str = Field(description="the text to type")
    enter: bool = Field(True, description="press Enter after the text")


class KeysInput(_Input):
    keys: list[str] = Field(min_length=1, description="tmux key names, pressed in order")


class WaitInput(_Input):
    until: Literal["done", "quiet", "pattern"] = Field(
        "done", description="done: the command ends; pattern: a regex appears; quiet: no output"
    )
    pattern: str | None = Field(None, description="regular expression, with until=pattern")
    seconds: float | None = Field(
        None, gt=0, le=MAX_WAIT, description="with until=quiet: how long output must stop"
    )
    timeout: float = Field(600.0, gt=0, le=MAX_WAIT, description="give up after this long")

    @model_validator(mode="after")
    def _pattern_fits_until(self) -> WaitInput:
        if self.until == "pattern":
            if not self.pattern:
                raise ValueError("until=pattern needs a pattern")
            try:
                re.compile(self.pattern)
            except re.error as error:
                raise ValueError(f"pattern is not a valid regular expression: {error}") from None
        if self.until == "quiet" and self.seconds is None:
            self.seconds = 5.0
        return self


class NoteInput(_Input):
    text: str = Field(min_length=1, description="what to remember")


class FinishInput(_Input):
    summary: str = Field(min_length=1, description="what was done, found, and left undone")


class ExperimentInput(_Input):
    description: str = Field(min_length=1, description="what this change tries, in a line")
    hypothesis: str = Field("", description="why you expect it to help, in a line")


INPUTS: dict[str, type[_Input]] = {
    "type": TypeInput,
    "keys": KeysInput,
    "wait": WaitInput,
    "note": NoteInput,
    "finish": FinishInput,
}


# Tools given only in some sessions: ``experiment`` in a task with a metric (``clive run``).
EXTRA_INPUTS: dict[str, type[_Input]] = {"experiment": ExperimentInput}


def tool_specs(descriptions: dict[str, str], extra: tuple[str, ...] = ()) -> list[ToolSpec]:
    """The tools as the model is told about them, descriptions from the prompts."""
    inputs = {**INPUTS, **{name: EXTRA_INPUTS[name] for name in extra}}
    return [
        ToolSpec(name, descriptions.get(name, ""), model.model_json_schema())
        for name, model in inputs.items()
    ]


@dataclass(frozen=True)
class ToolOutcome:
    """What a tool call did: ``ok`` false for an invalid call or one that failed."""

    ok: bool
    content: str
    invalid: bool = False  # the call itself was wrong (unknown tool, bad input)
    finished: bool = False


def validate(name: str, raw_input: object, extra: tuple[str, ...] = ()) -> _Input | ToolOutcome:
    """The tool's input as its model, or an invalid-call outcome that says what is wrong."""
    model = INPUTS.get(name) or (EXTRA_INPUTS.get(name) if name in extra else None)
    if model is None:
        known = ", ".join([*INPUTS, *extra])
        return ToolOutcome(False, f"unknown tool {name!r}; the tools are {known}", invalid=True)
    if isinstance(raw_input, str):
        # The model's input did not parse as JSON: the backend kept it as it came.
        shown = raw_input if len(raw_input) <= 200 else raw_input[:200] + "..."
        return ToolOutcome(
            False, f"invalid input for {name}: not a JSON object: {shown!r}", invalid=True
        )
    try:
        return model.model_validate(raw_input if raw_input is not None else {})
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in error.errors()
        )
        return ToolOutcome(False, f"invalid input for {name}: {problems}", invalid=True)


# Called just before a key that may submit a line is pressed: None to press it, or the
# outcome to stop with (approval: a line clive could not follow, judged from the screen).
SubmitCheck = Callable[[], ToolOutcome | None]


def typed_secrets(name: str, raw_input: object) -> list[str]:
    """What a ``type`` or ``keys`` call types, as the secrets it is when typed at a password
    prompt: the whole, and each line of it (one call may answer two prompts)."""
    checked = validate(name, raw_input)
    try:
        if isinstance(checked, TypeInput):
            typed = checked.text
        elif isinstance(checked, KeysInput):
            typed = keystrokes(checked.keys)
        else:
            return []
    except UnknownKeyError:
        return []
    return [typed, *re.split(r"[\x00-\x1f\x7f]+", typed)]


class ToolRunner:
    """Runs validated tool calls against the terminal.

    ``since`` gives the transcript mark of the last observation (a pattern printed after it
    counts); ``time_left`` the seconds of wall time the budget still allows (None: no limit).
    """

    def __init__(
        self,
        terminal: Terminal,
        since: Callable[[], Mark | None],
        time_left: Callable[[], float | None],
        stop: Callable[[], bool] | None = None,
    ) -> None:
        self.terminal = terminal
        self._since = since
        self._time_left = time_left
        self._stop = stop

    def run(self, call: _Input, before_submit: SubmitCheck | None = None) -> ToolOutcome:
        """Do ``call``; ``before_submit`` is asked before each key that may submit a line."""
        try:
            if isinstance(call, TypeInput):
                return self._type(call, before_submit)
            if isinstance(call, KeysInput):
                return self._keys(call, before_submit)
            if isinstance(call, WaitInput):
                return self._wait(call)
        except TerminalError as error:
            return ToolOutcome(False, str(error))
        if isinstance(call, FinishInput):
            return ToolOutcome(True, call.summary, finished=True)
        raise TypeError(f"no runner for {type(call).__name__}")  # notes are the loop's

    def _type(self, call: TypeInput, before_submit: SubmitCheck | None) -> ToolOutcome:
        terminal = self.terminal
        if "\n" in call.text.rstrip("\n"):
            terminal.paste(call.text.rstrip("\n"))
        else:
            terminal.send_text(call.text.rstrip("\n"))
        what = f"typed {len(call.text)} characters"
        if not call.enter:
            terminal.wait(quiet=0.2, timeout=1.0)
            return ToolOutcome(True, what)
        if before_submit is not None and (stopped := before_submit()) is not None:
            return ToolOutcome(False, f"{what}, then {stopped.content}")
        terminal.send_keys("Enter")
        outcome = terminal.wait(
            prompt=True, quiet=_SETTLE_QUIET, timeout=self._clip(_SETTLE_AFTER_ENTER)
        )
        return ToolOutcome(True, f"{what} and Enter; {_describe(outcome, waited_for='settle')}")

    def _keys(self, call: KeysInput, before_submit: SubmitCheck | None) -> ToolOutcome:
        try:
            keystrokes(call.keys)  # a bad name is reported before any key is pressed
        except UnknownKeyError as error:
            return ToolOutcome(False, str(error), invalid=True)
        secret = self.terminal.reads_secret_input()  # a password: the keys are not told
        batch: list[str] = []
        for index, key in enumerate(call.keys):
            if before_submit is not None and submits(keystrokes([key])):
                if batch:
                    self.terminal.send_keys(batch)
                    batch = []
                if (stopped := before_submit()) is not None:
                    keys = "the keys" if secret else " ".join(call.keys[:index])
                    pressed = f"pressed {keys}, then " if index else ""
                    return ToolOutcome(False, pressed + stopped.content)
            batch.append(key)
        self.terminal.send_keys(batch)
        self.terminal.wait(quiet=0.2, timeout=1.0)
        pressed = "the keys, at a password prompt" if secret else " ".join(call.keys)
        return ToolOutcome(True, "pressed " + pressed)

    def _wait(self, call: WaitInput) -> ToolOutcome:
        timeout = self._clip(call.timeout)
        stop = self._stop
        if call.until == "done":
            outcome = self.terminal.wait(prompt=True, timeout=timeout, stop=stop)
        elif call.until == "quiet":
            outcome = self.terminal.wait(quiet=call.seconds, timeout=timeout, stop=stop)
        else:
            outcome = self.terminal.wait(
                pattern=call.pattern, since=self._since(), timeout=timeout, stop=stop
            )
        clipped = (
            " (the session's time budget cut the wait short)" if timeout < call.timeout else ""
        )
        return ToolOutcome(True, _describe(outcome, waited_for=call.until) + clipped)

    def _clip(self, seconds: float) -> float:
        left = self._time_left()
        return seconds if left is None else max(0.0, min(seconds, left))


def _describe(outcome, *, waited_for: str) -> str:
    """A wait outcome in words, for the model."""
    after = f"after {outcome.elapsed:.1f}s"
    reason = outcome.reason
    if reason is WaitReason.PROMPT:
        code = "" if outcome.exit_code is None else f" with exit code {outcome.exit_code}"
        return f"the command finished{code} {after}; the shell is at a prompt"
    if reason is WaitReason.PROMPT_HEURISTIC:
        return f"a prompt-like line appeared and output stopped {after} (no shell markers)"
    if reason is WaitReason.CONTINUATION:
        return f"the shell is asking for more input (continuation prompt) {after}"
    if reason is WaitReason.PATTERN:
        return f"the pattern matched {after}: {outcome.match!r}"
    if reason is WaitReason.QUIET:
        if waited_for in ("done", "settle"):
            return f"still running: no output for a moment {after}"
        return f"output went quiet {after}"
    if reason is WaitReason.EXITED:
        return f"the shell exited (status {outcome.exit_code}) {after}"
    if reason is WaitReason.STOPPED:
        return f"the wait was cut short {after}: the user paused you or took the terminal"
    if waited_for == "settle":
        return f"still running {after}; wait for it to end, or act on what it shows"
    return f"timed out {after}; what was running is still running"
