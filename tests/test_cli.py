"""The clive command, run as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys


def _clive(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "clive", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def test_exec_prints_output_and_returns_the_exit_code(tmp_path):
    done = _clive("exec", "--no-user-rc", "--", "echo hello; (exit 3)", cwd=tmp_path)
    assert done.stdout == "hello\n"
    assert done.returncode == 3
    assert "exit 3" in done.stderr


def test_exec_json_reports_screen_and_output(tmp_path):
    done = _clive("exec", "--json", "--screen", "--cols", "40", "--rows", "5", "--", "seq 3")
    report = json.loads(done.stdout)
    assert report["exit_code"] == 0
    assert report["output"] == "1\n2\n3\n"
    assert len(report["screen"]) == 5
    assert report["decided_by"] == "prompt"


def test_exec_timeout_is_reported(tmp_path):
    done = _clive("exec", "--timeout", "0.5", "--", "sleep 30")
    assert done.returncode == 124
    assert "timed out" in done.stderr


def test_help_lists_the_commands():
    done = _clive("--help")
    assert done.returncode == 0
    assert "exec" in done.stdout
    assert "clive exec" in _clive("exec", "--help").stdout


def test_a_task_says_clearly_that_the_agent_is_not_there_yet():
    done = _clive("speed up nanochat training")
    assert done.returncode == 2
    assert "agent loop is not built" in done.stderr
    assert "clive exec" in done.stderr
