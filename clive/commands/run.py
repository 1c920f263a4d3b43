"""``clive [OPTIONS] "task"``: run a task as a recorded session."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from clive.agent.loop import AgentSettings
from clive.agent.task import run_task
from clive.commands._print import event_line
from clive.models import ModelChoiceError, open_model
from clive.session.events import Event, Outcome, TerminalOutput
from clive.terminal import TerminalError

# The exit status says how the session ended.
EXIT_STATUS = {
    Outcome.FINISHED: 0,
    Outcome.ERROR: 1,
    Outcome.STEP_LIMIT: 3,
    Outcome.TIME_LIMIT: 3,
    Outcome.INVALID_TOOL_CALLS: 4,
    Outcome.MODEL_ERROR: 5,
    Outcome.SHELL_EXITED: 6,
    Outcome.QUIT: 130,
}


def run(args: argparse.Namespace, task: str | None = None, model=None) -> int:
    task = task if task is not None else args.task
    if not task or not task.strip():
        print('clive: the task is empty; say what to do: clive "run the tests"', file=sys.stderr)
        return 2
    cwd = Path(args.cwd).resolve()
    if not cwd.is_dir():
        print(f"clive: --cwd {args.cwd}: not a directory", file=sys.stderr)
        return 2
    if model is None:
        try:
            model = open_model(args.model)
        except ModelChoiceError as error:
            print(f"clive: {error}", file=sys.stderr)
            return 2
    settings = AgentSettings(
        max_steps=args.max_steps, max_time=args.max_time, max_invalid_calls=args.max_invalid_calls
    )
    printer = _Printer(json_lines=args.json)
    # `kill PID` ends the session cleanly, as Ctrl-C does: recorded as quit, shell closed.
    signal.signal(signal.SIGTERM, _stop)
    try:
        writer, ended = run_task(
            task,
            model,
            sessions_dir=Path(args.sessions_dir),
            cwd=cwd,
            settings=settings,
            cols=args.cols,
            rows=args.rows,
            user_rc=not args.no_user_rc,
            on_event=printer,
        )
    except (TerminalError, OSError) as error:
        print(f"clive: {error}", file=sys.stderr)
        return 1
    print(f"session: {writer.directory}", file=sys.stderr)
    return EXIT_STATUS.get(ended.outcome, 1)


def _stop(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


class _Printer:
    """Prints each event as it is recorded: a readable line, or JSON with ``--json``."""

    def __init__(self, *, json_lines: bool) -> None:
        self._json = json_lines
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if self._json:
            line = event.model_dump_json()
        elif isinstance(event, TerminalOutput):
            return
        else:
            line = event_line(event)
            if line is None:
                return
        with self._lock:
            print(line, flush=True)
