"""``clive replay SESSION`` opens the replay app; ``--print`` still prints the screen."""

from __future__ import annotations

import sys

import pytest
from recorded_session import DURATION, record_session

from clive.cli import main
from clive.ui.replay_app import ReplayApp


@pytest.fixture
def session(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return record_session(tmp_path / "sessions" / "2026-11-23T10-00-00-count")


@pytest.fixture
def opened(monkeypatch):
    """The (session, position) of every replay app run, instead of running it."""
    runs: list[tuple[str, float]] = []
    monkeypatch.setattr(ReplayApp, "run", lambda app: runs.append((app.session.name, app.position)))
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    return runs


def test_replay_opens_the_app_at_the_start_or_at(session, opened):
    assert main(["replay", "last"]) == 0
    assert main(["replay", "2026-11-23", "--at", "8"]) == 0
    assert main(["replay", "last", "--at", "-5"]) == 0
    assert opened == [(session.name, 0.0), (session.name, 8.0), (session.name, DURATION - 5)]


def test_replay_without_a_terminal_says_to_use_print(session, capsys):
    assert main(["replay", "last"]) == 2
    assert "--print" in capsys.readouterr().err


def test_replay_print_still_prints_the_screen_at_a_moment(session, capsys):
    assert main(["replay", "last", "--at", "8", "--print"]) == 0
    assert "2026-11-23 10:00:02 ERROR disk full" in capsys.readouterr().out
