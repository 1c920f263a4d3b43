"""A session survives the harness being killed, and keeps secrets off disk: real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from scripted import finish, run_script, type_, wait, write_script

from clive.session import Session
from clive.session.asciicast import iter_events
from clive.session.events import ModelTurn, Outcome

ANTHROPIC = "sk-ant-api03-" + "Qw3rTy_" * 12
GITHUB = "ghp_" + "Zx81" * 10


def _clive(*args: str, env: dict | None = None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "clive", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        **kwargs,
    )


def test_sigkill_mid_session_leaves_a_readable_interrupted_session(tmp_path):
    script = write_script(
        tmp_path / "turns.jsonl",
        [
            type_("for i in $(seq 1 400); do echo line $i; sleep 0.01; done"),
            wait(until="done", timeout=60),
            type_("sleep 60"),
            wait(until="done", timeout=120),
            finish(),
        ],
    )
    work = tmp_path / "work"
    work.mkdir()
    sessions = tmp_path / "sessions"
    process = _clive(
        "--model",
        f"script:{script}",
        "--headless",
        "--no-user-rc",
        "--cwd",
        str(work),
        "--sessions-dir",
        str(sessions),
        "count to 400 then sleep",
    )
    seen = []
    for line in process.stdout:
        seen.append(line.decode())
        if "step 4 model" in seen[-1]:  # waiting on `sleep 60`; the turn is on disk
            break
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL

    (directory,) = sessions.iterdir()
    session = Session(directory)
    assert session.info.outcome is Outcome.INTERRUPTED
    log = session.log()
    assert log.bad_lines == []
    turns = [e for e in log.events if isinstance(e, ModelTurn)]
    assert [t.step for t in turns] == [1, 2, 3, 4]
    assert session.info.totals.steps == 4
    output = "".join(e.data for e in session.output())
    assert "line 400" in output, "output written before the kill is in the cast"
    # Everything reads it: the listing, the report, replay, export.
    env = {"CLIVE_SESSIONS_DIR": str(sessions)}
    listing = subprocess.run(
        [sys.executable, "-m", "clive", "sessions"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=True,
    )
    assert "interrupted" in listing.stdout
    shown = subprocess.run(
        [sys.executable, "-m", "clive", "show", "last"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=True,
    )
    assert "## Step 4" in shown.stdout and "interrupted" in shown.stdout
    screen = subprocess.run(
        [sys.executable, "-m", "clive", "replay", "last", "--print"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=True,
    )
    assert "sleep 60" in screen.stdout


def test_a_torn_cast_line_ends_reading_quietly(tmp_path):
    session, _ = run_script(tmp_path, [type_("echo hi"), finish()])
    with open(session.cast_path, "ab") as cast:
        cast.write(b'[9.5, "o", "half a li')
    events = list(iter_events(session.cast_path))
    assert events and events[-1].data != "half a li"


def test_planted_secrets_never_reach_disk(tmp_path, monkeypatch):
    harness_key = "harness-secret-value-0123456789"
    monkeypatch.setenv("ANTHROPIC_API_KEY", harness_key)
    secrets_file = tmp_path / "work" / "creds.txt"
    secrets_file.parent.mkdir()
    secrets_file.write_text(f"anthropic={ANTHROPIC}\ngithub={GITHUB}\n")
    session, ended = run_script(
        tmp_path,
        [
            type_("cat creds.txt"),
            type_(f"echo {ANTHROPIC} | wc -c"),
            {
                "text": f"my key is {harness_key}",
                **type_("echo the key is not here: $ANTHROPIC_API_KEY."),
            },
            type_("read -s -p 'Password: ' pw; echo; echo length ${#pw}"),
            type_("correct-horse-battery-staple"),
            {"tool": "note", "input": {"text": f"remember {GITHUB}"}},
            finish(f"done; token {GITHUB}"),
        ],
    )
    assert ended.outcome is Outcome.FINISHED
    on_disk = b"".join(p.read_bytes() for p in session.directory.rglob("*") if p.is_file())
    for secret in (ANTHROPIC, GITHUB, harness_key, "correct-horse-battery-staple"):
        assert secret.encode() not in on_disk, secret
        assert json.dumps(secret).encode()[1:-1] not in on_disk
    # The commands still did their work: the shell saw the real values.
    output = "".join(e.data for e in session.output())
    assert "length 28" in output
    assert "the key is not here: ." in output, "the harness's key never reaches the shell"
    assert "[REDACTED]" in output


def test_sigterm_ends_the_session_cleanly_as_quit(tmp_path):
    # A duration of this run's own, so another run's sleep is not taken for ours.
    sleep = f"sleep 100.{os.getpid()}"
    script = write_script(tmp_path / "turns.jsonl", [type_(sleep), wait(timeout=200)])
    sessions = tmp_path / "sessions"
    process = _clive(
        "--model",
        f"script:{script}",
        "--no-user-rc",
        "--cwd",
        str(tmp_path),
        "--sessions-dir",
        str(sessions),
        "sleep",
    )
    for line in process.stdout:
        if b"step 2 model" in line:  # inside the loop: a SIGTERM now is a quit
            break
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 130
    (directory,) = sessions.iterdir()
    info = Session(directory).info
    assert info.outcome is Outcome.QUIT and info.reason == "stopped by the user (SIGTERM)"
    sleepers = subprocess.run(["pgrep", "-f", f"^{sleep}$"], capture_output=True, text=True)
    assert sleepers.stdout == "", "the shell and its command are gone"


def test_a_session_json_that_cannot_be_read_is_reported_in_one_line_and_skipped(tmp_path):
    import subprocess
    import sys

    sessions = tmp_path / "sessions"
    for name, text in {
        "2026-01-01T00-00-00-broken": "{not json",
        "2026-01-02T00-00-00-newer": '{"id": "x", "cols": "wide", "outcome": "teleported"}',
    }.items():
        (sessions / name).mkdir(parents=True)
        (sessions / name / "session.json").write_text(text)

    def clive(*args):
        return subprocess.run(
            [sys.executable, "-m", "clive", *args, "--sessions-dir", str(sessions)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    listing = clive("sessions")
    assert listing.returncode == 0 and "no sessions" in listing.stdout
    assert listing.stderr.count("cannot be read") == 2 and "Traceback" not in listing.stderr
    commands = [
        ["show", "2026-01-01T00-00-00-broken"],
        ["export", "2026-01-02T00-00-00-newer", "--format", "md"],
        ["resume", "2026-01-01T00-00-00-broken"],
        ["show", "last"],
    ]
    for command in commands:
        done = clive(*command)
        assert done.returncode == 2 and "Traceback" not in done.stderr, (command, done.stderr)
    assert "newer clive" in clive("show", "2026-01-01T00-00-00-broken").stderr
