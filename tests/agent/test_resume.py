"""``clive resume``: a killed session goes on in its own directory, from its notes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from scripted import finish, type_, wait, write_script

from clive.session import Session
from clive.session.asciicast import iter_events
from clive.session.events import Control, ModelTurn, Observation, Outcome


def _clive(*args, sessions, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-m", "clive", *args, "--sessions-dir", str(sessions), "--no-user-rc"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "ANTHROPIC_API_KEY": ""},
        **kwargs,
    )


def test_a_killed_session_resumes_in_its_directory_with_its_notes(tmp_path):
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    sessions = tmp_path / "sessions"
    first = write_script(
        tmp_path / "first.jsonl",
        [
            type_("cd sub && echo started > progress.txt"),
            {"tool": "note", "input": {"text": "REMEMBER: progress.txt holds the state"}},
            type_("sleep 60"),
            wait(until="done", timeout=120),
            finish("never reached"),
        ],
    )
    process = _clive(
        "--model", f"script:{first}", "--cwd", str(work), "a long job", sessions=sessions
    )
    for line in process.stdout:
        if b"step 4 model" in line:  # waiting on `sleep 60`
            break
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    (directory,) = sessions.iterdir()
    assert Session(directory).info.outcome is Outcome.INTERRUPTED

    second = write_script(
        tmp_path / "second.jsonl",
        [type_("cat progress.txt && echo resumed >> progress.txt"), finish("resumed and done")],
    )
    resumed = _clive("resume", "last", "--model", f"script:{second}", sessions=sessions)
    _, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, err.decode()
    assert list(sessions.iterdir()) == [directory], "the same session directory goes on"
    assert (work / "sub" / "progress.txt").read_text() == "started\nresumed\n"

    session = Session(directory)
    assert session.info.outcome is Outcome.FINISHED
    assert session.info.summary == "resumed and done"
    events = session.log().events
    assert session.log().bad_lines == []
    control = next(e for e in events if isinstance(e, Control))
    assert control.action == "resume" and str(work / "sub") in control.message
    steps = [e.step for e in events if isinstance(e, ModelTurn)]
    assert steps == [1, 2, 3, 4, 5, 6], "steps go on where they stopped"
    times = [e.t for e in events]
    assert times == sorted(times), "the session's clock goes on too"
    # The fresh context opened with the task, the notes, and where the session stopped.
    opening = next(e for e in events if isinstance(e, Observation) and e.step == 5)
    assert "cwd: " + str(work / "sub") in opening.text
    first_turn = json.loads((directory / "events.jsonl").read_text().splitlines()[0])
    assert first_turn["type"] == "session_started"
    cast_times = [e.time for e in iter_events(session.cast_path)]
    assert cast_times == sorted(cast_times)
    played = subprocess.run(
        ["asciinema", "cat", str(session.cast_path)], capture_output=True, text=True, check=True
    )
    assert "resumed" in played.stdout and "sleep 60" in played.stdout


def test_a_finished_session_is_not_resumed(tmp_path):
    sessions = tmp_path / "sessions"
    script = write_script(tmp_path / "t.jsonl", [finish("done")])
    (tmp_path / "w").mkdir()
    done = _clive(
        "--model", f"script:{script}", "--cwd", str(tmp_path / "w"), "x", sessions=sessions
    )
    done.communicate(timeout=60)
    again = _clive("resume", "last", "--model", f"script:{script}", sessions=sessions)
    _, err = again.communicate(timeout=60)
    assert again.returncode == 2 and b"finished: there is nothing to resume" in err
