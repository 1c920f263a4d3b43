"""The experiment loop's harness side: the model proposes a change, the harness measures it.

The model works in its own tree (in its sandbox); the harness keeps everything that decides
a result where the model cannot reach it, in the session directory:

- ``harness/repo.git``: the harness's own repository (``HarnessRepo``). At ``experiment``,
  the harness copies the model's files into ``harness/tree`` (never following a symlink),
  checks the protected files against the baseline (a change makes the experiment
  ``invalid``), and commits exactly those bytes.
- The metric runs on that copy, in a terminal of the harness's own, in a sandbox of its own
  where the copy stands at the repository's path and the model's tree is out of sight, with
  a clean environment and the task's data read-only. The run ends when its process exits.
- What is kept is what was measured: the best commit's tree is the measured copy, and after
  each decision the harness writes the best tree into the model's tree itself. Every tree
  tried stays as a ref (``refs/clive/experiments/N``).

Every experiment becomes an ``ExperimentResult`` event and a row of ``results.tsv``. The
model never reports a number: it only says what it tried.

    runner = ExperimentRunner(writer, load_task("task.md"), shell=terminal, sandboxed=True)
    runner.baseline()
    ok, text = runner.experiment("learning rate 0.2")   # what the model's tool call returns
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import re
import shutil
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from clive.experiments import gather
from clive.experiments.fleet import FleetMember, MeasuringStopped, Tried
from clive.experiments.git import GitError, GitRepo, short
from clive.experiments.harness_repo import BEST_REF, HarnessRepo, experiment_ref
from clive.experiments.measure import (
    DEFAULT_ALERTS,
    MetricRun,
    compile_alerts,
    run_metric,
)
from clive.experiments.noise import STATISTIC, Noise
from clive.experiments.results import append_result
from clive.experiments.task_file import TaskFile
from clive.experiments.tree import (
    SYMLINK,
    Entry,
    Tree,
    blob_sha,
    copy_in,
    under,
    walk,
    write_file,
    write_tree,
)
from clive.sandbox import SYSTEM_PATH, Sandbox, toolchains
from clive.session.events import ExperimentResult, ExperimentStatus, MeasurementStarted
from clive.session.info import RESULTS_FILE
from clive.session.measurement import MeasurementRecorder
from clive.session.writer import SessionWriter
from clive.terminal import Terminal, TerminalError

DEFAULT_STALL = None  # seconds without output before a metric run counts as stalled: off
_FAILURES = (ExperimentStatus.CRASH, ExperimentStatus.INVALID)
_MOVED_THE_BEST = (ExperimentStatus.BASELINE, ExperimentStatus.KEEP)
HARNESS_DIR = gather.HARNESS_DIR  # in the session directory: the harness's repository, copies
TASK_COPY = "task.md"  # the task file as it was at the start, for resume and verify


class ExperimentError(RuntimeError):
    """An experiment cannot run now (no baseline yet, a limit reached, nothing changed,
    something still running); the message says why and what to do."""


class RestoreError(ExperimentError):
    """The experiment was recorded (``result``), but the model's files could not be set back
    to the best."""

    def __init__(self, result: ExperimentResult, message: str) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class CleanEnvironment:
    """The metric's launcher without a sandbox: only a clean environment (``env -i``)."""

    env: dict[str, str]
    pid_namespace = False

    def wrap(self, argv: list[str]) -> list[str]:
        return ["env", "-i", *(f"{k}={v}" for k, v in self.env.items()), *argv]


class ExperimentRunner:
    """Measures experiments on a task's files, keeping the record out of the model's reach.

    ``shell`` is the model's terminal: nothing may run there while the metric does.
    ``sandboxed``: the metric runs in a bubblewrap sandbox (the model's shell should too).
    ``hidden``: directories no measurement may see (every session directory). ``alerts``
    (regular expressions) and ``stall`` (seconds without output, None for no limit) stop a
    metric run early; ``stop`` is checked while it runs (a user quitting). ``on_measure``
    is called with the measurement's terminal when a run starts and with None when it ends
    (a viewer shows it). ``harness`` is the harness's directory (default: in the session
    directory of ``writer``), ``scratch`` where copies of trees are made (default: there).
    ``fleet``: this worker's handle on the run's other workers (one best, one measurement at
    a time, nothing measured twice); ``env``: more variables for the metric (a device).
    """

    def __init__(
        self,
        writer: SessionWriter,
        task: TaskFile,
        *,
        shell: Terminal | None = None,
        sandboxed: bool = True,
        root: Path | None = None,
        hidden: Sequence[Path] = (),
        alerts: Sequence[str] = DEFAULT_ALERTS,
        stall: float | None = DEFAULT_STALL,
        stop: Callable[[], bool] | None = None,
        on_measure: Callable[[Terminal | None], None] | None = None,
        harness: Path | None = None,
        scratch: Path | None = None,
        fleet: FleetMember | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.writer = writer
        self.fleet = fleet  # the other workers of a run with many (clive.experiments.fleet)
        if fleet is not None and shell is not None:  # stopped while another worker times
            fleet.quiet_with(shell.freeze)
        self._extra_env = dict(env or {})  # the metric's, given by the run (a worker's device)
        self._adopted: Tried | None = None  # another worker's best, taken at this experiment
        self.task = task
        self.shell = shell
        self.sandboxed = sandboxed
        self.root = (root or GitRepo(task.directory).root).resolve()
        directory = task.directory.resolve()
        if not directory.is_relative_to(self.root):
            raise ExperimentError(
                f"the task's directory {directory} is not inside the repository {self.root}"
            )
        self._directory = directory
        self.results_path = writer.directory / RESULTS_FILE
        self.results: list[ExperimentResult] = []  # the baseline first
        self._harness = harness or writer.directory / HARNESS_DIR
        self._scratch = scratch or self._harness  # where copies of trees are made
        self.repo = HarnessRepo(self._harness / "repo.git")
        self._alerts = compile_alerts(alerts)
        self._stall = stall
        self._stop = stop
        self._on_measure = on_measure
        # The held-out metric's files too: the model's code runs in the metric's sandbox.
        holdout_paths = task.hidden
        self._holdout_paths = tuple(p.resolve() for p in holdout_paths)
        self._hidden = tuple(p.resolve() for p in (*hidden, writer.directory, *holdout_paths))
        self._data = data_paths(task, self.root)
        # Never part of a tree: the sessions and the task's data, where inside the tree.
        inside = [*self._hidden, *(p for p, copied in self._data if copied)]
        self._excluded_dirs = tuple(
            p.relative_to(self.root).as_posix() for p in inside if p.is_relative_to(self.root)
        )
        self._best_commit: str | None = None
        self._best_values: list[float] = []
        self._holdout_best: float | None = None  # the held-out metric of the best
        self._holdout_noise: list[float] = []  # the held-out metric's runs at the baseline
        self._since_keep = 0  # experiments since the last kept one
        self._keeps = 0
        self._best_tree: Tree = {}
        self._baseline_tree: Tree = {}
        self._failures_in_a_row = 0
        self._recorder = MeasurementRecorder(writer, writer.info.cols, writer.info.rows)

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
        """Take the files as they are (the user's, before the model's first step), keep them
        as the harness's first commit, take the data the metric reads, and measure. A
        baseline that crashes is recorded; the first experiment that measures then becomes
        the best."""
        if self.results:
            raise ExperimentError("the baseline was already measured")
        self._harness.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.task.path, self._harness / TASK_COPY)
        self._take_data()
        # What git tracks, and the protected paths whatever ignore rules say: a protected
        # dataset the metric reads is part of what is measured, and checked.
        protected = [f for p in self._protected_paths() for f in walk(self.root, p)]
        tree, copy = self._snapshot(None, extra=[*_user_tracked(self.root), *protected])
        commit = self.repo.commit(tree, None, f"clive baseline of {self.root}")
        self.repo.set_ref(experiment_ref(0), commit)
        self.repo.set_ref(BEST_REF, commit)
        self._baseline_tree = self._best_tree = tree
        self._best_commit = commit
        try:
            with self._measuring(0, "baseline"):  # recorded before another looks it up
                known = self.fleet.tried(tree) if self.fleet else None
                if known is not None and known.result.status is ExperimentStatus.BASELINE:
                    return self._baseline_from(commit, known)  # another worker's, same tree
                return self._measure_baseline(commit, copy)
        finally:
            shutil.rmtree(copy, ignore_errors=True)

    def _measure_baseline(self, commit: str, copy: Path) -> ExperimentResult:
        """Measure the baseline (``baseline_runs`` times: the noise) and record it."""
        runs = self._measure(0, commit, copy, "baseline", self.task.metric.baseline_runs)
        failed = runs[-1] if not runs[-1].ok else None
        holdout = None
        if failed is None:
            self._best_values = [run.value for run in runs]
            if self.task.holdout is not None:
                self._holdout_noise = self._measure_holdout(
                    0, commit, self.task.metric.baseline_runs
                )
                if len(self._holdout_noise) < self.task.metric.baseline_runs:
                    raise ExperimentError(
                        "the held-out metric printed no number at the baseline: check its "
                        f"command ({self.task.holdout_file})"
                    )
                holdout = self._holdout_best = _median(self._holdout_noise)
        return self._record(
            commit=commit,
            status=ExperimentStatus.CRASH if failed else ExperimentStatus.BASELINE,
            description="baseline",
            runs=runs,
            reason=failed.failure if failed else "the starting point",
            holdout=holdout,
            holdout_values=self._holdout_noise,
        )

    def run(self, description: str, hypothesis: str = "") -> ExperimentResult:
        """Take the model's tree as an experiment, measure it, keep it or set the model's
        tree back to the best. Raises ``RestoreError`` (with the result, recorded) when the
        model's files could not be set back."""
        if not self.results:
            raise ExperimentError("measure the baseline first (baseline())")
        limit = self.limit_reached
        if limit:
            raise ExperimentError(f"no more experiments: {limit}")
        description = " ".join(_printable(description).split())
        hypothesis = " ".join(_printable(hypothesis).split())
        self._require_nothing_running()
        # In a fleet that measures one at a time, all of it in turn: another worker's best is
        # taken as late as it can be, and a tree is looked up in the table after the last
        # result was recorded.
        with self._measuring(len(self.results), description, hypothesis):
            self._adopted = self._adopt_the_fleet_s_best()
            tree, result = self._take_and_measure(description, hypothesis)
        if result.status is not ExperimentStatus.KEEP:
            self._restore_best(tree, result)
        return result

    def _take_and_measure(self, description: str, hypothesis: str) -> tuple[Tree, ExperimentResult]:
        """The model's tree as experiment N, committed, checked, measured and decided."""
        number = len(self.results)
        tree, copy = self._snapshot(self._best_commit)
        try:
            if tree == self._best_tree:
                raise ExperimentError(
                    f"nothing changed since the best ({short(self._best_commit or '')}): "
                    "change the code, then run an experiment"
                )
            commit = self.repo.commit(
                tree, self._best_commit, f"clive experiment {number}: {description}"
            )
            self.repo.set_ref(experiment_ref(number), commit)
            changed = self._changed_protected(tree)
            known = self.fleet.tried(tree) if self.fleet and not changed else None
            if changed:
                reason = "protected files changed: " + ", ".join(changed)
                result = self._record(
                    commit, ExperimentStatus.INVALID, description, [], reason,
                    hypothesis=hypothesis,
                )  # fmt: skip
            elif known is not None:
                result = self._decide_from(known, commit, description, hypothesis)
            else:
                result = self._measure_and_decide(number, commit, copy, description, hypothesis)
        finally:
            shutil.rmtree(copy, ignore_errors=True)
        return tree, result

    def _measure_and_decide(
        self, number: int, commit: str, copy: Path, description: str, hypothesis: str = ""
    ) -> ExperimentResult:
        """Measure ``commit`` (its files are in ``copy``) and record what it comes to. Better
        than the best but within the noise, it is measured again (up to ``remeasure`` runs)
        before it is kept or discarded; kept, the best moves, unless the held-out metric got
        worse beyond its noise and the task says to revert then."""
        record = functools.partial(self._record, commit, description=description,
                                   hypothesis=hypothesis)  # fmt: skip
        runs = self._measure(number, commit, copy, description)
        remeasured = 0
        while True:
            if not runs[-1].ok:
                return record(ExperimentStatus.CRASH, runs=runs, reason=runs[-1].failure,
                              remeasured=remeasured)  # fmt: skip
            values = [run.value for run in runs]
            better, gain, reason, noise = self._compare(values)
            record = functools.partial(record, margin=noise)  # the margin it was decided by
            if better or gain <= 0 or remeasured >= self.task.metric.remeasure:
                break
            remeasured += 1  # promising: better, but within the noise
            again = self._materialize(commit)
            try:
                runs += self._measure(
                    number, commit, again, f"{description} (measured again: within the noise)", 1
                )
            finally:
                shutil.rmtree(again, ignore_errors=True)
        if remeasured:
            reason += f" (after {remeasured} more run{'s' * (remeasured > 1)})"
        if not better:
            return record(ExperimentStatus.DISCARD, runs=runs, reason=reason,
                          remeasured=remeasured)  # fmt: skip
        holdout, regressed = self._check_holdout(number, commit)
        if regressed:
            reason += (
                "; the held-out check printed no number"
                if holdout is None
                else "; the held-out metric got worse beyond its noise"
            )
            if self.task.on_holdout_regress == "revert":
                return record(ExperimentStatus.DISCARD, runs=runs, reason=reason + ": reverted",
                              remeasured=remeasured, holdout=holdout,
                              holdout_regressed=True)  # fmt: skip
        self._best_commit, self._best_values = commit, values
        self._best_tree = self.repo.tree(commit)
        self.repo.set_ref(BEST_REF, commit)
        if holdout is not None:
            self._holdout_best = holdout
        return record(ExperimentStatus.KEEP, runs=runs, reason=reason, remeasured=remeasured,
                      holdout=holdout, holdout_regressed=regressed)  # fmt: skip

    def _check_holdout(self, number: int, commit: str) -> tuple[float | None, bool]:
        """The held-out metric of ``commit`` about to be kept (on every ``every``-th kept
        change; None otherwise, or when it printed no number), and whether it is worse than
        the best's beyond its noise."""
        holdout = self.task.holdout
        if holdout is None or (self._keeps + 1) % holdout.every:
            return None, False
        value = _median(self._measure_holdout(number, commit, 1))
        if value is None:
            # No number: the change's code may tell the held-out run from the metric's (its
            # mounts, its PID 1) and fail there on purpose. It does not pass unchecked.
            return None, True
        best = self._holdout_best
        worse = value - best if holdout.lower_is_better else best - value
        noise = Noise([self._holdout_noise]).margin(len(self._holdout_noise), 1)
        return value, worse > noise

    def _measure_holdout(self, number: int, commit: str, count: int) -> list[float]:
        """The held-out metric of ``commit``, ``count`` runs on fresh copies (its files
        shown read-only, the model's tree out of sight); the values of the runs that printed
        one. Nothing of it reaches the model."""
        holdout = self.task.holdout
        assert holdout is not None
        name = "the baseline" if number == 0 else f"experiment {number}"
        values = []
        for repeat in range(count):
            copy = self._materialize(commit)
            try:
                run = self._run(
                    f"{name}, held-out run {repeat + 1}", holdout.command, holdout.regex, copy,
                    holdout.budget, holdout=True,
                )  # fmt: skip
            finally:
                shutil.rmtree(copy, ignore_errors=True)
            if run.ok:
                values.append(run.value)
        return values

    def _measuring(self, experiment: int, description: str, hypothesis: str = ""):
        """Held while measuring: alone in a fleet that measures one at a time."""
        if self.fleet is None:
            return contextlib.nullcontext()
        return self.fleet.measuring(experiment, description, hypothesis, stop=self._stop)

    def _baseline_from(self, commit: str, known: Tried) -> ExperimentResult:
        """The baseline, identical to another worker's: its runs, not measured again."""
        self._best_values = list(known.result.values)
        self._holdout_best = known.result.holdout
        self._holdout_noise = list(known.result.holdout_values)
        return self._record(
            commit, ExperimentStatus.BASELINE, "baseline", [],
            f"the starting point (identical to worker {known.worker}'s: its runs)",
            table=known.result, holdout=known.result.holdout,
            holdout_values=self._holdout_noise,
        )  # fmt: skip

    def _decide_from(
        self, known: Tried, commit: str, description: str, hypothesis: str
    ) -> ExperimentResult:
        """An experiment identical to one the fleet measured: decided on its runs."""
        said = (
            f"identical to worker {known.worker}'s experiment {known.result.experiment}, "
            "answered from the table (not measured again)"
        )
        if known.result.holdout_regressed and self.task.on_holdout_regress == "revert":
            # Undone on the held-out metric: so it stays, whoever submits the tree again.
            return self._record(
                commit, ExperimentStatus.DISCARD, description, [],
                f"{said}: {known.result.reason}", hypothesis=hypothesis, table=known.result,
                holdout=known.result.holdout, holdout_regressed=True,
            )  # fmt: skip
        values = list(known.result.values)
        better, _, reason, noise = self._compare(values)
        status = ExperimentStatus.KEEP if better else ExperimentStatus.DISCARD
        if better:
            self._best_commit, self._best_values = commit, values
            self._best_tree = self.repo.tree(commit)
            self.repo.set_ref(BEST_REF, commit)
        return self._record(
            commit, status, description, [], f"{said}: {reason}", hypothesis=hypothesis,
            table=known.result, margin=noise,
        )  # fmt: skip

    def _adopt_the_fleet_s_best(self) -> Tried | None:
        """Take another worker's better best as this one's (its tree into this harness's
        repository): the experiment about to run is measured against it, and files not kept
        are set to it."""
        other = self.fleet.best_elsewhere(self.best_metric) if self.fleet else None
        if other is None:
            return None
        commit, tree = other.result.commit, other.tree
        self.repo.add_blobs(other.source.blobs(self.repo.missing(e.sha for e in tree.values())))
        mine = self.repo.commit(
            tree, self._best_commit, f"clive: worker {other.worker}'s best ({short(commit)})"
        )
        self.repo.set_ref(BEST_REF, mine)
        self._best_commit, self._best_tree = mine, tree
        self._best_values = list(other.result.values)
        if other.result.holdout is not None:  # its held-out number is the one to keep to
            self._holdout_best = other.result.holdout
        return other

    def experiment(self, description: str, hypothesis: str = "") -> tuple[bool, str]:
        """The ``experiment`` tool: run one and say what came of it, in words for the model.

        ``ok`` is True when the experiment was measured (kept or discarded), False when it
        crashed, was invalid, or could not run.
        """
        try:
            result = self.run(description, hypothesis)
        except RestoreError as error:
            return False, f"{self.report(error.result)}\n{error}"
        except (ExperimentError, GitError, TerminalError, OSError, MeasuringStopped) as error:
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
            elif result.holdout_regressed and status is ExperimentStatus.DISCARD:
                # The held-out metric is never shown: only that a check the model cannot see
                # undid the change.
                head = (
                    f"{measured}: better, but discarded by a check of the harness's that you "
                    "cannot see; the files were reset to the best."
                )
            elif status is ExperimentStatus.KEEP and result.holdout_regressed:
                head = f"{measured}: kept ({_visible(result.reason)})."
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
        if result.plateau:
            lines.append(
                f"No change was kept in the last {self._since_keep} experiments: a plateau. "
                "Step back and change approach: another idea, not a variation of the last ones."
            )
        if self._adopted is not None and result.experiment > 0:
            lines.append(
                f"Worker {self._adopted.worker} found a better best "
                f"({_number(self._adopted.result.metric)}): it is yours now, and your files "
                "are set to it whenever a change is not kept."
            )
        digest = self.fleet.digest() if self.fleet else ""
        if digest:
            lines.append(f"What the other workers tried lately:\n{digest}")
        limit = self.limit_reached
        if limit:
            lines.append(f"No more experiments: {limit}. Finish now.")
        else:
            left = self.task.limits.experiments - self.experiments
            lines.append(f"{left} experiments left.")
        return "\n".join(lines)

    # -- resuming ---------------------------------------------------------------------------

    def resume(self, events: Sequence[object]) -> ExperimentResult | None:
        """Go on from a session's recorded ``events``: the results, the best and the
        baseline come back from the events and the harness's repository; a measurement
        the harness was cut off in is measured again (returns its result)."""
        started = [e for e in events if isinstance(e, MeasurementStarted)]
        self.results = [e for e in events if isinstance(e, ExperimentResult)]
        baseline = self.repo.ref(experiment_ref(0))
        if baseline is None:
            self.results = []
            return self.baseline()
        self._baseline_tree = self.repo.tree(baseline)
        for result in self.results:
            self._count_failure(result)
            if result.experiment > 0:
                kept = result.status is ExperimentStatus.KEEP
                self._keeps += kept
                self._since_keep = 0 if kept else self._since_keep + 1
            if result.holdout is not None and result.status in _MOVED_THE_BEST:
                self._holdout_best = result.holdout
        if self.results and self.results[0].status is ExperimentStatus.BASELINE:
            self._holdout_noise = list(self.results[0].holdout_values)
        best = self.repo.ref(BEST_REF) or baseline
        self._best_commit, self._best_tree = best, self.repo.tree(best)
        measured = [r for r in self.results if r.commit == best and r.values]
        self._best_values = list(measured[-1].values) if measured else []
        done = {r.experiment for r in self.results}
        cut_off = [e for e in started if e.experiment not in done]
        if not cut_off:
            return None
        again = cut_off[-1]
        copy = self._materialize(again.commit)
        try:
            if again.experiment == 0:
                self._best_values = []
                runs = self._measure(
                    0, again.commit, copy, "baseline", self.task.metric.baseline_runs
                )
                ok = runs[-1].ok
                if ok:
                    self._best_values = [run.value for run in runs]
                return self._record(
                    again.commit,
                    ExperimentStatus.BASELINE if ok else ExperimentStatus.CRASH,
                    "baseline", runs, "the starting point (measured again after a cut-off)"
                    if ok else runs[-1].failure,
                )  # fmt: skip
            result = self._measure_and_decide(
                again.experiment, again.commit, copy, again.description
            )
        finally:
            shutil.rmtree(copy, ignore_errors=True)
        if result.status is not ExperimentStatus.KEEP:
            # The files are as the harness left them when it was cut off: read them again.
            current, taken = self._snapshot(self._best_commit)
            shutil.rmtree(taken, ignore_errors=True)
            self._restore_best(current, result)
        return result

    def remeasure(self, commit: str, number: int) -> list[MetricRun]:
        """Measure ``commit`` (experiment ``number``) again, as it was measured, recording
        nothing: how a session's grounding is checked afterwards (``clive verify``)."""
        baseline = self.repo.ref(experiment_ref(0))
        if baseline is None:
            raise ExperimentError(f"the harness's repository {self.repo.path} has no baseline")
        self._baseline_tree = self.repo.tree(baseline)  # what a setup may not change
        copy = self._materialize(commit)
        try:
            return self._measure(number, commit, copy, announce=None)
        finally:
            shutil.rmtree(copy, ignore_errors=True)

    # -- helpers ----------------------------------------------------------------------------

    def _snapshot(self, tracked: str | None, extra: Sequence[str] = ()) -> tuple[Tree, Path]:
        """Copy the model's tree into a fresh directory of the harness's and store its
        blobs: (the tree, the directory)."""
        listing = self.repo.listing(self.root, tracked)
        paths = [p for p in dict.fromkeys([*extra, *listing]) if not self._excluded(p)]
        copy = self._new_directory(gather.COPY_PREFIX.rstrip("-"))
        try:
            tree = copy_in(self.root, paths, copy)
            self.repo.store(copy, tree)
        except BaseException:
            shutil.rmtree(copy, ignore_errors=True)
            raise
        return tree, copy

    def _new_directory(self, kind: str) -> Path:
        for attempt in range(1000):
            path = self._scratch / f"{kind}-{len(self.results)}-{attempt}"
            try:
                path.mkdir(parents=True)
                return path
            except FileExistsError:
                continue
        raise ExperimentError(f"no free directory for a copy of the tree in {self._harness}")

    def _materialize(self, commit: str) -> Path:
        """A fresh directory holding exactly ``commit``'s files."""
        tree = self.repo.tree(commit)
        blobs = self.repo.blobs([entry.sha for entry in tree.values()])
        copy = self._new_directory(gather.COPY_PREFIX.rstrip("-"))
        try:
            for path, entry in tree.items():
                write_file(copy, path, entry, blobs[entry.sha])
        except BaseException:
            shutil.rmtree(copy, ignore_errors=True)
            raise
        return copy

    def _excluded(self, path: str) -> bool:
        """Never part of a tree: git's own directories, the sessions, the task's data."""
        if ".git" in Path(path).parts:
            return True
        return any(path == p or path.startswith(p + "/") for p in self._excluded_dirs)

    def _take_data(self) -> None:
        """Copy the data the metric reads from inside the repository (a ``.venv``): the
        model can change it there, not here. Data outside is shown as it is, read-only."""
        for index, (path, copied) in enumerate(self._data):
            if not path.exists():
                raise ExperimentError(
                    f"the metric's path {path} does not exist (metric.paths in {self.task.path})"
                )
            if copied:
                target = self._harness / "data" / str(index)
                shutil.rmtree(target, ignore_errors=True)
                if path.is_dir():
                    shutil.copytree(path, target, symlinks=True)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, target, follow_symlinks=False)

    def _measure(
        self, number: int, commit: str, copy: Path, announce: str | None, count: int = 0
    ) -> list[MetricRun]:
        """Run the metric ``count`` times (default: ``repeats``) on fresh copies of
        ``commit``'s tree (``copy`` is the first), stopping at the first failure. A ``setup``
        runs first each time, and everything it started has ended before the metric command
        starts. ``announce``: the
        description a ``measurement_started`` event carries (None: no event)."""
        metric = self.task.metric
        if announce is not None:
            self.writer.append(
                MeasurementStarted(
                    experiment=number, commit=commit, command=metric.command,
                    sandboxed=self.sandboxed, description=announce,
                )
            )  # fmt: skip
        name = "the baseline" if number == 0 else f"experiment {number}"
        runs: list[MetricRun] = []
        current = copy  # the caller's; later repeats get fresh copies of their own
        try:
            for repeat in range(count or metric.repeats):
                if repeat > 0:  # a fresh copy: nothing the last run wrote stays
                    shutil.rmtree(current, ignore_errors=True)
                    current = self._materialize(commit)
                run = self._run_once(f"{name}, run {repeat + 1}", current)
                runs.append(run)
                if not run.ok:
                    break
        finally:
            if current is not copy:
                shutil.rmtree(current, ignore_errors=True)
        return runs

    def _run_once(self, label: str, copy: Path) -> MetricRun:
        """The setup (if any) and the metric command, once, on ``copy``."""
        metric = self.task.metric
        if not metric.setup:
            return self._run(label, metric.command, metric.regex, copy, metric.budget)
        setup = self._run(f"{label}, setup", metric.setup, None, copy, metric.budget)
        if not setup.ok:
            return replace(setup, failure=f"the setup failed: {setup.failure}")
        # What the setup ran is the model's code: whatever it did to the protected files,
        # the metric reads them as they were at the baseline.
        self._put_back_protected(copy)
        budget = max(metric.budget - setup.seconds, 0.0)
        run = self._run(label, metric.command, metric.regex, copy, budget)
        return replace(run, seconds=run.seconds + setup.seconds)

    def _run(
        self,
        label: str,
        command: str,
        pattern: re.Pattern[str] | None,
        copy: Path,
        budget: float,
        *,
        holdout: bool = False,
    ) -> MetricRun:
        """One run of ``command`` on ``copy``, recorded and shown to whoever watches;
        ``holdout``: the held-out metric's, which alone sees its files."""
        launcher, cwd = self._launcher(copy, holdout=holdout)
        self._recorder.begin(f"{label}: {command}")
        try:
            return run_metric(
                command,
                pattern,
                cwd=cwd,
                launcher=launcher,
                budget=budget,
                size=(self.writer.info.cols, self.writer.info.rows),
                alerts=self._alerts,
                stall=self._stall,
                stop=self._stop,
                listeners=[self._recorder.output],
                on_start=self._on_measure,
            )
        finally:
            self._recorder.end()
            if self._on_measure is not None:
                self._on_measure(None)

    def _launcher(
        self, copy: Path, *, holdout: bool = False
    ) -> tuple[Sandbox | CleanEnvironment, Path]:
        """How the metric starts on ``copy``, and where: in a sandbox, the copy stands at the
        repository's own path (paths in scripts and virtual environments hold) and the
        model's tree is out of sight; the held-out metric's files only in its own runs
        (``holdout``), read-only."""
        if not self.sandboxed:
            env = self._metric_env(copy)
            # No bind mounts here: the data taken from inside the repository (a .venv) is
            # linked into the copy at its place, or the metric would not find it.
            for index, (path, copied) in enumerate(self._data):
                if copied:
                    target = os.fsencode(self._harness / "data" / str(index))
                    relative = path.relative_to(self.root).as_posix()
                    write_file(copy, relative, Entry(SYMLINK, blob_sha(target)), target)
            return CleanEnvironment(env), copy / self._directory.relative_to(self.root)
        env = self._metric_env(self.root)
        binds = []
        for index, (path, copied) in enumerate(self._data):
            source = self._harness / "data" / str(index) if copied else path
            binds.append((source, path))
        hidden = self._hidden
        if holdout:
            binds += [(path, path) for path in self._holdout_paths]
            hidden = tuple(p for p in hidden if p not in self._holdout_paths)
        sandbox = Sandbox(
            writable_binds=((copy, self.root),),
            readonly=toolchains(avoid=[self.root]),
            binds=tuple(binds),
            hidden=hidden,
            home=Path(env["HOME"]),
            # The held-out run never: its data must not leave the sandbox.
            network=self.task.metric.network and not holdout,
            env=env,
            as_pid_1=True,  # what the run leaves behind dies with it
        )
        return sandbox, self._directory

    def _metric_env(self, tree: Path) -> dict[str, str]:
        """A clean environment: a PATH with nothing the model can write (a directory of the
        repository only from the task's data, where the metric sees the repository at
        ``tree``), the task's own variables, and nothing else of the harness's."""
        data = [path for path, _ in self._data]
        path = []
        for entry in os.environ.get("PATH", SYSTEM_PATH).split(os.pathsep):
            if not entry.startswith("/") or entry.startswith("/tmp"):
                continue
            if not Path(entry).is_relative_to(self.root):
                path.append(entry)
            elif any(Path(entry).is_relative_to(d) for d in data):
                path.append(str(tree / Path(entry).relative_to(self.root)))
        env = {
            "PATH": os.pathsep.join(path) or SYSTEM_PATH,
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": os.environ.get("LANG") or "C.UTF-8",
            "TERM": "xterm-256color",
            "PYTHONUNBUFFERED": "1",
            # Bytecode only from a private place: none the model left in the tree is run.
            "PYTHONPYCACHEPREFIX": "/tmp/clive-pycache",
        }
        env.update(self.task.metric.env)
        env.update(self._extra_env)
        return env

    def _restore_best(self, tree: Tree, result: ExperimentResult) -> None:
        """Make the model's tree the best one again (it was ``tree`` when taken); raises
        ``RestoreError`` with ``result`` when it cannot."""
        best = self._best_tree
        try:
            blobs = self.repo.blobs([e.sha for p, e in best.items() if tree.get(p) != e])
            write_tree(self.root, best, tree, blobs.__getitem__)
        except (OSError, GitError) as error:
            message = f"Your files could not be set back to the best: {error}"
            raise RestoreError(result, message) from error

    def _put_back_protected(self, copy: Path) -> None:
        """The protected paths in ``copy`` exactly as at the baseline."""
        for relative in self._protected_paths():
            there = {path: Entry("", "") for path in walk(copy, relative)}  # all rewritten
            baseline = under(self._baseline_tree, relative)
            blobs = self.repo.blobs([entry.sha for entry in baseline.values()])
            write_tree(copy, baseline, there, blobs.__getitem__)

    def _protected_paths(self) -> list[str]:
        """The protected paths, relative to the repository's root."""
        return [(self._directory / p).relative_to(self.root).as_posix() for p in self.task.protect]

    def _changed_protected(self, tree: Tree) -> list[str]:
        return [
            name
            for name, relative in zip(self.task.protect, self._protected_paths(), strict=True)
            if under(tree, relative) != under(self._baseline_tree, relative)
        ]

    def _require_nothing_running(self) -> None:
        """Nothing the model started may run while the harness takes its tree and measures:
        the metric runs alone."""
        if self.shell is None:
            return
        # Seen twice, a moment apart: the shell's prompt hooks start short-lived processes.
        # Not necessarily the same ones: a loop that forks anew at every round and lets the
        # old process end is never one process seen twice.
        running = set(self.shell.background_processes())
        if running:
            time.sleep(0.3)
            running = set(self.shell.background_processes())
        if running:
            pids = " ".join(map(str, sorted(running)[:8]))
            raise ExperimentError(
                f"processes started in the terminal are still running ({pids}): stop them "
                "(C-c, kill %1, or kill PID) before an experiment; the metric runs alone"
            )

    def _count_failure(self, result: ExperimentResult) -> None:
        # A broken baseline, or a run the user stopped, is no failure of the model's.
        if result.experiment == 0 or result.reason.startswith("stopped by the user"):
            return
        failed = result.status in _FAILURES
        self._failures_in_a_row = self._failures_in_a_row + 1 if failed else 0

    def _margin(self, values: Sequence[float] = (0.0,), also: Sequence[float] = ()) -> float:
        """What the gain of a change measured as ``values`` must exceed: the noise of every
        tree measured more than once (``values`` too, and ``also``: runs about to be
        recorded), for the runs of the best and of it."""
        groups = [r.values for r in self.results if len(r.values) >= 2]
        groups += [list(g) for g in (values, also) if len(g) >= 2]
        return Noise(groups).margin(len(self._best_values), len(values))

    def _compare(self, values: list[float]) -> tuple[bool, float, str, float | None]:
        """Whether ``values`` beat the best so far by more than the noise margin, the gain
        (the median's, positive when better), why, in words, and the margin."""
        metric = statistics.median(values)
        best = self.best_metric
        if best is None:
            return True, math.inf, "the first experiment that measured", None
        noise = self._margin(values)
        gain = best - metric if self.task.metric.lower_is_better else metric - best
        against = f"{_number(metric)} against the best {_number(best)}"
        if gain <= 0:
            worse = "no better" if gain == 0 else f"worse by {_number(-gain)}"
            return False, gain, f"{against}: {worse}", noise
        if gain <= noise:
            within = f"within the noise margin {_number(noise)} ({STATISTIC})"
            return False, gain, f"{against}: better by {_number(gain)}, {within}", noise
        more = f"more than the noise margin {_number(noise)}"
        return True, gain, f"{against}: better by {_number(gain)}, {more}", noise

    def _record(
        self,
        commit: str,
        status: ExperimentStatus,
        description: str,
        runs: list[MetricRun],
        reason: str | None,
        *,
        hypothesis: str = "",
        remeasured: int = 0,
        holdout: float | None = None,
        holdout_regressed: bool = False,
        table: ExperimentResult | None = None,
        holdout_values: list[float] | None = None,
        margin: float | None = None,
    ) -> ExperimentResult:
        """Record a result; ``table``: the fleet's result whose runs it takes, unmeasured;
        ``margin``: the noise margin it was decided by."""
        values = [run.value for run in runs if run.value is not None]
        measured = bool(runs) and runs[-1].ok
        if table is not None:
            values, measured = list(table.values), table.metric is not None
        number = len(self.results)
        if number > 0:
            kept = status is ExperimentStatus.KEEP
            self._keeps += kept
            self._since_keep = 0 if kept else self._since_keep + 1
        plateau = self._since_keep > 0 and self._since_keep % self.task.plateau == 0
        result = self.writer.append(
            ExperimentResult(
                experiment=number,
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
                hypothesis=hypothesis,
                # the margin it was decided by; otherwise what a change measured once needs
                margin=margin
                if margin is not None
                else (self._margin(also=values) if self._best_values else None),
                remeasured=remeasured,
                plateau=plateau,
                holdout=holdout,
                holdout_values=list(holdout_values or []),
                holdout_regressed=holdout_regressed,
            )
        )
        append_result(self.results_path, result)
        self.results.append(result)
        self._count_failure(result)
        if self.fleet is not None:
            self.fleet.record(result, self.repo.tree(commit), self.repo)
        return result


def _printable(text: str) -> str:
    """``text`` with control characters (a NUL, escapes) as spaces: it goes into git and
    into the record."""
    return "".join(c if c.isprintable() else " " for c in text)


def data_paths(task: TaskFile, root: Path) -> list[tuple[Path, bool]]:
    """The metric's data paths, absolute, each with whether it is inside the repository
    (then the model could change it, and the harness measures with its own copy)."""
    found = []
    for name in task.metric.paths:
        path = Path(name).expanduser()
        path = (path if path.is_absolute() else task.directory / path).resolve()
        found.append((path, path.is_relative_to(root)))
    return found


def _user_tracked(root: Path) -> list[str]:
    """The files the user's repository tracks, read before the model's first step (the
    user's own git, trusted then): part of the baseline even where ignore rules match."""
    try:
        done = GitRepo(root).git("ls-files", "-z")
    except GitError:
        return []
    return [p for p in done.stdout.split("\0") if p]


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _visible(reason: str) -> str:
    """``reason`` without what the model may not read of the held-out metric."""
    return reason.split("; the held-out metric")[0]


def _number(value: float | None) -> str:
    return "none" if value is None else f"{value:.10g}"
