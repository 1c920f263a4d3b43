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
