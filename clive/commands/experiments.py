"""``clive run TASK.md``: a task with a metric; the model proposes, the harness measures."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from clive.agent.task import ExperimentsFactory
from clive.commands.run import (
    agent_settings,
    prepare,
    recorded_settings,
    run_and_report,
    sandbox_choice,
    shell_sandbox_for,
    task_starter,
)
from clive.experiments.fleet import FleetMember
from clive.experiments.git import GitError, GitRepo
from clive.experiments.harness_repo import BEST_REF
from clive.experiments.runner import HARNESS_DIR, ExperimentRunner
from clive.experiments.task_file import TaskFile, TaskFileError, load_task
from clive.sandbox import SandboxError


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
            "  the task must be in a git repository with nothing uncommitted "
            "(git init && git add -A && git commit -m start)",
            file=sys.stderr,
        )
        return 2
    choice = sandbox_choice(args, "clive run")
    if isinstance(choice, int):
        return choice
    config = args.config
    held_out = [p.resolve() for p in task.hidden]
    root = repo.root.resolve()
    inside = [str(p) for p in held_out if p.is_relative_to(root) or root.is_relative_to(p)]
    if inside:
        print(
            f"clive run: the held-out metric's {', '.join(inside)} is inside the repository "
            "the model works in (or holds it): a held-out metric must live where the model "
            "cannot read it",
            file=sys.stderr,
        )
        return 2
    if task.holdout and not choice.enabled:
        print(
            "clive run: the held-out metric is only held out in the sandbox: without it the "
            "model's shell can read its files",
            file=sys.stderr,
        )
    if getattr(args, "workers", 1) == 1 and (
        getattr(args, "gpus", None)
        or getattr(args, "no_share", False)
        or getattr(args, "ray", None)
    ):
        print("clive run: --gpus, --no-share and --ray go with --workers N", file=sys.stderr)
        return 2
    if getattr(args, "workers", 1) > 1:
        from clive.commands._fleet import run_fleet

        print(f"clive run: {task.name!r} in {repo.root}; {choice.note}", file=sys.stderr)
        return run_fleet(args, task, repo.root, choice, held_out, instructions, runner_factory)
    # One worker is worker 1 (a script named per worker: turns-{worker}.jsonl).
    args.config = config = config.model_copy(
        update={"model": config.model.replace("{worker}", "1")}
    )
    model = prepare(args, None)
    if isinstance(model, int):
        return model
    print(f"clive run: {task.name!r} in {repo.root}; {choice.note}", file=sys.stderr)
    # The model's git is read-only: what it plants there (hooks, config) would run as you
    # later. The harness keeps its own repository and never reads this one again.
    try:
        sandbox = None
        if choice.enabled:
            git_dir = [repo.root / ".git"]
            sandbox = shell_sandbox_for(
                config, repo.root, sessions_dir, readonly=git_dir, hidden=held_out
            )
    except SandboxError as error:
        print(f"clive run: {error}", file=sys.stderr)
        return 2
    made: list[ExperimentRunner] = []
    experiments = runner_factory(task, repo.root, choice.enabled, sessions_dir, made)

    start = task_starter(
        args,
        model,
        instructions(task),
        task.directory.resolve(),
        sessions_dir,
        experiments=experiments,
        sandbox=sandbox,
        recorded={
            **recorded_settings(config, choice.enabled),
            "task_file": str(task.path),
            "root": str(repo.root),
        },
    )
    status = run_and_report(args, start, model.name, (args.cols, args.rows), agent_settings(config))
    if made:
        explain_result(made[0])
    return status


def runner_factory(
    task: TaskFile,
    root: Path,
    sandboxed: bool,
    sessions_dir: Path,
    made: list[ExperimentRunner] | None = None,
    fleet: FleetMember | None = None,
    env: dict[str, str] | None = None,
    hidden: Sequence[Path] = (),
) -> ExperimentsFactory:
    """What ``run_task`` calls to make the session's runner (appended to ``made``): the
    model's shell is the one nothing may run in while it measures, a quit stops a run.
    ``fleet``, ``env`` and ``hidden`` (more directories no measurement may see): a worker's,
    in a run with many."""

    def experiments(writer, terminal, control, on_measure):
        runner = ExperimentRunner(
            writer,
            task,
            shell=terminal,
            sandboxed=sandboxed,
            root=root,
            hidden=[sessions_dir, *hidden],
            stop=lambda: control.quitting,
            on_measure=on_measure,
            fleet=fleet,
            env=env,
        )
        if made is not None:
            made.append(runner)
        return runner

    return experiments


def explain_result(runner: ExperimentRunner) -> None:
    """Where the best is, and where every experiment's tree is kept."""
    repo = runner.writer.directory / HARNESS_DIR / "repo.git"
    if runner.best_commit is None:
        return
    print(
        f"the best tree ({runner.best_commit[:7]}) is in {runner.root}, not committed; every "
        f"experiment is kept in {repo} (git --git-dir {repo} log {BEST_REF}; "
        f"clive show SESSION --diff N)",
        file=sys.stderr,
    )


def instructions(task: TaskFile) -> str:
    """The task file's body, and what the harness does with the metric."""
    metric = task.metric
    protect = ", ".join(task.protect) or "nothing"
    runs = f"`{metric.setup}`, then `{metric.command}`," if metric.setup else f"`{metric.command}`"
    return (
        f"{task.body.strip()}\n\n"
        f"(The harness measures: it runs {runs} on a copy of your files, in a "
        f"sandbox of its own, and reads the first group of /{metric.pattern}/; "
        f"{metric.goal.value} it. A run may take {metric.budget:g}s. Protected files: "
        f"{protect}. Up to {task.limits.experiments} experiments; "
        f"{task.limits.consecutive_failures} failures in a row end the session. Call "
        "`experiment` with a description after each change: the harness then sets your files "
        "to the best so far. Git is read-only here: the harness keeps the history. Finish "
        "when done.)"
    )
