"""The live UI as a person uses it: `clive` run inside a real tmux, watched and driven by keys."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
from pathlib import Path

import pytest
from polling import wait_until
from scripted import finish, type_, wait, write_script

from clive.session import Session
from clive.session.events import Control, InputSent, Outcome

pytestmark = [pytest.mark.tmux, pytest.mark.slow]


def test_watch_pause_take_over_type_give_back_and_quit(tmp_path, tmux_pane):
    count = "for i in $(seq 1 300); do echo tick-$i; sleep 1; done"
    script = write_script(
        tmp_path / "turns.jsonl",
        [
            {"text": "Counting slowly.", **type_(count)},
            wait(until="done", timeout=600),
            wait(until="pattern", pattern="never-printed", timeout=600),
            wait(until="pattern", pattern="never-printed", timeout=600),
            finish("never reached"),
        ],
    )  # fmt: skip
    work = tmp_path / "work"
    work.mkdir()
    sessions = tmp_path / "sessions"
    command = [
        sys.executable, "-m", "clive", "--model", f"script:{script}", "--cwd", str(work),
        "--sessions-dir", str(sessions), "--no-user-rc", "count slowly",
    ]  # fmt: skip
    pane = tmux_pane(cols=160, rows=48, command=shlex.join(command) + "; echo CLIVE-EXIT=$?")

    # The shell and the timeline, side by side; the agent waits for its command.
    pane.wait_for_text(r"tick-2", timeout=30)
    screen = pane.wait_for_text(r"waiting for the command to end")
    assert any("Counting slowly." in line for line in screen), "the timeline shows the model"

    pane.send_keys("p")
    pane.wait_for_text(r"paused")
    pane.send_keys("p")
    pane.wait_for_text(r"waiting for /never-printed/")

    pane.send_keys("t")
    pane.wait_for_text(r"you have the terminal")
    pane.send_keys("C-c")  # goes to the shell: the loop stops
    pane.send_text("echo typed-by-a-person")
    pane.send_keys("Enter")
    pane.wait_for_text(r"^.*typed-by-a-person\s*│", timeout=10)  # its output, in the shell
    pane.send_keys("C-]")
    pane.wait_for_text(r"waiting for /never-printed/")

    pane.send_keys("q")
    pane.wait_for_text(r"Quit\?")
    pane.send_keys("y")
    pane.wait_for_text(r"CLIVE-EXIT=\d+", timeout=30)

    (directory,) = _session_directories(sessions)
    session = Session(directory)
    events = session.log().events
    actions = [e.action for e in events if isinstance(e, Control)]
    assert actions[:4] == ["pause", "resume", "take_over", "give_back"]
    typed = "".join(e.data for e in events if isinstance(e, InputSent) and e.source == "user")
    assert "\x03" in typed and "typed-by-a-person" in typed
    assert session.info.outcome is Outcome.QUIT


def test_detach_attach_from_two_terminals_one_takes_over_the_other_sees_it(tmp_path, tmux_pane):
    """`clive "task"` in one terminal, detached with d; two more terminals attach (`clive
    attach`: the latest running session); one takes the terminal and types, the other sees who
    has it and what was typed; closing a terminal does not end the session; q in the other
    ends it."""
    count = "for i in $(seq 1 600); do echo tick-$i; sleep 1; done"
    script = write_script(
        tmp_path / "turns.jsonl",
        [type_(count), *[wait(until="pattern", pattern="never-printed", timeout=900)] * 4],
    )
    work = tmp_path / "work"
    work.mkdir()
    sessions = tmp_path / "sessions"
    clive = [sys.executable, "-m", "clive"]
    start = [
        *clive, "--model", f"script:{script}", "--cwd", str(work), "--sessions-dir",
        str(sessions), "--no-user-rc", "count for two views",
    ]  # fmt: skip
    first = tmux_pane(cols=160, rows=40, command=shlex.join(start) + "; echo CLIVE-EXIT=$?")
    first.wait_for_text(r"tick-2", timeout=30)
    first.send_keys("d")
    first.wait_for_text(r"detached; the session goes on", timeout=30)
    first.wait_for_text(r"CLIVE-EXIT=0")
    (directory,) = _session_directories(sessions)
    info = Session(directory).info
    assert info.outcome is Outcome.RUNNING
    try:
        _watch_from_two_terminals(tmux_pane, clive, sessions, directory)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(info.pid, signal.SIGTERM)  # never left running, whatever failed
    session = Session(directory)
    assert session.info.outcome is Outcome.QUIT
    events = session.log().events
    taken = [e for e in events if isinstance(e, Control) and e.action == "take_over"]
    assert len(taken) == 1 and "@" in taken[0].message  # who took it: user@tty
    typed = "".join(e.data for e in events if isinstance(e, InputSent) and e.source == "user")
    assert "typed-on-the-left" in typed


def _watch_from_two_terminals(tmux_pane, clive, sessions, directory) -> None:
    attach = shlex.join([*clive, "attach", "--sessions-dir", str(sessions)])
    left = tmux_pane(cols=160, rows=40, command=attach + "; echo CLIVE-EXIT=$?")
    right = tmux_pane(cols=140, rows=40, command=attach + "; echo CLIVE-EXIT=$?")
    for pane in (left, right):
        pane.wait_for_text(r"tick-\d+", timeout=30)
        pane.wait_for_text(r"waiting for /never-printed/", timeout=30)
        pane.wait_for_text(r"1 other view", timeout=10)

    left.send_keys("t")
    left.wait_for_text(r"you have the terminal")
    right.wait_for_text(r"root@\S+ has the terminal|\S+@\S+ has the terminal")
    left.send_keys("C-c")
    left.send_text("echo typed-on-the-left")
    left.send_keys("Enter")
    right.wait_for_text(r"^.*typed-on-the-left\s*│", timeout=10)  # its output, seen there
    right.send_keys("t")  # the left has it: the right may not
    right.wait_for_text(r"the terminal is taken")
    left.send_keys("C-]")
    right.wait_for_text(r"waiting for /never-printed/")

    assert len(_attached(sessions)) == 2
    left.close()  # the terminal goes away (SIGHUP): the view ends, the session goes on
    wait_until(lambda: len(_attached(sessions)) == 1, "the left view's process gone")
    right.wait_for_text(r"waiting for /never-printed/", timeout=20)
    assert Session(directory).info.outcome is Outcome.RUNNING

    right.send_keys("q")
    right.wait_for_text(r"Quit\?")
    right.send_keys("y")
    right.wait_for_text(r"CLIVE-EXIT=130", timeout=30)


def _attached(sessions) -> list[int]:
    """The processes of `clive attach` watching a session under ``sessions``."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"attach" in argv and str(sessions).encode() in argv:
            found.append(int(proc.name))
    return found


def _session_directories(sessions):
    return [path for path in sessions.iterdir() if path.is_dir()]


@pytest.mark.parametrize(("cols", "rows"), [(160, 48), (80, 24)])
def test_the_whole_shell_is_in_sight_and_the_prompt_too(tmp_path, tmux_pane, cols, rows):
    """At 160 columns the shell takes the pane's room, no column hidden; at 80x24 it keeps
    its least size (80x24) and the view scrolls so that the prompt shows."""
    script = write_script(
        tmp_path / "turns.jsonl",
        [
            type_("seq 1 30; printf 'RIGHT-EDGE-%0*d\\n' $(($(tput cols) - 12)) 7"),
            wait(until="pattern", pattern="never-printed", timeout=600),
            finish("never reached"),
        ],
    )
    work = tmp_path / "work"
    work.mkdir()
    sessions = tmp_path / "sessions"
    command = [
        sys.executable, "-m", "clive", "--model", f"script:{script}", "--cwd", str(work),
        "--sessions-dir", str(sessions), "--no-user-rc", "fit",
    ]  # fmt: skip
    pane = tmux_pane(cols=cols, rows=rows, command=shlex.join(command) + "; echo CLIVE-EXIT=$?")
    pane.wait_for_text(r"waiting for /never-printed/", timeout=30)
    pane.wait_for_text(r"work[#$] ", timeout=10)  # the prompt, after the output, in sight
    if cols >= 160:
        # The line is as wide as the shell: its last digit shows only if no column is hidden.
        screen = pane.wait_for_text(r"│RIGHT-EDGE-0+7\s*│", timeout=10)
        assert any("work#" in line or "work$" in line for line in screen)
    pane.send_keys("q")
    pane.wait_for_text(r"Quit\?")
    pane.send_keys("y")
    pane.wait_for_text(r"CLIVE-EXIT=\d+", timeout=30)
