"""The bubblewrap sandbox around a real shell: what the model's shell can see and touch."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from polling import DEADLINE, wait_until

from clive.sandbox import (
    Sandbox,
    SandboxError,
    SandboxMode,
    choose,
    probe,
    shell_sandbox,
    toolchains,
)
from clive.terminal import Terminal

pytestmark = pytest.mark.skipif(
    probe() is not None, reason=f"bubblewrap does not work here: {probe()}"
)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A home of the test's own, with a dotfile the sandbox must hide."""
    path = tmp_path / "home"
    path.mkdir()
    (path / ".secret").write_text("the user's secret\n")
    monkeypatch.setenv("HOME", str(path))
    return path


@pytest.fixture
def worktree(tmp_path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def sandboxed_shell(home, worktree) -> Iterator[Callable[..., Terminal]]:
    """A factory: a real shell in ``shell_sandbox(worktree, **options)``, closed at the end."""
    shells: list[Terminal] = []

    def start(**options) -> Terminal:
        terminal = Terminal(
            100, 30, cwd=worktree, user_rc=False, launcher=shell_sandbox(worktree, **options)
        )
        shells.append(terminal.start())
        return terminal

    yield start
    for terminal in shells:
        terminal.close()


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_the_system_is_read_only(sandboxed_shell):
    shell = sandboxed_shell()
    planted = Path(f"/usr/clive-sandbox-test-{uuid.uuid4().hex}")
    try:
        result = shell.run(f"touch {planted}")
        assert result.exit_code != 0 and "Read-only file system" in result.output
        assert not planted.exists()
    finally:
        planted.unlink(missing_ok=True)


def test_the_worktree_is_writable(sandboxed_shell, worktree):
    shell = sandboxed_shell()
    assert shell.run("echo written > made-inside.txt").ok
    assert (worktree / "made-inside.txt").read_text() == "written\n"


def test_the_home_is_empty_and_private(sandboxed_shell, home):
    shell = sandboxed_shell()
    assert shell.run('echo "$HOME"').output.strip() == str(home)
    assert shell.run("ls -A ~ | wc -l").output.strip() == "0"
    assert shell.run("echo inside > ~/.planted").ok
    assert not (home / ".planted").exists()


def test_tmp_is_private(sandboxed_shell, tmp_path):
    shell = sandboxed_shell()
    beside = tmp_path / "beside-the-worktree.txt"
    beside.write_text("outside\n")
    assert shell.run(f"test -e {beside}").exit_code == 1
    planted = Path(f"/tmp/clive-sandbox-test-{uuid.uuid4().hex}")
    try:
        assert shell.run(f"echo inside > {planted} && cat {planted}").output == "inside\n"
        assert not planted.exists()
    finally:
        planted.unlink(missing_ok=True)


def test_a_hidden_sessions_directory_is_empty_inside(sandboxed_shell, worktree):
    session = worktree / "sessions" / "s"
    session.mkdir(parents=True)
    (session / "events.jsonl").write_text("{}\n")
    shell = sandboxed_shell(sessions=[worktree / "sessions"])
    assert shell.run("ls -A sessions | wc -l").output.strip() == "0"
    assert shell.run("echo x > sessions/planted").exit_code != 0
    assert sorted(p.name for p in (worktree / "sessions").rglob("*")) == ["events.jsonl", "s"]


def test_a_readonly_path_inside_the_worktree_stays_read_only(sandboxed_shell, worktree):
    hooks = worktree / ".git" / "hooks"
    hooks.mkdir(parents=True)
    shell = sandboxed_shell(readonly=[worktree / ".git"])
    assert shell.run("echo '#!/bin/sh' > .git/hooks/pre-commit").exit_code != 0
    assert list(hooks.iterdir()) == []
    assert shell.run("echo fine > beside-git.txt").ok


def test_proc_sys_is_read_only(sandboxed_shell):
    hostname = Path("/proc/sys/kernel/hostname").read_text()
    shell = sandboxed_shell()
    result = shell.run("echo clive-was-here > /proc/sys/kernel/hostname")
    assert result.exit_code != 0
    assert Path("/proc/sys/kernel/hostname").read_text() == hostname


def test_a_process_that_left_the_session_is_found_and_ended(sandboxed_shell):
    shell = sandboxed_shell()
    shell.run("setsid env -u CLIVE_TERMINAL_ID sleep 1000 &")

    def sleeper() -> int | None:
        for pid in shell.background_processes():
            try:
                if Path(f"/proc/{pid}/cmdline").read_bytes() == b"sleep\x001000\x00":
                    return pid
            except OSError:
                continue
        return None

    wait_until(lambda: sleeper() is not None, "the sleep is listed as a background process")
    pid = sleeper()
    shell.close()
    wait_until(lambda: _gone(pid), f"the sleep ({pid}) is gone after close()")


def test_without_network_only_the_loopback_is_there(sandboxed_shell):
    shell = sandboxed_shell(network=False)
    shown = shell.run("tail -n +3 /proc/net/dev | cut -d: -f1").output.split()
    assert shown == ["lo"]


def test_the_credentials_do_not_reach_the_shell(sandboxed_shell, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-sandbox-test")
    shell = sandboxed_shell()
    assert shell.run('echo "${ANTHROPIC_API_KEY:-unset}"').output == "unset\n"
    every_environment = "cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n'"
    counted = shell.run(f"{every_environment} | grep -c ANTHROPIC_API_KEY").output.strip()
    assert counted == "0"


def test_a_hidden_path_inside_another_is_covered_too(home, worktree):
    # A session directory inside the hidden sessions directory: one cover for both.
    session = worktree / "sessions" / "s"
    session.mkdir(parents=True)
    (session / "results.tsv").write_text("secret\n")
    sandbox = Sandbox(writable=(worktree,), hidden=(worktree / "sessions", session), home=home)
    done = subprocess.run(
        sandbox.wrap(["sh", "-c", "ls -A sessions | wc -l"]),
        cwd=worktree,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "0"), done.stderr


def test_a_clean_environment_is_all_the_program_gets(home, worktree, monkeypatch):
    monkeypatch.setenv("CLIVE_LEAK", "1")
    sandbox = Sandbox(writable=(worktree,), home=home, env={"PATH": "/usr/bin:/bin", "ONLY": "1"})
    done = subprocess.run(
        sandbox.wrap(["env"]),
        cwd=worktree,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # bubblewrap itself sets PWD
    assert sorted(done.stdout.splitlines()) == ["ONLY=1", "PATH=/usr/bin:/bin", f"PWD={worktree}"]


# -- choosing ---------------------------------------------------------------------------------


@pytest.fixture
def no_bubblewrap(tmp_path, monkeypatch) -> Iterator[None]:
    """A PATH without bwrap, and probe() asked again (it remembers its answer)."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    probe.cache_clear()
    yield
    monkeypatch.undo()
    probe.cache_clear()


def test_choose_turns_the_mode_into_a_decision():
    assert choose(SandboxMode.OFF).enabled is False
    assert choose("auto") == choose("on") and choose("on").enabled is True


def test_without_bubblewrap_auto_falls_back_and_on_refuses(no_bubblewrap):
    assert "bubblewrap is not installed" in probe()
    fallback = choose("auto")
    assert not fallback.enabled and "sandbox off: bubblewrap is not installed" in fallback.note
    with pytest.raises(SandboxError, match="--sandbox on: bubblewrap is not installed"):
        choose("on")


def test_closing_after_the_namespace_ended_spares_a_namespace_that_reuses_its_number(
    sandboxed_shell,
):
    """A namespace's number is reused once it ends: a terminal whose program has ended must
    not take the processes of a newer namespace that has the same number for its own."""
    ended = sandboxed_shell()
    ended.send_text("exit\r")
    assert ended.wait(timeout=DEADLINE).reason.value == "exited"
    alive = sandboxed_shell()
    alive.run("sleep 1000 &", timeout=DEADLINE)
    (sleeper,) = alive.background_processes()
    ended._namespace = alive._namespace  # as if the kernel had reused the number
    ended.close()
    os.kill(sleeper, 0)  # still running: it raises if the process is gone
    assert alive.background_processes() == [sleeper]


def test_a_project_venv_on_path_does_not_cover_the_worktree(home, monkeypatch):
    project = home / "proj"
    (project / ".venv" / "bin").mkdir(parents=True)
    (home / "tools" / "bin").mkdir(parents=True)
    monkeypatch.setenv(
        "PATH", f"{project / '.venv' / 'bin'}:{home / 'tools' / 'bin'}:/usr/bin:/bin"
    )
    shown = toolchains(avoid=[project])
    assert home / "tools" in shown and not any(
        p.is_relative_to(project) or project.is_relative_to(p) for p in shown
    )
    terminal = Terminal(100, 30, cwd=project, user_rc=False, launcher=shell_sandbox(project))
    with terminal:
        assert terminal.run("touch made-here", timeout=DEADLINE).exit_code == 0
    assert (project / "made-here").exists()


@pytest.mark.parametrize("place", ["home", "above home", "system"])
def test_a_worktree_that_would_open_the_system_or_the_dotfiles_is_refused(home, place):
    worktree = {"home": home, "above home": home.parent, "system": Path("/usr/local")}[place]
    with pytest.raises(SandboxError, match="cannot make"):
        shell_sandbox(worktree)


def test_no_namespace_can_be_made_inside(sandboxed_shell):
    shell = sandboxed_shell()
    result = shell.run("unshare --user --pid --fork true; echo status=$?", timeout=DEADLINE)
    assert "status=0" not in result.output
