"""Grounded experiments: the model proposes a change, the harness measures it and keeps it
(a git commit) or resets it, and logs a row to the session's ``results.tsv``.

``load_task("task.md")`` reads the task and its settings; ``GitRepo(".")`` reads the user's
repository before a session (clean? which files?); ``ExperimentRunner(writer, task,
shell=terminal)`` keeps the harness's own repository in the session and measures the baseline
and each experiment on copies of the tree, in sandboxes of its own.
"""

from clive.experiments.git import GitError, GitRepo
from clive.experiments.measure import DEFAULT_ALERTS, MetricRun, StopReason
from clive.experiments.results import read_results
from clive.experiments.runner import ExperimentError, ExperimentRunner
from clive.experiments.task_file import Goal, Limits, Metric, TaskFile, TaskFileError, load_task
from clive.session.info import RESULTS_FILE

__all__ = [
    "DEFAULT_ALERTS",
    "RESULTS_FILE",
    "ExperimentError",
    "ExperimentRunner",
    "GitError",
    "GitRepo",
    "Goal",
    "Limits",
    "Metric",
    "MetricRun",
    "StopReason",
    "TaskFile",
    "TaskFileError",
    "load_task",
    "read_results",
]
