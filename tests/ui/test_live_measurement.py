"""The live app shows the harness's measurement terminal while a metric runs, then the shell
again; replay shows the same measurement from ``measurement.cast``."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pilot_polling import until
from scripted import finish, write_script

from clive.agent.loop import AgentSettings
from clive.agent.task import run_task
from clive.experiments.runner import ExperimentRunner
from clive.experiments.task_file import load_task
from clive.link import LocalLink
from clive.models import ScriptModel
from clive.session import Session
from clive.session.events import ExperimentResult
from clive.ui.live_app import LiveApp
from clive.ui.terminal_view import TerminalView

pytestmark = pytest.mark.anyio


def _screen_text(view: TerminalView) -> str:
    return "\n".join("".join(cell.data for cell in row) for row in view.cells)


def _repo(tmp_path):
    """A repository whose metric waits for the test's go (a file in a read-only data path,
    which the measurement sees live: the bind is the directory itself)."""
    flags = tmp_path / "flags"
    flags.mkdir()
    repo = tmp_path / "repo"
    repo.mkdir()
    command = f"echo measuring-now; until [ -e {flags}/go ]; do sleep 0.05; done; echo score: 7"
    (repo / "task.md").write_text(
        "---\n"
        f"metric: {{command: '{command}', pattern: 'score: ([0-9]+)', goal: minimize, "
        f"budget: 120, paths: ['{flags}']}}\n"
        "---\n# Wait\n"
    )
    env = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin"}
    commit = ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start"]
    for args in (["init", "-q"], ["add", "-A"], commit):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True)
    return repo, flags


@pytest.mark.slow
async def test_the_pane_shows_the_measurement_while_it_runs_then_the_shell(tmp_path):
    repo, flags = _repo(tmp_path)
    task = load_task(repo / "task.md")
    script = write_script(tmp_path / "turns.jsonl", [finish("measured")])

    def experiments(writer, terminal, control, on_measure):
        return ExperimentRunner(
            writer, task, shell=terminal, root=repo, hidden=[tmp_path / "sessions"],
            stop=lambda: control.quitting, on_measure=on_measure,
        )  # fmt: skip

    def start(*, control, approver, on_event, on_start, on_measure=None, on_open=None):
        return run_task(
            task.body, ScriptModel(script), sessions_dir=tmp_path / "sessions", cwd=repo,
            user_rc=False, control=control, experiments=experiments, on_event=on_event,
            on_start=on_start, on_measure=on_measure, on_open=on_open,
        )  # fmt: skip

    link = LocalLink(start, model="script", cols=80, rows=24, budgets=AgentSettings(max_steps=5))
    app = LiveApp(link)
    async with app.run_test(size=(160, 40)) as pilot:
        view = app.query_one(TerminalView)
        pane = app.query_one("#terminal-pane")
        await until(pilot, lambda: app.screens.measuring, "a measurement", 60)
        await until(pilot, lambda: "measuring-now" in _screen_text(view), "its output", 60)
        assert pane.has_class("measuring") and "measurement" in str(pane.border_title)
        (flags / "go").touch()
        await until(pilot, lambda: app.ended is not None, "the end", 60)
        await until(pilot, lambda: not pane.has_class("measuring"), "the shell back", 60)
        assert "measuring-now" not in _screen_text(view)  # the shell again
        await pilot.press("q")
    (directory,) = (tmp_path / "sessions").iterdir()
    (result,) = [e for e in Session(directory).log().events if isinstance(e, ExperimentResult)]
    assert result.metric == 7

    # Replay prints the measurement terminal as it stood (and the shell is the shell).
    shown = subprocess.run(
        [sys.executable, "-m", "clive", "replay", str(directory), "--print", "--measurement",
         "--at", str(result.t - 0.001)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "measuring-now" in shown.stdout and "score: 7" in shown.stdout
