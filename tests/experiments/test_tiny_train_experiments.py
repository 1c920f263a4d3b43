"""End to end: the tiny-train example in a real shell, measured, kept and reset in real git."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import git

from clive.experiments import ExperimentRunner, GitRepo, load_task, read_results
from clive.session.events import ExperimentResult, ExperimentStatus, parse_event

EXAMPLE = Path(__file__).parents[2] / "examples" / "tiny-train"


@pytest.fixture
def tiny_train(tmp_path, git_env) -> Path:
    """A copy of examples/tiny-train as a git repository of its own."""
    work = tmp_path / "tiny-train"
    shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("__pycache__", "model.json"))
    git(work, "init", "--quiet", "--initial-branch=main")
    git(work, "add", "-A")
    git(work, "commit", "--quiet", "-m", "tiny-train")
    return work


def _set_learning_rate(work: Path, rate: float) -> None:
    config = work / "config.py"
    text, count = re.subn(r"LEARNING_RATE = \S+", f"LEARNING_RATE = {rate}", config.read_text())
    assert count == 1
    config.write_text(text)


def _learning_rate(work: Path) -> str:
    return re.search(r"LEARNING_RATE = (\S+)", (work / "config.py").read_text()).group(1)


def test_tiny_train_keeps_an_improvement_and_reverts_the_rest(tiny_train, writer, terminal):
    repo = GitRepo(tiny_train)
    start = repo.head()
    branch = repo.create_branch(load_task(tiny_train / "task.md").name)
    runner = ExperimentRunner(terminal, writer, load_task(tiny_train / "task.md"), repo)

    baseline = runner.baseline()
    assert baseline.status is ExperimentStatus.BASELINE
    assert baseline.commit == start and baseline.metric is not None

    _set_learning_rate(tiny_train, 0.2)
    ok, text = runner.experiment("learning rate 0.2")
    kept = runner.results[-1]
    assert ok and kept.status is ExperimentStatus.KEEP, text
    assert kept.metric < baseline.metric
    assert runner.best_commit == kept.commit == repo.head()
    assert "kept" in text and f"Best so far: {kept.metric:.10g} at {kept.commit[:7]}" in text

    _set_learning_rate(tiny_train, 0.01)
    ok, text = runner.experiment("learning rate 0.01")
    discarded = runner.results[-1]
    assert ok and discarded.status is ExperimentStatus.DISCARD, text
    assert discarded.metric > kept.metric
    assert repo.head() == kept.commit and _learning_rate(tiny_train) == "0.2"
    assert "discarded" in text and "the files were reset to the best" in text
    assert f"against the best {kept.metric:.10g}: worse by" in text

    prepare = tiny_train / "prepare.py"
    prepare.write_text(prepare.read_text().replace("NOISE = 0.1", "NOISE = 0.0"))
    ok, text = runner.experiment("a cleaner validation set")
    invalid = runner.results[-1]
    assert not ok and invalid.status is ExperimentStatus.INVALID
    assert invalid.metric is None and invalid.seconds == 0
    assert "protected files changed: prepare.py" in text
    assert "NOISE = 0.1" in prepare.read_text() and repo.head() == kept.commit

    _set_learning_rate(tiny_train, 2.0)
    ok, text = runner.experiment("learning rate 2.0")
    crashed = runner.results[-1]
    assert not ok and crashed.status is ExperimentStatus.CRASH
    assert crashed.metric is None
    assert crashed.reason == (
        "the command exited with status 1 after the alert 'Traceback (most recent call last)'"
    )
    assert "OverflowError" in crashed.output_tail and "OverflowError" in text
    assert repo.head() == kept.commit and _learning_rate(tiny_train) == "0.2"

    # The numbers are the ones the terminal showed.
    shown = terminal.transcript.read()
    for result in (baseline, kept, discarded):
        assert f"val_loss: {result.metric:.6f}" in shown

    # git: only the kept experiment is on the branch; the others exist, reset away.
    assert repo.branch() == branch
    assert git(tiny_train, "log", "--format=%s", branch).splitlines() == [
        "clive experiment 1: learning rate 0.2",
        "tiny-train",
    ]
    assert git(tiny_train, "show", f"{discarded.commit}:config.py").count("= 0.01") == 1
    assert "NOISE = 0.0" in git(tiny_train, "show", f"{invalid.commit}:prepare.py")
    assert repo.dirty_files() == []

    # results.tsv and the events say exactly the same.
    rows = read_results(writer.directory / "results.tsv")
    assert [(row["commit"], row["status"], row["description"]) for row in rows] == [
        (start[:7], "baseline", "baseline"),
        (kept.commit[:7], "keep", "learning rate 0.2"),
        (discarded.commit[:7], "discard", "learning rate 0.01"),
        (invalid.commit[:7], "invalid", "a cleaner validation set"),
        (crashed.commit[:7], "crash", "learning rate 2.0"),
    ]
    assert [row["metric"] for row in rows] == [
        f"{baseline.metric:.10g}",
        f"{kept.metric:.10g}",
        f"{discarded.metric:.10g}",
        "",
        "",
    ]
    events = [
        parse_event(line) for line in (writer.directory / "events.jsonl").read_text().splitlines()
    ]
    results = [event for event in events if isinstance(event, ExperimentResult)]
    assert results == runner.results
    assert [r.experiment for r in results] == [0, 1, 2, 3, 4]
    assert [r.best_commit for r in results] == [start] + [kept.commit] * 4
    assert [r.best_metric for r in results] == [baseline.metric] + [kept.metric] * 4
    assert runner.summary() == (
        f"best metric {kept.metric:.10g} at {kept.commit[:7]} (baseline "
        f"{baseline.metric:.10g}); 4 experiments: 1 kept, 1 discarded, 1 crashed, 1 invalid"
    )
