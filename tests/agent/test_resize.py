"""A view asks for another shell size: the shell gets it at once, the recording says so, and
the model is told at its next step."""

from __future__ import annotations

import json

from polling import poll
from scripted import RecordingScript, finish, type_, write_script

from clive.agent.control import AgentControl
from clive.agent.loop import AgentSettings
from clive.agent.task import run_task
from clive.session import Session
from clive.session.events import TerminalResized


def _printed(terminal, text: str, times: int = 1) -> bool:
    """Whether ``text`` came ``times`` times in what the terminal printed, within the
    deadline (in a listener: a failure there would only be printed)."""
    return poll(lambda: terminal.transcript.read().count(text) >= times)


def test_a_resize_asked_for_mid_session_reaches_the_shell_the_recording_and_the_model(tmp_path):
    control = AgentControl()
    turns = [type_("stty size"), type_("stty size"), finish("sized")]
    model = RecordingScript(write_script(tmp_path / "t.jsonl", turns))
    (tmp_path / "work").mkdir()
    typed = []
    printed = []  # each wait of on_event, done in time (a listener's failure is only printed)

    def on_event(event):
        if getattr(event, "name", "") != "type":
            return
        typed.append(event)
        terminal = writer_terminal[0]
        if len(typed) == 1:
            # Once the first `stty size` printed, the person's view asks for a new size, and
            # the shell is seen to have it before the model's next step (the command's echo,
            # then its output).
            printed.append(_printed(terminal, "24 80"))
            control.resize(100, 30)
            terminal.send_text("echo RESIZED\n")
            printed.append(_printed(terminal, "RESIZED\n", times=2))
        else:
            printed.append(_printed(terminal, "30 100"))

    writer_terminal = []
    writer, ended = run_task(
        "size",
        model,
        sessions_dir=tmp_path / "sessions",
        cwd=tmp_path / "work",
        settings=AgentSettings(max_steps=10),
        cols=80,
        rows=24,
        user_rc=False,
        control=control,
        on_event=on_event,
        on_start=lambda writer, terminal: writer_terminal.append(terminal),
    )
    assert ended.summary == "sized", ended.reason
    assert printed == [True, True, True]
    assert ended.totals.invalid_tool_calls == 0
    session = Session(writer.directory)
    resized = [e for e in session.log().events if isinstance(e, TerminalResized)]
    assert [(e.cols, e.rows) for e in resized] == [(100, 30)]
    output = "".join(e.data for e in session.output())
    assert "24 80" in output and "30 100" in output
    cast = (writer.directory / "terminal.cast").read_text().splitlines()
    assert any(json.loads(line)[1:] == ["r", "100x30"] for line in cast[1:])
    told = [m.text for c in model.conversations for m in c if m.role == "user"]
    assert any("resized to 100 columns by 30 rows" in text for text in told)
