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
import functools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from clive.agent.control import AgentControl
from clive.commands._detach import DETACHED, announcer, detach, start_in_background
from clive.commands._print import EventLines
from clive.commands._view import watch_fleet
from clive.commands.run import (
    EXIT_STATUS,
    agent_settings,
    recorded_settings,
    shell_sandbox_for,
    task_starter,
    use_ui,
)
from clive.config import Config
from clive.experiments.fleet import Fleet, Tried
from clive.experiments.fleet_run import read_run, start_run, write_run
from clive.experiments.git import GitError, GitRepo
from clive.experiments.runner import ExperimentRunner, data_paths
from clive.experiments.task_file import TaskFile, load_task
from clive.experiments.tree import write_tree
from clive.link import Hub, SessionViews
from clive.models import Model, ModelChoiceError, open_model
from clive.sandbox import Choice, SandboxError
from clive.session.events import Event, ModelText, SessionEnded, TerminalOutput

SUMMARY = "summary.md"
_END_WAIT = 30.0  # seconds for a run that said it ended to exit, its status for the view


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
    if getattr(args, "ray", None) and gpus:
        print("clive run: with --ray, Ray gives the devices: use --gpus-per-worker N",
              file=sys.stderr)  # fmt: skip
        return 2
    if getattr(args, "ray", None):
        from clive.commands._ray_fleet import ray_problem

        problem = ray_problem(args.ray)
        if problem:
            print(f"clive run: {problem}", file=sys.stderr)
            return 2
        if config.network == "on":
            print(
                "clive run: the model's shell has the network: its code could reach a Ray "
                "cluster that asks no token (the cluster's variables never reach the shell); "
                "--network off closes that",
                file=sys.stderr,
            )
    if not os.environ.get(DETACHED):
        # Like any session, a run goes on without the terminal that started it: in the
        # background, watched here (d detaches) or not at all (--detach).
        if getattr(args, "detach", False):
            return detach(args.argv, sessions_dir)
        if use_ui(args):
            started = start_in_background(args.argv, sessions_dir)
            if isinstance(started, int):
                return started
            directory, child = Path(started[0]), started[1]
            status = watch_fleet(directory)
            if not read_run(directory).ended:
                return status  # detached: the run goes on
            try:  # it has ended: its exit status, the worst end among its workers
                return child.wait(timeout=_END_WAIT)
            except subprocess.TimeoutExpired:
                return status
    run_dir = _run_directory(sessions_dir, task.name)
    start_run(
        run_dir, task=task.name, workers=args.workers, experiments=task.limits.experiments,
        goal=task.metric.goal.value, ray=getattr(args, "ray", None),
    )  # fmt: skip
    announce = announcer()
    if announce is not None:  # a view waits for the run's directory (clive run in a terminal)
        announce(SimpleNamespace(directory=run_dir))
    end = functools.partial(finish, user, head, sessions_dir, root, run_dir)
    if getattr(args, "ray", None):
        from clive.commands._ray_fleet import run_ray_fleet

        needed = [path for path, copied in data_paths(task, root) if not copied]
        try:
            status = run_ray_fleet(args, task, root, choice.enabled, held_out, needed, run_dir, end)
        finally:  # whatever happened, the run is over: its views say so
            write_run(run_dir, ended=True)
        if status == 2:  # Ray could not be used: nothing ran
            shutil.rmtree(run_dir, ignore_errors=True)
        return status
    scratch = Path(tempfile.mkdtemp(prefix="clive-fleet-"))
    fleet = Fleet(
        run_dir,
        lower_is_better=task.metric.lower_is_better,
        share=not args.no_share,
        serial=not gpus,
        quiet=task.metric.timing,
    )
    try:
        workers = _workers(args.workers, config, task, root, scratch)
    except (ModelChoiceError, subprocess.CalledProcessError, OSError) as error:
        shutil.rmtree(scratch, ignore_errors=True)
        print(f"clive run: {error}", file=sys.stderr)
        return 2
    policy = "one at a time" if fleet.serial else "at once, a device each"
    if fleet.serial and fleet.quiet:
        policy += ", the other workers' shells stopped meanwhile"
    sharing = "one best" if fleet.share else "each its own best"
    print(
        f"clive run: {len(workers)} workers in {run_dir} ({sharing}; measurements {policy})",
        file=sys.stderr,
    )
    lock = threading.Lock()
    threads = []
    for worker in workers:
        env = {"CUDA_VISIBLE_DEVICES": gpus[(worker.number - 1) % len(gpus)]} if gpus else {}
        try:
            start = worker_start(
                args, worker, fleet.member(worker.number), env, choice.enabled, sessions_dir,
                held_out, run_dir / f"w{worker.number}", len(workers), root,
                instructions, runner_factory,
            )  # fmt: skip
        except SandboxError as error:
            shutil.rmtree(scratch, ignore_errors=True)
            print(f"clive run: {error}", file=sys.stderr)
            return 2

        def say(lines: list[str], number: int = worker.number) -> None:
            with lock:
                for line in lines:
                    print(f"[w{number}] {line}", flush=True)

        thread = threading.Thread(
            target=run_worker, args=(worker, start, say, args), name=f"clive-w{worker.number}"
        )
        threads.append(thread)

    def stop(*_: object) -> None:
        for worker in workers:
            worker.control.quit()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for worker in workers:
        fleet.placed(worker.number, 1, "local", socket.gethostname(), os.getpid())
    for thread in threads:
        thread.start()
    for worker, thread in zip(workers, threads, strict=True):
        while thread.is_alive():
            thread.join(0.5)
        fleet.state(worker.number, worker.ended.outcome.value if worker.ended else "failed")
    try:
        end(fleet.best, fleet.baseline, summary(fleet, rows(workers)))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    statuses = [1 if w.ended is None else EXIT_STATUS.get(w.ended.outcome, 1) for w in workers]
    return max(statuses, default=0)


def finish(
    user: GitRepo,
    head: str,
    sessions_dir: Path,
    root: Path,
    run_dir: Path,
    best: Tried | None,
    baseline: Tried | None,
    text: str,
) -> None:
    """The end of a run: the best into the user's tree (unless it changed meanwhile), and
    the summary (``text``) written and printed."""
    if _unchanged(user, head, sessions_dir):
        write_best(best, baseline, root)
    elif best is not None and best.result.experiment > 0:
        print(
            "clive run: your working tree changed during the run: the best is not written "
            f"into it; it is worker {best.worker}'s commit {best.result.commit[:7]} "
            "(clive show on its session, --diff)",
            file=sys.stderr,
        )
    (run_dir / SUMMARY).write_text(text, encoding="utf-8")
    write_run(run_dir, ended=True, ended_at=time.time())
    print(text, file=sys.stderr)


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
    return [
        open_worker(number, config, relative, str(root), scratch / f"w{number}")
        for number in range(1, count + 1)
    ]


def open_worker(number: int, config: Config, task: Path, source: str, tree: Path) -> Worker:
    """Worker ``number``: its model, and a clone of ``source`` (a repository or a bundle) at
    ``tree`` with the task file ``task`` (relative to the repository's root)."""
    named = config.model.replace("{worker}", str(number))
    model = open_model(config.model_copy(update={"model": named}))
    subprocess.run(
        ["git", "clone", "--quiet", "--no-hardlinks", source, str(tree)],
        check=True, capture_output=True,
    )  # fmt: skip
    return Worker(number, tree, load_task(tree / task), model)


def worker_start(
    args: argparse.Namespace,
    worker: Worker,
    member,
    env: dict[str, str],
    sandboxed: bool,
    sessions_dir: Path,
    held_out: list[Path],
    session_dir: Path,
    count: int,
    repository: Path,
    instructions,
    runner_factory,
    hidden: list[Path] | None = None,
):
    """How ``worker``'s session starts (``task_starter``'s): in its own sandbox and clone,
    its runner a ``member`` of the fleet, its session under ``session_dir``; ``hidden``:
    more directories out of the model's and the metric's sight (on a Ray node, the head's
    sessions). Raises ``SandboxError``."""
    config: Config = args.config
    hidden = hidden or []
    sandbox = None
    if sandboxed:
        sandbox = shell_sandbox_for(
            config, worker.tree, sessions_dir, readonly=[worker.tree / ".git"],
            hidden=[*held_out, *hidden],
        )  # fmt: skip
    return task_starter(
        args, worker.model, instructions(worker.task), worker.task.directory.resolve(),
        session_dir,
        experiments=runner_factory(
            worker.task, worker.tree, sandboxed, sessions_dir, worker.runners,
            fleet=member, env=env, hidden=hidden,
        ),
        sandbox=sandbox,
        recorded={
            **recorded_settings(config, sandboxed),
            "task_file": str(worker.task.path), "root": str(worker.tree),
            "worker": worker.number, "workers": count, "repository": str(repository),
        },
    )  # fmt: skip


def run_worker(worker: Worker, start, say, args: argparse.Namespace) -> None:
    """Run ``worker``'s session; ``say(lines)`` prints a line per event (and a failure). Like
    any session, it serves its views' socket: ``clive attach`` watches, pauses, steers it."""
    lines = EventLines()
    hub = Hub(
        model=worker.model.name, cols=args.cols, rows=args.rows,
        budgets=agent_settings(args.config), control=worker.control,
    )  # fmt: skip
    views = SessionViews(
        hub, lambda error: say([f"clive: no view can attach to this worker: {error}"])
    )

    def on_event(event: Event) -> None:
        hub.on_event(event)
        if not isinstance(event, TerminalOutput | ModelText):
            say(lines.add(event))

    failure = None
    try:
        writer, worker.ended = start(
            on_event, control=hub.control, on_start=hub.on_start, on_measure=hub.on_measure,
            on_open=views.on_open,
        )  # fmt: skip
        worker.session = writer.directory
    except Exception as error:  # one worker failing ends only that worker
        worker.error = failure = str(error)
        say([f"clive: {error}"])
    finally:
        views.close(failure)


def write_best(best: Tried | None, baseline: Tried | None, root: Path) -> None:
    """The fleet's best tree into the task's working tree (which is at the baseline)."""
    if best is None or baseline is None or best.result.experiment == 0:
        return
    target, current = best.tree, baseline.tree
    blobs = best.source.blobs([e.sha for p, e in target.items() if current.get(p) != e])
    write_tree(root, target, current, blobs.__getitem__)


def rows(workers: list[Worker]) -> list[tuple[int, str, str]]:
    """Each worker's number, how it ended and its session, for ``summary``."""
    return [
        (
            w.number,
            w.ended.outcome.value if w.ended else f"failed: {w.error}",
            f"{w.session.parent.name}/{w.session.name}" if w.session else "-",  # as in the run
        )
        for w in workers
    ]


def summary(fleet: Fleet, workers: list[tuple[int, str, str]]) -> str:
    """The run in a few lines of Markdown: the best, and each worker's count (``workers``:
    number, how it ended, session)."""
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
    for number, outcome, session in workers:
        mine = [t.result for t in fleet.results if t.worker == number and t.result.experiment]
        kept = sum(r.status.value == "keep" for r in mine)
        lines.append(f"| {number} | {len(mine)} | {kept} | {session} | {outcome} |")
    return "\n".join(lines) + "\n"
