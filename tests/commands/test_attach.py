"""``clive attach`` without a session to watch, or without a terminal: a clear word, no
traceback. (Watching is tested in tmux: tests/ui/test_live_in_tmux.py.)"""

from __future__ import annotations

from clive.cli import main
from clive.session import SessionInfo, SessionWriter
from clive.session.events import Outcome, SessionEnded


def test_nothing_to_attach_to_is_said_plainly(tmp_path, capsys):
    assert main(["attach", "--sessions-dir", str(tmp_path)]) == 2
    assert "no sessions in" in capsys.readouterr().err

    info = SessionInfo(id="", task="t", model="m", cwd="/", cols=80, rows=24, started_at="2026")
    writer = SessionWriter.create(tmp_path, info, background_flush=False)
    writer.close(SessionEnded(outcome=Outcome.FINISHED))
    assert main(["attach", "--sessions-dir", str(tmp_path)]) == 2
    assert "no session is running" in capsys.readouterr().err
    assert main(["attach", "no-such-session", "--sessions-dir", str(tmp_path)]) == 2
    assert "no-such-session" in capsys.readouterr().err


def test_a_view_needs_a_terminal(tmp_path, capsys):
    info = SessionInfo(id="", task="t", model="m", cwd="/", cols=80, rows=24, started_at="2026")
    writer = SessionWriter.create(tmp_path, info, background_flush=False)
    writer.close(SessionEnded(outcome=Outcome.FINISHED))
    assert main(["attach", writer.directory.name, "--sessions-dir", str(tmp_path)]) == 2
    assert "needs a terminal" in capsys.readouterr().err
