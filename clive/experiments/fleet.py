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
  workers on one machine take turns (``take_turn``), and for a timing (``quiet``) the other
  workers' shells are stopped while one measures (``freeze_others``). With a device each
  (``--gpus``) they run at once.
- **Nothing measured twice.** A tree identical to one any worker already measured is answered
  from the table (``tried``), not run again.
- **What was tried.** Each result goes to the run's ``results.tsv`` with a ``worker`` column,
  and a worker's report after an experiment carries a digest of what the others tried lately.
  Each turn at measuring is a line of ``measuring.tsv``.
- **Lost, not crashed.** A worker that disappears while it measures (its machine gone, on a
  Ray cluster) has that experiment recorded as ``lost`` (``Fleet.lost``), and its turn ends.

The workers of one process hold a ``FleetMember``; those on other machines talk to the same
``Fleet`` in an actor (``clive.experiments.ray_fleet``), through a member with the same
methods.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from clive.experiments.git import GitError
from clive.experiments.results import append_result
from clive.session.events import ExperimentResult, ExperimentStatus
from clive.session.info import RESULTS_FILE

if TYPE_CHECKING:
    from clive.experiments.tree import Tree

DIGEST_ENTRIES = 6  # results of the other workers a report shows
MEASURING = "measuring.tsv"  # in the run's directory: worker, start, end (seconds since 1970)
WORKERS = "workers.tsv"  # in the run's directory: each start of each worker, where, its state
WORKER_COLUMNS = ("worker", "attempt", "node", "address", "pid", "state")
TURN_WAIT = 0.5  # seconds between looks at whether a worker waiting for its turn must stop


def replace_text(path: Path, text: str) -> None:
    """Write ``path`` whole, at once: a reader (a fleet's view) sees the old or the new."""
    scratch = path.with_name(f".{path.name}.new")
    scratch.write_text(text, encoding="utf-8")
    scratch.replace(path)


def fingerprint(tree: Tree) -> str:
    """What identifies a tree's content, whichever repository holds it."""
    digest = hashlib.sha256()
    for path in sorted(tree):
        entry = tree[path]
        digest.update(f"{path}\0{entry.mode}\0{entry.sha}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


class Blobs(Protocol):
    """Where a tree's files can be read: a harness repository, or the files that came with a
    result from another machine (``Shipped``)."""

    def blobs(self, shas: Sequence[str]) -> dict[str, bytes]: ...


class Shipped:
    """The files of a result that travelled from another worker's machine."""

    def __init__(self, blobs: Mapping[str, bytes]) -> None:
        self._blobs = dict(blobs)

    def blobs(self, shas: Sequence[str]) -> dict[str, bytes]:
        missing = [sha for sha in shas if sha not in self._blobs]
        if missing:
            raise GitError(f"no file {missing[0]} came with that result")
        return {sha: self._blobs[sha] for sha in shas}


@dataclass(frozen=True)
class Tried:
    """A result of the fleet's: which worker (and which start of it) measured it, its tree,
    and where that tree's files can be read."""

    worker: int
    result: ExperimentResult
    tree: Tree
    source: Blobs
    attempt: int = 1


class Fleet:
    """What the workers of one run share (thread-safe). ``directory``: the run's, where its
    ``results.tsv`` is."""

    def __init__(
        self,
        directory: Path,
        *,
        lower_is_better: bool,
        share: bool = True,
        serial: bool = True,
        quiet: bool = False,
    ) -> None:
        self.directory = directory
        self.share = share
        self.serial = serial
        self.quiet = quiet  # a timing: the other workers' shells stop while one measures
        self._freezers: dict[int, tuple[str, Callable[[bool], None]]] = {}
        self._lower = lower_is_better
        self._lock = threading.Lock()
        self._turns = threading.Condition(self._lock)
        self._turn: dict[str, int] = {}  # a machine: the worker measuring there
        self._measuring: dict[int, tuple[int, str, str]] = {}  # worker: experiment in hand
        self.results: list[Tried] = []
        self._tried: dict[str, Tried] = {}
        self._best: Tried | None = None
        self.baseline: Tried | None = None  # the first baseline measured: the shared start
        # (worker, start, end) of each turn at measuring (wall clock), as in ``MEASURING``
        self.intervals: list[tuple[int, float, float]] = []
        self._starts: dict[tuple[int, int], list[str]] = {}  # (worker, attempt): its row
        self._attempt: dict[int, int] = {}  # a worker: its current start

    # -- where the workers are, and what they do (``WORKERS``) -----------------------------

    def placed(self, worker: int, attempt: int, node: str, address: str, pid: int) -> None:
        """Start ``attempt`` of ``worker`` runs on ``node`` (at ``address``, process ``pid``)."""
        with self._lock:
            self._attempt[worker] = attempt
            self._starts[(worker, attempt)] = [
                str(worker), str(attempt), node, address, str(pid), "starting"
            ]  # fmt: skip
            self._write_workers()

    def state(self, worker: int, state: str, attempt: int | None = None) -> None:
        """What ``worker`` (its current start, or ``attempt``) does now: ``working``,
        ``measuring N``, ``lost``, or how its session ended."""
        with self._lock:
            self._set_state(worker, state, attempt)

    def _set_state(self, worker: int, state: str, attempt: int | None = None) -> None:
        row = self._starts.get((worker, attempt or self._attempt.get(worker, 1)))
        if row is None or row[-1] == "lost" or row[-1] == state:
            return
        row[-1] = state
        self._write_workers()

    def _write_workers(self) -> None:
        lines = ["\t".join(WORKER_COLUMNS)]
        lines += ["\t".join(row) for _, row in sorted(self._starts.items())]
        replace_text(self.directory / WORKERS, "\n".join(lines) + "\n")

    def member(self, worker: int, where: str = "") -> FleetMember:
        return FleetMember(self, worker, where=where)

    @property
    def best(self) -> Tried | None:
        """The best result of the fleet (kept or a baseline), with its worker and tree."""
        return self._best

    def better(self, metric: float, than: float | None) -> bool:
        return than is None or (metric < than if self._lower else metric > than)

    # -- turns at measuring -----------------------------------------------------------------

    def take_turn(self, worker: int, where: str = "", timeout: float | None = None) -> bool:
        """Wait (up to ``timeout`` seconds) until no other worker measures on the machine
        ``where`` (anywhere at once when not ``serial``); True once it is ``worker``'s."""
        if not self.serial:
            return True
        with self._turns:
            free = self._turns.wait_for(
                lambda: self._turn.get(where, worker) == worker, timeout=timeout
            )
            if free:
                self._turn[where] = worker
            return free

    def end_turn(self, worker: int, started: float, where: str = "") -> None:
        """``worker`` measured from ``started`` until now: the machine is free."""
        ended = time.time()
        with self._turns:
            if self._turn.get(where) == worker:
                del self._turn[where]
            self._measuring.pop(worker, None)
            self._set_state(worker, "working")
            self._turns.notify_all()
            self.intervals.append((worker, started, ended))
            with open(self.directory / MEASURING, "a", encoding="utf-8") as log:
                log.write(f"{worker}\t{started:.6f}\t{ended:.6f}\n")

    def release(self, worker: int) -> None:
        """Whatever turn ``worker`` holds ends (its session ended, whichever way)."""
        with self._turns:
            self._release(worker)
            self._measuring.pop(worker, None)

    def _release(self, worker: int) -> None:
        for where, holder in list(self._turn.items()):
            if holder == worker:
                del self._turn[where]
        self._turns.notify_all()

    def quiet_with(self, worker: int, where: str, freeze: Callable[[bool], None]) -> None:
        """``freeze(True)`` stops everything ``worker`` runs on the machine ``where`` (its
        shell), ``freeze(False)`` lets it go on: what ``freeze_others`` does."""
        with self._lock:
            self._freezers[worker] = (where, freeze)

    def freeze_others(self, worker: int, where: str) -> list[Callable[[bool], None]]:
        """With ``quiet`` (a timing, measured one at a time), stop the other workers' shells
        on the machine ``where`` while ``worker`` measures: their training, their tests, even
        their idle shells would be in its time. Returns what to call to let them go on."""
        if not (self.quiet and self.serial):
            return []
        with self._lock:
            others = [f for w, (at, f) in self._freezers.items() if w != worker and at == where]
        for freeze in others:
            with contextlib.suppress(Exception):  # a shell that ended meanwhile
                freeze(True)
        return others

    @staticmethod
    def thaw(frozen: list[Callable[[bool], None]]) -> None:
        for freeze in frozen:
            with contextlib.suppress(Exception):
                freeze(False)

    def measuring_now(self, worker: int, experiment: int, description: str, hypothesis: str):
        """``worker`` measures ``experiment`` (what ``lost`` records if the worker is lost)."""
        with self._lock:
            self._measuring[worker] = (experiment, description, hypothesis)
            self._set_state(worker, f"measuring {experiment}")

    def lost(self, worker: int, why: str) -> ExperimentResult | None:
        """``worker`` is gone (``why``): the experiment it was measuring, if any, is recorded
        as lost, not as a failure of the change, and its machine's turn ends."""
        with self._turns:
            self._release(worker)
            self._set_state(worker, "lost")
            hand = self._measuring.pop(worker, None)
            if hand is None:
                return None
            experiment, description, hypothesis = hand
            result = ExperimentResult(
                experiment=experiment,
                commit="",
                status=ExperimentStatus.LOST,
                description=description,
                hypothesis=hypothesis,
                reason=f"lost with its worker: {why} (not a failure of the change)",
                best_metric=self._best.result.metric if self._best else None,
            )
            self.results.append(Tried(worker, result, {}, Shipped({})))
            append_result(self.directory / RESULTS_FILE, result, worker=worker)
            return result

    # -- the table --------------------------------------------------------------------------

    def tried(self, tree: Tree) -> Tried | None:
        """The fleet's result for a tree identical to ``tree``, if one was measured."""
        return self.tried_print(fingerprint(tree))

    def tried_print(self, print_: str) -> Tried | None:
        with self._lock:
            return self._tried.get(print_)

    def record(
        self, worker: int, result: ExperimentResult, tree: Tree, source: Blobs, attempt: int = 1
    ) -> None:
        """``result`` (of ``tree``, whose files ``source`` has), into the table and best."""
        tried = Tried(worker, result, tree, source, attempt)
        with self._lock:
            self.results.append(tried)
            measured = result.metric is not None and not result.reason.startswith("identical")
            if measured:
                self._tried.setdefault(fingerprint(tree), tried)
            kept = result.status in (ExperimentStatus.KEEP, ExperimentStatus.BASELINE)
            if result.experiment == 0 and self.baseline is None:  # crashed or not: the start
                self.baseline = tried
            best = self._best.result.metric if self._best else None
            if kept and result.metric is not None and self.better(result.metric, best):
                self._best = tried
            append_result(self.directory / RESULTS_FILE, result, worker=worker)

    def best_elsewhere(self, worker: int, attempt: int, best_metric: float | None) -> Tried | None:
        """Another worker's best, when the fleet shares and it beats ``best_metric``."""
        with self._lock:
            best = self._best
        if not self.share or best is None or (best.worker, best.attempt) == (worker, attempt):
            return None
        if best.result.metric is None or not self.better(best.result.metric, best_metric):
            return None
        return best

    def digest(self, worker: int) -> str:
        """What the workers other than ``worker`` tried lately, a line each (empty when
        nothing)."""
        with self._lock:
            others = [t for t in self.results if t.worker != worker]
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


class FleetMember:
    """One worker's handle on the fleet, given to its ``ExperimentRunner``. A member of a
    fleet on other machines (``clive.experiments.ray_fleet.RemoteMember``) has the same
    methods."""

    def __init__(self, fleet: Fleet, worker: int, attempt: int = 1, where: str = "") -> None:
        self.fleet = fleet
        self.worker = worker
        self.attempt = attempt
        self.where = where  # the machine: workers on one measure in turn

    @contextlib.contextmanager
    def measuring(
        self,
        experiment: int,
        description: str = "",
        hypothesis: str = "",
        stop: Callable[[], bool] | None = None,
    ) -> Iterator[None]:
        """Held while measuring ``experiment``: alone on this machine when the fleet is
        ``serial``. Waiting for the turn ends (``MeasuringStopped``) once ``stop()`` says so."""
        fleet = self.fleet
        while not fleet.take_turn(self.worker, self.where, timeout=TURN_WAIT):
            if stop is not None and stop():
                raise MeasuringStopped("stopped while waiting for another worker's measurement")
        started = time.time()
        frozen: list[Callable[[bool], None]] = []
        try:  # the turn ends whatever happens from here
            frozen = fleet.freeze_others(self.worker, self.where)
            fleet.measuring_now(self.worker, experiment, description, hypothesis)
            yield
        finally:
            fleet.thaw(frozen)
            fleet.end_turn(self.worker, started, self.where)

    def quiet_with(self, freeze: Callable[[bool], None]) -> None:
        self.fleet.quiet_with(self.worker, self.where, freeze)

    def tried(self, tree: Tree) -> Tried | None:
        return self.fleet.tried(tree)

    def record(self, result: ExperimentResult, tree: Tree, source: Blobs) -> None:
        self.fleet.record(self.worker, result, tree, source, self.attempt)

    def best_elsewhere(self, best_metric: float | None) -> Tried | None:
        return self.fleet.best_elsewhere(self.worker, self.attempt, best_metric)

    def digest(self) -> str:
        return self.fleet.digest(self.worker)


class MeasuringStopped(Exception):
    """A worker was told to stop while it waited for its turn at measuring."""
