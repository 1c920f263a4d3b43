"""The status bar shows each part it is given, and only those."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from clive.ui.status_bar import StatusBar

pytestmark = pytest.mark.anyio


class _BarApp(App[None]):
    def compose(self) -> ComposeResult:
        yield StatusBar()


def _show_a_live_session(bar: StatusBar) -> None:
    bar.state = "waiting"
    bar.detail = "for the command to end"
    bar.state_seconds = 75
    bar.model = "claude-sonnet-4-5"
    bar.step = 12
    bar.tokens = 123456
    bar.cost = 0.4213
    bar.elapsed = 3725
    bar.budget_left = "$4.58, 488 steps"


async def test_the_live_parts_show_when_set():
    app = _BarApp()
    async with app.run_test(size=(160, 3)) as pilot:
        bar = app.query_one(StatusBar)
        assert str(bar.render()) == ""
        _show_a_live_session(bar)
        await pilot.pause()
        assert str(bar.render()) == (
            "waiting for the command to end (1:15) │ step 12 │ claude-sonnet-4-5 │ "
            "123.5k tok │ $0.4213 │ elapsed 1:02:05 │ left: $4.58, 488 steps"
        )


@pytest.mark.parametrize(
    ("columns", "shown"),
    [
        (120, "waiting for the command to end (1:15) │ step 12 │ 123.5k tok │ $0.4213 │ "
              "elapsed 1:02:05 │ left: $4.58, 488 steps"),
        (80, "waiting for the command to end (1:15) │ step 12 │ $0.4213 │ left: $4.58"),
        (40, "waiting (1:15) │ step 12 │ $0.4213"),
    ],
)  # fmt: skip
async def test_a_narrow_bar_shortens_the_least_important_parts_first(columns, shown):
    app = _BarApp()
    async with app.run_test(size=(columns, 3)) as pilot:
        bar = app.query_one(StatusBar)
        _show_a_live_session(bar)
        await pilot.pause()
        assert str(bar.render()) == shown


async def test_replay_shows_position_duration_speed_and_whether_it_plays():
    app = _BarApp()
    async with app.run_test(size=(160, 3)) as pilot:
        bar = app.query_one(StatusBar)
        bar.position = 8.4
        bar.duration = 20
        bar.speed = 0.5
        await pilot.pause()
        assert str(bar.render()) == "‖ 0.5x 0:08 / 0:20"
        bar.playing = True
        bar.speed = 16
        assert str(bar.render()) == "▶ 16x 0:08 / 0:20"
