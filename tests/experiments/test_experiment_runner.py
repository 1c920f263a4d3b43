"""ExperimentRunner with small synthetic tasks: watchers, noise, limits, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import git

from clive.experiments import (
    ExperimentError,
    ExperimentRunner,
    GitError,
    GitRepo,
    load_task,
    read_results,
)
from clive.session import Redactor, SessionInfo, SessionWriter
from clive.session.events import ExperimentStatus
from clive.terminal import ScreenState


def _task_md(
    command: str = "sh score.sh",
    goal: str = "minimize",
    budget: float = 60,
    repeats: int = 1,
    protect: str = "[]",
    limits: str = "{experiments: 10, consecutive_failures: 5}",
) -> str:
    return (
        "---\n"
        f"metric: {{command: '{command}', pattern: 'score: ([0-9.-]+)', goal: {goal}, "
        f"budget: {budget}, repeats: {repeats}}}\n"
        f"protect: {protect}\n"
        f"limits: {limits}\n"
        "---\n"
        "# Score\n"
    )


@pytest.fixture
def task_repo(tmp_path, make_repo):
    """A factory: a repository whose metric command is ``sh score.sh``, and its runner.

    ``files`` adds files to the repository, ``runner_options`` go to the runner, the other
    keywords to the task file.
    """

    def make(
        writer, terminal, score="echo score: 5", files=None, runner_options=None, **settings
    ) -> ExperimentRunner:
        files = {"task.md": _task_md(**settings), "score.sh": score + "\n", **(files or {})}
        path = make_repo(tmp_path / "repo", files)
        task = load_task(path / "task.md")
        return ExperimentRunner(terminal, writer, task, GitRepo(path), **(runner_options or {}))

    return make


def _try(runner: ExperimentRunner, score: str, description: str = "try") -> tuple[bool, str]:
    """The model's side: change score.sh, then call the experiment tool."""
    (runner.repo.root / "score.sh").write_text(score + "\n")
    return runner.experiment(description)


def test_budget_stops_a_run_that_runs_too_long(task_repo, writer, terminal):
    runner = task_repo(writer, terminal, budget=1)
    runner.baseline()
    ok, text = _try(runner, "echo started; sleep 30; echo score: 1")
    result = runner.results[-1]
    assert not ok and result.status is ExperimentStatus.CRASH
    assert result.reason == "over the budget of 1s (stopped with C-c)"
    assert "started" in result.output_tail and "over the budget" in text
    assert terminal.snapshot().state is ScreenState.PROMPT
    assert (runner.repo.root / "score.sh").read_text() == "echo score: 5\n"


def test_a_stall_stops_a_run_that_prints_nothing(task_repo, writer, terminal):
    runner = task_repo(writer, terminal, runner_options={"stall": 0.5})
    runner.baseline()
    _try(runner, "echo started; sleep 30; echo score: 1")
    result = runner.results[-1]
    assert result.status is ExperimentStatus.CRASH
    assert result.reason == "stalled: no output for 0.5s (stopped with C-c)"


def test_an_alert_stops_a_run_early(task_repo, writer, terminal):
    runner = task_repo(writer, terminal)
    runner.baseline()
    _try(runner, "echo 'step 10: loss NaN'; sleep 30; echo score: 1")
    result = runner.results[-1]
    assert result.status is ExperimentStatus.CRASH
    assert result.reason == "stopped on the alert 'NaN' in the output (stopped with C-c)"


def test_alerts_are_configurable(task_repo, writer, terminal):
    runner = task_repo(writer, terminal, runner_options={"alerts": [r"DIVERGED"]})
    runner.baseline()
    _try(runner, "echo 'loss nan'; echo score: 4")  # nan is no alert now
    assert runner.results[-1].status is ExperimentStatus.KEEP
    _try(runner, "echo DIVERGED; sleep 30; echo score: 1")
    assert runner.results[-1].reason.startswith("stopped on the alert 'DIVERGED'")


def test_the_echoed_command_line_is_not_output(task_repo, writer, terminal):
    runner = task_repo(writer, terminal, command="sh score.sh # nan Killed score: 0")
    baseline = runner.baseline()
    assert baseline.status is ExperimentStatus.BASELINE and baseline.metric == 5


def test_the_last_number_printed_counts(task_repo, writer, terminal):
    runner = task_repo(writer, terminal, score="echo score: 9; echo score: 7")
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
def test_a_run_without_a_valid_number_is_a_crash(task_repo, writer, terminal, score, reason):
    runner = task_repo(writer, terminal)
    runner.baseline()
    _try(runner, score)
    assert runner.results[-1].status is ExperimentStatus.CRASH
    assert runner.results[-1].reason == reason


def test_a_gain_within_the_noise_of_repeats_is_discarded(tmp_path, task_repo, writer, terminal):
    # score.sh prints the next number of a list kept outside the repository, one per run.
    numbers = tmp_path / "numbers"
    numbers.write_text("10\n12\n9.5\n9.7\n8\n8.2\n")
    counter = tmp_path / "counter"
    counter.write_text("0")
    script = (
        f'n=$(($(cat {counter}) + 1)); echo $n > {counter}; echo "score: '
        f"$(sed -n ${{n}}p {numbers})\"; echo 'VERSION' > /dev/null"
    )
    runner = task_repo(writer, terminal, score=script.replace("VERSION", "0"), repeats=2)
    baseline = runner.baseline()
    assert baseline.values == [10, 12] and baseline.metric == 11

    _, text = _try(runner, script.replace("VERSION", "1"))
    result = runner.results[-1]
    assert result.values == [9.5, 9.7] and result.status is ExperimentStatus.DISCARD
    assert "9.6 against the best 11: better by 1.4, not more than the noise of repeats (2)" in text
    assert "repeats 9.5, 9.7" in text

    _try(runner, script.replace("VERSION", "2"))
    result = runner.results[-1]
    assert result.status is ExperimentStatus.KEEP and result.metric == 8.1
    assert result.reason == "8.1 against the best 11: better by 2.9, more than the noise (2)"
    assert runner.best_metric == 8.1


def test_maximize_keeps_a_higher_number(task_repo, writer, terminal):
    runner = task_repo(writer, terminal, goal="maximize")
    runner.baseline()
    _try(runner, "echo score: 4")
    assert runner.results[-1].status is ExperimentStatus.DISCARD
    _, text = _try(runner, "echo score: 6")
    assert runner.results[-1].status is ExperimentStatus.KEEP and "higher is better" in text


def test_consecutive_failures_end_the_experiments(task_repo, writer, terminal):
    runner = task_repo(writer, terminal, limits="{experiments: 10, consecutive_failures: 2}")
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


def test_the_experiment_limit_ends_the_experiments(task_repo, writer, terminal):
    runner = task_repo(writer, terminal, limits="{experiments: 1}")
    runner.baseline()
    ok, text = _try(runner, "echo score: 4")
    assert ok and text.endswith(
        "No more experiments: the limit of 1 experiments is reached. Finish now."
    )
    with pytest.raises(ExperimentError, match="limit of 1 experiments"):
        runner.run("more")


def test_nothing_changed_is_refused_without_a_row(task_repo, writer, terminal):
    runner = task_repo(writer, terminal)
    runner.baseline()
    ok, text = runner.experiment("the same again")
    assert not ok and "nothing changed since the best commit" in text
    assert runner.experiments == 0 and len(read_results(runner.results_path)) == 1


def test_a_commit_the_model_made_itself_is_an_experiment(task_repo, writer, terminal):
    runner = task_repo(writer, terminal)
    runner.baseline()
    (runner.repo.root / "score.sh").write_text("echo score: 3\n")
    git(runner.repo.root, "commit", "--quiet", "-am", "my own commit")
    ok, _ = runner.experiment("committed by the model")
    assert ok and runner.results[-1].commit == runner.repo.head()


def test_a_busy_shell_is_refused(task_repo, writer, terminal):
    runner = task_repo(writer, terminal)
    runner.baseline()
    terminal.send_text("sleep 30\r")
    terminal.wait(quiet=0.3, timeout=5)
    ok, text = _try(runner, "echo score: 4")
    assert not ok and "not at a prompt (state: running)" in text
    assert runner.experiments == 0
    terminal.interrupt()


def test_experiments_need_a_baseline_first(task_repo, writer, terminal):
    runner = task_repo(writer, terminal)
    with pytest.raises(ExperimentError, match="baseline first"):
        runner.run("too soon")


def test_a_crashed_baseline_lets_the_first_measured_experiment_win(task_repo, writer, terminal):
    runner = task_repo(writer, terminal, score="exit 1")
    baseline = runner.baseline()
    assert baseline.status is ExperimentStatus.CRASH and runner.best_metric is None
    ok, _ = _try(runner, "echo score: 50")
    assert ok and runner.results[-1].status is ExperimentStatus.KEEP
    assert runner.results[-1].reason == "the first experiment that measured"


def test_a_dirty_tree_is_refused_before_the_baseline(task_repo, writer, terminal):
    runner = task_repo(writer, terminal)
    (runner.repo.root / "score.sh").write_text("echo score: 1\n")
    with pytest.raises(GitError, match=r"not clean \(score.sh\)"):
        runner.baseline()


def test_a_session_inside_the_repository_is_not_committed(tmp_path, task_repo, terminal):
    info = SessionInfo(
        id="s", task="t", model="script:x", cwd="/", cols=80, rows=24, started_at="now"
    )
    repo_path = tmp_path / "repo"
    inside = SessionWriter(
        repo_path / "sessions" / "s",
        info,
        background_flush=False,
        redactor=Redactor(from_environment=False),
    )
    try:
        runner = task_repo(inside, terminal)
        runner.baseline()
        _try(runner, "echo score: 4")
        committed = git(repo_path, "show", "--name-only", "--format=", "HEAD").split()
        assert committed == ["score.sh"]
        assert (repo_path / "sessions" / "s" / "results.tsv").exists()
    finally:
        inside.close()


def test_an_untracked_protected_file_that_changed_is_reported(task_repo, writer, terminal):
    runner = task_repo(
        writer,
        terminal,
        protect="[data.txt]",
        files={".gitignore": "data.txt\n", "data.txt": "data\n"},
    )
    assert "data.txt" not in git(runner.repo.root, "ls-files")
    runner.baseline()
    (runner.repo.root / "data.txt").write_text("better data\n")
    ok, text = _try(runner, "echo score: 4")
    assert not ok and runner.results[-1].status is ExperimentStatus.INVALID
    assert "could not restore data.txt (not tracked by git)" in text


def test_the_metric_runs_in_the_directory_of_the_task(task_repo, writer, terminal):
    runner = task_repo(writer, terminal, score="pwd; echo score: 5")
    terminal.run("cd /")
    runner.baseline()
    assert Path(terminal.snapshot().cwd) == runner.repo.root
    assert f"{runner.repo.root}\nscore: 5" in terminal.transcript.read()


# -- the model cannot stand between the metric and the number ---------------------------------


def test_text_left_on_the_prompt_line_does_not_change_the_metric_command(
    task_repo, writer, terminal
):
    runner = task_repo(writer, terminal)
    runner.baseline()
    terminal.send_text("echo 'score: 1' # ")  # typed, not entered: the harness's command follows
    _try(runner, "echo score: 9")
    assert runner.results[-1].metric == 9.0


def test_functions_path_and_prompt_command_of_the_shell_do_not_reach_the_metric(
    task_repo, writer, terminal, tmp_path
):
    runner = task_repo(writer, terminal)
    runner.baseline()
    fake = tmp_path / "fakebin"
    fake.mkdir()
    (fake / "sh").write_text("#!/bin/sh\necho 'score: 1'\n")
    (fake / "sh").chmod(0o755)
    terminal.run(f"export PATH={fake}:$PATH; function sh {{ echo 'score: 1'; }}; export -f sh")
    terminal.run("PROMPT_COMMAND=\"echo 'score: 1'; $PROMPT_COMMAND\"")
    _try(runner, "echo score: 9")
    assert runner.results[-1].metric == 9.0


def test_an_experiment_waits_for_nothing_in_the_background(task_repo, writer, terminal):
    runner = task_repo(writer, terminal)
    runner.baseline()
    terminal.run("(while true; do sleep 1; done) &")
    ok, text = _try(runner, "echo score: 9")
    assert not ok and "still running" in text and len(runner.results) == 1
    terminal.run("kill %1; wait; sleep 1.5")  # the loop's last sleep ends too
    _try(runner, "echo score: 9")
    assert runner.results[-1].metric == 9.0


def test_experiments_stay_on_clives_branch(task_repo, writer, terminal):
    runner = task_repo(writer, terminal)
    runner.baseline()
    repo = runner.repo.root
    git(repo, "checkout", "-q", "-b", "elsewhere")
    ok, text = _try(runner, "echo score: 9")
    assert not ok and "not on" in text and len(runner.results) == 1
    assert git(repo, "log", "--format=%s", "elsewhere").count("clive experiment") == 0
