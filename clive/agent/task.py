"""Running one task as a recorded session: a session directory, a terminal, the agent."""

from __future__ import annotations

import datetime
import importlib.metadata
import platform
from collections.abc import Callable
from pathlib import Path

from clive import __version__
from clive.agent.loop import Agent, AgentSettings
from clive.agent.prompts import load_prompts
from clive.models.base import Model
from clive.session.events import Event, SessionEnded, SessionStarted
from clive.session.info import OUTPUTS_DIR, SessionInfo
from clive.session.writer import SessionWriter
from clive.terminal import Terminal


def run_task(
    task: str,
    model: Model,
    *,
    sessions_dir: Path,
    cwd: Path,
    settings: AgentSettings | None = None,
    cols: int = 120,
    rows: int = 40,
    user_rc: bool = True,
    prompts_dir: Path | None = None,
    on_event: Callable[[Event], None] | None = None,
    on_start: Callable[[SessionWriter], None] | None = None,
) -> tuple[SessionWriter, SessionEnded]:
    """Run ``task`` in a fresh shell in ``cwd``, recorded under ``sessions_dir``."""
    settings = settings or AgentSettings()
    prompts = load_prompts(prompts_dir)
    started_at = datetime.datetime.now().astimezone().isoformat()
    info = SessionInfo(
        id="",
        task=task,
        model=model.name,
        scripted=model.scripted,
        cwd=str(cwd),
        cols=cols,
        rows=rows,
        started_at=started_at,
        settings=settings.model_dump(),
        versions=_versions(),
    )
    writer = SessionWriter.create(sessions_dir, info)
    if on_event is not None:
        writer.subscribe(on_event)
    if on_start is not None:
        on_start(writer)
    writer.append(
        SessionStarted(
            session_id=writer.info.id,
            task=task,
            model=model.name,
            cwd=str(cwd),
            cols=cols,
            rows=rows,
            settings=info.settings,
            versions=info.versions,
            started_at=started_at,
        )
    )
    terminal = Terminal(
        cols, rows, cwd=cwd, user_rc=user_rc, output_dir=writer.directory / OUTPUTS_DIR
    )
    agent = Agent(terminal, model, writer, prompts, settings)
    try:
        terminal.start()
        ended = agent.run(task)
    finally:
        terminal.close()
        writer.close()
    return writer, ended


def _versions() -> dict[str, str]:
    versions = {"clive": __version__, "python": platform.python_version()}
    for package in ("pyte", "pexpect", "pydantic"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions
