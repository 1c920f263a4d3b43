"""``clive [OPTIONS] "task"``: run a task as a recorded session."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from clive.agent.approval import ApprovalPolicy
from clive.agent.loop import AgentSettings
from clive.agent.task import run_task
from clive.commands._print import event_line
from clive.config import Config
from clive.models import Model, ModelChoiceError, open_model
from clive.session.events import Event, ModelText, Outcome, TerminalOutput
from clive.terminal import TerminalError

# The exit status says how the session ended.
EXIT_STATUS = {
    Outcome.FINISHED: 0,
    Outcome.ERROR: 1,
    Outcome.STEP_LIMIT: 3,
    Outcome.TIME_LIMIT: 3,
    Outcome.COST_LIMIT: 3,
    Outcome.TOKEN_LIMIT: 3,
    Outcome.INVALID_TOOL_CALLS: 4,
    Outcome.MODEL_ERROR: 5,
    Outcome.SHELL_EXITED: 6,
    Outcome.PAUSED: 7,
    Outcome.QUIT: 130,
}


def run(args: argparse.Namespace, task: str | None = None, model: Model | None = None) -> int:
    task = task if task is not None else args.task
    if not task or not task.strip():
        print('clive: the task is empty; say what to do: clive "run the tests"', file=sys.stderr)
        return 2
    cwd = Path(args.cwd).resolve()
    if not cwd.is_dir():
        print(f"clive: --cwd {args.cwd}: not a directory", file=sys.stderr)
        return 2
    prepared = prepare(args, model)
    if isinstance(prepared, int):
        return prepared
    model, approval = prepared
    return run_and_report(
        args,
        lambda on_event: run_task(
            task,
            model,
            sessions_dir=Path(args.sessions_dir),
            cwd=cwd,
            settings=agent_settings(args.config),
            cols=args.cols,
            rows=args.rows,
            user_rc=not args.no_user_rc,
            prompts_dir=args.config.prompts,
            approval=approval,
            on_event=on_event,
        ),
    )


def prepare(args: argparse.Namespace, model: Model | None) -> tuple[Model, ApprovalPolicy] | int:
    """The model and the approval policy the settings ask for, or an exit status after
    saying what is wrong."""
    config: Config = args.config
    if config.approve == "always":
        print(
            "clive: --approve always needs someone to approve each command, and this run "
            "is headless (the UI comes later): use --approve risky or never",
            file=sys.stderr,
        )
        return 2
    try:
        approval = ApprovalPolicy(config.approve, config.risky)
    except ValueError as error:
        print(f"clive: {error}", file=sys.stderr)
        return 2
    if model is None:
        try:
            model = open_model(config)
        except ModelChoiceError as error:
            print(f"clive: {error}", file=sys.stderr)
            return 2
    return model, approval


def agent_settings(config: Config) -> AgentSettings:
    return AgentSettings(
        max_steps=config.max_steps,
        max_time=config.max_time,
        max_cost=config.max_cost,
        max_tokens=config.max_tokens,
        max_invalid_calls=config.max_invalid_calls,
        context_limit=config.context_limit,
        compact_at=config.compact_at,
    )


def run_and_report(args: argparse.Namespace, start) -> int:
    """Run a session (``start(on_event)``), print its events, and exit as it ended."""
    printer = _Printer(json_lines=args.json)
    # `kill PID` ends the session cleanly, as Ctrl-C does: recorded as quit, shell closed.
    signal.signal(signal.SIGTERM, _stop)
    try:
        writer, ended = start(printer)
    except (TerminalError, OSError) as error:
        print(f"clive: {error}", file=sys.stderr)
        return 1
    print(f"session: {writer.directory}", file=sys.stderr)
    if ended.outcome is Outcome.PAUSED:
        print(f"resume it with: clive resume {writer.directory}", file=sys.stderr)
    return EXIT_STATUS.get(ended.outcome, 1)


def _stop(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


class _Printer:
    """Prints each event as it is recorded: a readable line, or JSON with ``--json`` (which
    also prints the terminal's output and the model's text as it streams)."""

    def __init__(self, *, json_lines: bool) -> None:
        self._json = json_lines
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if self._json:
            line = event.model_dump_json()
        elif isinstance(event, TerminalOutput | ModelText):
            return
        else:
            line = event_line(event)
            if line is None:
                return
        with self._lock:
            print(line, flush=True)
