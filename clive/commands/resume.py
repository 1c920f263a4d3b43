"""``clive resume SESSION``: continue an interrupted or paused session where it stopped."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from clive.agent.approval import ApprovalPolicy
from clive.agent.loop import AgentSettings
from clive.agent.task import resume_task
from clive.commands.experiments import runner_factory
from clive.commands.run import (
    agent_settings,
    prepare,
    run_and_report,
    sandbox_choice,
    shell_sandbox_for,
)
from clive.experiments.runner import HARNESS_DIR, TASK_COPY
from clive.experiments.task_file import TaskFileError, parse_task
from clive.sandbox import SandboxError
from clive.session import Session, SessionNotFound, find_session


def resume(args: argparse.Namespace) -> int:
    try:
        session = find_session(args.session, Path(args.sessions_dir))
    except SessionNotFound as error:
        print(f"clive resume: {error}", file=sys.stderr)
        return 2
    # The session's own model and approval mode, unless a flag says otherwise.
    own = {"model": session.info.model, "approve": session.info.settings.get("approve")}
    args.config = args.config.model_copy(
        update={name: value for name, value in own.items() if value and getattr(args, name) is None}
    )
    grounding = session.info.settings
    if args.sandbox is None and grounding.get("sandbox") == "on":
        # A session that ran sandboxed goes on sandboxed, or not at all.
        args.config = args.config.model_copy(update={"sandbox": "on"})
    choice = sandbox_choice(args, "clive resume")
    if isinstance(choice, int):
        return choice
    model = prepare(args, None)
    if isinstance(model, int):
        return model
    config = args.config
    sessions_dir = Path(args.sessions_dir).resolve()
    experiments, worktree, readonly = None, Path(session.info.cwd), []
    if "task_file" in grounding:
        try:
            experiments = _experiments(session, grounding, choice.enabled, sessions_dir)
        except (OSError, TaskFileError) as error:
            print(f"clive resume: cannot go on with the experiments: {error}", file=sys.stderr)
            return 2
        worktree, readonly = Path(grounding["root"]), [Path(grounding["root"]) / ".git"]
    sandbox = None
    if choice.enabled:
        try:
            sandbox = shell_sandbox_for(config, worktree, sessions_dir, readonly=readonly)
        except SandboxError as error:
            print(f"clive resume: {error}", file=sys.stderr)
            return 2
    print(f"clive resume: {session.name}, from step {session.info.totals.steps}", file=sys.stderr)
    # The session's budgets go on, unless a flag says otherwise.
    flagged = {name for name in AgentSettings.model_fields if getattr(args, name, None) is not None}
    kept = {
        name: value
        for name, value in session.info.settings.items()
        if name in AgentSettings.model_fields and name not in flagged
    }
    settings = agent_settings(config).model_copy(update=kept)

    def start(on_event, *, control=None, approver=None, on_start=None, on_measure=None):
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
            on_event=on_event,
            on_start=on_start,
            on_measure=on_measure,
        )

    try:
        size = (session.info.cols, session.info.rows)
        return run_and_report(args, start, model.name, size, settings)
    except ValueError as error:
        print(f"clive resume: {error}", file=sys.stderr)
        return 2


def _experiments(session: Session, grounding: dict, sandboxed: bool, sessions_dir: Path):
    """The runner's factory of a ``clive run`` session, from the task file as it was at the
    start (the harness's copy: the one in the tree is the model's to change)."""
    original = Path(grounding["task_file"])
    copy = session.directory / HARNESS_DIR / TASK_COPY
    task = parse_task(copy.read_text(encoding="utf-8"), original)
    return runner_factory(task, Path(grounding["root"]), sandboxed, sessions_dir)
