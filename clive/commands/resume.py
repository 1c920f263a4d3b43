"""``clive resume SESSION``: continue an interrupted or paused session where it stopped."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from clive.agent.approval import ApprovalPolicy
from clive.agent.loop import AgentSettings
from clive.agent.task import resume_task
from clive.commands.run import agent_settings, prepare, run_and_report
from clive.session import SessionNotFound, find_session


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
    model = prepare(args, None)
    if isinstance(model, int):
        return model
    config = args.config
    print(f"clive resume: {session.name}, from step {session.info.totals.steps}", file=sys.stderr)
    # The session's budgets go on, unless a flag says otherwise.
    flagged = {name for name in AgentSettings.model_fields if getattr(args, name, None) is not None}
    kept = {
        name: value
        for name, value in session.info.settings.items()
        if name in AgentSettings.model_fields and name not in flagged
    }
    settings = agent_settings(config).model_copy(update=kept)

    def start(on_event, *, control=None, approver=None, on_start=None):
        return resume_task(
            session,
            model,
            settings=settings,
            user_rc=not args.no_user_rc,
            prompts_dir=config.prompts,
            approval=ApprovalPolicy(config.approve, config.risky, approver),
            control=control,
            on_event=on_event,
            on_start=on_start,
        )

    try:
        size = (session.info.cols, session.info.rows)
        return run_and_report(args, start, model.name, size, settings)
    except ValueError as error:
        print(f"clive resume: {error}", file=sys.stderr)
        return 2
