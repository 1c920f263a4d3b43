"""``clive resume SESSION``: continue an interrupted or paused session where it stopped."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError

from clive.agent.approval import ApprovalPolicy
from clive.agent.loop import AgentSettings
from clive.agent.task import resume_task
from clive.commands.experiments import runner_factory
from clive.commands.run import (
    RECORDED,
    agent_settings,
    prepare,
    recorded_settings,
    run_and_report,
    sandbox_choice,
    shell_sandbox_for,
)
from clive.config import Config
from clive.experiments.runner import HARNESS_DIR, TASK_COPY
from clive.experiments.task_file import TaskFileError, parse_task, with_holdout
from clive.sandbox import SandboxError
from clive.session import Session, SessionNotFound, find_session
from clive.session.redact import REDACTED


def resume(args: argparse.Namespace) -> int:
    try:
        session = find_session(args.session, Path(args.sessions_dir))
    except SessionNotFound as error:
        print(f"clive resume: {error}", file=sys.stderr)
        return 2
    grounding = session.info.settings
    try:
        args.config = _as_recorded(args, session)
    except ValueError as error:
        print(f"clive resume: {error}", file=sys.stderr)
        return 2
    choice = sandbox_choice(args, "clive resume")
    if isinstance(choice, int):
        return choice
    model = prepare(args, None)
    if isinstance(model, int):
        return model
    config = args.config
    sessions_dir = Path(args.sessions_dir).resolve()
    experiments, worktree, readonly, hidden = None, Path(session.info.cwd), [], []
    if "task_file" in grounding:
        try:
            experiments, hidden = _experiments(session, grounding, choice.enabled, sessions_dir)
        except (OSError, TaskFileError) as error:
            print(f"clive resume: cannot go on with the experiments: {error}", file=sys.stderr)
            return 2
        worktree, readonly = Path(grounding["root"]), [Path(grounding["root"]) / ".git"]
    sandbox = None
    if choice.enabled:
        try:
            sandbox = shell_sandbox_for(
                config, worktree, sessions_dir, readonly=readonly, hidden=hidden
            )
        except SandboxError as error:
            print(f"clive resume: {error}", file=sys.stderr)
            return 2
    print(f"clive resume: {session.name}, from step {session.info.totals.steps}", file=sys.stderr)
    settings = agent_settings(config)

    def start(
        on_event, *, control=None, approver=None, on_start=None, on_measure=None, on_open=None
    ):
        return resume_task(
            session,
            model,
            settings=settings,
            user_rc=not args.no_user_rc,
            prompts_dir=config.prompts,
            approval=ApprovalPolicy(config.approve, config.risky, approver),
            control=control,
            experiments=experiments,
            sandbox=sandbox,
            recorded=recorded_settings(config, choice.enabled),
            on_event=on_event,
            on_start=on_start,
            on_measure=on_measure,
            on_open=on_open,
        )

    try:
        size = (session.info.cols, session.info.rows)
        return run_and_report(args, start, model.name, size, settings, history=session.log().events)
    except ValueError as error:
        print(f"clive resume: {error}", file=sys.stderr)
        return 2


def _as_recorded(args: argparse.Namespace, session: Session) -> Config:
    """The settings of ``args`` with the session's own (its model, budgets, approval mode,
    the model's address and limits) where no flag was given; raises ``ValueError`` when they
    cannot be had."""
    recorded = session.info.settings
    resumed = ("approve", *RECORDED, *AgentSettings.model_fields)
    kept = {
        name: recorded[name]
        for name in resumed
        if name in recorded and name in Config.model_fields and getattr(args, name, None) is None
    }
    if args.model is None:
        kept["model"] = session.info.model
    if args.sandbox is None and recorded.get("sandbox") == "on":
        kept["sandbox"] = "on"  # a session that ran sandboxed goes on sandboxed, or not at all
    if REDACTED in (kept.get("base_url") or ""):
        raise ValueError(
            f"{session.name}'s server address held a credential, which a session does not "
            "keep: give the address again with --base-url"
        )
    try:
        return Config.model_validate({**args.config.model_dump(), **kept})
    except ValidationError as error:
        wrong = "; ".join(
            f"{'.'.join(map(str, problem['loc']))}: {problem['msg']}" for problem in error.errors()
        )
        message = f"{session.name}'s session.json has settings that are not valid: {wrong}"
        raise ValueError(message) from None


def _experiments(session: Session, grounding: dict, sandboxed: bool, sessions_dir: Path):
    """The runner's factory of a ``clive run`` session, from the task file as it was at the
    start (the harness's copy: the one in the tree is the model's to change), and what the
    model's shell must not see (the held-out metric's files)."""
    original = Path(grounding["task_file"])
    copy = session.directory / HARNESS_DIR / TASK_COPY
    task = with_holdout(parse_task(copy.read_text(encoding="utf-8"), original))
    factory = runner_factory(task, Path(grounding["root"]), sandboxed, sessions_dir)
    return factory, task.hidden  # what the model's shell must not see
