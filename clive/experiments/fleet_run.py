"""A fleet's run directory, read back (``clive attach RUN``, the fleet view): what the run is
(``run.json``, written by the run), where each worker is and what it does (``workers.tsv``),
and every result (``results.tsv``). Everything here is read from files the run keeps current,
so a view needs no connection to the run, on this machine or through a web browser.
"""

from __future__ import annotations

import csv
import datetime
import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from clive.experiments.fleet import WORKERS, replace_text
from clive.experiments.results import read_results
from clive.session.events import ExperimentStatus, Outcome
from clive.session.info import RESULTS_FILE, SESSION_FILE
from clive.session.reader import list_sessions, process_alive

WEB_FLEET = "CLIVE_WEB_FLEET"  # set in a run's view served to a browser: workers open in tabs
RUN_FILE = "run.json"  # in the run's directory: the task, the workers, the process, the end
_KEPT = ("keep", "baseline")
_STATUSES = {status.value for status in ExperimentStatus}


def write_run(directory: Path, **fields: object) -> None:
    """``run.json`` with ``fields`` (added to what it holds), replaced at once."""
    path = directory / RUN_FILE
    try:
        held = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        held = {}
    held.update(fields)
    replace_text(path, json.dumps(held, indent=2) + "\n")


def start_run(directory: Path, *, task: str, workers: int, experiments: int, goal: str,
              ray: str | None) -> None:  # fmt: skip
    write_run(
        directory, task=task, workers=workers, experiments=experiments, goal=goal, ray=ray,
        pid=os.getpid(), host=socket.gethostname(), started_at=time.time(), ended=False,
    )  # fmt: skip


def is_run(directory: Path) -> bool:
    return (directory / RUN_FILE).is_file()


@dataclass
class Result:
    """A row of the run's table."""

    worker: int
    status: str
    metric: float | None
    description: str


@dataclass
class WorkerView:
    """A worker as the view shows it: its latest start's place and state, and its results."""

    number: int
    attempt: int = 1
    node: str = ""
    address: str = ""
    state: str = "starting"
    results: list[Result] = field(default_factory=list)
    session: Path | None = None  # its latest session, on this machine (gathered on Ray)

    @property
    def experiments(self) -> int:
        return sum(1 for r in self.results if r.status != "baseline")

    @property
    def kept(self) -> int:
        return sum(1 for r in self.results if r.status == "keep")

    @property
    def last(self) -> Result | None:
        return next((r for r in reversed(self.results) if r.status != "baseline"), None)


@dataclass
class RunView:
    """The run, as read from its directory."""

    directory: Path
    task: str = ""
    goal: str = "minimize"
    limit: int = 0  # experiments a worker may run
    ray: str | None = None
    ended: bool = False
    pid: int | None = None
    host: str = ""
    started_at: float = 0.0
    results: list[Result] = field(default_factory=list)
    workers: list[WorkerView] = field(default_factory=list)

    @property
    def lower_is_better(self) -> bool:
        return self.goal == "minimize"

    @property
    def running(self) -> bool:
        """Not ended, and its process lives (as far as this machine can tell)."""
        return not self.ended and process_alive(self.pid, self.host) is not False

    def best(self) -> Result | None:
        """The best kept result (a baseline counts), by the run's goal."""
        kept = [r for r in self.results if r.status in _KEPT and r.metric is not None]
        if not kept:
            return None
        pick = min if self.lower_is_better else max
        return pick(kept, key=lambda r: r.metric or 0.0)

    def best_line(self) -> list[float | None]:
        """The best so far after each result of the table (None before any)."""
        best, line = None, []
        for result in self.results:
            if result.status in _KEPT and result.metric is not None and self._beats(result, best):
                best = result.metric
            line.append(best)
        return line

    def _beats(self, result: Result, best: float | None) -> bool:
        metric = result.metric
        assert metric is not None
        return best is None or (metric < best if self.lower_is_better else metric > best)


def read_run(directory: Path) -> RunView:
    """The run in ``directory`` as it stands (files half written are read as they are)."""
    directory = Path(directory)
    try:
        info = json.loads((directory / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        info = {}
    run = RunView(
        directory,
        task=str(info.get("task", directory.name)),
        goal=str(info.get("goal", "minimize")),
        limit=int(info.get("experiments", 0) or 0),
        ray=info.get("ray"),
        ended=bool(info.get("ended", False)),
        pid=info.get("pid"),
        host=str(info.get("host", "")),
        started_at=float(info.get("started_at", 0.0) or 0.0),
    )
    try:
        rows = read_results(directory / RESULTS_FILE)
    except (OSError, ValueError):
        rows = []
    for row in rows:
        status, description = row.get("status") or "", row.get("description") or ""
        try:
            worker = int(row.get("worker") or "")
            metric = float(row["metric"]) if row.get("metric") else None
        except ValueError:
            continue  # a line being written
        if status not in _STATUSES:
            continue
        run.results.append(Result(worker, status, metric, description))
    workers: dict[int, WorkerView] = {
        n: WorkerView(n) for n in range(1, int(info.get("workers", 0) or 0) + 1)
    }
    for row in _workers_rows(directory):
        try:
            number, attempt = int(row["worker"]), int(row["attempt"])
        except (KeyError, ValueError):
            continue
        view = workers.setdefault(number, WorkerView(number))
        if attempt >= view.attempt:
            view.attempt, view.node = attempt, row.get("node", "")
            view.address, view.state = row.get("address", ""), row.get("state", "")
    for result in run.results:
        workers.setdefault(result.worker, WorkerView(result.worker)).results.append(result)
    for view in workers.values():
        sessions = sorted(
            (p for p in (directory / f"w{view.number}").glob("*") if (p / SESSION_FILE).is_file()),
            key=lambda p: p.name,
        )
        view.session = sessions[-1] if sessions else None
    run.workers = [workers[n] for n in sorted(workers)]
    return run


def _workers_rows(directory: Path) -> list[dict[str, str]]:
    try:
        with open(directory / WORKERS, encoding="utf-8", newline="") as file:
            return list(csv.DictReader(file, delimiter="\t"))
    except OSError:
        return []


def find_run(name: str | None, root: Path) -> Path | None:
    """The run of many workers ``name`` means (its directory's path, or its name under
    ``root``); without a name, the latest run that is running, if no session started
    since is running. None when ``name`` is no run."""
    if name is not None:
        for path in (Path(name).expanduser(), root / name):
            if is_run(path):
                return path.resolve()
        return None
    runs = [(read_run(p), p) for p in root.glob("*-fleet-*") if is_run(p)]
    running = [(run.started_at, path) for run, path in runs if run.running]
    if not running:
        return None
    started, latest = max(running)
    sessions = [s for s in list_sessions(root) if s.info.outcome is Outcome.RUNNING]
    if any(_epoch(s.info.started_at) > started for s in sessions):
        return None  # a session started since runs: it is the latest
    return latest.resolve()


def _epoch(iso: str) -> float:
    try:
        return datetime.datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return 0.0
