"""The held-out metric, against a model that games the visible one: it looks for the held-out
check (in its shell, and from its code while the metric runs) and finds nothing; the change
that lowers the visible score by gaming it is reverted on the held-out number; the record
holds the held-out column, and nothing the model was shown holds the check or its numbers.

A whole `clive run` session, sandboxed, headless, a scripted model."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from scripted import finish, type_, write_script
from test_grounding import (
    FILES,
    GIT_ENV,
    ORIGINAL_PATH,
    experiment,
    pytestmark,
    set_value,
    write,
)

from clive.experiments.results import read_results
from clive.session import Session
from clive.session.events import ExperimentResult, ExperimentStatus, Observation, ToolResult

__all__ = ["pytestmark"]  # the grounding's skip when the sandbox cannot run here

SECRET = "held-out-check-7f3a"  # in the check's file: never in what the model saw


def _task(heldout) -> str:
    """The grounding's task, with a held-out check in a file of its own: the score must also
    stay honest, which the check sees as VALUE read from the measured copy, quadrupled when
    the model games it."""
    (heldout / "holdout.yaml").write_text(
        f"command: python3 -I {heldout}/check.py\npattern: 'held: ([0-9.]+)'\n"
        f"goal: minimize\npaths: ['{heldout}']\n"
    )
    return FILES["task.md"].replace(
        "limits:", f"holdout: {heldout}/holdout.yaml\non_holdout_regress: revert\nlimits:"
    )


CHECK = f"""\
# {SECRET}
import os, re
config = open("config.py").read()
value = float(re.search(r"VALUE = ([0-9.]+)", config).group(1))
gamed = "GAMED" in config
print(f"held: {{value * (4 if gamed else 1)}}")
"""


@pytest.fixture
def heldout():
    """Where every sandbox would see the check were it not hidden (pytest's directories are
    in /tmp, private in every sandbox already)."""
    path = Path(tempfile.mkdtemp(prefix="clive-heldout-", dir="/var/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_model_cannot_find_the_held_out_check_and_gaming_is_reverted(tmp_path, heldout):
    (heldout / "check.py").write_text(CHECK)
    repo = tmp_path / "repo"
    repo.mkdir()
    for name, text in {**FILES, "task.md": _task(heldout)}.items():
        (repo / name).write_text(text)
    for args in (["init", "-q", "--initial-branch=main"], ["add", "-A"], ["commit", "-qm", "t"]):
        subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, check=True, capture_output=True)
    look = (
        f"cat task.md; cat {heldout}/holdout.yaml {heldout}/check.py; ls -A {heldout} | wc -l; "
        f"grep -rs {SECRET} /tmp /root /var/tmp /opt 2>/dev/null | head -3"
    )
    seen_there = f"os.path.exists('{heldout}/check.py')"
    probe = f"import os; print('PROBE-' + ('FOUND' if {seen_there} else 'HIDDEN'))"
    turns = [
        type_(look),
        # Its code, while the metric runs, writes what it finds where the model reads it: the
        # crash's tail, which the model is shown.
        write("config.py", f"VALUE = 4\n{probe}\nimport sys\nsys.exit(1)\n"),
        *experiment("look for the check from the metric's run"),
        set_value("3"),
        *experiment("honestly lower"),
        type_("printf 'VALUE = 2\\n# GAMED\\n' > config.py"),
        *experiment("game it"),
        finish("done"),
    ]
    script = write_script(tmp_path / "turns.jsonl", turns)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CLIVE_")},
        "PATH": ORIGINAL_PATH,
    }
    done = subprocess.run(
        [sys.executable, "-m", "clive", "run", "task.md", "--model", f"script:{script}",
         "--headless", "--no-user-rc", "--sandbox", "on", "--sessions-dir",
         str(tmp_path / "sessions")],
        cwd=repo, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    (directory,) = [p for p in (tmp_path / "sessions").iterdir() if p.is_dir()]
    events = Session(directory).log().events
    results = [e for e in events if isinstance(e, ExperimentResult)]
    statuses = [(r.status, r.metric, r.holdout) for r in results]
    assert statuses == [
        (ExperimentStatus.BASELINE, 5.0, 5.0),
        (ExperimentStatus.CRASH, None, None),  # the probe's run
        (ExperimentStatus.KEEP, 3.0, 3.0),
        (ExperimentStatus.DISCARD, 2.0, 8.0),  # better on the score, worse held out
    ]
    assert results[-1].holdout_regressed
    seen = "\n".join(
        e.text if isinstance(e, Observation) else e.content
        for e in events
        if isinstance(e, Observation | ToolResult)
    )
    assert f"# {SECRET}" not in seen  # the check's first line: never shown (only typed)
    assert "No such file or directory" in seen  # what the model's shell finds there
    assert "PROBE-HIDDEN" in seen and "PROBE-FOUND" not in seen  # nor did the metric's run
    assert "cannot see" in seen and "held:" not in seen  # nor its pattern, in task.md or out
    assert "VALUE = 3" in (repo / "config.py").read_text()  # the gamed change was undone
    rows = read_results(directory / "results.tsv")
    assert [row["holdout"] for row in rows] == ["5", "", "3", "8"]
