"""``clive run task.md`` end to end: the scripted model changes files and calls `experiment`;
the harness keeps, resets, rejects and logs, in git and in results.tsv."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import git
from polling import wait_until
from scripted import finish, type_, write_script

from clive.experiments.results import COLUMNS
from clive.session import Session
from clive.session.events import ExperimentResult, Outcome

EXAMPLE = Path(__file__).parents[2] / "examples" / "tiny-train"


def _tiny_train(tmp_path) -> Path:
    """A copy of examples/tiny-train in a repository of its own, committed."""
    repo = tmp_path / "tiny-train"
    shutil.copytree(EXAMPLE, repo)
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "tiny-train")
    return repo


def _experiment(description: str) -> dict:
    return {"tool": "experiment", "input": {"description": description}}


def _set_rate(rate: str) -> dict:
    return type_(f"sed -i 's/^LEARNING_RATE = .*/LEARNING_RATE = {rate}/' config.py")


def test_the_example_runs_end_to_end_with_a_scripted_model(tmp_path, git_env):
    repo = _tiny_train(tmp_path)
    script = write_script(
        tmp_path / "turns.jsonl",
        [
            _set_rate("0.2"),
            _experiment("learning rate 0.2"),
            _set_rate("0.01"),
            _experiment("learning rate 0.01"),
            type_("sed -i 's/^NOISE = .*/NOISE = 0.0/' prepare.py"),
            _experiment("no noise (edits a protected file)"),
            _set_rate("2.0"),
            _experiment("learning rate 2.0"),
            finish("a learning rate of 0.2 is best"),
        ],
    )
    done = subprocess.run(
        [
            sys.executable, "-m", "clive", "run", "task.md", "--model", f"script:{script}",
            "--headless", "--no-user-rc", "--sessions-dir", str(tmp_path / "sessions"),
        ],
        cwd=repo, capture_output=True, text=True, timeout=300, env={**os.environ},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout

    (directory,) = (tmp_path / "sessions").iterdir()
    session = Session(directory)
    results = [e for e in session.log().events if isinstance(e, ExperimentResult)]
    statuses = [(e.status.value, e.description) for e in results]
    assert statuses == [
        ("baseline", "baseline"),
        ("keep", "learning rate 0.2"),
        ("discard", "learning rate 0.01"),
        ("invalid", "no noise (edits a protected file)"),
        ("crash", "learning rate 2.0"),
    ]
    assert results[0].metric == 0.021311 and results[1].metric == 0.014419
    table = (directory / "results.tsv").read_text().splitlines()
    # autoresearch's five columns first, then the harness's own
    assert table[0].split("\t")[:5] == ["commit", "metric", "status", "seconds", "description"]
    assert all(len(row.split("\t")) == len(COLUMNS) for row in table)
    assert [row.split("\t")[2] for row in table[1:]] == [s for s, _ in statuses]

    # The user's repository is untouched; the files are the best version, uncommitted; the
    # harness's repository holds every experiment, the best on top of the baseline.
    assert git(repo, "log", "--format=%s").splitlines() == ["tiny-train"]
    assert git(repo, "branch", "--show-current").strip() == "main"
    assert "LEARNING_RATE = 0.2" in (repo / "config.py").read_text()
    assert "NOISE = 0.1" in (repo / "prepare.py").read_text()
    harness = directory / "harness" / "repo.git"
    best_log = git(harness, "log", "--format=%s", "refs/clive/best").splitlines()
    assert best_log[0] == "clive experiment 1: learning rate 0.2"
    assert len(git(harness, "for-each-ref", "refs/clive/experiments").splitlines()) == 5

    info = session.info
    assert info.outcome is Outcome.FINISHED and info.settings["sandbox"] == "on"
    ended = session.log().events[-1]
    assert ended.best_metric == 0.014419
    assert ended.best_commit == git(harness, "rev-parse", "refs/clive/best").strip()
    assert (info.best_metric, info.best_commit) == (ended.best_metric, ended.best_commit)
    listing = subprocess.run(
        [sys.executable, "-m", "clive", "sessions", "--sessions-dir", str(tmp_path / "sessions")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "BEST" in listing.stdout and "0.014419" in listing.stdout

    shown = subprocess.run(
        [sys.executable, "-m", "clive", "show", str(directory)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "## Experiments" in shown.stdout and "| keep | " in shown.stdout.replace("\t", " ")


def test_a_dirty_work_tree_is_refused_with_the_files_named(tmp_path, git_env):
    repo = tmp_path / "tiny-train"
    shutil.copytree(EXAMPLE, repo)
    git(repo, "init", "--quiet")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "start")
    (repo / "config.py").write_text("LEARNING_RATE = 1\n")
    done = subprocess.run(
        [sys.executable, "-m", "clive", "run", "task.md", "--model", "script:x", "--headless"],
        cwd=repo, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "config.py" in done.stderr and "git init" in done.stderr


def test_a_bad_task_file_names_the_field(tmp_path):
    task = tmp_path / "task.md"
    task.write_text("---\nmetric:\n  command: ./bench.sh\n  pattern: 'x'\n  goal: up\n---\nhi\n")
    done = subprocess.run(
        [sys.executable, "-m", "clive", "run", str(task), "--model", "script:x", "--headless"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "metric.goal" in done.stderr


def _run_tiny_train(tmp_path, turns) -> Path:
    repo = _tiny_train(tmp_path)
    script = write_script(tmp_path / "turns.jsonl", turns)
    done = subprocess.run(
        [
            sys.executable, "-m", "clive", "run", "task.md", "--model", f"script:{script}",
            "--headless", "--no-user-rc", "--sessions-dir", str(tmp_path / "sessions"),
        ],
        cwd=repo, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    (directory,) = (tmp_path / "sessions").iterdir()
    return directory


def _clive(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clive", *args], capture_output=True, text=True, timeout=300
    )


def test_verify_measures_the_kept_tree_again_and_catches_a_forged_record(tmp_path, git_env):
    directory = _run_tiny_train(
        tmp_path, [_set_rate("0.2"), _experiment("learning rate 0.2"), finish("done")]
    )
    done = _clive("verify", str(directory))
    assert done.returncode == 0, done.stderr + done.stdout
    assert "VERIFIED: recorded 0.014419, measured now 0.014419" in done.stdout
    assert _clive("verify", str(directory), "--experiment", "0").returncode == 0

    # A record that says something else than what the kept tree measures is caught.
    events = directory / "events.jsonl"
    events.write_text(events.read_text().replace('"metric":0.014419', '"metric":0.0001'))
    forged = _clive("verify", str(directory))
    assert forged.returncode == 1 and "NOT VERIFIED" in forged.stdout


def test_show_diff_prints_what_an_experiment_changed(tmp_path, git_env):
    directory = _run_tiny_train(
        tmp_path,
        [_set_rate("0.2"), _experiment("learning rate 0.2"),
         _set_rate("0.01"), _experiment("learning rate 0.01"), finish("done")],
    )  # fmt: skip
    shown = _clive("show", str(directory), "--diff", "2")
    assert shown.returncode == 0, shown.stderr
    assert "-LEARNING_RATE = 0.2\n+LEARNING_RATE = 0.01" in shown.stdout
    missing = _clive("show", str(directory), "--diff", "9")
    assert missing.returncode == 2 and "no experiment 9" in missing.stderr
    not_run = _clive("verify", str(tmp_path))
    assert not_run.returncode == 2


def _sandboxed_processes_with(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmdline:
                found.append(int(entry))
    return found


@pytest.mark.slow
def test_a_measurement_cut_off_by_a_killed_harness_is_measured_again_on_resume(tmp_path, git_env):
    flags = tmp_path / "flags"
    flags.mkdir()
    repo = tmp_path / "repo"
    repo.mkdir()
    marker = f"wait-{os.getpid()}-{time.monotonic_ns()}"
    (repo / "bench.sh").write_text(
        "if grep -q slow config.txt; then\n"
        f"  sh -c 'until [ -e \"$1/go\" ]; do sleep 0.05; done' {marker} {flags}\n"
        "fi\n"
        "echo score: $(wc -c < config.txt)\n"
    )
    (repo / "config.txt").write_text("a long starting configuration\n")
    (repo / "task.md").write_text(
        "---\n"
        f"metric: {{command: 'sh bench.sh', pattern: 'score: ([0-9]+)', goal: minimize, "
        f"budget: 120, paths: ['{flags}']}}\n"
        "protect: [bench.sh]\n"
        "---\n# Shorter\n"
    )
    git(repo, "init", "--quiet")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "start")
    script = write_script(
        tmp_path / "turns.jsonl",
        [type_("echo slow > config.txt"), _experiment("slow and short"), finish("done")],
    )
    sessions = tmp_path / "sessions"
    command = [sys.executable, "-m", "clive", "--sessions-dir", str(sessions), "--headless"]
    process = subprocess.Popen(
        [*command[:3], "run", "task.md", *command[3:], "--model", f"script:{script}"],
        cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(lambda: sessions.is_dir() and any(sessions.iterdir()), "the session", 60)
        (directory,) = sessions.iterdir()
        events = directory / "events.jsonl"
        wait_until(
            lambda: '"experiment":1' in events.read_text() and _sandboxed_processes_with(marker),
            "the measurement under way",
            60,
        )
    finally:
        process.kill()
        process.wait(timeout=60)
    # The sandbox dies with the harness: nothing of the measurement goes on.
    wait_until(lambda: not _sandboxed_processes_with(marker), "no measurement left", 60)

    (flags / "go").touch()
    resumed = subprocess.run(
        [*command[:3], "resume", str(directory), *command[3:],
         "--model", f"script:{write_script(tmp_path / 'more.jsonl', [finish('done')])}"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    results = [e for e in Session(directory).log().events if isinstance(e, ExperimentResult)]
    assert [(r.experiment, r.status.value, r.metric) for r in results] == [
        (0, "baseline", 30.0),
        (1, "keep", 5.0),
    ]
    rows = (directory / "results.tsv").read_text().splitlines()
    assert [row.split("\t")[2] for row in rows[1:]] == ["baseline", "keep"]
    assert (repo / "config.txt").read_text() == "slow\n"


def test_a_sessions_directory_that_cannot_be_written_changes_nothing(tmp_path, git_env):
    repo = _tiny_train(tmp_path)
    before = (git(repo, "rev-parse", "HEAD"), git(repo, "branch", "--all"), git(repo, "status"))
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory\n")
    done = subprocess.run(
        [sys.executable, "-m", "clive", "run", "task.md", "--model", "script:script.jsonl",
         "--headless", "--sessions-dir", str(blocked / "sessions")],
        cwd=repo, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "sessions" in done.stderr
    after = (git(repo, "rev-parse", "HEAD"), git(repo, "branch", "--all"), git(repo, "status"))
    assert after == before
