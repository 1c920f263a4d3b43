"""``clive run task.md --workers N``: a scripted 4-worker run of tiny-train, each worker in its
own sandbox and clone, sharing one table, one best and one measurement at a time; and the
same task with each worker on its own best (``--no-share``)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import git
from scripted import finish, tiny_train, type_, write_script

from clive.experiments.results import COLUMNS, read_results
from clive.session import Session
from clive.session.events import ExperimentResult, ToolResult

pytestmark = pytest.mark.slow

BEST = "0.013929"  # learning rate 0.05 (the example's) and 400 steps


def _experiment(description: str, hypothesis: str = "") -> dict:
    return {"tool": "experiment", "input": {"description": description, "hypothesis": hypothesis}}


def _rate(value: str) -> dict:
    return type_(f"sed -i 's/^LEARNING_RATE = .*/LEARNING_RATE = {value}/' config.py")


STEPS_400 = type_("sed -i 's/^STEPS = .*/STEPS = 400/' config.py")
# Workers 1 and 2 try the same thing: the tree is measured once. Worker 3 finds the best.
SCRIPTS = {
    1: [_rate("0.2"), _experiment("learning rate 0.2", "faster"), STEPS_400,
        _experiment("400 steps"), finish("done")],
    2: [_rate("0.2"), _experiment("learning rate 0.2", "faster too"), STEPS_400,
        _experiment("400 steps"), finish("done")],
    3: [STEPS_400, _experiment("400 steps", "longer training"), finish("done")],
    4: [_rate("0.3"), _experiment("learning rate 0.3", "faster still"), STEPS_400,
        _experiment("400 steps"), finish("done")],
}  # fmt: skip


def _run(tmp_path: Path, workers: int, *options: str) -> tuple[Path, Path, str]:
    """A fresh tiny-train repository, the workers' scripts, and the run: (the repository,
    the run's directory, what clive printed)."""
    repo = tiny_train(tmp_path)
    for number, turns in SCRIPTS.items():
        write_script(tmp_path / f"turns-{number}.jsonl", turns)
    sessions = tmp_path / "sessions"
    done = subprocess.run(
        [sys.executable, "-m", "clive", "run", "task.md", "--workers", str(workers),
         "--model", f"script:{tmp_path}/turns-{{worker}}.jsonl", "--headless", "--no-user-rc",
         "--sessions-dir", str(sessions), *options],
        cwd=repo, capture_output=True, text=True, timeout=600, env={**os.environ},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    (run,) = [p for p in sessions.iterdir() if p.is_dir()]
    return repo, run, done.stdout + done.stderr


def _results(run: Path, worker: int) -> list[ExperimentResult]:
    (directory,) = (run / f"w{worker}").iterdir()
    return [e for e in Session(directory).log().events if isinstance(e, ExperimentResult)]


def test_four_workers_share_one_table_one_best_and_measure_one_at_a_time(tmp_path):
    repo, run, printed = _run(tmp_path, 4)
    rows = read_results(run / "results.tsv")
    header = (run / "results.tsv").read_text().splitlines()[0].split("\t")
    assert header == ["worker", *COLUMNS]
    assert sorted({row["worker"] for row in rows}) == ["1", "2", "3", "4"]
    assert all(f"[w{n}]" in printed for n in range(1, 5))  # each line says its worker

    # One baseline was measured; the three identical ones were answered from the table.
    baselines = [row for row in rows if row["status"] == "baseline"]
    assert len(baselines) == 4 and {row["metric"] for row in baselines} == {"0.021311"}
    assert sorted(row["seconds"] != "0.0" for row in baselines) == [False, False, False, True]

    # The same change by two workers is measured once: the second is answered from the table
    # (or, having taken the first's best, has nothing to measure).
    measured = [r for r in rows if r["status"] != "baseline" and r["seconds"] != "0.0"]
    trees = [(r["description"], r["metric"]) for r in measured]
    assert trees.count(("learning rate 0.2", "0.014419")) == 1

    # One best: the best experiment, and every experiment taken after it by another worker is
    # measured (or answered) against it.
    best_at = next(i for i, row in enumerate(rows) if row["metric"] == BEST)
    assert rows[best_at]["worker"] == "3" and rows[best_at]["status"] == "keep"
    for number in (1, 2, 4):
        later = [r for r in _results(run, number) if r.t > 0 and r.experiment > 0]
        after = [r for r in later if r.commit[:7] in {row["commit"] for row in rows[best_at:]}]
        assert all(f"against the best {BEST}" in r.reason for r in after), number

    # One measurement at a time, in the whole fleet.
    turns = sorted(
        tuple(map(float, line.split("\t")[1:]))
        for line in (run / "measuring.tsv").read_text().splitlines()
    )
    assert len(turns) >= 4
    assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(turns))

    # A worker reads what the others tried (the last to run an experiment, at least).
    reports = [
        e.content
        for number in range(1, 5)
        for e in Session(next((run / f"w{number}").iterdir())).log().events
        if isinstance(e, ToolResult) and e.name == "experiment"
    ]
    assert any("What the other workers tried lately:" in report for report in reports)

    # The fleet's best is in the task's working tree, uncommitted; the summary says so.
    config = (repo / "config.py").read_text()
    assert "STEPS = 400" in config and "LEARNING_RATE = 0.05" in config
    assert git(repo, "log", "--format=%s").splitlines() == ["tiny-train"]
    assert f"Best: {BEST}, worker 3's experiment 1 (400 steps)." in (run / "summary.md").read_text()
    settings = json.loads(next((run / "w2").iterdir()).joinpath("session.json").read_text())
    assert (settings["settings"]["worker"], settings["settings"]["workers"]) == (2, 4)


def test_without_sharing_each_worker_keeps_to_its_own_best(tmp_path):
    _, run, _ = _run(tmp_path, 4, "--no-share")
    for number in (1, 2, 4):
        first = [r for r in _results(run, number) if r.experiment == 1]
        # Measured against its own baseline, never another worker's best.
        assert all("against the best 0.021311" in r.reason for r in first), number


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--no-share"], "--gpus, --no-share and --ray go with --workers N"),
        (["--ray"], "--gpus, --no-share and --ray go with --workers N"),
        (["--workers", "2", "--ray", "--gpus", "0,1"], "use --gpus-per-worker N"),
        (["--workers", "2", "--ray", "127.0.0.1:1"], "cannot reach the Ray cluster at 127.0.0.1:1"),
    ],
)
def test_fleet_options_that_cannot_work_are_refused(tmp_path, capsys, options, said):
    from clive.cli import main

    repo = tiny_train(tmp_path)
    sessions = tmp_path / "sessions"
    status = main(["run", str(repo / "task.md"), *options, "--sessions-dir", str(sessions)])
    assert status == 2
    assert said in capsys.readouterr().err
    assert not sessions.exists() or not list(sessions.iterdir())  # no run left behind


def test_ray_not_installed_is_said_plainly(tmp_path, capsys, monkeypatch):
    from clive.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed: import fails
    repo = tiny_train(tmp_path)
    status = main(["run", str(repo / "task.md"), "--workers", "2", "--ray",
                   "--sessions-dir", str(tmp_path / "sessions")])  # fmt: skip
    assert status == 2
    assert "pip install 'clive-harness[ray]'" in capsys.readouterr().err
