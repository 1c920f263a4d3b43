"""No secret reaches disk: real sessions, each planting one, then every file of them searched.

Every test walks the whole sessions directory (names included) and reads each file several
ways: as written, JSON-decoded (events, cast, session.json), with ANSI escapes stripped, and
with line breaks removed (a key the terminal wrapped, or cast events that cut it in two). The
reversed secret is looked for too.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from scripted import finish, run_script, type_, wait, write_script

from clive.agent.loop import AgentSettings
from clive.agent.task import run_task
from clive.experiments.git import GitRepo
from clive.models import ScriptModel
from clive.session import Session
from clive.session.events import InputSent, ModelTurn, Outcome, ToolResult
from clive.session.writer import SECRET_INPUT

ANTHROPIC = "sk-ant-api03-" + "Ab3_x-" * 15
OPENAI = "sk-proj-" + "Zq9" * 16
HARNESS_KEY = "harness-secret-value-0123456789-abcdefgh"
PASSWORD = "Tr0ub4dor&3-horse"
STS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
STS_TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDxExampleToken+abc=="
INI_TOKEN = "FwoGZXIvYXdzEBYaDHExampleSessionTokenValue0123456789/abc+def=="

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[\s\S]?")
_DEADLINE = 60.0  # seconds for anything a test polls for


def assert_nowhere(root: Path, *secrets: str) -> None:
    """No file under ``root`` holds any of ``secrets`` (read every way), and no name there
    holds a piece of one."""
    for path in [root, *root.rglob("*")]:
        name = path.name.lower()
        for secret in secrets:
            pieces = {secret.lower()[i : i + 12] for i in range(max(1, len(secret) - 11))}
            assert not any(piece in name for piece in pieces), (path, secret)
        if not path.is_file():
            continue
        for reading in _readings(path.read_bytes()):
            for secret in secrets:
                assert secret not in reading, (path, secret)
                assert secret[::-1] not in reading, (path, secret[::-1])


def _readings(data: bytes) -> Iterator[str]:
    raw = data.decode("utf-8", "replace")
    decoded = "\n".join(_strings(raw))
    for text in (raw, decoded, _cast_output(raw)):
        for variant in (text, _ANSI.sub("", text)):
            yield variant
            yield variant.replace("\r", "").replace("\n", "")


def _strings(raw: str) -> Iterator[str]:
    """Every string in ``raw`` read as JSON, whole or a line at a time."""
    try:
        values = [json.loads(raw)]
    except ValueError:
        values = []
        for line in raw.splitlines():
            try:
                values.append(json.loads(line))
            except ValueError:
                continue
    stack = values
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(reversed(value))


def _cast_output(raw: str) -> str:
    """What a player shows of ``raw`` read as a cast: its output events, run together."""
    shown = []
    for line in raw.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, list) and len(event) == 3 and event[1] == "o":
            shown.append(event[2])
    return "".join(shown)


def _work(tmp_path: Path, files: dict[str, str]) -> Path:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    for name, text in files.items():
        (work / name).write_text(text)
    return work


def _output(session: Session) -> str:
    return "".join(event.data for event in session.output())


def _keys(keys: list[str]) -> dict:
    return {"tool": "keys", "input": {"keys": keys}}


# -- 1. long outputs saved in outputs/ ------------------------------------------------------------


def test_a_long_output_the_observer_saves_is_redacted(tmp_path):
    lines = [f"line {n}" for n in range(300)]
    lines[150] = f"key={ANTHROPIC}"
    _work(tmp_path, {"big.txt": "\n".join(lines) + "\n"})
    session, ended = run_script(tmp_path, [type_("cat big.txt"), finish()])
    assert ended.outcome is Outcome.FINISHED
    (saved,) = (session.directory / "outputs").glob("step-*.txt")
    assert "line 299" in saved.read_text() and "key=[REDACTED]" in saved.read_text()
    assert_nowhere(tmp_path / "sessions", ANTHROPIC)


def test_a_long_output_the_terminal_saves_is_redacted(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", HARNESS_KEY)
    lines = [f"line {n}" for n in range(300)]
    lines[100] = f"harness key {HARNESS_KEY} and {ANTHROPIC}"
    work = _work(tmp_path, {"big.txt": "\n".join(lines) + "\n"})
    saved = []

    def run_a_long_command(writer, terminal):
        terminal.max_output_in_memory = 512  # so that the output is saved to a file
        saved.append(terminal.run("cat big.txt", timeout=_DEADLINE).output_path)

    script = write_script(tmp_path / "turns.jsonl", [finish()])
    writer, ended = run_task(
        "save a long output",
        ScriptModel(script),
        sessions_dir=tmp_path / "sessions",
        cwd=work,
        cols=80,
        rows=24,
        user_rc=False,
        on_start=run_a_long_command,
    )
    assert ended.outcome is Outcome.FINISHED
    (path,) = saved
    assert path.parent == writer.directory / "outputs"
    text = path.read_text()
    assert "line 299" in text and "harness key [REDACTED] and [REDACTED]" in text
    assert_nowhere(tmp_path / "sessions", HARNESS_KEY, ANTHROPIC)


# -- 2. a key wrapped across two screen rows ------------------------------------------------------


def test_a_key_wrapped_across_two_screen_rows_is_redacted(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", HARNESS_KEY)
    _work(tmp_path, {"key.txt": ANTHROPIC + "\n", "harness.txt": HARNESS_KEY + "\n"})
    # 70 blanks, then each key: the terminal (80 columns) wraps it after 10 characters.
    session, ended = run_script(
        tmp_path,
        [
            type_("clear; printf '%*s' 70 ''; cat key.txt; printf '%*s' 70 ''; cat harness.txt"),
            finish(),
        ],
    )
    assert ended.outcome is Outcome.FINISHED
    screens = [e.text for e in session.log().events if e.type == "observation"]
    assert any("[REDACTED]" in screen for screen in screens)
    assert_nowhere(tmp_path / "sessions", ANTHROPIC, HARNESS_KEY)


# -- 3. a key split by colour codes ---------------------------------------------------------------


def test_a_key_split_by_colour_codes_is_redacted_and_other_colours_kept(tmp_path):
    _work(tmp_path, {"key.txt": f"token {ANTHROPIC}\nmarker line\n"})
    session, ended = run_script(
        tmp_path,
        [type_("GREP_COLORS='mt=01;31' grep --color=always -e Ab3 -e marker key.txt"), finish()],
    )
    assert ended.outcome is Outcome.FINISHED
    output = _output(session)
    assert "\x1b[01;31m\x1b[Kmarker\x1b[m" in output, "colours outside the secret are kept"
    assert "token [REDACTED]" in _ANSI.sub("", output)
    assert_nowhere(tmp_path / "sessions", ANTHROPIC)


# -- 4. a value printed in two halves, seconds apart ----------------------------------------------


def test_a_value_printed_in_two_halves_seconds_apart_is_redacted(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", HARNESS_KEY)
    _work(tmp_path, {"harness.txt": HARNESS_KEY, "key.txt": ANTHROPIC})
    # Each value in two halves, with a pause between them (read -s: Enter shows nothing).
    halves = (
        'h=$(cat harness.txt); k=$(cat key.txt); printf %s "${h:0:15}"; read -rs; '
        'printf "%s\\n" "${h:15}"; printf %s "${k:0:20}"; read -rs; printf "%s\\n" "${k:20}"'
    )
    # Each pause is longer than the writer keeps output in memory before writing it (1 s).
    pause = wait(until="quiet", seconds=2.5, timeout=_DEADLINE)
    session, ended = run_script(
        tmp_path, [type_(halves), pause, _keys(["Enter"]), pause, _keys(["Enter"]), finish()]
    )
    assert ended.outcome is Outcome.FINISHED
    assert _ANSI.sub("", _output(session)).count("[REDACTED]") == 2
    assert_nowhere(tmp_path / "sessions", HARNESS_KEY, ANTHROPIC)


# -- 5. the task text and the session directory's name --------------------------------------------


def test_the_task_is_redacted_before_it_names_the_folder_and_session_json(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", HARNESS_KEY)
    task = f"use {OPENAI} and {HARNESS_KEY} to call the API"
    session, ended = run_script(tmp_path, [finish()], task=task)
    assert ended.outcome is Outcome.FINISHED
    assert session.info.task == "use [REDACTED] and [REDACTED] to call the API"
    assert "redacted" in session.directory.name
    assert_nowhere(tmp_path / "sessions", OPENAI, HARNESS_KEY)


# -- 6. a password typed with the keys tool -------------------------------------------------------


def test_keys_typed_at_a_password_prompt_are_secret(tmp_path):
    _work(tmp_path, {})
    ask = "python3 -c \"import getpass; print('length', len(getpass.getpass('Password: ')))\""
    session, ended = run_script(
        tmp_path,
        [
            type_(ask),
            wait(until="pattern", pattern="Password:", timeout=_DEADLINE),
            _keys([*PASSWORD, "Enter"]),
            wait(until="done", timeout=_DEADLINE),
            finish(),
        ],
    )
    assert ended.outcome is Outcome.FINISHED
    events = session.log().events
    assert f"length {len(PASSWORD)}" in _output(session), "the program read the password"
    assert any(isinstance(e, InputSent) and e.data == SECRET_INPUT for e in events)
    (pressed,) = [e for e in events if isinstance(e, ToolResult) and e.name == "keys"]
    assert pressed.ok and "r s e" not in pressed.content
    (typed,) = [e.tool_calls[0] for e in events if isinstance(e, ModelTurn) and e.step == 3]
    assert typed.name == "keys" and "[REDACTED]" in typed.input["keys"]
    assert not [key for key in typed.input["keys"] if len(key) == 1], typed.input
    assert_nowhere(tmp_path / "sessions", PASSWORD)


# -- 7. AWS STS credentials -----------------------------------------------------------------------


def test_aws_sts_credentials_are_redacted(tmp_path):
    sts = {
        "Credentials": {
            "AccessKeyId": "ASIAIOSFODNN7EXAMPLE",
            "SecretAccessKey": STS_SECRET,
            "SessionToken": STS_TOKEN,
            "Expiration": "2026-11-23T11:00:00+00:00",
        }
    }
    ini = (
        "[default]\naws_access_key_id = ASIAIOSFODNN7EXAMPLE\n"
        f"aws_secret_access_key = {STS_SECRET}\naws_session_token = {INI_TOKEN}\n"
    )
    _work(tmp_path, {"sts.json": json.dumps(sts, indent=4), "credentials": ini})
    session, ended = run_script(tmp_path, [type_("cat sts.json credentials"), finish()])
    assert ended.outcome is Outcome.FINISHED
    output = _output(session)
    assert '"SecretAccessKey": "[REDACTED]"' in output
    assert '"SessionToken": "[REDACTED]"' in output
    assert "aws_session_token = [REDACTED]" in output
    assert_nowhere(tmp_path / "sessions", STS_SECRET, STS_TOKEN, INI_TOKEN)


# -- 8. ordinary words stay as they are -----------------------------------------------------------


def test_words_that_contain_a_key_prefix_are_not_corrupted(tmp_path):
    words = "disk-usage-report-for-server-0001 task-ask-questions-of-the-scheduler-42"
    _work(tmp_path, {"key.txt": ANTHROPIC})
    session, ended = run_script(tmp_path, [type_(f"echo {words}; cat key.txt; echo"), finish()])
    assert ended.outcome is Outcome.FINISHED
    output = _output(session)
    assert output.count(words) == 2, "typed and printed, both intact"
    assert "[REDACTED]" in output
    assert_nowhere(tmp_path / "sessions", ANTHROPIC)


# -- 9. the transcript ----------------------------------------------------------------------------


def test_the_transcript_has_no_name_and_lives_in_the_session_directory(tmp_path):
    work = _work(tmp_path, {"key.txt": ANTHROPIC})
    open_files: list[str] = []

    def look_at_open_files(writer, terminal):
        terminal.run("cat key.txt", timeout=_DEADLINE)
        assert terminal.transcript.path is None
        for fd in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:  # closed meanwhile
                continue
            if target.startswith(str(writer.directory)):
                open_files.append(target)

    script = write_script(tmp_path / "turns.jsonl", [finish()])
    run_task(
        "look at the transcript",
        ScriptModel(script),
        sessions_dir=tmp_path / "sessions",
        cwd=work,
        settings=AgentSettings(),
        cols=80,
        rows=24,
        user_rc=False,
        on_start=look_at_open_files,
    )
    transcripts = [target for target in open_files if target.endswith(" (deleted)")]
    assert len(transcripts) == 1, open_files
    assert_nowhere(tmp_path / "sessions", ANTHROPIC)


def test_a_killed_harness_leaves_no_secret_on_disk(tmp_path):
    work = _work(tmp_path, {"key.txt": ANTHROPIC})
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    script = write_script(
        tmp_path / "turns.jsonl",
        [type_("cat key.txt"), type_("sleep 60"), wait(until="done", timeout=120), finish()],
    )
    sessions = tmp_path / "sessions"
    options = ["--headless", "--no-user-rc", "--cwd", str(work), "--sessions-dir", str(sessions)]
    process = subprocess.Popen(
        [sys.executable, "-m", "clive", "--model", f"script:{script}", *options, "wait"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "TMPDIR": str(temporary)},
    )
    try:
        # Step 3 has begun: the secret was printed and read into an observation.
        _wait_for_line(process, "step 3 model")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=_DEADLINE)
    (directory,) = sessions.iterdir()
    assert Session(directory).info.outcome is Outcome.INTERRUPTED
    assert_nowhere(sessions, ANTHROPIC)
    assert_nowhere(temporary, ANTHROPIC)


def _wait_for_line(process: subprocess.Popen, text: str) -> None:
    """Read the harness's output until ``text`` shows, for ``_DEADLINE`` seconds at most."""
    deadline = time.monotonic() + _DEADLINE
    seen = b""
    descriptor = process.stdout.fileno()
    while text.encode() not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no {text!r} in time; the harness said: {seen.decode()[-500:]}"
        if select.select([descriptor], [], [], left)[0]:
            chunk = os.read(descriptor, 65536)
            assert chunk, f"the harness ended before {text!r}: {seen.decode()[-500:]}"
            seen += chunk


# -- 10. nothing the harness runs inherits its credentials ----------------------------------------


def test_a_git_hook_cannot_read_the_harness_credentials(tmp_path, monkeypatch):
    credentials = {
        "ANTHROPIC_API_KEY": HARNESS_KEY,
        "OPENAI_API_KEY": OPENAI,
        "AWS_SECRET_ACCESS_KEY": STS_SECRET,
        "AWS_SESSION_TOKEN": STS_TOKEN,
        "GITHUB_TOKEN": "ghp_" + "a1B2" * 9,
        "HF_TOKEN": "hf_" + "abcdEFGH12" * 4,
    }
    for name, value in credentials.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    repo = tmp_path / "repo"
    repo.mkdir()
    seen = tmp_path / "hook-saw.txt"
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    for args in (["init", "--quiet"], ["commit", "--quiet", "--allow-empty", "-m", "start"]):
        subprocess.run(["git", *identity, *args], cwd=repo, check=True, env=_plain_env())
    hook = repo / ".git" / "hooks" / "post-checkout"
    hook.write_text(f"#!/bin/sh\nenv > '{seen}'\n")
    hook.chmod(0o755)

    GitRepo(repo).git("checkout", "--quiet", "-b", "try-a-hook")

    saw = seen.read_text()
    assert "GIT_" in saw, "the hook ran"
    for name, value in credentials.items():
        assert name not in saw and value not in saw, name


def _plain_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.endswith(("_KEY", "_TOKEN"))}
