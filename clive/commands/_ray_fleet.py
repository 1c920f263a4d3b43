"""``clive run task.md --workers N --ray [ADDRESS]``: the workers of a fleet as Ray actors.

- **Placement.** Each worker is an actor asking for ``--cpus-per-worker`` and
  ``--gpus-per-worker`` (Ray then sets its ``CUDA_VISIBLE_DEVICES``, which its sandbox and its
  measurements keep), spread over the nodes. On its node it clones the task's repository (a
  git bundle of the committed state travels with it), opens its model, and runs an ordinary
  session in its own sandbox, written on that node.
- **One table, one best** (``clive.experiments.fleet.Fleet``) live in a coordinator actor
  pinned to the node this command runs on, the head: it writes the run's ``results.tsv``,
  ``measuring.tsv`` and ``workers.tsv`` there. A kept change travels to it with the files
  it changed, so that the other workers can take it at their next experiment.
- **One measurement at a time per machine.** Workers on one machine take turns at
  measuring (a timing measured while another worker trains is noise); workers on
  different machines measure at once; with devices of their own (``--gpus-per-worker``)
  all measure at once.
- **Results stream back** as experiments finish: every event of every worker is a line
  here, and each session is gathered into the run's ``wK/`` as it grows
  (``clive.experiments.gather``), made exact when the worker ends.
- **A node that dies** loses only what it was doing: the experiment it was measuring is
  recorded as ``lost`` (not as a crash of the change), its turn at measuring ends, and the
  worker starts again on a node that lives, with the experiments it had left, from the
  fleet's best. What was gathered of its session stays.

The head needs the task's repository; every node needs clive (``pip install
'clive-harness[ray]'``) and, at the same paths, the files outside the repository that the
metric or the held-out metric read.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from clive.experiments.fleet import (
    TURN_WAIT,
    Fleet,
    MeasuringStopped,
    Shipped,
    Tried,
    fingerprint,
)
from clive.experiments.gather import PIECE_BYTES, Gatherer, Piece, apply, digests, remove
from clive.session.events import ExperimentResult, ExperimentStatus

GATHER_EVERY = 1.0  # seconds between two gatherings of a worker's session
ATTEMPTS = 3  # starts of one worker, its first included, before its losses end it
CONNECT_TIMEOUT = 10.0  # seconds to reach a cluster's address before saying it cannot be
_POLL = 0.25  # seconds between two looks at the workers (and at what they said)


class RayUnavailable(Exception):
    """Ray cannot be used: not installed, or the cluster cannot be reached."""


def import_ray():
    try:
        import ray
    except ImportError:
        raise RayUnavailable(
            "--ray needs Ray, which is not installed: pip install 'clive-harness[ray]'"
        ) from None
    return ray


# -- the coordinator (an actor on the head) --------------------------------------------------


class Coordinator:
    """The fleet's table and best, its turns at measuring, what its workers said and their
    gathered sessions: one actor on the head node, called by the workers and the driver."""

    def __init__(self, directory: str, lower: bool, share: bool, serial: bool) -> None:
        self.directory = Path(directory)
        self.fleet = Fleet(self.directory, lower_is_better=lower, share=share, serial=serial)
        self._lock = threading.Lock()
        self._said: list[tuple[int, str]] = []

    # the fleet, for the workers' RemoteMember
    def take_turn(self, worker: int, where: str, timeout: float) -> bool:
        return self.fleet.take_turn(worker, where, timeout)

    def end_turn(self, worker: int, started: float, where: str) -> None:
        self.fleet.end_turn(worker, started, where)

    def measuring_now(self, worker: int, experiment: int, description: str, hypothesis: str):
        self.fleet.measuring_now(worker, experiment, description, hypothesis)

    def tried(self, print_: str) -> Tried | None:
        return self.fleet.tried_print(print_)

    def record(
        self,
        worker: int,
        attempt: int,
        result: ExperimentResult,
        tree: dict,
        blobs: dict[str, bytes],
    ) -> None:
        self.fleet.record(worker, result, tree, Shipped(blobs), attempt)

    def best_elsewhere(self, worker: int, attempt: int, best_metric: float | None) -> Tried | None:
        return self.fleet.best_elsewhere(worker, attempt, best_metric)

    def digest(self, worker: int) -> str:
        return self.fleet.digest(worker)

    # the driver's
    def lost(self, worker: int, attempt: int, why: str) -> ExperimentResult | None:
        self.fleet.state(worker, "lost", attempt)
        return self.fleet.lost(worker, why)

    def experiments(self, worker: int) -> int:
        """How many experiments ``worker`` recorded (lost ones included)."""
        return sum(1 for t in self.fleet.results if t.worker == worker and t.result.experiment)

    def say(self, worker: int, lines: list[str]) -> None:
        with self._lock:
            self._said += [(worker, line) for line in lines]

    def said(self) -> list[tuple[int, str]]:
        with self._lock:
            said, self._said = self._said, []
        return said

    def placed(self, worker: int, attempt: int, node: str, address: str, pid: int) -> None:
        self.fleet.placed(worker, attempt, node, address, pid)

    def ended(self, worker: int, attempt: int, outcome: str) -> None:
        self.fleet.release(worker)
        self.fleet.state(worker, outcome, attempt)

    def best(self) -> tuple[Tried | None, Tried | None]:
        """The fleet's best and its baseline (for the driver to write the best out)."""
        return self.fleet.best, self.fleet.baseline

    def summary(self, rows: list[tuple[int, str, str]]) -> str:
        from clive.commands._fleet import summary

        return summary(self.fleet, rows)

    # the gathered sessions
    def gather(self, name: str, pieces: list[Piece]) -> None:
        apply(self.directory / name, pieces)

    def digests(self, name: str) -> dict[str, str]:
        return digests(self.directory / name)

    def remove(self, name: str, relatives: list[str]) -> None:
        remove(self.directory / name, relatives)


class RemoteMember:
    """A worker's handle on the coordinator: ``FleetMember``'s methods, over Ray."""

    def __init__(self, coordinator: Any, worker: int, attempt: int, where: str) -> None:
        self._c = coordinator
        self.worker = worker
        self.attempt = attempt
        self.where = where
        self._baseline: dict | None = None
        self._ray = import_ray()

    def _call(self, method: str, *args: Any) -> Any:
        return self._ray.get(getattr(self._c, method).remote(*args))

    @contextlib.contextmanager
    def measuring(
        self, experiment: int, description: str = "", hypothesis: str = "", stop=None
    ) -> Iterator[None]:
        while not self._call("take_turn", self.worker, self.where, TURN_WAIT):
            if stop is not None and stop():
                raise MeasuringStopped("stopped while waiting for another worker's measurement")
        started = time.time()
        try:  # the turn ends whatever happens from here
            self._call("measuring_now", self.worker, experiment, description, hypothesis)
            yield
        finally:
            self._call("end_turn", self.worker, started, self.where)

    def quiet_with(self, freeze) -> None:
        """Not on Ray yet: the shells of workers on one node go on while one measures."""

    def tried(self, tree: dict) -> Tried | None:
        return self._call("tried", fingerprint(tree))

    def record(self, result: ExperimentResult, tree: dict, source) -> None:
        """Into the table; a kept change goes with the files it changed since the baseline
        (what another worker needs to take it)."""
        if result.status is ExperimentStatus.BASELINE and self._baseline is None:
            self._baseline = tree
        blobs = {}
        if result.status is ExperimentStatus.KEEP:
            start = self._baseline or {}
            blobs = source.blobs([e.sha for p, e in tree.items() if start.get(p) != e])
        self._call("record", self.worker, self.attempt, result, tree, blobs)

    def best_elsewhere(self, best_metric: float | None) -> Tried | None:
        return self._call("best_elsewhere", self.worker, self.attempt, best_metric)

    def digest(self) -> str:
        return self._call("digest", self.worker)


# -- a worker (an actor on any node) ---------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class WorkerSpec:
    """What a worker's actor needs to run its session on its node."""

    args: argparse.Namespace
    number: int
    attempt: int
    count: int  # workers in the run
    bundle: bytes  # the repository's committed state (git bundle)
    task: str  # the task file, relative to the repository's root
    repository: str  # the repository on the head (recorded in the session)
    sandboxed: bool
    held_out: tuple[str, ...]
    needed: tuple[str, ...]  # paths outside the repository the metrics read
    experiments_left: int | None  # after a loss: what the worker had left
    serial: bool  # measurements take turns on a machine
    devices: bool  # the worker has devices of its own (CUDA_VISIBLE_DEVICES from Ray)
    hidden: tuple[str, ...] = ()  # out of the model's sight on any node: the head's sessions


class WorkerHost:
    """One worker of the fleet, on whichever node Ray placed it."""

    def __init__(self) -> None:
        self._worker = None
        self._quit = threading.Event()

    def where(self) -> tuple[str, str, int]:
        """This actor's node (id, address) and process."""
        ray = import_ray()
        return ray.get_runtime_context().get_node_id(), ray.util.get_node_ip_address(), os.getpid()

    def quit(self) -> None:
        self._quit.set()
        if self._worker is not None:
            self._worker.control.quit()

    def run(self, spec: WorkerSpec, coordinator: Any) -> tuple[str, str, str]:
        """Run the worker's session here; (how it ended, its session's name, a failure)."""
        from clive.commands._fleet import open_worker, run_worker, worker_start
        from clive.commands.experiments import instructions, runner_factory

        ray = import_ray()
        name = f"w{spec.number}"
        scratch = Path(tempfile.mkdtemp(prefix=f"clive-ray-{name}-"))
        try:
            missing = [p for p in spec.needed if not Path(p).exists()]
            if missing:
                raise OSError(
                    f"{', '.join(missing)}: not on this node ({ray.util.get_node_ip_address()}): "
                    "what the metrics read outside the repository must be on every node"
                )
            bundle = scratch / "repository.bundle"
            bundle.write_bytes(spec.bundle)
            worker = open_worker(
                spec.number, spec.args.config, Path(spec.task), str(bundle), scratch / "tree"
            )
            if spec.experiments_left is not None:
                limits = worker.task.limits.model_copy(
                    update={"experiments": spec.experiments_left}
                )
                worker.task = dataclasses.replace(worker.task, limits=limits)
            self._worker = worker
            if self._quit.is_set():
                worker.control.quit()
            sessions = scratch / "sessions"
            where = ray.util.get_node_ip_address() if spec.serial else ""
            member = RemoteMember(coordinator, spec.number, spec.attempt, where)
            visible = os.environ.get("CUDA_VISIBLE_DEVICES")
            env = {"CUDA_VISIBLE_DEVICES": visible} if spec.devices and visible else {}
            start = worker_start(
                spec.args, worker, member, env, spec.sandboxed, sessions,
                [Path(p) for p in spec.held_out], sessions / name, spec.count,
                Path(spec.repository), instructions, runner_factory,
                hidden=[Path(p) for p in spec.hidden],
            )  # fmt: skip
            gatherer = _Gathering(Gatherer(sessions / name), coordinator, name)
            try:
                run_worker(
                    worker, start,
                    lambda lines: ray.get(coordinator.say.remote(spec.number, lines)), spec.args,
                )  # fmt: skip
            finally:
                gatherer.close()
            outcome = worker.ended.outcome.value if worker.ended else "failed"
            session = worker.session.name if worker.session else ""
            return outcome, session, worker.error
        except Exception as error:  # the driver says it, with the worker's number
            return "failed", "", str(error) or type(error).__name__
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


class _Gathering:
    """Ships a session to the head every ``GATHER_EVERY`` seconds (what grew: a few reads of
    small appended files; the copies of trees measured are never read), and exactly at the
    end."""

    def __init__(self, gatherer: Gatherer, coordinator: Any, name: str) -> None:
        self._gatherer = gatherer
        self._c = coordinator
        self._name = name
        self._stop = threading.Event()
        self._ray = import_ray()
        self._thread = threading.Thread(target=self._loop, name="clive-gather", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(GATHER_EVERY):
            try:
                self._send(self._gatherer.pieces())
            except Exception:  # the head unreachable a moment: the next look sends it
                continue

    def _send(self, changes: tuple[list[Piece], dict]) -> None:
        pieces, marks = changes
        batch: list[Piece] = []
        for piece in pieces:
            batch.append(piece)
            if sum(len(p[2]) for p in batch) >= PIECE_BYTES:
                self._ray.get(self._c.gather.remote(self._name, batch))
                batch = []
        if batch:
            self._ray.get(self._c.gather.remote(self._name, batch))
        self._gatherer.sent(marks)  # only once the head has it

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        theirs = self._ray.get(self._c.digests.remote(self._name))
        pieces, gone = self._gatherer.final(theirs)
        self._send((pieces, {}))
        if gone:
            self._ray.get(self._c.remove.remote(self._name, gone))


# -- the driver (this command, on the head) --------------------------------------------------


@dataclasses.dataclass
class _Start:
    """One start of a worker: its actor and what its ``run`` returns."""

    number: int
    attempt: int
    actor: Any
    ref: Any
    left: int | None  # experiments it has (None: the task's limit)


def run_ray_fleet(
    args: argparse.Namespace,
    task,
    root: Path,
    sandboxed: bool,
    held_out: list[Path],
    needed: list[Path],
    run_dir: Path,
    finish,
) -> int:
    """The fleet's workers as actors of the Ray cluster at ``args.ray``; ``finish(best,
    baseline, summary)`` at the end. The exit status of the worst end among the workers, or
    2 when Ray cannot be used."""
    problem = ray_problem(args.ray)
    if problem:
        print(f"clive run: {problem}", file=sys.stderr)
        return 2
    ray = import_ray()
    options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR}
    if args.ray == "local":
        options["include_dashboard"] = False  # a Ray of this run's own, on this machine
    else:
        options["address"] = args.ray
    try:
        ray.init(**options)
    except (ConnectionError, RuntimeError, ValueError) as error:
        print(f"clive run: cannot reach the Ray cluster at {args.ray}: {error}", file=sys.stderr)
        return 2
    try:
        return _drive(ray, args, task, root, sandboxed, held_out, needed, run_dir, finish)
    finally:
        ray.shutdown()


def ray_problem(address: str) -> str:
    """Why Ray cannot be used at ``address`` (not installed, nothing answers there), or ""."""
    try:
        import_ray()
    except RayUnavailable as error:
        return str(error)
    unreachable = _unreachable(address)
    return f"cannot reach the Ray cluster at {address}: {unreachable}" if unreachable else ""


def _unreachable(address: str) -> str:
    """Why nothing answers at ``address`` (HOST:PORT, or ray://HOST:PORT), empty if something
    does or the address is not one to check (``local``, ``auto``): Ray itself would retry for
    minutes."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return ""
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT):
            return ""
    except OSError as error:
        return error.strerror or str(error) or type(error).__name__


def _drive(ray, args, task, root, sandboxed, held_out, needed, run_dir, finish) -> int:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    devices = args.gpus_per_worker > 0
    serial = not devices
    head = ray.get_runtime_context().get_node_id()
    coordinator = (
        ray.remote(Coordinator)
        .options(
            num_cpus=0,
            max_concurrency=4 * args.workers + 16,
            scheduling_strategy=NodeAffinitySchedulingStrategy(head, soft=False),
        )
        .remote(str(run_dir), task.metric.lower_is_better, not args.no_share, serial)
    )
    bundle = subprocess.run(
        ["git", "-C", str(root), "bundle", "create", "--quiet", "-", "HEAD"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    host = ray.remote(WorkerHost).options(
        num_cpus=args.cpus_per_worker,
        num_gpus=args.gpus_per_worker,
        max_concurrency=2,
        max_restarts=0,
        scheduling_strategy="SPREAD",
    )
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    room = [
        n for n in nodes
        if n.get("Resources", {}).get("CPU", 0) >= args.cpus_per_worker
        and n.get("Resources", {}).get("GPU", 0) >= args.gpus_per_worker
    ]  # fmt: skip
    if not room:
        have = ", ".join(
            f"{n.get('NodeManagerAddress', '?')}: {n.get('Resources', {}).get('CPU', 0):g} CPU, "
            f"{n.get('Resources', {}).get('GPU', 0):g} GPU"
            for n in nodes
        )
        print(
            f"clive run: no node of the Ray cluster has {args.cpus_per_worker:g} CPU and "
            f"{args.gpus_per_worker:g} GPU for a worker (--cpus-per-worker, "
            f"--gpus-per-worker); the nodes: {have or 'none'}",
            file=sys.stderr,
        )
        return 2
    policy = "at once, devices each" if devices else "one at a time on each machine"
    sharing = "one best" if not args.no_share else "each its own best"
    print(
        f"clive run: {args.workers} workers on Ray ({len(nodes)} nodes) in {run_dir} "
        f"({sharing}; measurements {policy})",
        file=sys.stderr,
    )
    quitting = threading.Event()
    running: dict[Any, _Start] = {}  # each worker's run
    placing: dict[Any, _Start] = {}  # where a worker was placed, not known yet

    def start(number: int, attempt: int, left: int | None) -> None:
        actor = host.remote()
        spec = WorkerSpec(
            args=args, number=number, attempt=attempt, count=args.workers, bundle=bundle,
            task=task.path.relative_to(root).as_posix(), repository=str(root),
            sandboxed=sandboxed, held_out=tuple(map(str, held_out)),
            needed=tuple(map(str, [*needed, *held_out])), experiments_left=left,
            serial=serial, devices=devices, hidden=(str(Path(args.sessions_dir).resolve()),),
        )  # fmt: skip
        one = _Start(number, attempt, actor, actor.run.remote(spec, coordinator), left)
        running[one.ref] = placing[actor.where.remote()] = one

    def placed(ref) -> None:
        """Where a worker was placed, once Ray says (a worker may wait for room)."""
        one = placing.pop(ref)
        try:
            node, address, pid = ray.get(ref)
        except ray.exceptions.RayError:
            return  # its run says what became of it
        ray.get(coordinator.placed.remote(one.number, one.attempt, node, address, pid))
        again = f" (start {one.attempt}, {one.left} experiments left)" if one.attempt > 1 else ""
        print(f"[w{one.number}] on node {node[:12]} at {address}{again}", flush=True)

    killed: set[int] = set()  # workers ended before they were placed

    def stop(*_: object) -> None:
        quitting.set()
        waiting = {id(one) for one in placing.values()}
        for one in list(running.values()):
            if id(one) in waiting:  # not placed yet (no room): it never started
                killed.add(id(one))
                ray.kill(one.actor)
            else:
                one.actor.quit.remote()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for number in range(1, args.workers + 1):
        start(number, 1, None)
    ends: dict[int, tuple[str, str]] = {}
    while running:
        ready, _ = ray.wait(list(running), num_returns=1, timeout=_POLL)
        if placing:
            for ref in ray.wait(list(placing), num_returns=len(placing), timeout=0)[0]:
                placed(ref)
        _print_said(ray, coordinator)
        for ref in ready:
            one = running.pop(ref)
            try:
                outcome, session, error = ray.get(ref)
            except ray.exceptions.RayActorError as died:
                if quitting.is_set() and id(one) in killed:
                    ends[one.number] = ("quit", "-")
                    continue
                left = _lost(ray, coordinator, one, died, task, quitting)
                if left is not None:
                    start(one.number, one.attempt + 1, left)
                else:
                    ends[one.number] = ("lost", f"w{one.number}")
                continue
            except ray.exceptions.RayError as failure:  # its run failed in Ray itself
                outcome, session, error = "failed", "", f"Ray: {failure}"
            ray.get(coordinator.ended.remote(one.number, one.attempt, outcome))
            if error:
                print(f"[w{one.number}] clive: {error}", file=sys.stderr, flush=True)
            again = f" (started {one.attempt} times: lost before)" if one.attempt > 1 else ""
            ends[one.number] = (
                (f"failed: {error}" if error else outcome) + again,
                f"w{one.number}/{session}" if session else "-",
            )
    _print_said(ray, coordinator)
    best, baseline = ray.get(coordinator.best.remote())
    text = ray.get(coordinator.summary.remote([(n, *ends[n]) for n in sorted(ends)]))
    finish(best, baseline, text)
    return max((_status(outcome) for outcome, _ in ends.values()), default=0)


def _status(outcome: str) -> int:
    from clive.commands.run import EXIT_STATUS
    from clive.session.events import Outcome

    try:
        return EXIT_STATUS.get(Outcome(outcome.split(" (")[0]), 1)
    except ValueError:  # lost, or failed
        return 1


def _lost(ray, coordinator, one: _Start, died: Exception, task, quitting) -> int | None:
    """Worker ``one`` died with its node: its experiment recorded as lost. The experiments it
    has left, if it starts again (None: it does not)."""
    why = "its Ray actor died (its node stopped or was lost)"
    result = ray.get(coordinator.lost.remote(one.number, one.attempt, why))
    lost = f"; experiment {result.experiment} recorded as lost" if result else ""
    print(f"[w{one.number}] lost: {why}{lost}", file=sys.stderr, flush=True)
    done = ray.get(coordinator.experiments.remote(one.number))
    left = task.limits.experiments - done
    if quitting.is_set() or left <= 0 or one.attempt >= ATTEMPTS:
        return None
    return left


def _print_said(ray, coordinator) -> None:
    for number, line in ray.get(coordinator.said.remote()):
        print(f"[w{number}] {line}", flush=True)
