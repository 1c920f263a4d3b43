"""The clive command, run as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def _clive(*args: str, cwd=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "clive", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
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


def test_help_lists_the_commands_and_the_options():
    done = _clive("--help")
    assert done.returncode == 0
    for word in (
        "sessions",
        "show",
        "replay",
        "export",
        "demo",
        "exec",
        "--model",
        "--headless",
        "--json",
        "--max-steps",
        "--max-time",
        "--sessions-dir",
        "exit status",
    ):
        assert word in done.stdout, word
    for command in ("sessions", "show", "replay", "export", "demo", "exec"):
        assert f"clive {command}" in _clive(command, "--help").stdout


def test_without_a_key_a_task_says_how_to_give_one_and_mentions_the_demo(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "CLIVE_MODEL")}
    done = _clive("speed up nanochat training", cwd=tmp_path, env=env)
    assert done.returncode == 2
    assert "ANTHROPIC_API_KEY" in done.stderr and "clive demo" in done.stderr
    assert "--base-url" in done.stderr
    assert not (tmp_path / "sessions").exists(), "nothing is recorded when nothing can run"


def test_bad_options_are_reported_clearly(tmp_path):
    done = _clive("--max-time", "soon", "task", cwd=tmp_path)
    assert done.returncode == 2 and "'soon' is not a duration" in done.stderr
    done = _clive("--model", "script:missing.jsonl", "task", cwd=tmp_path)
    assert done.returncode == 2 and "cannot read the script missing.jsonl" in done.stderr
    (tmp_path / "bad.jsonl").write_text('{"tool": "type", "input": {}}\n{"tool": 3}\n')
    done = _clive("--model", "script:bad.jsonl", "task", cwd=tmp_path)
    assert done.returncode == 2 and "bad.jsonl:2: tool:" in done.stderr
    done = _clive("show", "nothing-like-this", cwd=tmp_path)
    assert done.returncode == 2 and "no session 'nothing-like-this'" in done.stderr


def test_mistakes_on_the_command_line_get_one_clear_sentence(tmp_path):
    cases = {
        ("list", "the", "files"): 'put it in quotes: clive "list the files"',
        ("rnu", "task.md"): "did you mean `clive run`?",
        ("--cols", "0", "task"): "0 columns: from 20 to 1000",
        ("--cols", "100000", "task"): "100000 columns: from 20 to 1000",
        ("exec", "--cols", "70000", "--", "ls"): "70000 columns: from 20 to 1000",
        ("--rows", "-1", "task"): "-1 rows: from 5 to 500",
        ("--thinking", "10", "task"): "10 tokens of thinking: from 1024",
        ("--model", "gpt-4o", "task"): "--model openai:gpt-4o --base-url",
        ("--model", f"script:{sys.executable}", "task"): "is not a script",
    }
    for args, said in cases.items():
        done = _clive(*args, cwd=tmp_path)
        assert done.returncode == 2 and said in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "sessions").exists()  # nothing was started
    assert "%%" not in _clive("--help").stdout


def test_options_may_come_before_the_command(tmp_path):
    listing = _clive("--headless", "--model", "script:x.jsonl", "sessions", cwd=tmp_path)
    assert listing.returncode == 0 and "no sessions" in listing.stdout + listing.stderr
    done = _clive("--headless", "--model", "script:x.jsonl", "run", "task.md", cwd=tmp_path)
    assert done.returncode == 2 and "task.md" in done.stderr  # run, with its file: it is absent
    assert "unrecognized arguments" not in done.stderr
    stray = _clive("sessions", "--headless", cwd=tmp_path)
    assert stray.returncode == 2 and "unrecognized arguments: --headless" in stray.stderr


def test_demo_then_every_command_reads_the_session(tmp_path):
    done = _clive("demo", "--no-user-rc", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    workdir = done.stderr.split("works in ", 1)[1].split()[0]
    assert not os.path.exists(workdir)  # the demo's scratch directory is gone
    assert "session ended: finished after 10 steps" in done.stdout
    assert "scripted: no language model" in done.stdout

    listing = _clive("sessions", cwd=tmp_path)
    assert "finished" in listing.stdout and "script:train_demo.jsonl" in listing.stdout
    assert "Write a small training script" in listing.stdout

    shown = _clive("show", "last", cwd=tmp_path).stdout
    assert "## Step 4" in shown and "val_loss" in shown and "**Outcome:** finished" in shown

    # At 5 s the training script is running: its progress bar is on the screen.
    at_five = _clive("replay", "last", "--at", "5", "--print", cwd=tmp_path)
    assert at_five.returncode == 0, at_five.stderr
    assert "python3 train.py" in at_five.stdout
    at_end = _clive("replay", "last", "--print", cwd=tmp_path).stdout
    assert "exit=0" in at_end and "val_loss" in at_end
    at_start = _clive("replay", "last", "--at", "0", "--print", cwd=tmp_path).stdout
    assert "train.py" not in at_start

    report = _clive("export", "last", "--format", "md", "-o", "report.md", cwd=tmp_path)
    assert report.returncode == 0
    markdown = (tmp_path / "report.md").read_text()
    assert markdown.startswith("# Write a small training script") and "```text" in markdown

    cast = _clive("export", "last", "--format", "cast", "-o", "demo.cast", cwd=tmp_path)
    assert cast.returncode == 0
    played = subprocess.run(
        ["asciinema", "cat", "demo.cast"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=True,
    )
    assert "val_loss: " in played.stdout and "python3 train.py" in played.stdout


def test_json_prints_every_event_as_a_json_line(tmp_path):
    script = tmp_path / "s.jsonl"
    script.write_text(
        '{"tool": "type", "input": {"text": "echo hi"}}\n'
        '{"tool": "finish", "input": {"summary": "ok"}}\n'
    )
    done = _clive("--model", f"script:{script}", "--json", "--no-user-rc", "say hi", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    kinds = {e["type"] for e in events}
    assert {
        "session_started",
        "observation",
        "model_turn",
        "tool_result",
        "terminal_output",
        "input_sent",
        "session_ended",
    } <= kinds
    assert all(e["scripted"] for e in events)
    assert events[-1]["outcome"] == "finished"
    assert "hi" in "".join(e["data"] for e in events if e["type"] == "terminal_output")


def test_the_exit_status_reflects_the_outcome(tmp_path):
    script = tmp_path / "s.jsonl"
    script.write_text('{"tool": "type", "input": {"text": "true"}}\n' * 5)
    done = _clive(
        "--model", f"script:{script}", "--max-steps", "2", "--no-user-rc", "loop", cwd=tmp_path
    )
    assert done.returncode == 3 and "step_limit" in done.stdout


def test_every_help_page_reads_at_80_columns():
    env = {**os.environ, "COLUMNS": "80"}
    for command in ([], ["run"], ["sessions"], ["show"], ["replay"], ["export"], ["resume"],
                    ["verify"], ["demo"], ["exec"]):  # fmt: skip
        done = _clive(*command, "--help", env=env)
        assert done.returncode == 0
        wide = [line for line in done.stdout.splitlines() if len(line) > 80]
        assert not wide, (command, wide)


def test_keys_in_the_task_are_written_nowhere_in_the_session(tmp_path):
    keys = ("sk-ant-api03-" + "Qx7_-p" * 12, "ghp_" + "Zr4k" * 9, "hunter2pw")
    task = f"{keys[1]} PASSWORD={keys[2]} {keys[0]}: deploy the db"
    script = tmp_path / "s.jsonl"
    script.write_text('{"tool": "finish", "input": {"summary": "deployed"}}\n')
    done = _clive("--model", f"script:{script}", "--no-user-rc", task, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (directory,) = (tmp_path / "sessions").iterdir()
    assert "redacted-password-redacted" in directory.name
    written = [path for path in directory.rglob("*") if path.is_file()]
    assert {"session.json", "events.jsonl", "terminal.cast"} <= {path.name for path in written}
    for path in written:
        raw = path.read_bytes()
        assert not [key for key in keys if key.encode() in raw], path
    assert not [key for key in keys if key.lower() in directory.name.lower()]
    assert not [key for key in keys if key in done.stdout], "the printed events are redacted"
