"""``clive run TASK.md``: a task with a metric; the model proposes, the harness measures."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from clive.commands.run import agent_settings, prepare, run_and_report, task_starter
from clive.experiments.git import GitError, GitRepo
from clive.experiments.runner import ExperimentRunner
from clive.experiments.task_file import TaskFile, TaskFileError, load_task


def run_experiments(args: argparse.Namespace) -> int:
    try:
        task = load_task(Path(args.task_file))
    except TaskFileError as error:
        print(f"clive run: {error}", file=sys.stderr)
        return 2
    sessions_dir = Path(args.sessions_dir).resolve()
    try:
        repo = GitRepo(task.directory)
        repo.require_clean(exclude=[sessions_dir])
    except GitError as error:
        print(f"clive run: {error}", file=sys.stderr)
        print(
            "  experiments are commits: the task must be in a git repository with nothing "
            "uncommitted (git init && git add -A && git commit -m start)",
            file=sys.stderr,
        )
        return 2
    model = prepare(args, None)
    if isinstance(model, int):
        return model
    config = args.config
    branch = repo.create_branch(task.name)
    print(f"clive run: {task.name!r} on branch {branch} of {repo.root}", file=sys.stderr)

    def experiments(writer, terminal, control):
        return ExperimentRunner(
            terminal, writer, task, repo, stop=lambda: control.quitting, keep_out=[sessions_dir]
        )

    start = task_starter(
        args,
        model,
        _instructions(task),
        task.directory.resolve(),
        sessions_dir,
        experiments=experiments,
    )
    return run_and_report(args, start, model.name, (args.cols, args.rows), agent_settings(config))


def _instructions(task: TaskFile) -> str:
    """The task file's body, and what the harness does with the metric."""
    metric = task.metric
    protect = ", ".join(task.protect) or "nothing"
    return (
        f"{task.body.strip()}\n\n"
        f"(The harness measures: it runs `{metric.command}` and reads the first group of "
        f"/{metric.pattern}/; {metric.goal.value} it. A run may take {metric.budget:g}s. "
        f"Protected files: {protect}. Up to {task.limits.experiments} experiments; "
        f"{task.limits.consecutive_failures} failures in a row end the session. Call "
        "`experiment` with a description after each change; finish when done.)"
    )
