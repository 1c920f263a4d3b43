"""Replay: every key, the screen exactly as recorded at each instant, and the timeline."""

from __future__ import annotations

import pytest
from recorded_session import (
    DURATION,
    MODEL,
    PAGER_CLOSES,
    PAGER_OPENS,
    STEP_TIMES,
    record_session,
)

from clive.session.replay import ScreenIndex
from clive.ui.help_screen import HelpScreen
from clive.ui.replay_app import SPEEDS, ReplayApp
from clive.ui.status_bar import StatusBar
from clive.ui.terminal_view import TerminalView
from clive.ui.timeline import Timeline

pytestmark = pytest.mark.anyio

SIZE = (140, 45)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    return record_session(tmp_path_factory.mktemp("replay") / "session")


class _Clock:
    """Playing time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _screen(app: ReplayApp) -> list[str]:
    view = app.query_one(TerminalView)
    return ["".join(cell.data for cell in row).rstrip() for row in view.cells]


def _recorded(session, t: float):
    emulator = ScreenIndex.open(session.cast_path).screen_at(t)
    return emulator.cells(), emulator.cursor


def _assert_shows_the_recording_at(app: ReplayApp, session, t: float) -> None:
    cells, cursor = _recorded(session, t)
    view = app.query_one(TerminalView)
    assert view.cells == cells, t
    assert view.cursor == cursor, t


async def test_it_opens_at_the_start_position_paused(session):
    app = ReplayApp(session, start_at=8.0)
    async with app.run_test(size=SIZE):
        assert app.position == 8.0 and not app.playing and app.speed == 1.0
        assert app.duration == DURATION
        assert app.current_step == 2
        assert app.query_one(Timeline).current_step == 2
        assert _screen(app)[1] == "2026-11-23 10:00:02 ERROR disk full"
        _assert_shows_the_recording_at(app, session, 8.0)
        bar = app.query_one(StatusBar)
        assert (bar.position, bar.duration, bar.step, bar.model) == (8.0, DURATION, 2, MODEL)
        assert bar.tokens == 1050 + 2050 and bar.cost == pytest.approx(0.02)
    assert ReplayApp(session, start_at=-5.0).position == DURATION - 5.0


async def test_space_plays_and_the_screen_follows_the_recording(session, monkeypatch):
    clock = _Clock()
    frames = ((0.5, 6.5), (1.5, 7.5), (4.0, 10.0), (6.5, 12.5))
    recorded = {position: _recorded(session, position) for _, position in frames}
    app = ReplayApp(session, start_at=6.0, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        assert _screen(app)[0] == "user@box:~/work$ ls"
        # Playing feeds the cast to the emulator: no screen is restored from the index.
        monkeypatch.setattr(ScreenIndex, "screen_at", lambda self, t: pytest.fail("restored"))
        await pilot.press("space")
        assert app.playing and app.query_one(StatusBar).playing
        for elapsed, position in frames:
            clock.now = 100.0 + elapsed
            app.play_frame()
            assert app.position == position
            view = app.query_one(TerminalView)
            assert (view.cells, view.cursor) == recorded[position]
            if PAGER_OPENS < position < PAGER_CLOSES:
                assert _screen(app)[23] == "error.log (END)"
            else:
                assert _screen(app)[0] == "user@box:~/work$ ls"
        assert app.current_step == 3 and app.query_one(Timeline).current_step == 3
        await pilot.press("space")
        assert not app.playing
        clock.now += 10
        app.play_frame()
        assert app.position == 12.5


async def test_playing_stops_at_the_end_and_space_there_starts_again(session):
    clock = _Clock()
    app = ReplayApp(session, start_at=DURATION - 1, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        clock.now += 60
        app.play_frame()
        assert app.position == DURATION and not app.playing
        await pilot.press("space")
        assert app.playing and app.position == 0.0


async def test_plus_and_minus_change_the_speed_within_half_to_sixteen(session):
    clock = _Clock()
    app = ReplayApp(session, start_at=1.0, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("plus")
        assert app.speed == 2.0
        await pilot.press("space")
        clock.now += 1.0
        app.play_frame()
        assert app.position == 3.0
        await pilot.press("plus", "plus", "plus", "plus", "plus")
        assert app.speed == SPEEDS[-1] == 16.0
        for expected in (8.0, 4.0, 2.0, 1.0, 0.5, 0.5):
            await pilot.press("minus")
            assert app.speed == expected
        clock.now += 2.0
        app.play_frame()
        assert app.position == 4.0  # the speed changed at 3.0; 2 s at half speed since
        assert app.query_one(StatusBar).speed == 0.5


async def test_arrows_home_and_end_seek(session):
    app = ReplayApp(session, start_at=8.0)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right")
        assert app.position == 13.0
        _assert_shows_the_recording_at(app, session, 13.0)  # the main screen is back
        await pilot.press("left", "left")
        assert app.position == 3.0
        _assert_shows_the_recording_at(app, session, 3.0)
        await pilot.press("shift+right")
        assert app.position == DURATION
        await pilot.press("shift+left")
        assert app.position == 0.0
        await pilot.press("end")
        assert app.position == DURATION and app.current_step == 4
        _assert_shows_the_recording_at(app, session, DURATION)
        await pilot.press("home")
        assert app.position == 0.0 and app.current_step is None
        assert _screen(app) == [""] * 24


async def test_n_and_p_jump_between_steps(session):
    app = ReplayApp(session, start_at=0.0)
    async with app.run_test(size=SIZE) as pilot:
        for step in (1, 2, 3, 4):
            await pilot.press("n")
            assert (app.position, app.current_step) == (STEP_TIMES[step], step)
            assert app.query_one(Timeline).current_step == step
        await pilot.press("n")  # there is no step after the last
        assert app.position == STEP_TIMES[4]
        app.seek(8.0)  # in step 2: p goes to step 1
        await pilot.press("p")
        assert (app.position, app.current_step) == (STEP_TIMES[1], 1)
        _assert_shows_the_recording_at(app, session, STEP_TIMES[1])
        await pilot.press("p")
        assert app.position == 0.0


async def test_picking_a_step_in_the_timeline_jumps_there(session):
    app = ReplayApp(session, start_at=0.0)
    async with app.run_test(size=SIZE) as pilot:
        timeline = app.query_one(Timeline)
        assert timeline.has_focus
        await pilot.press("down", "down", "down")
        assert timeline.current_step == 3 and app.position == 0.0  # moved, not jumped yet
        await pilot.press("enter")
        assert (app.position, app.current_step) == (STEP_TIMES[3], 3)
        _assert_shows_the_recording_at(app, session, STEP_TIMES[3])
        # Click on a line of step 2's block.
        row = next(
            y
            for y in range(timeline.line_count)
            if timeline.line_text(y) == "  → type 'less error.log' ⏎"
        )
        await pilot.click(Timeline, offset=(10, row - timeline.scroll_offset.y))
        assert (app.position, app.current_step) == (STEP_TIMES[2], 2)


async def test_question_mark_shows_the_keys_and_q_quits(session):
    app = ReplayApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


def test_the_replay_at_a_fixed_instant_looks_right(session, snap_compare):
    assert snap_compare(ReplayApp(session, start_at=4.0), terminal_size=SIZE)
