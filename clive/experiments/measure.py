"""Running the metric command and reading the number off it.

The metric runs in a terminal of the harness's own, never in the model's shell: the model's
functions, bindings, traps and background jobs cannot stand between the command and the
number. The harness reads the number from that terminal's own transcript, and the run ends
when the process exits. While it runs, watchers end it early instead of waiting blind: an
alert pattern in the output (a traceback, a NaN, out of memory), a stall (no output for a
while), the budget running out, or the caller's ``stop``.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from clive.terminal import Mark, Terminal, WaitReason
from clive.terminal.terminal import Launcher

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


class StopReason(StrEnum):
    """Why the harness stopped the metric command before it ended by itself."""

    BUDGET = "budget"
    ALERT = "alert"
    STALL = "stall"
    STOPPED = "stopped"  # the caller's stop() said so


@dataclass(frozen=True)
class MetricRun:
    """One run of the metric command: what the terminal showed and the number in it."""

    command: str
    output: str  # what the command printed
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
    command: str,
    pattern: re.Pattern[str] | None,
    *,
    cwd: Path,
    launcher: Launcher,
    budget: float,
    size: tuple[int, int] = (120, 40),
    alerts: re.Pattern[str] | None = None,
    stall: float | None = None,
    stop: Callable[[], bool] | None = None,
    alert_grace: float = ALERT_GRACE,
    listeners: Sequence[Callable[[bytes, float], None]] = (),
    on_start: Callable[[Terminal], None] | None = None,
) -> MetricRun:
    """Run ``command`` in a terminal of the harness's own, watch it, and read the number.

    ``launcher`` starts it (a sandbox, a clean environment) in ``cwd``; nobody types into
    this terminal, and the run ends when its process exits: no string the measured code
    prints can end it early or late. With ``pattern`` None nothing is read (a setup step: it
    only has to succeed). ``listeners`` get every byte it prints (a recorder);
    ``on_start(terminal)`` lets a viewer watch it. The
    number is the first group of the last match of ``pattern`` in the output (a training
    script may print the metric as it goes; the final value is the one that counts). The
    run fails when the command exits with a status other than 0, prints an ``alerts`` match
    or no number, or is stopped by a watcher: ``budget`` seconds, an alert while it runs
    (after ``alert_grace`` seconds to end by itself), ``stall`` seconds without output,
    ``stop()``.
    """
    terminal = Terminal(
        *size,
        command=["bash", "--noprofile", "--norc", "-c", command],
        cwd=cwd,
        launcher=launcher,
        settle=False,
    )
    for listener in listeners:
        terminal.add_output_listener(listener)
    started = time.monotonic()
    terminal.start()
    try:
        if on_start is not None:
            on_start(terminal)
        # Alerts are looked for from the first byte: what was printed before this wait
        # began (a quick start, a loaded machine) counts too.
        outcome = terminal.wait(
            pattern=alerts, quiet=stall, timeout=budget, stop=stop, since=Mark(0)
        )
        stopped, failure = None, None
        if outcome.reason is WaitReason.PATTERN:
            # Give a crashing program the moment it needs to finish printing its error.
            left = max(0.0, budget - (time.monotonic() - started))
            if terminal.wait(timeout=min(alert_grace, left)).reason is not WaitReason.EXITED:
                stopped = StopReason.ALERT
                failure = f"stopped on the alert {outcome.match!r} in the output"
        elif outcome.reason is WaitReason.QUIET:
            stopped, failure = StopReason.STALL, f"stalled: no output for {stall:g}s"
        elif outcome.reason is WaitReason.TIMEOUT:
            stopped, failure = StopReason.BUDGET, f"over the budget of {budget:g}s"
        elif outcome.reason is WaitReason.STOPPED:
            stopped, failure = StopReason.STOPPED, "stopped by the user"
        interrupted_with = _end(terminal, alert_grace) if stopped is not None else None
        seconds = time.monotonic() - started
        exit_code = terminal.exit_status if stopped is None else None
        output = terminal.transcript.read()
    finally:
        terminal.close()
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


def _end(terminal: Terminal, grace: float) -> str:
    """Stop a run: C-c first (a training job may save its state), then every process of it."""
    terminal.send_keys("C-c")
    if terminal.wait(timeout=grace).reason is WaitReason.EXITED:
        return "C-c"
    terminal.kill()
    return "SIGTERM"


def _judge(
    output: str,
    exit_code: int | None,
    pattern: re.Pattern[str] | None,
    alerts: re.Pattern[str] | None,
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
    if pattern is None:
        return None, None
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
