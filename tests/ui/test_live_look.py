"""How the live view looks, pinned as an SVG snapshot.

A live run's times differ from run to run, so the app is fed a scripted session recorded with a
fake clock (tests/ui/recorded_session.py), event by event through the same hooks a running
agent uses, with the terminal's screen rebuilt from the recording and the app's clock frozen.
"""

from __future__ import annotations

import threading

import pytest
from recorded_session import COLS, ROWS, record_session

from clive.link import LocalLink
from clive.session.asciicast import iter_events
from clive.terminal._screen_state import save_state
from clive.terminal.emulator import Emulator
from clive.ui.live_app import LiveApp


class RecordedTerminal:
    """What the live app asks of a terminal, answered from a recording's cast."""

    def __init__(self, cast) -> None:
        self._emulator = Emulator(COLS, ROWS)
        for event in iter_events(cast):
            if event.code == "o":
                self._emulator.feed(event.data)
        self.waiting = 0

    def add_screen_listener(self, listener) -> None:
        pass  # the recording is over: nothing more comes

    def screen_state(self, then) -> None:
        then(save_state(self._emulator), b"")

    def send_keys(self, *keys) -> None:
        raise AssertionError("the snapshot presses no key that goes to the shell")


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    return record_session(tmp_path_factory.mktemp("live") / "session")


def _live_app(session) -> LiveApp:
    fed = threading.Event()

    def start(*, control, approver, on_event, on_start, on_measure=None, on_open=None):
        on_start(None, RecordedTerminal(session.cast_path))
        events = session.log().events
        for event in events:
            on_event(event)
        fed.set()
        return None, events[-1]

    link = LocalLink(start, model=session.info.model, cols=COLS, rows=ROWS)
    app = LiveApp(link, clock=lambda: 100.0)
    app.fed = fed
    return app


def test_the_live_view_at_the_end_of_a_session_looks_right(session, snap_compare):
    app = _live_app(session)

    async def settled(pilot) -> None:
        while not (app.fed.is_set() and app.ended is not None):
            await pilot.pause(0.05)
        await pilot.pause(0.3)  # a few frames: the screen and the timeline drawn

    assert snap_compare(app, terminal_size=(140, 40), run_before=settled)
