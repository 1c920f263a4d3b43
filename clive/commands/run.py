"""``clive [OPTIONS] "task"``: run a task as a recorded session."""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from clive.agent.approval import ApprovalPolicy
from clive.agent.loop import AgentSettings
from clive.agent.task import run_task
from clive.commands._detach import DETACHED, VIEWED, announcer, detach, start_in_background
from clive.commands._print import EventLines
from clive.commands._view import watch
from clive.config import Config
from clive.link import Hub, SessionViews
from clive.models import Model, ModelChoiceError, open_model
from clive.sandbox import Choice, Sandbox, SandboxError, choose, shell_sandbox
from clive.session.events import Event, ModelText, Outcome, TerminalOutput
from clive.session.redact import REDACTED
from clive.terminal import TerminalError

ROOM_WAIT = 5.0  # seconds a session waits for its view's room before its shell starts

# The exit status says how the session ended.
EXIT_STATUS = {
    Outcome.FINISHED: 0,
    Outcome.ERROR: 1,
    Outcome.STEP_LIMIT: 3,
    Outcome.TIME_LIMIT: 3,
    Outcome.COST_LIMIT: 3,
    Outcome.TOKEN_LIMIT: 3,
    Outcome.EXPERIMENT_LIMIT: 3,  # the task file's experiments, or failures in a row
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
    choice = sandbox_choice(args, "clive")
    if isinstance(choice, int):
        return choice
    model = prepare(args, model)
    if isinstance(model, int):
        return model
    sessions_dir = Path(args.sessions_dir).resolve()
    try:
        sandbox = shell_sandbox_for(args.config, cwd, sessions_dir) if choice.enabled else None
    except SandboxError as error:
        print(f"clive: {error}", file=sys.stderr)
        return 2
    if not choice.enabled and args.config.sandbox == "auto":
        print(f"clive: {choice.note}", file=sys.stderr)
    recorded = recorded_settings(args.config, choice.enabled)
    start = task_starter(args, model, task, cwd, sessions_dir, sandbox=sandbox, recorded=recorded)
    return run_and_report(
        args, start, model.name, (args.cols, args.rows), agent_settings(args.config)
    )


def sandbox_choice(args: argparse.Namespace, prog: str) -> Choice | int:
    """Whether the model's shell runs sandboxed (``--sandbox``), or an exit status after
    saying why it cannot be."""
    try:
        return choose(args.config.sandbox)
    except SandboxError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 2


def shell_sandbox_for(
    config: Config,
    worktree: Path,
    sessions_dir: Path,
    readonly: Sequence[Path] = (),
    hidden: Sequence[Path] = (),
) -> Sandbox:
    """The model's sandbox: ``worktree`` writable, every session (and ``hidden``) out of
    sight."""
    return shell_sandbox(
        worktree,
        sessions=[sessions_dir, *hidden],
        readonly=readonly,
        network=config.network == "on",
    )


# The settings (Config's names) a session keeps for `clive resume`, besides its budgets and
# limits (AgentSettings), its approval mode and whether its shell was sandboxed.
RECORDED = ("base_url", "max_output_tokens", "thinking", "prompts", "network")
# A query parameter of an API's address that holds a credential.
_CREDENTIAL_PARAMETER = re.compile(r"key|token|secret|password|sig|auth", re.IGNORECASE)


def recorded_settings(config: Config, sandboxed: bool) -> dict[str, Any]:
    """What a session keeps of ``config`` in session.json's settings so that ``clive resume
    SESSION`` goes on as it ran: the model's address and limits, the prompts, the sandbox.
    Keys stay in the environment: in an address that carries one it is replaced."""
    kept = {name: getattr(config, name) for name in RECORDED}
    kept["base_url"] = without_credentials(config.base_url)
    kept["prompts"] = str(config.prompts.resolve()) if config.prompts else None
    return {**kept, "sandbox": "on" if sandboxed else "off"}


def without_credentials(url: str | None) -> str | None:
    """``url`` with a password and the values of query parameters named like a key
    replaced by ``[REDACTED]``."""
    if not url:
        return url
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = f"{parts.username}:{REDACTED}@{netloc.rpartition('@')[2]}"
    query = "&".join(map(_without_credential, parts.query.split("&"))) if parts.query else ""
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _without_credential(parameter: str) -> str:
    name, _, value = parameter.partition("=")
    return f"{name}={REDACTED}" if value and _CREDENTIAL_PARAMETER.search(name) else parameter


def task_starter(
    args: argparse.Namespace, model: Model, task: str, cwd: Path, sessions_dir: Path, **extra
):
    """``start(on_event, control=, approver=, on_start=, on_measure=)`` for
    ``run_and_report``: a new session of ``task`` with the settings of ``args`` (``extra``
    goes to ``run_task``)."""
    config: Config = args.config

    def start(
        on_event, *, control=None, approver=None, on_start=None, on_measure=None, on_open=None
    ):
        return run_task(
            task,
            model,
            sessions_dir=sessions_dir,
            cwd=cwd,
            settings=agent_settings(config),
            cols=args.cols,
            rows=args.rows,
            user_rc=not args.no_user_rc,
            prompts_dir=config.prompts,
            approval=ApprovalPolicy(config.approve, config.risky, approver),
            control=control,
            on_event=on_event,
            on_start=on_start,
            on_measure=on_measure,
            on_open=on_open,
            **extra,
        )

    return start


def prepare(args: argparse.Namespace, model: Model | None) -> Model | int:
    """The model the settings ask for, or an exit status after saying what is wrong."""
    config: Config = args.config
    if config.approve == "always" and not (use_ui(args) or os.environ.get(VIEWED)):
        print(
            "clive: --approve always needs someone to approve each command, and this run "
            "has no UI (--headless, --json, or no terminal): use --approve risky or never",
            file=sys.stderr,
        )
        return 2
    try:
        ApprovalPolicy(config.approve, config.risky)
    except ValueError as error:
        print(f"clive: {error}", file=sys.stderr)
        return 2
    if model is None:
        try:
            model = open_model(config)
        except ModelChoiceError as error:
            print(f"clive: {error}", file=sys.stderr)
            return 2
    return model


def use_ui(args: argparse.Namespace) -> bool:
    """The live UI, unless told otherwise or not in a terminal."""
    return not (args.headless or args.json) and sys.stdin.isatty() and sys.stdout.isatty()


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


def run_and_report(
    args: argparse.Namespace,
    start,
    model_name: str,
    size: tuple[int, int],
    budgets: AgentSettings,
    history: Sequence[Event] = (),
) -> int:
    """Run a session (``start(on_event, control=, approver=, on_start=, on_measure=,
    on_open=)``) and exit as it ended. With a terminal, the session runs in a process of its
    own and this one watches it (the view may detach: the session goes on); with
    ``--detach``, in the background without a view; headless, here, printing its events.
    Whichever way, views may attach to it (``clive attach``) while it runs. ``history``: the
    events of a session resumed, for the views."""
    if not os.environ.get(DETACHED):
        if getattr(args, "detach", False):
            return detach(args.argv, Path(args.sessions_dir))
        if use_ui(args):
            started = start_in_background(args.argv, Path(args.sessions_dir), viewed=True)
            if isinstance(started, int):
                return started
            return watch(Path(started[0]))
    viewed = bool(os.environ.get(VIEWED))
    hub = Hub(
        model=model_name,
        cols=size[0],
        rows=size[1],
        budgets=budgets,
        follow=getattr(args, "follow_size", False),
        room_wait=ROOM_WAIT if viewed else 0.0,
        history=history,
    )
    printer = _Printer(json_lines=args.json)
    views = SessionViews(
        hub,
        lambda error: print(f"clive: no view can attach to this session: {error}", file=sys.stderr),
        announcer(),
    )

    def on_event(event: Event) -> None:
        printer(event)
        hub.on_event(event)

    signal.signal(signal.SIGTERM, _stop)
    failure = None
    try:
        writer, ended = start(
            on_event,
            control=hub.control,
            approver=hub.approver if viewed else None,
            on_start=hub.on_start,
            on_measure=hub.on_measure,
            on_open=views.on_open,
        )
    except (TerminalError, OSError) as error:
        failure = str(error)
        print(f"clive: {error}", file=sys.stderr)
        return 1
    except BaseException as error:
        failure = repr(error)
        raise
    finally:
        views.close(failure)
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
        self._lines = EventLines()
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if not self._json and isinstance(event, TerminalOutput | ModelText):
            return
        with self._lock:  # the lines of one event together, and events in their order
            lines = [event.model_dump_json()] if self._json else self._lines.add(event)
            for line in lines:
                print(line, flush=True)
