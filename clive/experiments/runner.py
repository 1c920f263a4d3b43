"""The experiment loop's harness side: the model proposes a change, the harness measures it.

``ExperimentRunner`` commits the working tree, checks the protected files, runs the metric
command in the live terminal, and keeps the commit when it beats the best so far by more
than the noise of repeats, or resets to the best when it does not. Every experiment becomes an
``ExperimentResult`` event and a row of the session's ``results.tsv``. The model never
reports a number: it only says what it tried.

    runner = ExperimentRunner(terminal, writer, load_task("task.md"), GitRepo("."))
    runner.baseline()
    ok, text = runner.experiment("learning rate 0.2")   # what the model's tool call returns
"""

from __future__ import annotations

import hashlib
import os
import shlex
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from clive.experiments.git import GitError, GitRepo, short
from clive.experiments.measure import (
    DEFAULT_ALERTS,
    MetricRun,
    StopReason,
    compile_alerts,
    run_metric,
)
from clive.experiments.results import append_result
from clive.experiments.task_file import TaskFile
from clive.session.events import ExperimentResult, ExperimentStatus
from clive.session.info import RESULTS_FILE
from clive.session.writer import SessionWriter
from clive.terminal import ScreenState, Terminal, TerminalError

# What the metric's clean environment keeps of the harness's own.
_CLEAN_ENV = ("HOME", "PATH", "LANG", "LC_ALL", "TERM", "USER", "LOGNAME", "TMPDIR")
DEFAULT_STALL = None  # seconds without output before a metric run counts as stalled: off
_FAILURES = (ExperimentStatus.CRASH, ExperimentStatus.INVALID)


class ExperimentError(RuntimeError):
    """An experiment cannot run now (no baseline yet, a limit reached, nothing changed, the
    shell busy); the message says why and what to do."""


class ExperimentRunner:
    """Measures experiments on a task's git repository in a live terminal.

    ``alerts`` (regular expressions) and ``stall`` (seconds without output, None for no
    limit) stop a metric run early; ``stop`` is checked while it runs (a user quitting).
    """

    def __init__(
        self,
        terminal: Terminal,
        writer: SessionWriter,
        task: TaskFile,
        repo: GitRepo,
        *,
        alerts: Sequence[str] = DEFAULT_ALERTS,
        stall: float | None = DEFAULT_STALL,
        stop: Callable[[], bool] | None = None,
        keep_out: Sequence[Path] = (),
    ) -> None:
        directory = task.directory.resolve()
        if not directory.is_relative_to(repo.root):
            raise ExperimentError(
                f"the task's directory {directory} is not inside the repository {repo.root}"
            )
        self.terminal = terminal
        self.writer = writer
        self.task = task
        self.repo = repo
        self.results_path = writer.directory / RESULTS_FILE
        self.results: list[ExperimentResult] = []  # the baseline first
        self._alerts = compile_alerts(alerts)
        self._stall = stall
        self._stop = stop
        self._directory = directory
        self._checksums: dict[str, str] = {}
        self._best_commit: str | None = None
        self._best_values: list[float] = []
        self._failures_in_a_row = 0
        self._branch: str | None = None  # the branch experiments go on, from the baseline
        # Never committed, and no reason for a dirty tree: the session, and ``keep_out``
        # (the directory of all sessions, say).
        self._exclude = [writer.directory, *keep_out]

    # -- state ------------------------------------------------------------------------------

    @property
    def best_metric(self) -> float | None:
        """The best metric measured so far (the baseline's at first), None if none was."""
        return statistics.median(self._best_values) if self._best_values else None

    @property
    def best_commit(self) -> str | None:
        """The commit the working tree is reset to: the best so far, else the starting one."""
        return self._best_commit

    @property
    def experiments(self) -> int:
        """How many experiments were recorded, the baseline not counted."""
        return max(0, len(self.results) - 1)

    @property
    def limit_reached(self) -> str | None:
        """Why no more experiments may run (a limit of the task file), or None."""
        limits = self.task.limits
        if self.experiments >= limits.experiments:
            return f"the limit of {limits.experiments} experiments is reached"
        if self._failures_in_a_row >= limits.consecutive_failures:
            return f"{self._failures_in_a_row} experiments in a row failed (crash or invalid)"
        return None

    def summary(self) -> str:
        """The outcome in one line, for the session's end."""
        counts = {status: 0 for status in ExperimentStatus}
        for result in self.results[1:]:
            counts[result.status] += 1
        baseline = self.results[0].metric if self.results else None
        best = "no metric measured"
        if self.best_metric is not None:
            best = f"best metric {_number(self.best_metric)} at {short(self._best_commit or '')}"
        return (
            f"{best} (baseline {_number(baseline)}); {self.experiments} experiments: "
            f"{counts[ExperimentStatus.KEEP]} kept, {counts[ExperimentStatus.DISCARD]} "
            f"discarded, {counts[ExperimentStatus.CRASH]} crashed, "
            f"{counts[ExperimentStatus.INVALID]} invalid"
        )

    # -- the loop ---------------------------------------------------------------------------

    def baseline(self) -> ExperimentResult:
        """Measure the commit checked out, before any change; remember the protected files.

        The working tree must be clean (the session directory aside): a reset would lose what
        is not committed. A baseline that crashes is recorded; the first experiment that
        measures then becomes the best.
        """
        if self.results:
            raise ExperimentError("the baseline was already measured")
        self.repo.require_clean(exclude=self._exclude)
        # Whatever the model does with git, the session's own files stay out of it.
        self.repo.ignore_locally(self._exclude)
        self._require_prompt()
        self._checksums = self._protected_checksums()
        self._branch = self.repo.branch()
        commit = self.repo.head()
        self._best_commit = commit
        runs = self._measure()
        failed = runs[-1] if not runs[-1].ok else None
        if failed is None:
            self._best_values = [run.value for run in runs]
        return self._record(
            commit=commit,
            status=ExperimentStatus.CRASH if failed else ExperimentStatus.BASELINE,
            description="baseline",
            runs=runs,
            reason=failed.failure if failed else "the starting point",
        )

    def run(self, description: str) -> ExperimentResult:
        """Commit the working tree as an experiment, measure it, keep or reset it."""
        if not self.results:
            raise ExperimentError("measure the baseline first (baseline())")
        limit = self.limit_reached
        if limit:
            raise ExperimentError(f"no more experiments: {limit}")
        self._require_prompt()
        self._require_our_branch()
        number = len(self.results)
        commit = self.repo.commit_all(
            f"clive experiment {number}: {description}", exclude=self._exclude
        )
        if commit is None:
            commit = self.repo.head()  # the model may have committed its change itself
            if commit == self._best_commit:
                raise ExperimentError(
                    "nothing changed since the best commit "
                    f"{short(commit)}: change the code, then run an experiment"
                )

        changed = self._changed_protected()
        if changed:
            self._reset_to_best()
            still = self._changed_protected()
            reason = "protected files changed: " + ", ".join(changed)
            if still:
                reason += (
                    f"; the reset could not restore {', '.join(still)} (not tracked by git): "
                    "restore it before the next experiment"
                )
            return self._record(commit, ExperimentStatus.INVALID, description, [], reason)

        runs = self._measure()
        changed = self._changed_protected()
        if changed:  # while the metric ran: what measured it is not what was protected
            self._reset_to_best()
            reason = "protected files changed while the metric ran: " + ", ".join(changed)
            return self._record(commit, ExperimentStatus.INVALID, description, runs, reason)
        if not runs[-1].ok:
            self._reset_to_best()
            return self._record(commit, ExperimentStatus.CRASH, description, runs, runs[-1].failure)

        values = [run.value for run in runs]
        better, reason = self._compare(values)
        if better:
            self._best_commit, self._best_values = commit, values
            return self._record(commit, ExperimentStatus.KEEP, description, runs, reason)
        self._reset_to_best()
        return self._record(commit, ExperimentStatus.DISCARD, description, runs, reason)

    def experiment(self, description: str) -> tuple[bool, str]:
        """The ``experiment`` tool: run one and say what came of it, in words for the model.

        ``ok`` is True when the experiment was measured (kept or discarded), False when it
        crashed, was invalid, or could not run.
        """
        try:
            result = self.run(description)
        except (ExperimentError, GitError, TerminalError) as error:
            return False, f"The experiment did not run: {error}"
        ok = result.status in (ExperimentStatus.KEEP, ExperimentStatus.DISCARD)
        return ok, self.report(result)

    def report(self, result: ExperimentResult) -> str:
        """What the model reads about ``result``: the number, the decision, the best so far."""
        goal = "lower" if self.task.metric.lower_is_better else "higher"
        name = "The baseline" if result.experiment == 0 else f"Experiment {result.experiment}"
        commit = short(result.commit)
        status = result.status
        if status is ExperimentStatus.INVALID:
            head = f"{name} ({commit}) is invalid and was reverted: {result.reason}."
        elif status is ExperimentStatus.CRASH:
            head = f"{name} ({commit}) crashed: {result.reason}."
        else:
            measured = f"{name} ({commit}): metric {_number(result.metric)} ({goal} is better)"
            if len(result.values) > 1:
                measured += f", repeats {', '.join(_number(v) for v in result.values)}"
            if status is ExperimentStatus.BASELINE:
                head = f"{measured}."
            elif status is ExperimentStatus.KEEP:
                head = f"{measured}: kept ({result.reason})."
            else:
                head = f"{measured}: discarded ({result.reason}); the files were reset to the best."
        lines = [head]
        if result.best_metric is not None:
            lines.append(
                f"Best so far: {_number(result.best_metric)} at {short(result.best_commit)}."
            )
        else:
            lines.append(
                f"No metric measured yet; the working tree is at {short(result.best_commit)}."
            )
        if status is ExperimentStatus.CRASH and result.output_tail:
            lines.append("Last lines of output:\n" + result.output_tail)
        limit = self.limit_reached
        if limit:
            lines.append(f"No more experiments: {limit}. Finish now.")
        else:
            left = self.task.limits.experiments - self.experiments
            lines.append(f"{left} experiments left.")
        return "\n".join(lines)

    # -- helpers ----------------------------------------------------------------------------

    def _require_prompt(self) -> None:
        state = self.terminal.snapshot().state
        if state is not ScreenState.PROMPT:
            raise ExperimentError(
                f"the shell is not at a prompt (state: {state.value}): end or interrupt what "
                "runs there first, then run the experiment again"
            )

    def _measure(self) -> list[MetricRun]:
        """Run the metric command ``repeats`` times, stopping at the first failure."""
        metric = self.task.metric
        runs: list[MetricRun] = []
        for _ in range(metric.repeats):
            self._go_to_task_directory()
            self._require_nothing_in_the_background()
            end_marker = f"clive-metric-end-{uuid.uuid4().hex[:12]}"
            run = run_metric(
                self.terminal,
                self._clean_command(end_marker),
                metric.regex,
                budget=metric.budget,
                alerts=self._alerts,
                stall=self._stall,
                stop=self._stop,
                end_marker=end_marker,
            )
            runs.append(run)
            if not run.ok:
                break
        return runs

    def _clean_command(self, end_marker: str) -> str:
        """The metric command as typed: in a fresh bash with a clean environment, so that
        nothing the model set in its shell (functions, aliases, PATH, traps) stands between
        the command and the number; it prints ``end_marker`` when it ends, and the output
        stops there (the model's PROMPT_COMMAND prints after it)."""
        keep = {name: os.environ[name] for name in _CLEAN_ENV if name in os.environ}
        assignments = " ".join(f"{name}={shlex.quote(value)}" for name, value in keep.items())
        script = "\n".join(
            [
                f"cd {shlex.quote(str(self._directory))} || exit 1",
                self.task.metric.command,  # on a line of its own: a trailing comment is fine
                "status=$?",
                f"printf '\\n%s\\n' {end_marker}",
                "exit $status",
            ]
        )
        quoted = "$'" + script.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"
        return f"env -i {assignments} bash --norc --noprofile -c {quoted}"

    def _require_nothing_in_the_background(self) -> None:
        """Nothing the model started may run beside the metric: it could print a number or
        swap a file while the harness reads."""
        # Seen twice, a moment apart: the shell's prompt hooks start short-lived processes.
        running = set(self.terminal.background_processes())
        if running:
            time.sleep(0.3)
            running &= set(self.terminal.background_processes())
        if running:
            pids = " ".join(map(str, sorted(running)[:8]))
            raise ExperimentError(
                f"processes started in the terminal are still running ({pids}): stop them "
                "(kill %1, or kill PID) before an experiment; the metric runs alone"
            )

    def _require_our_branch(self) -> None:
        """Experiments go on clive's branch, on top of the best commit: nowhere else."""
        branch = self.repo.branch()
        if branch != self._branch:
            raise ExperimentError(
                f"the repository is on {branch or 'a detached HEAD'}, not on {self._branch}: "
                f"switch back (git checkout {self._branch}); do not use git yourself"
            )
        if self._best_commit and not self.repo.is_ancestor(self._best_commit):
            raise ExperimentError(
                f"the best commit {short(self._best_commit)} is no longer in the history: "
                f"do not reset or rewrite it (git reset --hard {short(self._best_commit)})"
            )

    def _go_to_task_directory(self) -> None:
        """Put the shell in the task's directory, where the metric command must run.

        A separate, visible ``cd``: wrapping the command in ``(cd dir && ...)`` would break
        a command that ends in a comment or spans lines.
        """
        cwd = self.terminal.snapshot().cwd
        if cwd is not None and Path(cwd).resolve() == self._directory:
            return
        result = self.terminal.run(f"cd {shlex.quote(str(self._directory))}", timeout=10)
        if not result.ok:
            raise ExperimentError(f"cannot cd to the task's directory {self._directory}")

    def _compare(self, values: list[float]) -> tuple[bool, str]:
        """Whether ``values`` beat the best so far by more than its noise, and why."""
        metric = statistics.median(values)
        best = self.best_metric
        if best is None:
            return True, "the first experiment that measured"
        noise = max(self._best_values) - min(self._best_values)
        gain = best - metric if self.task.metric.lower_is_better else metric - best
        against = f"{_number(metric)} against the best {_number(best)}"
        if gain <= 0:
            return False, f"{against}: {'no better' if gain == 0 else f'worse by {_number(-gain)}'}"
        if gain <= noise:
            return False, (
                f"{against}: better by {_number(gain)}, "
                f"not more than the noise of repeats ({_number(noise)})"
            )
        return True, f"{against}: better by {_number(gain)}, more than the noise ({_number(noise)})"

    def _reset_to_best(self) -> None:
        self.repo.reset_hard(self._best_commit)

    def _protected_checksums(self) -> dict[str, str]:
        return {path: _checksum(self._directory / path) for path in self.task.protect}

    def _changed_protected(self) -> list[str]:
        current = self._protected_checksums()
        return [path for path, digest in self._checksums.items() if current[path] != digest]

    def _record(
        self,
        commit: str,
        status: ExperimentStatus,
        description: str,
        runs: list[MetricRun],
        reason: str | None,
    ) -> ExperimentResult:
        values = [run.value for run in runs if run.value is not None]
        measured = bool(runs) and runs[-1].ok
        result = self.writer.append(
            ExperimentResult(
                experiment=len(self.results),
                commit=commit,
                metric=statistics.median(values) if measured else None,
                values=values if measured else [],
                status=status,
                seconds=round(sum(run.seconds for run in runs), 3),
                description=description,
                best_metric=self.best_metric,
                best_commit=self._best_commit or "",
                reason=reason or "",
                output_tail=runs[-1].tail() if runs and not runs[-1].ok else "",
            )
        )
        append_result(self.results_path, result)
        self.results.append(result)
        # A broken baseline, or a run the user stopped, is no failure of the model's.
        stopped_by_user = bool(runs) and runs[-1].stopped is StopReason.STOPPED
        if result.experiment > 0 and not stopped_by_user:
            failed = status in _FAILURES
            self._failures_in_a_row = self._failures_in_a_row + 1 if failed else 0
        return result


def _checksum(path: Path) -> str:
    """SHA-256 of a file, or of a directory's files and their names; "missing" if absent."""
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    if path.is_dir():
        digest = hashlib.sha256()
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(item.relative_to(path).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(item.read_bytes()).digest())
        return digest.hexdigest()
    return "missing"


def _number(value: float | None) -> str:
    return "none" if value is None else f"{value:.10g}"
