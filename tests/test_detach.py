"""``--detach``: the session runs in a process of its own, without a view, and goes on after the
command that started it has returned (as it would after its terminal closed)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys

import pytest
from polling import wait_until
from scripted import finish, type_, wait, write_script

from clive.commands._detach import _without_detach

pytestmark = pytest.mark.slow


def _clive(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "clive", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_a_detached_session_goes_on_after_the_command_returns(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    script = write_script(
        tmp_path / "turns.jsonl",
        [
            type_("while [ ! -e go ]; do sleep 0.1; done; echo GO-SEEN"),
            wait(until="pattern", pattern="GO-SEEN", timeout=120),
            finish("went"),
        ],
    )
    sessions = tmp_path / "sessions"
    started = _clive(
        "--detach", "--model", f"script:{script}", "--cwd", str(work), "--sessions-dir",
        str(sessions), "--no-user-rc", "wait for go",
        cwd=tmp_path,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    directory = started.stdout.strip()
    assert directory.startswith(str(sessions)) and "running in the background" in started.stderr

    # The command has returned; the session runs on, in a session of its own (no SIGHUP).
    info = json.loads((tmp_path / directory / "session.json").read_text())
    assert info["outcome"] == "running"
    pid = info["pid"]
    try:
        assert os.getsid(pid) != os.getsid(0)
        _let_it_finish(tmp_path / directory, work)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)  # never left running, whatever failed
    info = json.loads((tmp_path / directory / "session.json").read_text())
    assert info["summary"] == "went"


def _let_it_finish(directory, work) -> None:
    """Once the model waits for it, the shell is let go on; the session then finishes."""
    events = directory / "events.jsonl"
    wait_until(lambda: '"GO-SEEN"' in events.read_text(), "the model waits for GO-SEEN")
    (work / "go").touch()
    session_json = directory / "session.json"
    wait_until(
        lambda: json.loads(session_json.read_text())["outcome"] == "finished",
        "the detached session finished",
        timeout=60,
    )


def test_a_detached_session_that_cannot_start_says_why_in_the_foreground(tmp_path):
    missing = tmp_path / "no-such-dir"
    failed = _clive(
        "--detach", "--model", "script:nothing.jsonl", "--cwd", str(missing), "x", cwd=tmp_path
    )
    assert failed.returncode == 2 and "not a directory" in failed.stderr
    assert failed.stdout == ""


def test_only_the_detach_option_is_taken_out_of_the_command():
    assert _without_detach(["--detach", "--model", "m", "task"]) == ["--model", "m", "task"]
    assert _without_detach(["run", "t.md", "--detach"]) == ["run", "t.md"]
    assert _without_detach(["--", "--detach"]) == ["--", "--detach"]  # a task, not the option
