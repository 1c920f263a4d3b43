"""ExperimentRunner with small synthetic tasks: watchers, noise, limits, refusals, the
harness's own repository, the metric's sandbox, resuming.

The core tests run twice: with the metric in a bubblewrap sandbox (the model's shell
sandboxed too), and without (a clean environment only).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest
from conftest import git
from polling import wait_until

from clive.experiments import ExperimentError, ExperimentRunner, load_task, read_results
from clive.experiments.harness_repo import BEST_REF, experiment_ref
from clive.sandbox import shell_sandbox
from clive.session import Redactor, SessionInfo, SessionWriter
from clive.session.events import (
    ExperimentResult,
    ExperimentStatus,
    MeasurementStarted,
    parse_event,
)
from clive.terminal import Terminal


def _task_md(
    command: str = "sh score.sh",
    goal: str = "minimize",
    budget: float = 60,
    repeats: int = 1,
    paths: list[str] | None = None,
    env: dict[str, str] | None = None,
    protect: str = "[]",
    limits: str = "{experiments: 10, consecutive_failures: 5}",
    setup: str | None = None,
    metric_extra: str = "",
    extra: str = "",
) -> str:
    """A task file; ``metric_extra`` goes into the metric's mapping (``, key: value``),
    ``extra`` is more lines of front matter."""
    return (
        "---\n"
        f"metric: {{command: '{command}', pattern: 'score: ([0-9.-]+)', goal: {goal}, "
        f"budget: {budget}, repeats: {repeats}, paths: {json.dumps(paths or [])}, "
        f"env: {json.dumps(env or {})}"
        + (f", setup: {json.dumps(setup)}" if setup else "")
        + f"{metric_extra}}}\n"
        f"protect: {protect}\n"
        f"limits: {limits}\n"
        f"{extra}"
        "---\n"
        "# Score\n"
    )


@pytest.fixture(params=[True, False], ids=["sandboxed", "unsandboxed"])
def sandboxed(request) -> bool:
    return request.param


@pytest.fixture
def task_repo(tmp_path, make_repo):
    """A factory: a repository whose metric command is ``sh score.sh``, and its runner.

    ``files`` adds files to the repository (``untracked`` ones after its commit),
    ``directory`` is where the task file is (relative to the repository), ``shell`` starts
    the model's shell in it (sandboxed like the metric), ``runner_options`` go to the
    runner, the other keywords to the task file.
    """
    shells: list[Terminal] = []

    def make(
        writer: SessionWriter,
        score: str = "echo score: 5",
        files: dict[str, str] | None = None,
        untracked: dict[str, str] | None = None,
        directory: str = ".",
        sandboxed: bool = True,
        shell: bool = False,
        runner_options: dict | None = None,
        **settings,
    ) -> ExperimentRunner:
        task = f"{directory}/task.md"
        files = {task: _task_md(**settings), f"{directory}/score.sh": score + "\n", **(files or {})}
        path = make_repo(tmp_path / "repo", files)
        for name, text in (untracked or {}).items():
            (path / name).write_text(text)
        terminal = None
        if shell:
            launcher = shell_sandbox(path, sessions=[writer.directory]) if sandboxed else None
            terminal = Terminal(100, 30, cwd=path, user_rc=False, launcher=launcher)
            shells.append(terminal.start())
        return ExperimentRunner(
            writer,
            load_task(path / task),
            shell=terminal,
            sandboxed=sandboxed,
            root=path,
            **(runner_options or {}),
        )

    yield make
    for terminal in shells:
        terminal.close()


def _try(runner: ExperimentRunner, score: str, description: str = "try") -> tuple[bool, str]:
    """The model's side: change score.sh, then call the experiment tool."""
    (runner.task.directory / "score.sh").write_text(score + "\n")
    return runner.experiment(description)


def _files(root: Path) -> dict[str, tuple[str, bytes]]:
    """Every file of the working tree at ``root`` (``.git`` aside): its git mode and bytes."""
    found = {}
    for directory, names, files in os.walk(root):
        names[:] = [n for n in names if n != ".git" and not Path(directory, n).is_symlink()]
        links = [n for n in os.listdir(directory) if Path(directory, n).is_symlink()]
        for name in {*files, *links}:
            path = Path(directory, name)
            relative = path.relative_to(root).as_posix()
            if path.is_symlink():
                found[relative] = ("120000", os.fsencode(os.readlink(path)))
            else:
                executable = path.stat().st_mode & stat.S_IXUSR
                found[relative] = ("100755" if executable else "100644", path.read_bytes())
    return found


def _kept(runner: ExperimentRunner, commit: str) -> dict[str, tuple[str, bytes]]:
    """The files of the harness's ``commit``: git mode and bytes."""
    tree = runner.repo.tree(commit)
    blobs = runner.repo.blobs([entry.sha for entry in tree.values()])
    return {path: (entry.mode, blobs[entry.sha]) for path, entry in tree.items()}


def _events(writer: SessionWriter) -> list[object]:
    lines = (writer.directory / "events.jsonl").read_text().splitlines()
    return [parse_event(line) for line in lines]


# -- watchers: budget, stall, alerts --------------------------------------------------------


def test_budget_stops_a_run_that_runs_too_long(task_repo, writer, sandboxed):
    runner = task_repo(writer, budget=1, sandboxed=sandboxed)
    runner.baseline()
    ok, text = _try(runner, "echo started; sleep 30; echo score: 1")
    result = runner.results[-1]
    assert not ok and result.status is ExperimentStatus.CRASH
    assert result.reason == "over the budget of 1s (stopped with C-c)"
    assert "over the budget" in text
    assert (runner.root / "score.sh").read_text() == "echo score: 5\n"


def test_a_stall_stops_a_run_that_prints_nothing(task_repo, writer):
    runner = task_repo(writer, runner_options={"stall": 0.5})
    runner.baseline()
    _try(runner, "echo started; sleep 30; echo score: 1")
    result = runner.results[-1]
    assert result.status is ExperimentStatus.CRASH
    assert result.reason == "stalled: no output for 0.5s (stopped with C-c)"


def test_an_alert_stops_a_run_early(task_repo, writer, sandboxed):
    runner = task_repo(writer, sandboxed=sandboxed)
    runner.baseline()
    _try(runner, "echo 'step 10: loss NaN'; sleep 30; echo score: 1")
    result = runner.results[-1]
    assert result.status is ExperimentStatus.CRASH
    assert result.reason == "stopped on the alert 'NaN' in the output (stopped with C-c)"


def test_alerts_are_configurable(task_repo, writer):
    runner = task_repo(writer, runner_options={"alerts": [r"DIVERGED"]})
    runner.baseline()
    _try(runner, "echo 'loss nan'; echo score: 4")  # nan is no alert now
    assert runner.results[-1].status is ExperimentStatus.KEEP
    _try(runner, "echo DIVERGED; sleep 30; echo score: 1")
    assert runner.results[-1].reason.startswith("stopped on the alert 'DIVERGED'")


# -- reading the number ---------------------------------------------------------------------


def test_the_command_line_is_not_output(task_repo, writer):
    runner = task_repo(writer, command="sh score.sh # nan Killed score: 0")
    baseline = runner.baseline()
    assert baseline.status is ExperimentStatus.BASELINE and baseline.metric == 5


def test_the_last_number_printed_counts(task_repo, writer, sandboxed):
    runner = task_repo(writer, score="echo score: 9; echo score: 7", sandboxed=sandboxed)
    assert runner.baseline().metric == 7


@pytest.mark.parametrize(
    ("score", "reason"),
    [
        ("echo no number here", "the output has no match for the pattern 'score: ([0-9.-]+)'"),
        ("echo score: 1; exit 3", "the command exited with status 3"),
        ("echo 'loss: nan'; echo score: 1", "the alert 'nan' appeared in the output"),
        ("echo score: 1.2.3", "the pattern's group matched '1.2.3', which is not a number"),
    ],
)
def test_a_run_without_a_valid_number_is_a_crash(task_repo, writer, score, reason):
    runner = task_repo(writer)
    runner.baseline()
    _try(runner, score)
    assert runner.results[-1].status is ExperimentStatus.CRASH
    assert runner.results[-1].reason == reason


# -- deciding -------------------------------------------------------------------------------


def test_a_gain_within_the_noise_is_measured_again_before_it_is_kept_or_discarded(
    tmp_path, task_repo, writer, sandboxed
):
    # score.sh prints the number in a data file outside the repository; the test puts the
    # next one there after each run.
    data = tmp_path / "data"
    data.mkdir()
    (data / "score").write_text("10")
    following = iter(["12", "11", "9.5", "9.7", "9.4", "7.5", "9", "4.9", "4.9"])

    def next_number(terminal: Terminal | None) -> None:
        if terminal is None:
            (data / "score").write_text(next(following, "0"))

    script = f'echo "score: $(cat {data}/score)" # version VERSION'
    runner = task_repo(
        writer,
        score=script.replace("VERSION", "0"),
        paths=[str(data)],
        sandboxed=sandboxed,
        metric_extra=", noise_repeats: 3",
        runner_options={"on_measure": next_number},
    )
    baseline = runner.baseline()
    # The noise: s = 1 (10, 12, 11 about their mean), df 2. A change measured once must gain
    # t(0.95, 2) x 1.2533 x s x sqrt(1/3 + 1/1) = 2.920 x 1.2533 x 1 x 1.1547.
    assert baseline.values == [10, 12, 11] and baseline.metric == 11
    assert baseline.margin == pytest.approx(4.2258, abs=1e-4)

    _, text = _try(runner, script.replace("VERSION", "1"))  # 9.5: better, within the noise
    first = runner.results[-1]
    assert first.values == [9.5, 9.7, 9.4] and first.remeasured == 2
    assert first.status is ExperimentStatus.DISCARD
    # Its own runs narrowed the margin (more runs, more degrees of freedom): 4.23, 2.21, 1.56.
    assert "9.5 against the best 11: better by 1.5, within the noise margin 1.56061" in text
    assert "(after 2 more runs)" in text
    assert first.margin == pytest.approx(1.5606, abs=1e-4)

    _try(runner, script.replace("VERSION", "2"))  # 7.5: beyond the noise at once
    second = runner.results[-1]
    assert (second.status, second.values, second.remeasured) == (ExperimentStatus.KEEP, [7.5], 0)
    # df 4 now (the first's three runs count): 2.132 x 1.2533 x 0.7153 x 1.1547
    assert "more than the noise margin 2.20703" in second.reason

    _try(runner, script.replace("VERSION", "3"))  # 9: worse, not measured again
    assert (runner.results[-1].status, runner.results[-1].remeasured) == (
        ExperimentStatus.DISCARD,
        0,
    )

    # 4.9 against a best measured once: within 2.70; again 4.9: beyond 1.98.
    _try(runner, script.replace("VERSION", "4"))
    fourth = runner.results[-1]
    assert (fourth.status, fourth.values, fourth.remeasured) == (
        ExperimentStatus.KEEP, [4.9, 4.9], 1,
    )  # fmt: skip
    assert runner.best_metric == 4.9

    rows = read_results(runner.results_path)
    assert [row["flags"] for row in rows] == ["", "remeasured=2", "", "", "remeasured=1"]
    assert rows[1]["values"] == "9.5,9.7,9.4" and rows[1]["margin"].startswith("1.56061")


def test_a_plateau_is_told_to_the_model_and_marked(task_repo, writer, sandboxed):
    runner = task_repo(writer, score="echo score: 5", sandboxed=sandboxed, extra="plateau: 2\n")
    runner.baseline()
    _, first = _try(runner, "echo score: 6")
    _, second = _try(runner, "echo score: 7")
    assert not runner.results[1].plateau and "plateau" not in first
    assert runner.results[2].plateau
    assert "No change was kept in the last 2 experiments: a plateau" in second
    _try(runner, "echo score: 1")  # kept: the count starts again
    _, fourth = _try(runner, "echo score: 9")
    assert not runner.results[4].plateau and "plateau" not in fourth
    assert read_results(runner.results_path)[2]["flags"] == "plateau"


def test_the_hypothesis_is_recorded_beside_the_description(task_repo, writer, sandboxed):
    runner = task_repo(writer, score="echo score: 5", sandboxed=sandboxed)
    runner.baseline()
    (runner.task.directory / "score.sh").write_text("echo score: 4\n")
    runner.experiment("lower it", "four is less\tthan five")
    assert runner.results[-1].hypothesis == "four is less than five"
    assert read_results(runner.results_path)[-1]["hypothesis"] == "four is less than five"


@pytest.fixture
def heldout():
    """A directory for a held-out metric where every sandbox could see it unless it is hidden
    (pytest's own directories are in /tmp, private in every sandbox already)."""
    path = Path(tempfile.mkdtemp(prefix="clive-heldout-", dir="/var/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _holdout_task(heldout: Path, mode: str) -> str:
    """A held-out metric outside the repository, in its own file: it prints the number in
    ``value`` (``crash`` there: it prints none). The task file's lines that name it."""
    (heldout / "value").write_text("1")
    (heldout / "check.sh").write_text(
        f'v=$(cat {heldout}/value); [ "$v" = crash ] && exit 1; echo "held: $v"\n'
    )
    (heldout / "holdout.yaml").write_text(
        f"command: sh {heldout}/check.sh\npattern: 'held: ([0-9.]+)'\ngoal: minimize\n"
        f"paths: ['{heldout}']\n"
    )
    return f"holdout: {heldout}/holdout.yaml\non_holdout_regress: {mode}\n"


def test_a_kept_change_that_worsens_the_held_out_metric_is_reverted_unseen(
    heldout, task_repo, writer, sandboxed
):
    extra = _holdout_task(heldout, "revert")
    runner = task_repo(writer, score="echo score: 5", sandboxed=sandboxed, extra=extra)
    assert runner.baseline().holdout == 1

    (heldout / "value").write_text("2")  # the change games the metric: the held-out gets worse
    _, text = _try(runner, "echo score: 3")
    gamed = runner.results[-1]
    assert gamed.status is ExperimentStatus.DISCARD and gamed.holdout_regressed
    assert gamed.holdout == 2 and runner.best_metric == 5
    assert "held-out metric got worse" in gamed.reason and "reverted" in gamed.reason
    # The model reads that a check it cannot see undid it: not the check, not its numbers.
    assert "a check of the harness's that you cannot see" in text
    assert "held" not in text and "check.sh" not in text
    assert (runner.task.directory / "score.sh").read_text() == "echo score: 5\n"

    (heldout / "value").write_text("0.5")
    _try(runner, "echo score: 2")
    assert runner.results[-1].status is ExperimentStatus.KEEP
    assert runner.results[-1].holdout == 0.5
    row = read_results(runner.results_path)[1]
    assert (row["holdout"], row["flags"]) == ("2", "holdout-regressed")

    # The metric's run (the model's code) never sees the held-out files.
    (heldout / "value").write_text("0.4")
    _try(runner, f"if [ -e {heldout}/value ]; then echo score: 0; else echo score: 1.5; fi")
    if sandboxed:
        assert runner.results[-1].metric == 1.5

    # A change whose code makes the held-out run fail (it can tell that run from the metric's)
    # does not pass unchecked: it is undone.
    (heldout / "value").write_text("crash")
    _, text = _try(runner, "echo score: -1")  # better than any best so far
    failed = runner.results[-1]
    assert failed.status is ExperimentStatus.DISCARD and failed.holdout_regressed
    assert "printed no number" in failed.reason and "cannot see" in text


def test_with_flag_a_held_out_regression_is_kept_and_marked(heldout, task_repo, writer):
    extra = _holdout_task(heldout, "flag")
    runner = task_repo(writer, score="echo score: 5", extra=extra)
    runner.baseline()
    (heldout / "value").write_text("3")
    ok, text = _try(runner, "echo score: 4")
    result = runner.results[-1]
    assert ok and result.status is ExperimentStatus.KEEP and result.holdout_regressed
    assert "held" not in text  # the model reads an ordinary keep
    assert runner.best_metric == 4


def test_a_repeat_runs_on_a_fresh_copy(task_repo, writer, sandboxed):
    # The first run leaves a file behind; the second must not find it.
    score = "if [ -e left-behind ]; then echo score: 1; else echo score: 0; fi; touch left-behind"
    runner = task_repo(writer, score=score, repeats=2, sandboxed=sandboxed)
    assert runner.baseline().values == [0, 0]
    assert not (runner.root / "left-behind").exists()


def test_maximize_keeps_a_higher_number(task_repo, writer):
    runner = task_repo(writer, goal="maximize")
    runner.baseline()
    _try(runner, "echo score: 4")
    assert runner.results[-1].status is ExperimentStatus.DISCARD
    _, text = _try(runner, "echo score: 6")
    assert runner.results[-1].status is ExperimentStatus.KEEP and "higher is better" in text


def test_a_crashed_baseline_lets_the_first_measured_experiment_win(task_repo, writer):
    runner = task_repo(writer, score="exit 1")
    baseline = runner.baseline()
    assert baseline.status is ExperimentStatus.CRASH and runner.best_metric is None
    ok, _ = _try(runner, "echo score: 50")
    assert ok and runner.results[-1].status is ExperimentStatus.KEEP
    assert runner.results[-1].reason == "the first experiment that measured"


# -- limits and refusals --------------------------------------------------------------------


def test_consecutive_failures_end_the_experiments(task_repo, writer):
    runner = task_repo(writer, limits="{experiments: 10, consecutive_failures: 2}")
    runner.baseline()
    _try(runner, "exit 1")
    _try(runner, "echo score: 6")  # a discard is no failure: the count starts again
    _try(runner, "exit 1")
    assert runner.limit_reached is None
    ok, text = _try(runner, "exit 2")
    assert runner.limit_reached == "2 experiments in a row failed (crash or invalid)"
    assert "No more experiments: 2 experiments in a row failed" in text
    ok, text = _try(runner, "echo score: 1")
    assert not ok and "did not run: no more experiments" in text
    assert runner.experiments == 4


def test_the_experiment_limit_ends_the_experiments(task_repo, writer):
    runner = task_repo(writer, limits="{experiments: 1}")
    runner.baseline()
    ok, text = _try(runner, "echo score: 4")
    assert ok and text.endswith(
        "No more experiments: the limit of 1 experiments is reached. Finish now."
    )
    with pytest.raises(ExperimentError, match="limit of 1 experiments"):
        runner.run("more")


def test_nothing_changed_is_refused_without_a_row(task_repo, writer):
    runner = task_repo(writer)
    baseline = runner.baseline()
    ok, text = runner.experiment("the same again")
    assert not ok and f"nothing changed since the best ({baseline.commit[:7]})" in text
    assert runner.experiments == 0 and len(read_results(runner.results_path)) == 1
    assert runner.repo.ref(experiment_ref(1)) is None


def test_experiments_need_a_baseline_first(task_repo, writer):
    runner = task_repo(writer)
    with pytest.raises(ExperimentError, match="baseline first"):
        runner.run("too soon")


def test_an_experiment_waits_for_nothing_in_the_background(task_repo, writer, sandboxed):
    runner = task_repo(writer, shell=True, sandboxed=sandboxed)
    runner.baseline()
    shell = runner.shell
    shell.run("sleep 1000 &")
    ok, text = _try(runner, "echo score: 4")
    assert not ok and "still running" in text and len(runner.results) == 1
    shell.run("kill %1; wait")
    wait_until(lambda: not shell.background_processes(), "the background job ends")
    ok, _ = _try(runner, "echo score: 4")
    assert ok and runner.results[-1].metric == 4.0


# -- the harness's repository and the model's tree ------------------------------------------


def test_the_baseline_is_the_harness_first_commit(task_repo, writer, sandboxed):
    runner = task_repo(writer, sandboxed=sandboxed)
    baseline = runner.baseline()
    assert baseline.status is ExperimentStatus.BASELINE and baseline.metric == 5
    assert runner.repo.ref(experiment_ref(0)) == runner.repo.ref(BEST_REF) == baseline.commit
    assert _kept(runner, baseline.commit) == _files(runner.root)
    with pytest.raises(ExperimentError, match="already measured"):
        runner.baseline()


def test_a_discarded_experiment_is_kept_as_a_ref(task_repo, writer, sandboxed):
    runner = task_repo(writer, sandboxed=sandboxed)
    baseline = runner.baseline()
    _try(runner, "echo score: 9", "worse")
    _try(runner, "echo score: 3", "better")
    discarded, kept = runner.results[1:]
    assert (discarded.status, kept.status) == (ExperimentStatus.DISCARD, ExperimentStatus.KEEP)
    assert runner.repo.ref(experiment_ref(1)) == discarded.commit
    assert runner.repo.ref(experiment_ref(2)) == kept.commit == runner.repo.ref(BEST_REF)
    assert _kept(runner, discarded.commit)["score.sh"][1] == b"echo score: 9\n"
    # The kept experiment builds on the best, the baseline: the discarded one is no parent.
    parents = runner.repo.git("rev-list", "--parents", "-n", "1", kept.commit).stdout.split()
    assert [p.decode() for p in parents] == [kept.commit, baseline.commit]


def test_after_a_discard_the_files_are_the_best_byte_for_byte(task_repo, writer, sandboxed):
    runner = task_repo(
        writer,
        files={"lib/a.txt": "a\n", "run.sh": "#!/bin/sh\n", "notes.txt": "notes\r\n"},
        sandboxed=sandboxed,
    )
    runner.baseline()
    _try(runner, "echo score: 3", "kept")
    best = runner.best_commit
    root = runner.root
    (root / "lib" / "a.txt").unlink()
    (root / "lib" / "new.txt").write_text("new\n")
    (root / "run.sh").chmod(0o755)
    (root / "notes.txt").unlink()
    (root / "notes.txt").symlink_to("/etc/passwd")
    _try(runner, "echo score: 8", "discarded")
    assert runner.results[-1].status is ExperimentStatus.DISCARD
    assert runner.repo.ref(BEST_REF) == best
    assert _files(root) == _kept(runner, best)
    assert (root / "notes.txt").read_bytes() == b"notes\r\n"


def test_the_users_repository_is_left_alone(task_repo, writer, sandboxed):
    runner = task_repo(writer, sandboxed=sandboxed)
    root = runner.root
    head, branches = git(root, "rev-parse", "HEAD"), git(root, "branch", "--list")
    dot_git = {p: p.read_bytes() for p in (root / ".git").rglob("*") if p.is_file()}
    runner.baseline()
    _try(runner, "echo score: 3", "kept")
    _try(runner, "echo score: 9", "discarded")
    assert {p: p.read_bytes() for p in (root / ".git").rglob("*") if p.is_file()} == dot_git
    assert git(root, "rev-parse", "HEAD") == head
    assert git(root, "branch", "--list") == branches
    # The best tree is in the working tree, not committed.
    assert git(root, "status", "--porcelain").splitlines() == [" M score.sh"]
    assert (root / "score.sh").read_text() == "echo score: 3\n"


def test_a_session_inside_the_repository_is_not_part_of_the_tree(tmp_path, task_repo):
    info = SessionInfo(
        id="s", task="t", model="script:x", cwd="/", cols=80, rows=24, started_at="now"
    )
    sessions = tmp_path / "repo" / "sessions"
    inside = SessionWriter(
        sessions / "s", info, background_flush=False, redactor=Redactor(from_environment=False)
    )
    try:
        # The metric counts the session's files it can see: none.
        runner = task_repo(
            inside,
            score="echo score: $(ls sessions/s 2>/dev/null | wc -l)",
            runner_options={"hidden": [sessions]},
        )
        assert runner.baseline().metric == 0
        _try(runner, "echo score: 4")  # a discard: the model's tree is written back
        for result in runner.results:
            assert sorted(runner.repo.tree(result.commit)) == ["score.sh", "task.md"]
        assert (sessions / "s" / "results.tsv").exists()
        assert (sessions / "s" / "events.jsonl").exists()
    finally:
        inside.close()


def test_an_untracked_protected_file_that_changed_is_invalid(task_repo, writer, sandboxed):
    runner = task_repo(
        writer, protect="[data.txt]", untracked={"data.txt": "data\n"}, sandboxed=sandboxed
    )
    assert "data.txt" not in git(runner.root, "ls-files")
    runner.baseline()
    (runner.root / "data.txt").write_text("better data\n")
    ok, text = _try(runner, "echo score: 4")
    result = runner.results[-1]
    assert not ok and result.status is ExperimentStatus.INVALID
    assert result.metric is None and result.seconds == 0
    assert "protected files changed: data.txt" in text
    assert (runner.root / "data.txt").read_text() == "data\n"
    assert (runner.root / "score.sh").read_text() == "echo score: 5\n"


def test_an_ignored_protected_file_is_measured_and_checked(task_repo, writer, sandboxed):
    runner = task_repo(
        writer,
        score="echo score: $(cat level.dat)",
        protect="[level.dat]",
        files={".gitignore": "*.dat\n"},
        untracked={"level.dat": "3\n"},
        sandboxed=sandboxed,
    )
    assert runner.baseline().metric == 3  # the metric sees the protected data
    (runner.root / "level.dat").write_text("1\n")
    ok, text = _try(runner, "echo score: $(cat level.dat); true")
    assert not ok and runner.results[-1].status is ExperimentStatus.INVALID
    assert "protected files changed: level.dat" in text
    assert (runner.root / "level.dat").read_text() == "3\n"


# A "training" step that leaves a daemon behind, which waits for the evaluation's number and
# prints a better one after it: beside the evaluation, the last number printed would count.
_LINGERING_TRAINER = """\
import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for _ in range(600):
            time.sleep(0.01)
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    if b"evaluate.sh" in open(f"/proc/{pid}/cmdline", "rb").read():
                        time.sleep(0.05)
                        os.write(1, b"score: 0.0001\\n")
                except OSError:
                    pass
        os._exit(0)
    os._exit(0)
open("model.txt", "w").write("4\\n")
"""


@pytest.mark.parametrize("sandboxed", [True], ids=["sandboxed"])
def test_nothing_of_the_setup_runs_beside_the_metric(task_repo, writer, sandboxed):
    runner = task_repo(
        writer,
        command="sh evaluate.sh",
        setup="python3 train.py",
        files={
            "train.py": _LINGERING_TRAINER,
            "evaluate.sh": "echo score: $(cat model.txt); sleep 0.5\n",
        },
        sandboxed=sandboxed,
    )
    result = runner.baseline()
    assert (result.status, result.metric) == (ExperimentStatus.BASELINE, 4.0)
    assert runner.repo.tree(result.commit).get("model.txt") is None  # made by the setup


def test_a_failed_setup_is_a_crash_and_the_metric_does_not_run(task_repo, writer, sandboxed):
    runner = task_repo(writer, setup="echo training; exit 3", sandboxed=sandboxed)
    result = runner.baseline()
    assert result.status is ExperimentStatus.CRASH and result.metric is None
    assert result.reason == "the setup failed: the command exited with status 3"
    assert "training" in result.output_tail


# -- where and how the metric runs ----------------------------------------------------------


def test_the_metric_runs_in_the_directory_of_the_task(task_repo, writer, sandboxed):
    runner = task_repo(
        writer,
        score="echo score: $(cat marker)",
        directory="bench",
        files={"marker": "1\n", "bench/marker": "7\n"},
        sandboxed=sandboxed,
    )
    assert runner.baseline().metric == 7
    _try(runner, "pwd; exit 1")
    (shown,) = runner.results[-1].output_tail.splitlines()
    if sandboxed:  # the copy stands at the repository's path
        assert shown == str(runner.root / "bench")
    else:  # a copy of the harness's
        assert shown.endswith("/bench") and not Path(shown).is_relative_to(runner.root)


def test_the_metric_environment_is_clean(task_repo, writer, monkeypatch, sandboxed):
    monkeypatch.setenv("CLIVE_LEAK_FROM_HARNESS", "1")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    runner = task_repo(
        writer,
        score="echo score: $(env | grep -c -e CLIVE_LEAK -e ANTHROPIC_API_KEY)",
        env={"OMP_NUM_THREADS": "3"},
        shell=True,
        sandboxed=sandboxed,
    )
    runner.shell.run("export CLIVE_LEAK_FROM_SHELL=1")
    assert runner.baseline().metric == 0
    _try(runner, "echo score: $OMP_NUM_THREADS")  # the task's own variables are there
    assert runner.results[-1].metric == 3
    # The metric never ran in the model's shell.
    assert "score: " not in runner.shell.transcript.read()


def test_a_daemon_the_metric_starts_ends_with_the_measurement(task_repo, writer):
    seconds = 100000 + os.getpid() % 1000  # a sleep no other test starts
    score = (
        f"setsid sh -c 'touch detached; exec sleep {seconds}' > /dev/null 2>&1 & "
        "while [ ! -e detached ]; do sleep 0.01; done; echo score: 5"
    )
    runner = task_repo(writer, score=score)
    assert runner.baseline().metric == 5
    command = f"sleep\0{seconds}\0".encode()

    def running() -> bool:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if Path(f"/proc/{pid}/cmdline").read_bytes() == command:
                    return True
            except OSError:
                continue
        return False

    wait_until(lambda: not running(), "the metric's daemon ends")


def test_data_outside_the_repository_is_read_only(tmp_path, task_repo, writer):
    data = tmp_path / "data"
    data.mkdir()
    (data / "score").write_text("5")
    runner = task_repo(
        writer,
        score=f'echo 1 > {data}/score; echo "score: $(cat {data}/score)"',
        paths=[str(data)],
    )
    result = runner.baseline()
    assert result.metric == 5 and (data / "score").read_text() == "5"


def test_data_inside_the_repository_is_taken_at_the_baseline(task_repo, writer, sandboxed):
    runner = task_repo(
        writer,
        score='echo "score: $(cat .venv/value)"',
        files={".gitignore": ".venv/\n"},
        paths=[".venv"],
        sandboxed=sandboxed,
    )
    (runner.root / ".venv").mkdir()
    (runner.root / ".venv" / "value").write_text("5")
    assert runner.baseline().metric == 5
    # The model changes the data after the baseline: what is measured does not change.
    (runner.root / ".venv" / "value").write_text("1")
    _try(runner, 'echo "score: $(cat .venv/value)" # measured again')
    result = runner.results[-1]
    assert result.status is ExperimentStatus.DISCARD and result.metric == 5
    assert ".venv/value" not in runner.repo.tree(result.commit)


# -- resuming -------------------------------------------------------------------------------


class _CutOff(Exception):
    """The harness dies in the middle of a measurement."""


def test_resume_measures_again_what_was_cut_off(task_repo, writer, sandboxed):
    cut = False

    def stop() -> bool:
        if cut:
            raise _CutOff
        return False

    runner = task_repo(writer, sandboxed=sandboxed, runner_options={"stop": stop})
    baseline = runner.baseline()
    cut = True
    (runner.root / "score.sh").write_text("echo score: 3\n")
    with pytest.raises(_CutOff):
        runner.run("cut off")
    events = _events(writer)
    started = events[-1]
    assert isinstance(started, MeasurementStarted) and started.experiment == 1
    assert [e.experiment for e in events if isinstance(e, ExperimentResult)] == [0]
    assert runner.repo.ref(experiment_ref(1)) == started.commit

    cut = False
    fresh = ExperimentRunner(writer, runner.task, sandboxed=sandboxed, root=runner.root)
    result = fresh.resume(events)
    assert result is not None and result.experiment == 1 and result.commit == started.commit
    assert result.status is ExperimentStatus.KEEP and result.metric == 3
    assert result.description == "cut off"
    assert [r.experiment for r in fresh.results] == [0, 1]
    assert fresh.results[0] == baseline
    assert fresh.repo.ref(BEST_REF) == started.commit and fresh.best_metric == 3


def test_resume_after_a_discard_keeps_the_best(task_repo, writer, sandboxed):
    runner = task_repo(writer, sandboxed=sandboxed)
    runner.baseline()
    _try(runner, "echo score: 3", "kept")
    _try(runner, "echo score: 9", "discarded")
    fresh = ExperimentRunner(writer, runner.task, sandboxed=sandboxed, root=runner.root)
    assert fresh.resume(_events(writer)) is None
    assert fresh.best_metric == 3 and fresh.best_commit == runner.best_commit
    assert fresh.experiments == 2
    ok, text = _try(fresh, "echo score: 1", "after resuming")
    assert ok and fresh.results[-1].experiment == 3, text
    assert fresh.repo.ref(experiment_ref(3)) == fresh.results[-1].commit


def test_the_setup_cannot_change_what_the_metric_reads_of_the_protected_files(
    task_repo, writer, sandboxed
):
    runner = task_repo(
        writer,
        setup="echo 'echo score: 0.001' > score.sh",
        protect="[score.sh]",
        sandboxed=sandboxed,
    )
    assert runner.baseline().metric == 5


def test_a_description_with_control_characters_is_recorded_cleaned(task_repo, writer):
    runner = task_repo(writer)
    runner.baseline()
    ok, _ = _try(runner, "echo score: 4", description="four\x00\x1b[31m\nlines")
    assert ok and runner.results[-1].description == "four [31m lines"
    assert read_results(runner.results_path)[-1]["description"] == "four [31m lines"


def test_a_reset_that_fails_still_leaves_the_experiment_recorded(task_repo, writer, monkeypatch):
    runner = task_repo(writer)
    runner.baseline()

    def refuse(*_args, **_kwargs):
        raise PermissionError("read-only directory")

    monkeypatch.setattr("clive.experiments.runner.write_tree", refuse)
    ok, text = _try(runner, "echo score: 9")
    assert not ok and runner.results[-1].status is ExperimentStatus.DISCARD
    assert "could not be set back to the best: read-only directory" in text
    assert len(read_results(runner.results_path)) == 2


def test_a_gitignore_that_blocks_git_is_stopped_with_an_error(task_repo, writer, monkeypatch):
    runner = task_repo(writer)
    runner.baseline()
    monkeypatch.setattr("clive.experiments.harness_repo.GIT_TIMEOUT", 2.0)
    (runner.root / "sub").mkdir()
    os.mkfifo(runner.root / "sub" / ".gitignore")  # git's read of it would never end
    ok, text = _try(runner, "echo score: 4")
    assert not ok and "took more than 2s" in text
