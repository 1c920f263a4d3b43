"""``clive verify SESSION``: measure a ``clive run`` session's kept tree again and compare.

The grounding check a reader can run the next morning: the best commit (or experiment N) is
taken from the harness's repository in the session, measured exactly as the session measured
it (its task file as it was at the start, its sandbox, its data), and the number is compared
with the one recorded. Nothing in the session is written.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from clive.experiments.git import GitError
from clive.experiments.harness_repo import BEST_REF, HarnessRepo
from clive.experiments.measure import MetricRun
from clive.experiments.runner import HARNESS_DIR, TASK_COPY, ExperimentError, ExperimentRunner
from clive.experiments.task_file import TaskFile, TaskFileError, parse_task
from clive.sandbox import SandboxError, choose
from clive.session import Redactor, Session, SessionNotFound, SessionWriter, find_session
from clive.session.events import ExperimentResult
from clive.terminal import TerminalError


def verify(args: argparse.Namespace) -> int:
    """Measure the kept tree (or experiment N) again; 0 when it agrees with the record."""
    try:
        session = find_session(args.session, Path(args.sessions_dir))
    except SessionNotFound as error:
        print(f"clive verify: {error}", file=sys.stderr)
        return 2
    grounding = session.info.settings
    harness = session.directory / HARNESS_DIR
    if "task_file" not in grounding or not (harness / "repo.git").is_dir():
        print(
            f"clive verify: {session.name} is not a `clive run` session with a harness "
            "repository: there is nothing measured to verify",
            file=sys.stderr,
        )
        return 2
    try:
        task = parse_task((harness / TASK_COPY).read_text(encoding="utf-8"), grounding["task_file"])
        recorded = _recorded(session, HarnessRepo(harness / "repo.git"), args.experiment)
        # Sandboxed where it can be: the kept tree is the model's code. A session that ran
        # sandboxed is checked sandboxed or not at all.
        mode = args.sandbox or ("on" if grounding.get("sandbox") == "on" else "auto")
        sandboxed = choose(mode).enabled
    except (OSError, TaskFileError, GitError, SandboxError, LookupError) as error:
        print(f"clive verify: {error}", file=sys.stderr)
        return 2
    where = "in a sandbox" if sandboxed else "without a sandbox"
    print(
        f"clive verify: measuring experiment {recorded.experiment} ({recorded.commit[:7]}) "
        f"again {where}: {task.metric.command}",
        file=sys.stderr,
    )
    try:
        runs = _measure_again(session, task, recorded, sandboxed, Path(args.sessions_dir))
    except (ExperimentError, GitError, TerminalError, OSError) as error:
        print(f"clive verify: the measurement did not run: {error}", file=sys.stderr)
        return 1
    return _compare(recorded, runs, args.tolerance)


def _recorded(session: Session, repo: HarnessRepo, number: int | None) -> ExperimentResult:
    """The result to check: experiment ``number``, or the best's last measurement."""
    results = [e for e in session.log().events if isinstance(e, ExperimentResult)]
    if number is not None:
        found = [r for r in results if r.experiment == number]
        if not found:
            raise LookupError(f"{session.name} has no experiment {number}")
        if found[-1].metric is None:
            raise LookupError(
                f"experiment {number} was {found[-1].status.value}: it has no number to verify"
            )
        return found[-1]
    best = repo.ref(BEST_REF)
    kept = [r for r in results if r.commit == best and r.metric is not None]
    if not kept:
        raise LookupError(f"{session.name} has no measured best to verify")
    return kept[-1]


def _measure_again(
    session: Session,
    task: TaskFile,
    recorded: ExperimentResult,
    sandboxed: bool,
    sessions_dir: Path,
) -> list[MetricRun]:
    grounding = session.info.settings
    with tempfile.TemporaryDirectory(prefix="clive-verify-") as scratch:
        info = session.info.model_copy(update={"id": "verify"})
        writer = SessionWriter(
            Path(scratch) / "verify", info, background_flush=False, redactor=Redactor()
        )
        try:
            runner = ExperimentRunner(
                writer,
                task,
                sandboxed=sandboxed,
                root=Path(grounding["root"]),
                hidden=[sessions_dir.resolve(), session.directory],
                harness=session.directory / HARNESS_DIR,
                scratch=Path(scratch),
            )
            return runner.remeasure(recorded.commit, recorded.experiment)
        finally:
            writer.close()


def _compare(recorded: ExperimentResult, runs: list[MetricRun], tolerance: float | None) -> int:
    failed = next((run for run in runs if not run.ok), None)
    if failed is not None:
        print(f"NOT VERIFIED: the measurement failed: {failed.failure}")
        if failed.tail():
            print(failed.tail())
        return 1
    values = [run.value for run in runs]
    measured = statistics.median(values)
    if tolerance is None:  # the noise the session saw, and this run's
        spread = [*recorded.values, *values]
        tolerance = max(spread) - min(spread) if len(spread) > 2 else 0.0
    difference = abs(measured - recorded.metric)
    line = (
        f"recorded {recorded.metric:.10g}, measured now {measured:.10g} "
        f"(difference {difference:.3g}, tolerance {tolerance:.3g})"
    )
    if difference <= tolerance:
        print(f"VERIFIED: {line}")
        return 0
    print(f"NOT VERIFIED: {line}")
    return 1
