"""The live UI as a person uses it: `clive` run inside a real tmux, watched and driven by keys."""

from __future__ import annotations

import shlex
import sys

import pytest
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

    (directory,) = sessions.iterdir()
    session = Session(directory)
    events = session.log().events
    actions = [e.action for e in events if isinstance(e, Control)]
    assert actions[:4] == ["pause", "resume", "take_over", "give_back"]
    typed = "".join(e.data for e in events if isinstance(e, InputSent) and e.source == "user")
    assert "\x03" in typed and "typed-by-a-person" in typed
    assert session.info.outcome is Outcome.QUIT
