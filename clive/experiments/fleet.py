"""Many workers on one task (``clive run task.md --workers N``): one table, one best, one
measurement at a time.

Each worker is an ordinary session with its own working tree, sandbox and runner; the
``Fleet`` is what they share, behind one lock:

- **One best.** When a worker keeps a change that beats the fleet's best, the others take it
  as their own best at their next experiment (``FleetMember.best_elsewhere``): their change is
  measured against it, and a change not kept leaves their files at it. ``share=False`` keeps
  each worker on its own best.
- **One measurement at a time** (``serial``, the default): a timing measured while another
  worker trains is noise, so on a machine without a device per worker the metric runs of all
  workers take turns (``measuring``). With a device each (``--gpus``) they run at once.
- **Nothing measured twice.** A tree identical to one any worker already measured is answered
  from the table (``tried``), not run again.
- **What was tried.** Each result goes to the run's ``results.tsv`` with a ``worker`` column,
  and a worker's report after an experiment carries a digest of what the others tried lately.
  Each turn at measuring is a line of ``measuring.tsv``.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from clive.experiments.results import append_result
from clive.session.events import ExperimentResult, ExperimentStatus
from clive.session.info import RESULTS_FILE

if TYPE_CHECKING:
    from clive.experiments.runner import ExperimentRunner
    from clive.experiments.tree import Tree

DIGEST_ENTRIES = 6  # results of the other workers a report shows
MEASURING = "measuring.tsv"  # in the run's directory: worker, start, end (seconds since 1970)


def fingerprint(tree: Tree) -> str:
    """What identifies a tree's content, whichever repository holds it."""
    digest = hashlib.sha256()
    for path in sorted(tree):
        entry = tree[path]
        digest.update(f"{path}\0{entry.mode}\0{entry.sha}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


@dataclass(frozen=True)
class Tried:
    """A result of the fleet's: which worker measured it, with which runner."""

    worker: int
    result: ExperimentResult
    runner: ExperimentRunner


class Fleet:
    """What the workers of one run share (thread-safe). ``directory``: the run's, where its
    ``results.tsv`` is."""

    def __init__(
        self, directory: Path, *, lower_is_better: bool, share: bool = True, serial: bool = True
    ) -> None:
        self.directory = directory
        self.share = share
        self.serial = serial
        self._lower = lower_is_better
        self._lock = threading.Lock()
        self._measure_lock = threading.Lock()
        self.results: list[Tried] = []
        self._tried: dict[str, Tried] = {}
        self._best: Tried | None = None
        # (worker, start, end) of each turn at measuring (wall clock), as in ``MEASURING``
        self.intervals: list[tuple[int, float, float]] = []

    def member(self, worker: int) -> FleetMember:
        return FleetMember(self, worker)

    @property
    def best(self) -> Tried | None:
        """The best result of the fleet (kept or a baseline), with its worker and runner."""
        return self._best

    def _better(self, metric: float, than: float | None) -> bool:
        return than is None or (metric < than if self._lower else metric > than)


class FleetMember:
    """One worker's handle on the fleet, given to its ``ExperimentRunner``."""

    def __init__(self, fleet: Fleet, worker: int) -> None:
        self.fleet = fleet
        self.worker = worker

    @contextlib.contextmanager
    def measuring(self) -> Iterator[None]:
        """Hold while measuring: alone in the fleet when it is ``serial``."""
        fleet = self.fleet
        lock = fleet._measure_lock if fleet.serial else contextlib.nullcontext()
        with lock:
            started = time.time()
            try:
                yield
            finally:
                ended = time.time()
                with fleet._lock:
                    fleet.intervals.append((self.worker, started, ended))
                    with open(fleet.directory / MEASURING, "a", encoding="utf-8") as log:
                        log.write(f"{self.worker}\t{started:.6f}\t{ended:.6f}\n")

    def tried(self, tree: Tree) -> Tried | None:
        """The fleet's result for a tree identical to ``tree``, if one was measured."""
        with self.fleet._lock:
            return self.fleet._tried.get(fingerprint(tree))

    def record(self, runner: ExperimentRunner, result: ExperimentResult, tree: Tree) -> None:
        """``result`` (of ``tree``), into the fleet's table and best."""
        fleet = self.fleet
        tried = Tried(self.worker, result, runner)
        with fleet._lock:
            fleet.results.append(tried)
            measured = result.metric is not None and not result.reason.startswith("identical")
            if measured:
                fleet._tried.setdefault(fingerprint(tree), tried)
            kept = result.status in (ExperimentStatus.KEEP, ExperimentStatus.BASELINE)
            best = fleet._best.result.metric if fleet._best else None
            if kept and result.metric is not None and fleet._better(result.metric, best):
                fleet._best = tried
            append_result(fleet.directory / RESULTS_FILE, result, worker=self.worker)

    def best_elsewhere(self, runner: ExperimentRunner) -> Tried | None:
        """Another worker's best, when the fleet shares and it beats ``runner``'s."""
        fleet = self.fleet
        with fleet._lock:
            best = fleet._best
        if not fleet.share or best is None or best.runner is runner:
            return None
        if best.result.metric is None or not fleet._better(best.result.metric, runner.best_metric):
            return None
        return best

    def digest(self) -> str:
        """What the other workers tried lately, a line each (empty when nothing)."""
        with self.fleet._lock:
            others = [t for t in self.fleet.results if t.worker != self.worker]
        lines = []
        for tried in others[-DIGEST_ENTRIES:]:
            result = tried.result
            if result.experiment == 0:
                continue
            number = "no number" if result.metric is None else f"{result.metric:.6g}"
            why = f" (hypothesis: {result.hypothesis})" if result.hypothesis else ""
            lines.append(
                f"- worker {tried.worker}, experiment {result.experiment}: "
                f"{result.description}{why}: {result.status.value}, {number}"
            )
        return "\n".join(lines)
