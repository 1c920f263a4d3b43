"""The Terminal API against a real bash in a real PTY."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import pytest
from polling import wait_until

from clive.terminal import ScreenState, Terminal, TerminalError, WaitReason


@pytest.fixture
def term(tmp_path):
    with Terminal(cols=80, rows=24, cwd=tmp_path) as t:
        yield t


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def test_shell_integration_is_on(term):
    assert term.integrated
    assert term.snapshot().state is ScreenState.PROMPT


def test_run_reports_real_exit_code_and_output(term):
    result = term.run("echo hello; (exit 3)")
    assert result.exit_code == 3
    assert result.output == "hello\n"
    assert result.decided_by is WaitReason.PROMPT
    assert not result.timed_out
    assert term.run("true").ok


def test_run_output_excludes_the_typed_command_and_prompt(term):
    result = term.run("printf 'a\\nb\\n'")
    assert result.output == "a\nb\n"


def test_output_that_scrolled_away_is_complete(term):
    result = term.run("seq 1 100000")
    assert result.exit_code == 0
    assert result.output == "".join(f"{i}\n" for i in range(1, 100001))
    assert term.snapshot().lines[-2] == "100000" or "100000" in term.snapshot().text()


def test_carriage_returns_are_applied_and_escapes_stripped(term):
    result = term.run(
        "for i in 1 2 3; do printf '\\rprogress %d%%' $((i*33)); done; "
        "printf '\\n\\033[1;31mred\\033[0m plain\\n'"
    )
    assert result.output == "progress 99%\nred plain\n"


def test_backspaces_are_applied(term):
    assert term.run("printf 'abc\\b\\bX\\n'").output == "aXc\n"


def test_output_without_final_newline(term):
    assert term.run("printf 'no newline'").output == "no newline"


def test_multiline_command_and_heredoc(term):
    result = term.run("cat <<'EOF'\nfirst line\n  second $HOME\nEOF\necho after")
    assert result.output == "first line\n  second $HOME\nafter\n"
    assert result.exit_code == 0


def test_long_command_goes_in_whole(term):
    text = "x" * 5000
    result = term.run(f"echo {text} | wc -c")
    assert result.output.strip() == "5001"


def test_incomplete_command_is_cancelled_with_a_clear_error(term):
    with pytest.raises(TerminalError, match="more input"):
        term.run("echo 'unclosed")
    assert term.run("echo fine").output == "fine\n"


def test_cwd_follows_cd(term, tmp_path):
    (tmp_path / "sub dir").mkdir()
    term.run("cd 'sub dir'")
    assert term.snapshot().cwd == str(tmp_path / "sub dir")


def test_wait_returns_on_pattern_with_the_match(term):
    term.send_text("sleep 0.2; echo 'val_bpb: 1.234'; sleep 5\r")
    outcome = term.wait(pattern=r"val_bpb: [0-9.]+", timeout=30)
    assert outcome.reason is WaitReason.PATTERN
    assert outcome.match == "val_bpb: 1.234"
    term.interrupt()


def test_wait_pattern_ignores_output_from_before_the_call(term):
    term.run("echo marker-one")
    outcome = term.wait(pattern="marker-one", timeout=0.5)
    assert outcome.reason is WaitReason.TIMEOUT


def test_wait_pattern_since_a_mark_sees_earlier_output(term):
    mark = term.transcript.mark()
    term.run("echo marker-two")
    outcome = term.wait(pattern="marker-two", timeout=5, since=mark)
    assert outcome.reason is WaitReason.PATTERN


def test_wait_returns_when_output_goes_quiet(term):
    term.send_text("echo one; sleep 30\r")
    outcome = term.wait(quiet=0.5, timeout=20)
    assert outcome.reason is WaitReason.QUIET
    term.interrupt()


def test_wait_times_out(term):
    term.send_text("sleep 30\r")
    outcome = term.wait(prompt=True, timeout=0.3)
    assert outcome.timed_out
    term.interrupt()


class _CountedPattern:
    """A pattern that is never found, and counts how often it was looked for."""

    def __init__(self) -> None:
        self.looks = 0

    def search(self, _text: str) -> None:
        self.looks += 1


def test_a_pattern_is_looked_for_only_when_output_arrives(term):
    pattern = _CountedPattern()
    outcome = term.wait(pattern=pattern, timeout=1)  # nothing is printed meanwhile
    assert outcome.reason is WaitReason.TIMEOUT
    assert pattern.looks == 1  # in the output printed before the wait, if any


def test_wait_needs_a_condition(term):
    with pytest.raises(ValueError):
        term.wait()


def test_wait_for_prompt_is_not_fooled_by_the_prompt_already_on_screen(term, tmp_path):
    term.send_text("sleep 0.5; touch done.flag\r")
    outcome = term.wait(prompt=True, timeout=30)
    assert outcome.reason is WaitReason.PROMPT
    assert (tmp_path / "done.flag").exists()


def test_first_condition_wins(term):
    since = term.transcript.mark()  # "ready" may be printed before the wait begins
    term.send_text("echo re''ady; sleep 30\r")  # the command line itself does not match
    outcome = term.wait(prompt=True, pattern="ready", quiet=10, timeout=30, since=since)
    assert outcome.reason is WaitReason.PATTERN
    term.interrupt()


def test_run_timeout_interrupts_the_command(term):
    result = term.run("echo started; sleep 30", timeout=0.5)
    assert result.timed_out
    assert result.exit_code == 130  # what bash reports for a command stopped by SIGINT
    assert result.interrupted_with == "C-c"
    assert "started" in result.output
    assert term.run("echo next").output == "next\n"


def test_interrupt_escalates_to_signals_when_sigint_is_ignored(term):
    term.send_text(
        "python3 -c 'import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
        'print("ignor" + "ing", flush=True); time.sleep(60)\'\r'
    )
    assert term.wait(pattern="ignoring", timeout=10).reason is WaitReason.PATTERN
    assert term.interrupt(grace=0.5) == "SIGTERM"
    assert term.snapshot().state is ScreenState.PROMPT


def test_run_refuses_while_a_command_runs(term):
    term.send_text("sleep 30\r")
    term.wait(quiet=0.3, timeout=5)
    with pytest.raises(TerminalError, match="not at a prompt"):
        term.run("echo no")
    term.interrupt()


def test_send_keys_uses_tmux_names(term):
    term.send_text("echo xabc")
    term.send_keys("C-a", *["Right"] * 6, "BSpace", "Enter")
    assert term.wait(prompt=True, timeout=10).exit_code == 0
    assert "abc" in term.snapshot().lines


def test_child_environment_has_defaults_and_no_credentials(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-secret")
    monkeypatch.setenv("MY_DEPLOY_TOKEN", "hunter2")
    # How a session in a process of its own was started: a `clive` typed in its shell must
    # not believe it is one (it would wait for a view that never comes).
    monkeypatch.setenv("CLIVE_DETACHED", "1")
    monkeypatch.setenv("CLIVE_VIEWED", "1")
    # A worker on a Ray cluster: with its token and address the model's code could run on the
    # cluster, outside its sandbox.
    monkeypatch.setenv("RAY_AUTH_TOKEN", "ray-cluster-secret")
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6379")
    with Terminal(cols=80, rows=24, cwd=tmp_path, hide_env=["MY_DEPLOY_TOKEN"]) as t:
        env = t.run("env").output
    assert "CLIVE_DETACHED" not in env and "CLIVE_VIEWED" not in env
    assert "ray-cluster-secret" not in env and "RAY_ADDRESS" not in env
    assert "sk-ant-secret" not in env
    assert "sk-openai-secret" not in env
    assert "hunter2" not in env
    assert "PAGER=cat\n" in env
    assert "GIT_PAGER=cat\n" in env
    assert "DEBIAN_FRONTEND=noninteractive\n" in env


def test_environment_defaults_can_be_overridden(tmp_path):
    with Terminal(cols=80, rows=24, cwd=tmp_path, env={"PAGER": "less", "EXTRA": "1"}) as t:
        assert t.run("echo $PAGER $EXTRA").output == "less 1\n"


def test_user_rc_is_sourced_but_cannot_undo_the_defaults(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("export FROM_RC=yes\nexport PAGER=less\n")
    monkeypatch.setenv("HOME", str(home))
    with Terminal(cols=80, rows=24, cwd=tmp_path) as t:
        assert t.run("echo $FROM_RC $PAGER").output == "yes cat\n"
        assert t.integrated
    with Terminal(cols=80, rows=24, cwd=tmp_path, user_rc=False) as t:
        assert t.run("echo ${FROM_RC:-none}").output == "none\n"


def test_states_of_the_screen(term):
    assert term.snapshot().state is ScreenState.PROMPT
    term.send_text("sleep 30\r")
    term.wait(quiet=0.3, timeout=5)
    assert term.snapshot().state is ScreenState.RUNNING
    term.interrupt()
    term.send_text("echo 'unclosed\r")
    term.wait(quiet=0.5, timeout=5)
    assert term.snapshot().state is ScreenState.CONTINUATION
    term.send_keys("C-c")
    term.wait(prompt=True, timeout=5)
    term.send_text("python3 -c 'import getpass; getpass.getpass(\"Password: \")'\r")
    term.wait(pattern="Password:", timeout=10)
    term.wait(quiet=0.3, timeout=5)
    assert term.snapshot().state is ScreenState.PASSWORD
    term.send_text("secret\r")
    term.wait(prompt=True, timeout=10)
    assert "secret" not in term.snapshot().text()


def _until_screen(term, predicate, timeout: float = 30.0):
    """The first snapshot for which ``predicate`` holds, polled until ``timeout``: what a
    full-screen program draws is on its screen, never in the transcript a pattern waits on."""
    deadline = time.monotonic() + timeout
    while True:
        snap = term.snapshot()
        if predicate(snap):
            return snap
        assert time.monotonic() < deadline, f"the screen never got there:\n{snap.text()}"
        term.wait(quiet=0.05, timeout=0.2)


def test_full_screen_and_pager_states(term, tmp_path):
    (tmp_path / "long.txt").write_text("".join(f"line {i}\n" for i in range(200)))
    term.send_text("less long.txt\r")
    _until_screen(term, lambda s: s.state is ScreenState.PAGER and "line 10" in s.text())
    term.send_keys("q")
    assert term.wait(prompt=True, timeout=30).reason is WaitReason.PROMPT
    term.send_text("vim -u NONE long.txt\r")
    _until_screen(term, lambda s: s.alt_screen and s.state is ScreenState.FULL_SCREEN)
    term.send_keys("Escape", ":", "q", "!", "Enter")
    assert term.wait(prompt=True, timeout=30).reason is WaitReason.PROMPT
    assert not term.snapshot().alt_screen


def test_terminal_answers_cursor_position_and_attribute_queries(term):
    result = term.run(
        "IFS='[;' read -rs -t 5 -d R -p $'\\e[6n' _ row col; echo \"row=$row col=$col\"; "
        "read -rs -t 5 -d c -p $'\\e[c' da; echo \"da=${da#*[}\"",
        timeout=20,
    )
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].startswith("row=") and lines[0].endswith("col=1")
    assert lines[1].startswith("da=?")


def test_long_output_beyond_the_memory_limit_goes_to_a_file(tmp_path):
    with Terminal(cols=80, rows=24, cwd=tmp_path, output_dir=tmp_path / "outputs") as t:
        t.max_output_in_memory = 10_000
        result = t.run("seq 1 20000")
    assert result.output_truncated
    assert result.output_path is not None
    assert result.output_path.read_text() == "".join(f"{i}\n" for i in range(1, 20001))
    assert result.output.startswith("1\n2\n")
    assert result.output.endswith("19999\n20000\n")
    assert "omitted" in result.output
    assert result.output_bytes == result.output_path.stat().st_size


def test_shell_exit_is_detected_and_a_new_shell_can_start(term):
    term.send_text("exit 7\r")
    outcome = term.wait(prompt=True, timeout=10)
    assert outcome.reason is WaitReason.EXITED
    assert term.exited
    assert term.exit_status == 7
    assert term.snapshot().state is ScreenState.EXITED
    with pytest.raises(TerminalError, match="exited"):
        term.run("echo nope")
    term.restart()
    assert term.run("echo again").output == "again\n"


def test_close_leaves_no_process_behind_even_ignoring_sighup(tmp_path):
    t = Terminal(cols=80, rows=24, cwd=tmp_path).start()
    t.run("nohup sleep 300 >/dev/null 2>&1 & echo $! > bg.pid")
    # setsid forks: the process that stays is the child, re-parented to init at once.
    t.run("setsid sh -c 'echo $$ > sid.pid; trap \"\" HUP TERM; sleep 300' >/dev/null 2>&1 &")
    t.send_text("trap '' HUP; sleep 300\r")
    files = [tmp_path / name for name in ("bg.pid", "sid.pid")]
    wait_until(
        lambda: all(f.exists() and f.read_text().strip() for f in files),
        "the background jobs writing their pids",
    )
    pids = [int(f.read_text()) for f in files]
    shell = t.pid
    t.close()
    wait_until(lambda: not any(_alive(p) for p in [*pids, shell]), "every process of it gone")


def test_resize_reaches_the_program(term):
    term.resize(100, 30)
    assert term.run("tput cols; tput lines").output == "100\n30\n"
    snap = term.snapshot()
    assert (snap.cols, snap.rows, len(snap.lines)) == (100, 30, 30)


def test_without_shell_markers_prompt_heuristics_decide(tmp_path):
    command = ["bash", "--norc", "--noprofile"]
    with Terminal(cols=80, rows=24, cwd=tmp_path, command=command, env={"PS1": "$ "}) as t:
        assert not t.integrated
        result = t.run("echo hi; sleep 0.2")
        assert result.decided_by is WaitReason.PROMPT_HEURISTIC
        assert result.exit_code is None
        assert "hi" in result.output


def test_python_repl_prompt_is_recognised(term):
    term.send_text("python3 -q\r")
    outcome = term.wait(prompt=True, timeout=10)
    assert outcome.reason is WaitReason.PROMPT_HEURISTIC
    term.send_text("print(6 * 7)\r")
    term.wait(prompt=True, timeout=10)
    snap = term.snapshot()
    assert "42" in snap.lines
    assert snap.state is ScreenState.PROMPT
    term.send_keys("C-d")
    assert term.wait(prompt=True, timeout=10).reason is WaitReason.PROMPT


def test_listeners_see_every_byte(term):
    seen_out: list[bytes] = []
    seen_in: list[bytes] = []
    term.add_output_listener(lambda data, _t: seen_out.append(data))
    term.add_input_listener(lambda data, _t: seen_in.append(data))
    term.run("echo listened")
    assert b"listened" in b"".join(seen_out)
    assert b"echo listened\r" in b"".join(seen_in)


def test_a_failing_listener_is_told_once_and_the_others_go_on(term):
    failures = []
    heard: list[bytes] = []

    def broken(data: bytes, _when: float) -> None:
        raise RuntimeError("a broken listener")

    term.add_error_listener(failures.append)
    term.add_output_listener(broken)
    term.add_input_listener(broken)
    term.add_output_listener(lambda data, _t: heard.append(data))
    assert term.run("echo one").output == "one\n"
    assert term.run("echo two").output == "two\n"
    assert b"two" in b"".join(heard)
    assert sorted(failure.callback.split(" <")[0] for failure in failures) == [
        "the input listener",
        "the output listener",
    ]
    assert all("a broken listener" in failure.message for failure in failures)


def test_terminal_survives_a_child_killed_by_signal(term):
    result = term.run("sh -c 'kill -SEGV $$'")
    assert result.exit_code == 128 + signal.SIGSEGV


def test_start_errors_say_what_went_wrong(tmp_path):
    with pytest.raises(TerminalError, match="not a directory"):
        Terminal(cwd=tmp_path / "missing").start()
    with pytest.raises(TerminalError, match="not found"):
        Terminal(command=["no-such-program-for-clive"]).start()
    with pytest.raises(TerminalError, match=r"exited as it started \(status 4\).*bye"):
        Terminal(command=["bash", "-c", "echo bye; exit 4"]).start()


def test_prompt_redrawn_by_readline_is_not_a_new_prompt(tmp_path):
    # A stand-in shell that speaks clive's markers and, like readline after a paste, redraws
    # its prompt (markers included) after the command line is in, before running it.
    shell = tmp_path / "shell.py"
    shell.write_text(
        "import sys, time\n"
        "def say(text):\n"
        "    sys.stdout.write(text)\n"
        "    sys.stdout.flush()\n"
        "say('\\x1b]133;D;0\\x07\\x1b]133;A\\x07$ \\x1b]133;B\\x07')\n"
        "line = sys.stdin.readline().strip()\n"
        "say('\\r\\x1b]133;A\\x07$ \\x1b]133;B\\x07' + line)\n"
        "time.sleep(0.5)\n"
        "say('\\r\\n\\x1b]133;C\\x07ran\\r\\n\\x1b]133;D;0\\x07\\x1b]133;A\\x07$ ')\n"
        "sys.stdin.readline()\n"
    )
    with Terminal(cols=80, rows=24, cwd=tmp_path, command=["python3", str(shell)]) as t:
        assert t.integrated
        t.send_text("anything\r")
        assert t.wait(prompt=True, timeout=10).reason is WaitReason.PROMPT
        assert "ran" in t.transcript.read()


def test_a_size_given_before_start_is_the_size_it_starts_with_and_a_closed_one_has_none(
    tmp_path,
):
    terminal = Terminal(cols=80, rows=24, cwd=tmp_path)
    terminal.resize(100, 30)
    with terminal:
        assert "30 100" in terminal.run("stty size").output
        terminal.resize(90, 20)
        assert "20 90" in terminal.run("stty size").output
    with pytest.raises(TerminalError, match="closed"):
        terminal.resize(70, 20)


def test_a_frozen_terminal_runs_nothing_and_goes_on_when_let_go(tmp_path):
    # What a fleet does to the other workers' shells while one worker's timing is measured.
    from clive.terminal import _processes

    def states(terminal: Terminal) -> set[str]:
        found = set()
        for pid in terminal._family():
            stat = Path(f"/proc/{pid}/stat")
            with contextlib.suppress(OSError):
                found.add(stat.read_text().rpartition(")")[2].split()[0])
        return found

    with Terminal(cols=80, rows=24, cwd=tmp_path) as t:
        t.send_text("for i in $(seq 1 40); do echo tick-$i; sleep 0.05; done; echo finished-ok\n")
        assert t.wait(pattern=r"tick-2", timeout=10).reason is WaitReason.PATTERN
        t.freeze(True)
        wait_until(lambda: states(t) == {"T"}, "every process of the terminal stopped",
                   seen=lambda: states(t))  # fmt: skip
        assert _processes.descendants(t.pid)  # the loop's processes were there to stop
        t.freeze(False)
        assert t.wait(pattern=r"finished-ok", timeout=30).reason is WaitReason.PATTERN
        # The shell never saw its job stopped: no "Stopped", and it is at its prompt again.
        assert "Stopped" not in "\n".join(t.snapshot().lines)
        assert "T" not in states(t)
