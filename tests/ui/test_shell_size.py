"""The shell's size and the view: a view with room shows the whole shell; without --cols/--rows
the shell takes the room the view has (never less than 80x24) and follows it when the window
changes; with them the size is fixed, and a view too small scrolls to keep the cursor in sight.
A scripted model in a real shell; Pilot drives the app."""

from __future__ import annotations

import pytest
from pilot_polling import until
from scripted import finish, type_, wait, write_script

from clive.agent.loop import AgentSettings
from clive.agent.task import run_task
from clive.link import LocalLink
from clive.models import ScriptModel
from clive.session import Session
from clive.session.events import TerminalResized
from clive.ui.live_app import LiveApp
from clive.ui.terminal_view import TerminalView

pytestmark = pytest.mark.anyio

WAIT = wait(until="pattern", pattern="never-printed", timeout=600)


def _app(tmp_path, turns, *, cols=120, rows=40, follow=False) -> LiveApp:
    script = write_script(tmp_path / "turns.jsonl", turns)
    (tmp_path / "work").mkdir(exist_ok=True)

    def start(*, control, approver, on_event, on_start, on_measure=None, on_open=None):
        return run_task(
            "size",
            ScriptModel(script),
            sessions_dir=tmp_path / "sessions",
            cwd=tmp_path / "work",
            cols=cols,
            rows=rows,
            user_rc=False,
            control=control,
            on_event=on_event,
            on_start=on_start,
            on_open=on_open,
        )

    link = LocalLink(
        start,
        model="script",
        cols=cols,
        rows=rows,
        budgets=AgentSettings(max_steps=5),
        follow=follow,
    )
    return LiveApp(link)


def _size(app: LiveApp) -> tuple[int, int] | None:
    terminal = app.link.terminal
    return None if terminal is None else (terminal.cols, terminal.rows)


def _cursor_in_sight(view: TerminalView) -> bool:
    region = view.scrollable_content_region
    x, y = view.scroll_offset
    cursor = view.cursor
    return x <= cursor.x < x + region.width and y <= cursor.y < y + region.height


async def _quit(pilot, app: LiveApp) -> None:
    app.link.control.quit()
    await until(pilot, lambda: app.ended is not None, "the session ended")


@pytest.mark.slow
async def test_a_fitted_shell_takes_the_view_s_room_and_follows_the_window(tmp_path):
    app = _app(tmp_path, [WAIT, WAIT, WAIT], follow=True)
    async with app.run_test(size=(200, 50)) as pilot:
        view = app.query_one(TerminalView)
        room = lambda: (view.size.width, view.size.height)  # noqa: E731
        await until(pilot, lambda: _size(app) == room(), "the shell took the view's room")
        assert room()[0] > 100 and room()[1] > 30  # 62% of 200 columns, the rows less bars
        # The shell itself has that size: the person takes over and asks it.
        app.link.control.take_over()
        app.link.terminal.send_text("stty size\n")
        expected = f"{room()[1]} {room()[0]}"
        await until(pilot, lambda: expected in app.link.terminal.transcript.read(), "stty says so")
        app.link.control.give_back()

        await pilot.resize_terminal(240, 60)
        await until(pilot, lambda: _size(app) == room() and room()[0] > 140, "it followed")
        await _quit(pilot, app)
    (directory,) = (tmp_path / "sessions").iterdir()
    resized = [e for e in Session(directory).log().events if isinstance(e, TerminalResized)]
    assert len(resized) >= 2 and (resized[-1].cols, resized[-1].rows) == _size(app)


@pytest.mark.slow
async def test_a_fitted_shell_never_gets_smaller_than_its_least_and_keeps_the_prompt_in_sight(
    tmp_path,
):
    turns = [type_("seq 1 60"), WAIT]
    app = _app(tmp_path, turns, follow=True)
    async with app.run_test(size=(90, 20)) as pilot:
        view = app.query_one(TerminalView)
        await until(pilot, lambda: _size(app) == (80, 24), "the least size")
        await until(pilot, lambda: app.link.terminal.waiting, "the model waits")
        await until(pilot, lambda: view.cursor.y >= 20, "the prompt is at the bottom")
        assert view.size.width < 80 and view.size.height < 24  # the view is smaller...
        await until(pilot, lambda: _cursor_in_sight(view), "...and shows the prompt")
        await _quit(pilot, app)


@pytest.mark.slow
async def test_a_fixed_size_is_kept_and_a_small_view_scrolls_to_the_cursor(tmp_path):
    app = _app(tmp_path, [type_("seq 1 80"), WAIT], cols=100, rows=60)
    async with app.run_test(size=(160, 40)) as pilot:
        view = app.query_one(TerminalView)
        await until(pilot, lambda: app.link.terminal is not None, "the session started")
        await until(pilot, lambda: app.link.terminal.waiting, "the model waits")
        await until(pilot, lambda: view.cursor.y >= 50, "the prompt is low in the screen")
        await until(pilot, lambda: _cursor_in_sight(view), "the view scrolled to it")
        assert view.scroll_offset.y > 0
        assert _size(app) == (100, 60)
        await _quit(pilot, app)
    (directory,) = (tmp_path / "sessions").iterdir()
    assert not [e for e in Session(directory).log().events if isinstance(e, TerminalResized)]


@pytest.mark.slow
async def test_resizing_the_window_after_the_session_ended_changes_nothing(tmp_path):
    app = _app(tmp_path, [finish("done")], follow=True)
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: app.ended is not None, "the session ended")
        size = _size(app)
        await pilot.resize_terminal(240, 60)
        await pilot.resize_terminal(200, 50)
        await until(pilot, lambda: app.query_one(TerminalView).size.width > 110, "laid out")
        await pilot.pause()
        assert app.is_running and app.link.error is None and _size(app) == size
        app.exit()
