"""A run of many workers watched as a person does, in a real tmux: `clive run task.md --workers
2` shows every worker; Enter opens one worker's live view (its shell, its timeline) and d there
comes back; d detaches and the run goes on; `clive attach` finds it again; q stops it."""

from __future__ import annotations

import shlex
import sys

import pytest
from polling import wait_until
from scripted import tiny_train, type_, wait, write_script

from clive.experiments.fleet_run import read_run

pytestmark = [pytest.mark.tmux, pytest.mark.slow]


def _experiment(description: str) -> dict:
    return {"tool": "experiment", "input": {"description": description}}


def test_a_fleet_is_watched_opened_detached_attached_and_stopped(tmp_path, tmux_pane):
    repo = tiny_train(tmp_path)
    for number, (name, value) in {1: ("LEARNING_RATE", "0.2"), 2: ("STEPS", "400")}.items():
        write_script(tmp_path / f"turns-{number}.jsonl", [
            type_(f"sed -i 's/^{name} = .*/{name} = {value}/' config.py"),
            _experiment(f"{name} {value}"),
            type_(f"echo worker-{number}-waits; sleep 600"),  # still running when watched
            wait(until="done", timeout=600),
        ])  # fmt: skip
    sessions = tmp_path / "sessions"
    clive = [sys.executable, "-m", "clive"]
    command = [
        *clive, "run", "task.md", "--workers", "2", "--no-user-rc", "--sessions-dir",
        str(sessions), "--model", f"script:{tmp_path}/turns-{{worker}}.jsonl",
    ]  # fmt: skip
    pane = tmux_pane(cols=120, rows=40, cwd=str(repo))
    pane.send_text(shlex.join(command) + "; echo CLIVE-EXIT=$?")
    pane.send_keys("Enter")

    # Both workers, each past its experiment and waiting in its shell.
    pane.wait_for_text(r"2 workers · running", timeout=60)
    # (Whichever measured first was kept; the other was measured against it.)
    pane.wait_for_text(r"w1 .* working .* 1/20 .*LEARNING_RATE 0.2: (keep|discard)", timeout=60)
    pane.wait_for_text(r"w2 .* working .* 1/20 .*STEPS 400: (keep|discard)", timeout=60)
    screen = "\n".join(pane.capture())
    assert "every worker's experiments" in screen and "best 0.01" in screen

    # Worker 2, live: its own shell and timeline; d there comes back to the fleet.
    pane.send_keys("Down", "Enter")
    pane.wait_for_text(r"worker-2-waits", timeout=30)
    pane.wait_for_text(r"waiting for the command to end")
    pane.send_keys("d")
    pane.wait_for_text(r"2 workers · running")

    # d detaches: the run goes on, and clive says how to come back.
    pane.send_keys("d")
    pane.wait_for_text(r"detached; the run goes on", timeout=30)
    pane.wait_for_text(r"CLIVE-EXIT=0")  # detached: nothing wrong
    (run_dir,) = [p for p in sessions.iterdir() if p.is_dir()]
    assert read_run(run_dir).running

    # `clive attach` (the latest running) is the fleet again; q stops the run after asking.
    pane.send_text(shlex.join([*clive, "attach", "--sessions-dir", str(sessions)]))
    pane.send_keys("Enter")
    pane.wait_for_text(r"2 workers · running", timeout=30)
    pane.send_keys("q")
    pane.wait_for_text(r"Stop the run\?")
    pane.send_keys("y")
    pane.wait_for_text(r"2 workers · ended", timeout=60)
    pane.wait_for_text(r"w1 .* quit")
    pane.send_keys("q")
    pane.wait_for_text(r"^run: /", timeout=30)  # where the run is (the line wraps)
    run = wait_until(lambda: (r := read_run(run_dir)).ended and r, "the run ended")
    assert [w.state for w in run.workers] == ["quit", "quit"]
    assert (run_dir / "summary.md").is_file()
