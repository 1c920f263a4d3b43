"""Running the metric command in the live terminal and reading the number off it.

The harness types the command into the same shell the model uses, so the user watches it
run, and reads the number from the terminal's own transcript: it is the number the terminal
showed, not one anybody reported. While the command runs, watchers end it early instead of
waiting blind: an alert pattern in the output (a traceback, a NaN, out of memory), a stall (no
output for a while), the budget running out, or the caller's ``stop``.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from clive.terminal import Mark, ScreenState, Terminal, TerminalError, WaitReason

# Alerts are searched in the output only (not in the command line the shell echoes).
DEFAULT_ALERTS: tuple[str, ...] = (
    r"Traceback \(most recent call last\)",
    r"(?i:\bnan\b)",
    r"CUDA out of memory",
    r"\bKilled\b",
)
# After an alert, how long the command may take to end by itself before it is interrupted:
# a crashing program is still printing its traceback, whose last line is the one that matters.
ALERT_GRACE = 2.0
_ECHO_TIMEOUT = 10.0  # seconds for the shell to echo the command line


class StopReason(StrEnum):
    """Why the harness stopped the metric command before it ended by itself."""

    BUDGET = "budget"
    ALERT = "alert"
    STALL = "stall"
    STOPPED = "stopped"  # the caller's stop() said so
    INCOMPLETE = "incomplete"  # the shell wanted more of the command (an unclosed quote)
    SHELL_EXITED = "shell_exited"


@dataclass(frozen=True)
class MetricRun:
    """One run of the metric command: what the terminal showed and the number in it."""

    command: str
    output: str  # what the command printed (the echoed command line and the prompt cut off)
    seconds: float
    exit_code: int | None
    value: float | None  # the number the pattern found; None with ``failure``
    failure: str | None = None  # why the run does not count, in words
    stopped: StopReason | None = None
    interrupted_with: str | None = None  # how the harness stopped it (C-c, SIGTERM...)

    @property
    def ok(self) -> bool:
        return self.failure is None

    def tail(self, lines: int = 15) -> str:
        """The last lines of the output, for a person (or a model) to see what went wrong."""
        return "\n".join(self.output.rstrip("\n").splitlines()[-lines:])


def compile_alerts(patterns: Sequence[str]) -> re.Pattern[str] | None:
    """One regular expression that matches when any of ``patterns`` does."""
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns))


def run_metric(
    terminal: Terminal,
    command: str,
    pattern: re.Pattern[str],
    *,
    budget: float,
    alerts: re.Pattern[str] | None = None,
    stall: float | None = None,
    stop: Callable[[], bool] | None = None,
    alert_grace: float = ALERT_GRACE,
    end_marker: str | None = None,
) -> MetricRun:
    """Type ``command`` and Enter at the shell's prompt, watch it, and read the number.

    The number is the first group of the last match of ``pattern`` in the output (a training
    script may print the metric as it goes; the final value is the one that counts). The run
    fails when the command exits with a status other than 0, prints an ``alerts`` match or no
    number, or is stopped by a watcher: ``budget`` seconds, an alert while it runs (after
    ``alert_grace`` seconds to end by itself), ``stall`` seconds without output, ``stop()``.
    ``end_marker``: a line the command prints when it ends; what comes after it (the shell's
    prompt command, say) is not the command's output.
    """
    state = terminal.snapshot().state
    if state is not ScreenState.PROMPT:
        raise TerminalError(
            f"the shell is not at a prompt (state: {state.value}): end what runs there "
            "before the metric can be measured"
        )
    # Whatever was left typed on the line must not become part of the command: C-c drops it
    # (bash starts a fresh prompt line).
    terminal.send_keys("C-c")
    terminal.wait(quiet=0.2, timeout=2.0)
    transcript = terminal.transcript
    start = transcript.mark()
    prompt = start.pending  # the prompt line as it stood: cut from the end of the output
    started = time.monotonic()
    terminal.send_text(command + "\r")

    # The output starts after the echoed command line: alerts must not match the command.
    terminal.wait(prompt=True, pattern=r"\n", since=start, timeout=min(budget, _ECHO_TIMEOUT))
    output_start = _after_first_line(terminal, start) or start
    outcome = terminal.wait(
        prompt=True,
        pattern=alerts,
        quiet=stall,
        since=output_start,
        timeout=max(0.0, budget - (time.monotonic() - started)),
        stop=stop,
    )

    stopped, failure, interrupted_with = None, None, None
    reason = outcome.reason
    exit_code = outcome.exit_code
    if reason is WaitReason.PATTERN:
        # Give a crashing program the moment it needs to finish printing its error.
        ended = terminal.wait(prompt=True, timeout=alert_grace)
        if ended.timed_out:
            stopped = StopReason.ALERT
            failure = f"stopped on the alert {outcome.match!r} in the output"
            interrupted_with = terminal.interrupt()
        else:
            exit_code = ended.exit_code
    elif reason is WaitReason.QUIET:
        stopped = StopReason.STALL
        failure = f"stalled: no output for {stall:g}s"
        interrupted_with = terminal.interrupt()
    elif reason is WaitReason.TIMEOUT:
        stopped = StopReason.BUDGET
        failure = f"over the budget of {budget:g}s"
        interrupted_with = terminal.interrupt()
    elif reason is WaitReason.STOPPED:
        stopped = StopReason.STOPPED
        failure = "stopped by the user"
        interrupted_with = terminal.interrupt()
    elif reason is WaitReason.CONTINUATION:
        stopped = StopReason.INCOMPLETE
        failure = "the shell asked for more input (an unclosed quote?); cancelled with C-c"
        terminal.send_keys("C-c")
        terminal.wait(prompt=True, timeout=alert_grace)
    elif reason is WaitReason.EXITED:
        stopped = StopReason.SHELL_EXITED
        failure = f"the shell exited (status {exit_code})"
    if stopped is not None and stopped is not StopReason.SHELL_EXITED:
        exit_code = terminal.snapshot().last_exit_code
    seconds = time.monotonic() - started

    output = _output(terminal, output_start, prompt)
    if end_marker is not None and end_marker in output:
        output = output[: output.index(end_marker)]
    value = None
    if failure is None:
        value, failure = _judge(output, exit_code, pattern, alerts)
    elif interrupted_with:
        failure += f" (stopped with {interrupted_with})"
    return MetricRun(
        command=command,
        output=output,
        seconds=seconds,
        exit_code=exit_code,
        value=value,
        failure=failure,
        stopped=stopped,
        interrupted_with=interrupted_with,
    )


def _after_first_line(terminal: Terminal, start: Mark) -> Mark | None:
    """The mark just after the first line printed since ``start`` (the echoed command)."""
    text = terminal.transcript.read(start)
    newline = text.find("\n")
    if newline < 0:
        return None
    # The transcript commits whole lines: the prompt that stood at ``start``, then the echo.
    line = start.pending + text[: newline + 1]
    return Mark(start.offset + len(line.encode("utf-8", "surrogateescape")))


def _output(terminal: Terminal, start: Mark, prompt: str) -> str:
    """The command's output: from ``start`` to now, less the prompt the shell printed after."""
    output = terminal.transcript.read(start)
    if prompt and output.endswith(prompt):
        output = output[: -len(prompt)]
    return output


def _judge(
    output: str, exit_code: int | None, pattern: re.Pattern[str], alerts: re.Pattern[str] | None
) -> tuple[float | None, str | None]:
    """(the number, None) for a command that ended by itself, or (None, why it does not count).

    The whole output is searched for alerts, not only what the watcher saw while the command
    ran: whether a quick crash ends before the watcher looks must not change the verdict.
    """
    alert = alerts.search(output) if alerts is not None else None
    if exit_code not in (0, None):
        failure = f"the command exited with status {exit_code}"
        return None, failure + (f" after the alert {alert.group()!r}" if alert else "")
    if alert:
        return None, f"the alert {alert.group()!r} appeared in the output"
    return _read_number(pattern, output)


def _read_number(pattern: re.Pattern[str], output: str) -> tuple[float | None, str | None]:
    """(the number, None), or (None, why there is none)."""
    matches = list(pattern.finditer(output))
    if not matches:
        return None, f"the output has no match for the pattern {pattern.pattern!r}"
    text = matches[-1].group(1)
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None, f"the pattern's group matched {text!r}, which is not a number"
    if not math.isfinite(value):
        return None, f"the metric is {text}, not a finite number"
    return value, None
