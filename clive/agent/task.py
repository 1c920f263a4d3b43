"""Running a task as a recorded session (a session directory, a terminal, the agent), and
resuming one that stopped."""

from __future__ import annotations

import datetime
import importlib.metadata
import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clive import __version__
from clive.agent.approval import ApprovalPolicy
from clive.agent.control import AgentControl
from clive.agent.loop import Agent, AgentSettings, Resumption
from clive.agent.prompts import Prompts, load_prompts
from clive.experiments.fleet import MeasuringStopped
from clive.experiments.git import GitError
from clive.experiments.runner import ExperimentError, ExperimentRunner
from clive.models.base import Model
from clive.sandbox import Sandbox
from clive.session.asciicast import last_time
from clive.session.events import (
    ContextCompacted,
    Event,
    Note,
    Observation,
    Outcome,
    SessionEnded,
    SessionStarted,
)
from clive.session.info import OUTPUTS_DIR, SessionInfo
from clive.session.reader import Session, totals_from_events
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
    approval: ApprovalPolicy | None = None,
    control: AgentControl | None = None,
    experiments: ExperimentsFactory | None = None,
    sandbox: Sandbox | None = None,
    recorded: dict[str, Any] | None = None,
    on_event: Callable[[Event], None] | None = None,
    on_start: Callable[[SessionWriter, Terminal], None] | None = None,
    on_measure: Callable[[Terminal | None], None] | None = None,
    on_open: Callable[[SessionWriter], None] | None = None,
) -> tuple[SessionWriter, SessionEnded]:
    """Run ``task`` in a fresh shell in ``cwd`` (in ``sandbox`` if given), recorded under
    ``sessions_dir``. ``experiments(writer, terminal, control, on_measure)`` makes the runner
    of a task with a metric: its baseline is measured before the model's first step, and the
    model gets the tool. ``recorded`` (the model's address and limits, the sandbox, the task
    file) goes into the session's settings with ``settings`` and the approval mode, for
    resume and for whoever checks the session: never a key."""
    settings = settings or AgentSettings()
    prompts = load_prompts(prompts_dir)
    started_at = datetime.datetime.now().astimezone().isoformat()
    info = SessionInfo(
        id="",
        task=task,
        model=model.name,
        models=[model.name],
        scripted=model.scripted,
        cwd=str(cwd),
        cols=cols,
        rows=rows,
        started_at=started_at,
        settings=_settings_kept(settings, approval, recorded),
        versions=_versions(),
    )
    writer = SessionWriter.create(sessions_dir, info)
    _listen(writer, on_event)
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
    return writer, _drive(
        writer, task, model, prompts, settings, cwd, user_rc, approval, None, control,
        _Hooks(on_start, on_measure, on_open), experiments, sandbox,
    )  # fmt: skip


def resume_task(
    session: Session,
    model: Model,
    *,
    settings: AgentSettings | None = None,
    user_rc: bool = True,
    prompts_dir: Path | None = None,
    approval: ApprovalPolicy | None = None,
    control: AgentControl | None = None,
    experiments: ExperimentsFactory | None = None,
    sandbox: Sandbox | None = None,
    recorded: dict[str, Any] | None = None,
    on_event: Callable[[Event], None] | None = None,
    on_start: Callable[[SessionWriter, Terminal], None] | None = None,
    on_measure: Callable[[Terminal | None], None] | None = None,
    on_open: Callable[[SessionWriter], None] | None = None,
) -> tuple[SessionWriter, SessionEnded]:
    """Go on with ``session`` (interrupted or paused) in its own directory: a fresh shell in
    the directory it was last in (in ``sandbox`` if given), a fresh context from its task,
    notes and where it stopped; a task with a metric goes on with its best so far, and a
    measurement cut off is measured again. ``session.json`` then names ``model`` (the earlier
    ones stay in its ``models``) and the settings now in use (``recorded`` as in
    ``run_task``). Raises ``ValueError`` when the session cannot be resumed."""
    info = session.info
    if info.outcome in (Outcome.RUNNING, Outcome.FINISHED):
        why = "is still running" if info.outcome is Outcome.RUNNING else "finished"
        raise ValueError(f"{session.name} {why}: there is nothing to resume")
    settings = settings or AgentSettings()
    prompts = load_prompts(prompts_dir)
    events = session.log().events
    totals = totals_from_events(events, info.totals)
    stopped_at = max(
        (events[-1].t if events else 0.0),
        last_time(session.cast_path) if session.cast_path.exists() else 0.0,
    )
    cwds = [e.cwd for e in events if isinstance(e, Observation) and e.cwd]
    cwd = next((Path(c) for c in reversed(cwds) if Path(c).is_dir()), Path(info.cwd))
    if not cwd.is_dir():
        raise ValueError(f"{session.name} worked in {cwd}, which no longer exists")
    why = f" ({info.reason})" if info.reason else ""
    situation = (
        f"This session stopped after step {totals.steps}: {info.outcome.value}{why}. It is "
        f"resumed now in a fresh shell in {cwd}: whatever ran in the old shell is gone, and "
        "the files on disk are as it left them. Check where things stand before going on."
    )
    models = info.models or [info.model]
    if model.name != models[-1]:
        models = [*models, model.name]
    going_on = info.model_copy(
        update={
            "model": model.name,
            "models": models,
            "settings": {**info.settings, **_settings_kept(settings, approval, recorded)},
        }
    )
    switched = f", now with {model.name} (was {info.model})" if model.name != info.model else ""
    writer = SessionWriter.reopen(
        session.directory, stopped_at, f"in a fresh shell in {cwd}{switched}", info=going_on
    )
    _listen(writer, on_event)
    if on_event is not None:
        on_event(writer.resumed)  # written before anyone could listen
    resumption = Resumption(totals, situation, _notes_of(events))
    return writer, _drive(
        writer, info.task, model, prompts, settings, cwd, user_rc, approval, resumption, control,
        _Hooks(on_start, on_measure, on_open), experiments, sandbox, events,
    )  # fmt: skip


# (writer, terminal, control, on_measure) -> the runner of a task's experiments
ExperimentsFactory = Callable[
    [SessionWriter, Terminal, AgentControl, Callable[[Terminal | None], None] | None],
    ExperimentRunner,
]


@dataclass(frozen=True)
class _Hooks:
    """Where a view attaches: the session's directory before the shell starts (a view may
    still ask for the shell's size), the shell once it runs, the measurement while it runs."""

    on_start: Callable[[SessionWriter, Terminal], None] | None = None
    on_measure: Callable[[Terminal | None], None] | None = None
    on_open: Callable[[SessionWriter], None] | None = None


def _listen(writer: SessionWriter, on_event) -> None:
    if on_event is not None:
        writer.subscribe(on_event)


def _drive(
    writer: SessionWriter,
    task: str,
    model: Model,
    prompts: Prompts,
    settings: AgentSettings,
    cwd: Path,
    user_rc: bool,
    approval: ApprovalPolicy | None,
    resumption: Resumption | None,
    control: AgentControl | None,
    hooks: _Hooks,
    experiments: ExperimentsFactory | None = None,
    sandbox: Sandbox | None = None,
    history: list[Event] | None = None,
) -> SessionEnded:
    """The terminal and the agent, from start to end; everything closed whatever happens.
    ``hooks.on_start(writer, terminal)`` is called once the shell runs (a UI attaches
    there). ``history``: the events of a resumed session."""
    if hooks.on_open is not None:
        try:
            hooks.on_open(writer)
        except BaseException:
            writer.close()
            raise
    info = writer.info
    terminal = Terminal(
        info.cols,
        info.rows,
        cwd=cwd,
        user_rc=user_rc,
        output_dir=writer.directory / OUTPUTS_DIR,
        save_filter=writer.redactor.redact,
        launcher=sandbox,
    )
    control = control or AgentControl()
    runner = None
    if experiments is not None:
        runner = experiments(writer, terminal, control, hooks.on_measure)
    agent = Agent(
        terminal,
        model,
        writer,
        prompts,
        settings,
        approval=approval,
        resumption=resumption,
        control=control,
        experiments=runner,
    )
    try:
        terminal.start()
        if hooks.on_start is not None:
            hooks.on_start(writer, terminal)
        if runner is not None:
            try:
                if history is None:
                    runner.baseline()
                else:
                    runner.resume(history)
            except (ExperimentError, GitError, OSError, MeasuringStopped) as error:
                ended = SessionEnded(
                    outcome=Outcome.ERROR, reason=f"no baseline could be measured: {error}"
                )
                writer.close(ended)
                return ended
        return agent.run(task)
    finally:
        terminal.close()
        writer.close()


def _settings_kept(
    settings: AgentSettings, approval: ApprovalPolicy | None, recorded: dict[str, Any] | None
) -> dict[str, Any]:
    """The settings session.json keeps: budgets and limits, approval, and ``recorded``."""
    return {
        **settings.model_dump(),
        "approve": approval.mode if approval else "never",
        **(recorded or {}),
    }


def _notes_of(events: list[Event]) -> list[str]:
    """The notes a fresh context carries: the last compaction's and those written after."""
    notes: list[str] = []
    for event in events:
        if isinstance(event, ContextCompacted):
            notes = [event.notes]
        elif isinstance(event, Note):
            notes.append(event.text)
    return notes


def _versions() -> dict[str, str]:
    versions = {"clive": __version__, "python": platform.python_version()}
    for package in ("pyte", "pexpect", "pydantic"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions
