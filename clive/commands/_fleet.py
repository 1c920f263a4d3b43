"""``clive run task.md --workers N``: N agents on one task, each an ordinary session with its own
working tree (a clone of the task's repository) and sandbox, sharing one table, one best and
one measurement at a time (``clive.experiments.fleet``).

The run has a directory of its own among the sessions (``DATE-fleet-NAME``): each worker's
session under ``wK/``, the combined ``results.tsv`` (a ``worker`` column) and ``summary.md``.
At the end the fleet's best is written into the task's working tree, uncommitted, as with one
worker. A script model may name a script per worker: ``--model script:turns-{worker}.jsonl``.
"""

from __future__ import annotations

import argparse
import datetime
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from clive.agent.control import AgentControl
from clive.commands._print import EventLines
from clive.commands.run import EXIT_STATUS, recorded_settings, shell_sandbox_for, task_starter
from clive.config import Config
from clive.experiments.fleet import Fleet
from clive.experiments.git import GitError, GitRepo
from clive.experiments.runner import ExperimentRunner, data_paths
from clive.experiments.task_file import TaskFile, load_task
from clive.experiments.tree import write_tree
from clive.models import Model, ModelChoiceError, open_model
from clive.sandbox import Choice, SandboxError
from clive.session.events import Event, ModelText, SessionEnded, TerminalOutput

SUMMARY = "summary.md"


@dataclass
class Worker:
    """One agent of the run: its number, tree, model, and what became of it."""

    number: int
    tree: Path  # the clone's root
    task: TaskFile  # the task file in the clone
    model: Model
    control: AgentControl = field(default_factory=AgentControl)
    runners: list[ExperimentRunner] = field(default_factory=list)
    ended: SessionEnded | None = None
    session: Path | None = None
    error: str = ""


def run_fleet(
    args: argparse.Namespace,
    task: TaskFile,
    root: Path,
    choice: Choice,
    held_out: list[Path],
    instructions,
    runner_factory,
) -> int:
    """Run ``task`` (in the repository at ``root``) with ``args.workers`` workers; the exit
    status of the worst end among them."""
    config: Config = args.config
    if config.approve == "always":
        print("clive run: --workers runs headless: use --approve risky or never", file=sys.stderr)
        return 2
    inside = [str(path) for path, copied in data_paths(task, root) if copied]
    if inside:
        print(
            f"clive run: --workers: the metric's paths {', '.join(inside)} are inside the "
            "repository, and the workers' clones hold only what is committed: put them "
            "outside it (metric.paths may be absolute)",
            file=sys.stderr,
        )
        return 2
    user = GitRepo(root)
    sessions_dir = Path(args.sessions_dir).resolve()
    head = user.head()
    gpus = [g.strip() for g in args.gpus.split(",") if g.strip()] if args.gpus else []
    run_dir = _run_directory(sessions_dir, task.name)
    scratch = Path(tempfile.mkdtemp(prefix="clive-fleet-"))
    fleet = Fleet(
        run_dir,
        lower_is_better=task.metric.lower_is_better,
        share=not args.no_share,
        serial=not gpus,
    )
    try:
        workers = _workers(args.workers, config, task, root, scratch)
    except (ModelChoiceError, subprocess.CalledProcessError, OSError) as error:
        shutil.rmtree(scratch, ignore_errors=True)
        print(f"clive run: {error}", file=sys.stderr)
        return 2
    policy = "one at a time" if fleet.serial else "at once, a device each"
    sharing = "one best" if fleet.share else "each its own best"
    print(
        f"clive run: {len(workers)} workers in {run_dir} ({sharing}; measurements {policy})",
        file=sys.stderr,
    )
    lock = threading.Lock()
    threads = []
    for worker in workers:
        member = fleet.member(worker.number)
        env = {"CUDA_VISIBLE_DEVICES": gpus[(worker.number - 1) % len(gpus)]} if gpus else {}
        try:
            sandbox = None
            if choice.enabled:
                sandbox = shell_sandbox_for(
                    config, worker.tree, sessions_dir, readonly=[worker.tree / ".git"],
                    hidden=held_out,
                )  # fmt: skip
        except SandboxError as error:
            shutil.rmtree(scratch, ignore_errors=True)
            print(f"clive run: {error}", file=sys.stderr)
            return 2
        start = task_starter(
            args, worker.model, instructions(worker.task), worker.task.directory.resolve(),
            run_dir / f"w{worker.number}",
            experiments=runner_factory(
                worker.task, worker.tree, choice.enabled, sessions_dir, worker.runners,
                fleet=member, env=env,
            ),
            sandbox=sandbox,
            recorded={
                **recorded_settings(config, choice.enabled),
                "task_file": str(worker.task.path), "root": str(worker.tree),
                "worker": worker.number, "workers": len(workers), "repository": str(root),
            },
        )  # fmt: skip
        thread = threading.Thread(
            target=_run_worker, args=(worker, start, lock), name=f"clive-w{worker.number}"
        )
        threads.append(thread)

    def stop(*_: object) -> None:
        for worker in workers:
            worker.control.quit()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.5)
    try:
        if _unchanged(user, head, sessions_dir):
            write_best(fleet, root)
        elif fleet.best is not None and fleet.best.result.experiment > 0:
            print(
                "clive run: your working tree changed during the run: the best is not written "
                f"into it; it is worker {fleet.best.worker}'s commit "
                f"{fleet.best.result.commit[:7]} (clive show on its session, --diff)",
                file=sys.stderr,
            )
        (run_dir / SUMMARY).write_text(summary(fleet, workers), encoding="utf-8")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(summary(fleet, workers), file=sys.stderr)
    statuses = [1 if w.ended is None else EXIT_STATUS.get(w.ended.outcome, 1) for w in workers]
    return max(statuses, default=0)


def _unchanged(user: GitRepo, head: str, sessions_dir: Path) -> bool:
    """The user's tree is still at ``head``, with nothing uncommitted (the sessions aside)."""
    try:
        return user.head() == head and not user.dirty_files(exclude=[sessions_dir])
    except GitError:
        return False


def _run_directory(sessions_dir: Path, name: str) -> Path:
    stamp = datetime.datetime.now().strftime("%Y-%m-%dT%H-%M-%S")
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:32].rstrip("-")
    for attempt in range(1, 1000):
        directory = sessions_dir / (
            f"{stamp}-fleet-{slug}" + (f"-{attempt}" if attempt > 1 else "")
        )
        try:
            directory.mkdir(parents=True)
            return directory
        except FileExistsError:
            continue
    raise FileExistsError(f"no free run directory name under {sessions_dir}")


def _workers(count: int, config: Config, task: TaskFile, root: Path, scratch: Path) -> list[Worker]:
    """Each worker's model and its own clone of the repository (at its committed state)."""
    relative = task.path.relative_to(root)
    workers = []
    for number in range(1, count + 1):
        named = config.model.replace("{worker}", str(number))
        model = open_model(config.model_copy(update={"model": named}))
        tree = scratch / f"w{number}"
        subprocess.run(
            ["git", "clone", "--quiet", "--no-hardlinks", str(root), str(tree)],
            check=True, capture_output=True,
        )  # fmt: skip
        workers.append(Worker(number, tree, load_task(tree / relative), model))
    return workers


def _run_worker(worker: Worker, start, lock: threading.Lock) -> None:
    lines = EventLines()

    def on_event(event: Event) -> None:
        if isinstance(event, TerminalOutput | ModelText):
            return
        with lock:
            for line in lines.add(event):
                print(f"[w{worker.number}] {line}", flush=True)

    try:
        writer, worker.ended = start(on_event, control=worker.control)
        worker.session = writer.directory
    except Exception as error:  # one worker failing ends only that worker
        worker.error = str(error)
        with lock:
            print(f"[w{worker.number}] clive: {error}", file=sys.stderr, flush=True)


def write_best(fleet: Fleet, root: Path) -> None:
    """The fleet's best tree into the task's working tree (which is at the baseline)."""
    best, baseline = fleet.best, fleet.baseline
    if best is None or baseline is None or best.result.experiment == 0:
        return
    target, current = best.tree, baseline.tree
    blobs = best.source.blobs([e.sha for p, e in target.items() if current.get(p) != e])
    write_tree(root, target, current, blobs.__getitem__)


def summary(fleet: Fleet, workers: list[Worker]) -> str:
    """The run in a few lines of Markdown: the best, and each worker's count."""
    best = fleet.best
    lines = ["# The run", ""]
    if best is not None and best.result.metric is not None:
        where = (
            "the baseline"
            if best.result.experiment == 0
            else (
                f"worker {best.worker}'s experiment {best.result.experiment} "
                f"({best.result.description})"
            )
        )
        lines.append(f"Best: {best.result.metric:.10g}, {where}.")
    measuring = sum(end - start for _, start, end in fleet.intervals)
    lines += [
        f"Experiments: {sum(1 for t in fleet.results if t.result.experiment > 0)}, measuring "
        f"{measuring:.1f} s in all ({'one at a time' if fleet.serial else 'at once'}).",
        "",
        "| worker | experiments | kept | session | outcome |",
        "| --- | --- | --- | --- | --- |",
    ]
    for worker in workers:
        mine = [
            t.result for t in fleet.results if t.worker == worker.number and t.result.experiment
        ]
        kept = sum(r.status.value == "keep" for r in mine)
        outcome = worker.ended.outcome.value if worker.ended else f"failed: {worker.error}"
        lines.append(
            f"| {worker.number} | {len(mine)} | {kept} | {worker.session or '-'} | {outcome} |"
        )
    return "\n".join(lines) + "\n"
