"""``clive run task.md --workers 2 --ray ADDRESS`` on a real Ray cluster of two nodes on this
machine (``ray start --head``, then ``ray start --address``): the workers are actors on both
nodes, sharing one table and one best kept on the head, their sessions written on their
nodes and gathered into the run's directory; and a worker's node stopped while it measures
loses only that experiment, recorded as lost, the worker starting again on the head."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import git
from polling import wait_until
from ray_cluster import RayCluster
from scripted import TINY_TRAIN, finish, tiny_train, type_, write_script

from clive.experiments.results import COLUMNS, read_results
from clive.session import Session
from clive.session.events import ExperimentResult, MeasurementStarted, SessionEnded
from clive.session.reader import SessionNotFound

pytest.importorskip("ray", reason="the Ray tests need the ray extra: pip install -e '.[ray]'")
pytestmark = pytest.mark.slow

BEST = "0.013929"  # learning rate 0.05 (the example's) and 400 steps


def _experiment(description: str, hypothesis: str = "") -> dict:
    return {"tool": "experiment", "input": {"description": description, "hypothesis": hypothesis}}


def _set(name: str, value: str) -> dict:
    return type_(f"sed -i 's/^{name} = .*/{name} = {value}/' config.py")


QUICK = {
    1: [type_("env | grep ^RAY_ || echo no-ray-var''iables"),
        _set("LEARNING_RATE", "0.2"), _experiment("learning rate 0.2", "faster"),
        _set("STEPS", "400"), _experiment("400 steps"), finish("done")],
    2: [_set("STEPS", "400"), _experiment("400 steps", "longer training"),
        _set("LEARNING_RATE", "0.3"), _experiment("learning rate 0.3"), finish("done")],
}  # fmt: skip
# Long first experiments (seconds of training each): time to stop a node while one runs.
SLOW = {
    1: [_set("STEPS", "40000"), _experiment("40000 steps", "much longer"),
        _set("STEPS", "400"), _experiment("400 steps"), finish("done")],
    2: [_set("STEPS", "39000"), _experiment("39000 steps", "much longer too"),
        _set("STEPS", "300"), _experiment("300 steps"), finish("done")],
}  # fmt: skip


@pytest.fixture
def cluster():
    started = RayCluster()
    try:
        yield started
    finally:
        started.stop()


def _start(
    tmp_path: Path, cluster: RayCluster, scripts: dict
) -> tuple[Path, Path, subprocess.Popen]:
    """A fresh tiny-train repository, the workers' scripts, and the run started: (the
    repository, the sessions' directory, the process)."""
    repo = tiny_train(tmp_path)
    for number, turns in scripts.items():
        write_script(tmp_path / f"turns-{number}.jsonl", turns)
    sessions = tmp_path / "sessions"
    process = subprocess.Popen(
        [sys.executable, "-m", "clive", "run", "task.md", "--workers", "2",
         "--ray", cluster.address, "--model", f"script:{tmp_path}/turns-{{worker}}.jsonl",
         "--headless", "--no-user-rc", "--sessions-dir", str(sessions)],
        cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=cluster.env,
    )  # fmt: skip
    return repo, sessions, process


def _finished(process: subprocess.Popen) -> str:
    try:
        printed, _ = process.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        process.kill()
        printed, _ = process.communicate()
        pytest.fail(f"the run did not end within 600s:\n{printed}")
    assert process.returncode == 0, printed
    return printed


def _run_directory(sessions: Path) -> Path:
    return wait_until(
        lambda: next((p for p in sessions.glob("*-fleet-*") if p.is_dir()), None),
        "the run's directory",
    )


def _workers(run: Path) -> list[dict[str, str]]:
    try:
        with open(run / "workers.tsv", encoding="utf-8", newline="") as file:
            return list(csv.DictReader(file, delimiter="\t"))
    except FileNotFoundError:
        return []


def _events(session: Path) -> list:
    return Session(session).log().events


def test_two_workers_on_two_nodes_share_one_table_and_one_best(tmp_path, cluster):
    repo, sessions, process = _start(tmp_path, cluster, QUICK)
    printed = _finished(process)
    run = _run_directory(sessions)
    assert "2 workers on Ray (2 nodes)" in printed

    # Placed on the two nodes, each started once, both finished.
    placed = _workers(run)
    assert [(w["worker"], w["attempt"], w["state"]) for w in placed] == [
        ("1", "1", "finished"),
        ("2", "1", "finished"),
    ]
    assert len({w["node"] for w in placed}) == 2

    # One table on the head, with a worker column: one baseline measured, the other
    # answered from the table.
    header = (run / "results.tsv").read_text().splitlines()[0].split("\t")
    assert header == ["worker", *COLUMNS]
    rows = read_results(run / "results.tsv")
    assert sorted({row["worker"] for row in rows}) == ["1", "2"]
    baselines = [row for row in rows if row["status"] == "baseline"]
    assert sorted(row["seconds"] != "0.0" for row in baselines) == [False, True]

    # One best: worker 2's 400 steps, and what worker 1 measured after it was measured
    # against it (taken from the head, with its files, onto worker 1's node).
    best_at = next(i for i, row in enumerate(rows) if row["metric"] == BEST)
    assert (rows[best_at]["worker"], rows[best_at]["status"]) == ("2", "keep")
    # Whichever measured first, the other measured its next experiment against that one's
    # kept change: a best taken across nodes, with its files.
    kept: dict[str, set[str]] = {"1": set(), "2": set()}
    for row in rows:
        if row["status"] == "keep":
            kept[row["worker"]].add(row["metric"])

    # Each session written on its node is gathered, whole, into the run's directory.
    taken_by: dict[int, bool] = {}
    for number in (1, 2):
        (session,) = (run / f"w{number}").iterdir()
        events = _events(session)
        assert isinstance(events[-1], SessionEnded)
        results = [e for e in events if isinstance(e, ExperimentResult)]
        mine = [row["commit"] for row in rows if row["worker"] == str(number)]
        assert [r.commit[:7] for r in results] == mine
        assert (session / "results.tsv").read_text().count("\n") == len(mine) + 1
        others = kept[str(3 - number)]
        taken = [r for r in results if any(f"against the best {m}" in r.reason for m in others)]
        if number == 1:
            # The model's shell on the node has none of the cluster's variables (its token).
            cast = (session / "terminal.cast").read_text()
            assert "no-ray-variables" in cast and "RAY_AUTH_TOKEN" not in cast
        taken_by[number] = bool(taken)
    assert any(taken_by.values()), "no worker measured against the other's best"

    # The fleet's best is in the task's working tree, uncommitted; the summary says whose.
    config = (repo / "config.py").read_text()
    assert "STEPS = 400" in config and "LEARNING_RATE = 0.05" in config
    assert git(repo, "log", "--format=%s").splitlines() == ["tiny-train"]
    assert f"Best: {BEST}, worker 2's experiment 1 (400 steps)." in (run / "summary.md").read_text()


@pytest.fixture
def lost_scratch():
    """The scratch a worker lost with its node leaves on that node (here: this machine's
    /tmp), removed after the test."""
    before = set(Path(tempfile.gettempdir()).glob("clive-ray-w*-*"))
    yield
    for left in set(Path(tempfile.gettempdir()).glob("clive-ray-w*-*")) - before:
        shutil.rmtree(left, ignore_errors=True)


def test_a_node_stopped_mid_experiment_loses_only_that_experiment(tmp_path, cluster, lost_scratch):
    repo, sessions, process = _start(tmp_path, cluster, SLOW)
    try:
        run = _run_directory(sessions)

        def measuring_on_the_second_node():
            for row in _workers(run):
                if row["state"] == "measuring 1" and cluster.raylet_of(int(row["pid"])):
                    return row
            return None

        row = wait_until(
            measuring_on_the_second_node,
            "a worker on the second node measuring its first experiment",
            timeout=120,
            seen=lambda: (run / "workers.tsv").read_text(),
        )
        number = row["worker"]
        # Its session streams back while it runs: the measurement's start is on the head.
        first = wait_until(lambda: next((run / f"w{number}").iterdir(), None), "its session")
        wait_until(
            lambda: any(
                isinstance(e, MeasurementStarted) and e.experiment == 1
                for e in _gathered_events(first)
            ),
            "the start of its first measurement, gathered on the head",
        )
        raylet = cluster.raylet_of(int(row["pid"]))
        assert raylet is not None
        cluster.stop_second_node(raylet)
    except BaseException:
        process.kill()
        process.communicate()
        raise
    printed = _finished(process)

    # That experiment is recorded as lost, not as a crash of the change.
    rows = read_results(run / "results.tsv")
    lost = [r for r in rows if r["status"] == "lost"]
    assert len(lost) == 1 and lost[0]["worker"] == number and lost[0]["metric"] == ""
    assert lost[0]["description"] in ("40000 steps", "39000 steps")
    assert not [r for r in rows if r["status"] == "crash"]
    assert f"[w{number}] lost:" in printed and "recorded as lost" in printed

    # The worker started again on the head, with the experiments it had left, and finished;
    # the other worker was not disturbed.
    placed = _workers(run)
    mine = [w for w in placed if w["worker"] == number]
    assert [(w["attempt"], w["state"]) for w in mine] == [("1", "lost"), ("2", "finished")]
    assert mine[0]["node"] != mine[1]["node"]
    other = [w for w in placed if w["worker"] != number]
    assert [(w["attempt"], w["state"]) for w in other] == [("1", "finished")]
    measured = [r for r in rows if r["worker"] == number and r["status"] in ("keep", "discard")]
    assert [r["description"] for r in measured] == [lost[0]["description"], *_second(number)]

    # What was gathered of the lost session stays beside the new one.
    sessions_of_worker = sorted((run / f"w{number}").iterdir())
    assert len(sessions_of_worker) == 2
    assert any(isinstance(e, MeasurementStarted) for e in _gathered_events(sessions_of_worker[0]))
    assert isinstance(_events(sessions_of_worker[1])[-1], SessionEnded)
    summary = (run / "summary.md").read_text()
    assert "started 2 times" in summary
    assert (repo / "config.py").read_text() != (TINY_TRAIN / "config.py").read_text()


def _second(number: str) -> list[str]:
    return ["400 steps"] if number == "1" else ["300 steps"]


def _gathered_events(session: Path) -> list:
    """The events of a session gathered so far (its log may end mid-line)."""
    try:
        return _events(session)
    except (OSError, ValueError, SessionNotFound):
        return []
