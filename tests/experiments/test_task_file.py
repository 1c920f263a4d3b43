"""task.md: the front matter the harness reads, and errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from clive.experiments import Goal, TaskFileError, load_task
from clive.experiments.task_file import parse_task

VALID = """\
---
metric:
  command: ./bench.sh              # run by the harness in the live terminal
  pattern: 'val_bpb: ([0-9.]+)'    # the first group is the number
  goal: minimize                   # or maximize
  budget: 300                      # seconds per run before it is stopped
  repeats: 2
protect: [prepare.py, bench.sh]
limits: {experiments: 100, consecutive_failures: 5}
---
# Speed up training

Try things.
"""

EXAMPLE = Path(__file__).parents[2] / "examples" / "tiny-train" / "task.md"


def test_the_issues_shape_parses():
    task = parse_task(VALID, "/work/task.md")
    assert task.metric.command == "./bench.sh"
    assert task.metric.regex.search("val_bpb: 0.9979").group(1) == "0.9979"
    assert task.metric.goal is Goal.MINIMIZE and task.metric.lower_is_better
    assert task.metric.budget == 300 and task.metric.repeats == 2
    assert task.protect == ("prepare.py", "bench.sh")
    assert (task.limits.experiments, task.limits.consecutive_failures) == (100, 5)
    assert task.body == "# Speed up training\n\nTry things."
    assert task.name == "Speed up training"
    assert task.directory == Path("/work")


def test_optional_fields_take_their_defaults():
    task = parse_task(
        "---\nmetric: {command: make bench, pattern: 'x=(\\d+)', goal: maximize, budget: 5}\n---\n"
    )
    assert task.metric.repeats == 1
    assert task.metric.goal is Goal.MAXIMIZE and not task.metric.lower_is_better
    assert task.protect == ()
    assert (task.limits.experiments, task.limits.consecutive_failures) == (100, 5)
    assert task.metric.baseline_runs == 1 and task.metric.remeasure == 2
    assert (task.plateau, task.holdout, task.on_holdout_regress) == (10, None, "flag")


def test_a_timing_is_measured_three_times_at_the_baseline_unless_told():
    front = "---\nmetric: {command: x, pattern: 't=(\\d+)', goal: minimize, budget: 5%s}\n---\n"
    assert parse_task(front % ", timing: true").metric.baseline_runs == 3
    assert parse_task(front % ", timing: true, noise_repeats: 5").metric.baseline_runs == 5
    assert parse_task(front % ", repeats: 4, noise_repeats: 2").metric.baseline_runs == 4


def test_the_held_out_metric_is_read_from_its_own_file_and_checked(tmp_path):
    held = tmp_path / "held"
    held.mkdir()
    (tmp_path / "task.md").write_text(
        "---\nmetric: {command: x, pattern: 't=(1)', goal: minimize, budget: 5}\n"
        f"holdout: {held}/holdout.yaml\n---\n"
    )
    (held / "holdout.yaml").write_text(
        f"command: y\npattern: 'h=(1)'\ngoal: maximize\npaths: ['{held}']\n"
    )
    task = load_task(tmp_path / "task.md")
    assert task.holdout.command == "y" and not task.holdout.lower_is_better
    assert task.hidden == [held, held]  # the file's directory, and what it reads
    (held / "holdout.yaml").write_text("command: y\npattern: 'h'\ngoal: up\n")
    with pytest.raises(TaskFileError) as raised:
        load_task(tmp_path / "task.md")
    assert "holdout.yaml: holdout.pattern: 'h' has no group" in str(raised.value)
    assert "holdout.goal: 'up' is not a goal" in str(raised.value)
    gone = f"command: y\npattern: 'h(1)'\ngoal: minimize\npaths: ['{tmp_path}/gone']\n"
    (held / "holdout.yaml").write_text(gone)
    with pytest.raises(TaskFileError, match=r"paths\[0\]: .*gone' is not a directory"):
        load_task(tmp_path / "task.md")


@pytest.mark.parametrize(
    ("change", "field", "expected"),
    [
        (("goal: minimize", "goal: smaller"), "metric.goal", "minimize or maximize"),
        (("  goal: minimize", "  # goal:"), "metric.goal: missing", "minimize or maximize"),
        (("  command: ./bench.sh", "  # command:"), "metric.command: missing", "command"),
        (("budget: 300", "budget: 0"), "metric.budget", "greater than 0"),
        (("budget: 300", "budget: soon"), "metric.budget", "seconds per run"),
        (("budget: 300", "budget: true"), "metric.budget", "seconds per run"),
        (("repeats: 2", "repeats: 0"), "metric.repeats", "at least 1"),
        (("repeats: 2", "repeats: 1.5"), "metric.repeats", "at least 1"),
        (("([0-9.]+)", "[0-9.]+"), "metric.pattern", "no group"),
        (("([0-9.]+)", "([0-9.]+"), "metric.pattern", "not a regular expression"),
        (("[prepare.py, bench.sh]", "[prepare.py, /etc/passwd]"), "protect[1]", "relative"),
        (("[prepare.py, bench.sh]", "[../outside]"), "protect[0]", "relative"),
        (("[prepare.py, bench.sh]", "prepare.py"), "protect", "list"),
        (("experiments: 100", "experiments: -1"), "limits.experiments", "at least 1"),
        (("consecutive_failures: 5", "consecutive_failures: x"), "limits.consecutive", "integer"),
        (("  repeats: 2\n", "  repeats: 2\n  timeout: 3\n"), "metric.timeout", "unknown field"),
        (("protect:", "protects:"), "protects", "unknown field"),
        (("repeats: 2", "noise_repeats: 0"), "metric.noise_repeats", "at least 1"),
        (("repeats: 2", "remeasure: -1"), "metric.remeasure", "at least 0"),
        (("repeats: 2", "timing: 1"), "metric.timing", "true or false"),
        (("protect:", "plateau: 0\nprotect:"), "plateau", "at least 1"),
        (
            ("protect:", "holdout: {command: x, pattern: 'h(1)', goal: minimize}\nprotect:"),
            "holdout",
            "in a file outside the repository",
        ),
        (("protect:", "holdout: eval/holdout.yaml\nprotect:"), "holdout", "absolute"),
        (("protect:", "on_holdout_regress: undo\nprotect:"), "on_holdout_regress", "revert"),
    ],
)
def test_an_invalid_field_is_named_with_what_is_expected(change, field, expected):
    old, new = change
    assert old in VALID
    with pytest.raises(TaskFileError) as raised:
        parse_task(VALID.replace(old, new, 1), "/work/task.md")
    message = str(raised.value)
    assert message.startswith("/work/task.md: ")
    assert field in message
    assert expected in message


def test_a_missing_metric_is_named():
    with pytest.raises(TaskFileError, match=r"task.md: metric: missing; expected a mapping"):
        parse_task("---\nprotect: []\n---\nbody\n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# no front matter\n", "front matter: missing; expected the file to start with"),
        ("---\nmetric: {}\n", "front matter: not closed"),
        ("---\nmetric: [1,\n---\n", "front matter: invalid YAML at line 3"),
        ("---\n- a list\n---\n", "front matter: expected a YAML mapping"),
        ("---\n---\n", "front matter: expected a YAML mapping"),
    ],
)
def test_broken_front_matter_says_what_is_wrong(text, expected):
    with pytest.raises(TaskFileError, match="task.md: " + expected):
        parse_task(text)


def test_load_task_requires_the_protected_files(tmp_path):
    (tmp_path / "task.md").write_text(VALID)
    (tmp_path / "prepare.py").write_text("")
    with pytest.raises(TaskFileError, match=r"protect\[1\]: 'bench.sh' does not exist"):
        load_task(tmp_path / "task.md")
    (tmp_path / "bench.sh").write_text("")
    assert load_task(tmp_path / "task.md").directory == tmp_path


def test_load_task_names_a_file_it_cannot_read(tmp_path):
    with pytest.raises(TaskFileError, match="cannot read the task file"):
        load_task(tmp_path / "absent.md")


def test_the_example_task_loads():
    task = load_task(EXAMPLE)
    assert task.metric.regex.pattern == "val_loss: ([0-9.]+)"
    assert set(task.protect) == {"prepare.py", "bench.sh"}
