"""End to end: the tiny-train example measured by the harness, kept and reset through the
harness's own repository, with and without a sandbox."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import git

from clive.experiments import ExperimentRunner, load_task, read_results
from clive.experiments.harness_repo import BEST_REF, experiment_ref
from clive.session.events import (
    ExperimentResult,
    ExperimentStatus,
    MeasurementStarted,
    parse_event,
)

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


def _file(runner: ExperimentRunner, commit: str, path: str) -> str:
    """The text of ``path`` in the harness's ``commit``."""
    entry = runner.repo.tree(commit)[path]
    return runner.repo.blobs([entry.sha])[entry.sha].decode()


@pytest.mark.parametrize("sandboxed", [True, False], ids=["sandboxed", "unsandboxed"])
def test_tiny_train_keeps_an_improvement_and_reverts_the_rest(tiny_train, writer, sandboxed):
    start = git(tiny_train, "rev-parse", "HEAD").strip()
    task = load_task(tiny_train / "task.md")
    runner = ExperimentRunner(writer, task, sandboxed=sandboxed, root=tiny_train)

    baseline = runner.baseline()
    assert baseline.status is ExperimentStatus.BASELINE, baseline.output_tail
    assert baseline.metric is not None
    assert runner.repo.ref(experiment_ref(0)) == baseline.commit == runner.best_commit

    _set_learning_rate(tiny_train, 0.2)
    ok, text = runner.experiment("learning rate 0.2")
    kept = runner.results[-1]
    assert ok and kept.status is ExperimentStatus.KEEP, text
    assert kept.metric < baseline.metric
    assert runner.best_commit == kept.commit == runner.repo.ref(BEST_REF)
    assert "kept" in text and f"Best so far: {kept.metric:.10g} at {kept.commit[:7]}" in text

    _set_learning_rate(tiny_train, 0.01)
    ok, text = runner.experiment("learning rate 0.01")
    discarded = runner.results[-1]
    assert ok and discarded.status is ExperimentStatus.DISCARD, text
    assert discarded.metric > kept.metric
    assert runner.repo.ref(BEST_REF) == kept.commit and _learning_rate(tiny_train) == "0.2"
    assert "discarded" in text and "the files were reset to the best" in text
    assert f"against the best {kept.metric:.10g}: worse by" in text

    prepare = tiny_train / "prepare.py"
    prepare.write_text(prepare.read_text().replace("NOISE = 0.1", "NOISE = 0.0"))
    ok, text = runner.experiment("a cleaner validation set")
    invalid = runner.results[-1]
    assert not ok and invalid.status is ExperimentStatus.INVALID
    assert invalid.metric is None and invalid.seconds == 0
    assert "protected files changed: prepare.py" in text
    assert "NOISE = 0.1" in prepare.read_text() and runner.repo.ref(BEST_REF) == kept.commit

    _set_learning_rate(tiny_train, 2.0)
    ok, text = runner.experiment("learning rate 2.0")
    crashed = runner.results[-1]
    assert not ok and crashed.status is ExperimentStatus.CRASH
    assert crashed.metric is None
    assert crashed.reason == (
        "the command exited with status 1 after the alert 'Traceback (most recent call last)'"
    )
    assert "OverflowError" in crashed.output_tail and "OverflowError" in text
    assert runner.repo.ref(BEST_REF) == kept.commit and _learning_rate(tiny_train) == "0.2"

    # The harness's repository: the best on top of the baseline, every experiment a ref.
    harness = runner.repo.path
    assert git(harness, "log", "--format=%s", BEST_REF).splitlines() == [
        "clive experiment 1: learning rate 0.2",
        f"clive baseline of {runner.root}",
    ]
    for result in runner.results:
        assert runner.repo.ref(experiment_ref(result.experiment)) == result.commit
    assert "LEARNING_RATE = 0.01" in _file(runner, discarded.commit, "config.py")
    assert "NOISE = 0.0" in _file(runner, invalid.commit, "prepare.py")

    # The user's repository: untouched but for the best tree, uncommitted; the metric ran
    # on copies, so nothing it wrote (model.json) is in the model's tree.
    assert git(tiny_train, "log", "--format=%s").splitlines() == ["tiny-train"]
    assert git(tiny_train, "rev-parse", "HEAD").strip() == start
    assert git(tiny_train, "branch", "--show-current").strip() == "main"
    assert git(tiny_train, "status", "--porcelain").splitlines() == [" M config.py"]
    assert not (tiny_train / "model.json").exists()

    # results.tsv and the events say exactly the same.
    rows = read_results(writer.directory / "results.tsv")
    assert [(row["commit"], row["status"], row["description"]) for row in rows] == [
        (baseline.commit[:7], "baseline", "baseline"),
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
    assert [r.best_commit for r in results] == [baseline.commit] + [kept.commit] * 4
    assert [r.best_metric for r in results] == [baseline.metric] + [kept.metric] * 4
    # Every measurement is announced, each with what it measured; the invalid one was not.
    started = [event for event in events if isinstance(event, MeasurementStarted)]
    assert [(e.experiment, e.commit, e.sandboxed) for e in started] == [
        (r.experiment, r.commit, sandboxed) for r in (baseline, kept, discarded, crashed)
    ]
    assert runner.summary() == (
        f"best metric {kept.metric:.10g} at {kept.commit[:7]} (baseline "
        f"{baseline.metric:.10g}); 4 experiments: 1 kept, 1 discarded, 1 crashed, 1 invalid"
    )
