"""The timeline: one block of lines per step, streamed text, selection, and 5,000 steps."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Static

from clive.session.events import (
    Approval,
    BudgetWarning,
    ContextCompacted,
    Control,
    Error,
    ExperimentResult,
    ExperimentStatus,
    InputSent,
    ModelRetry,
    ModelText,
    ModelTurn,
    Note,
    Observation,
    Outcome,
    SessionEnded,
    SessionStarted,
    ToolCall,
    ToolResult,
    Totals,
    Usage,
)
from clive.ui.timeline import Timeline

pytestmark = pytest.mark.anyio


class _TimelineApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.selected: list[tuple[int, float]] = []

    def compose(self) -> ComposeResult:
        yield Timeline()

    def on_timeline_step_selected(self, message: Timeline.StepSelected) -> None:
        self.selected.append((message.step, message.time))


def _step(step: int, t: float) -> list:
    call = ToolCall(id=f"c{step}", name="type", input={"text": f"echo {step}"})
    return [
        Observation(t=t, step=step, text="", tokens=120, state="prompt", exit_code=0),
        ModelTurn(
            t=t + 1,
            step=step,
            model="m",
            text=f"thinking about step {step}",
            tool_calls=[call],
            usage=Usage(input_tokens=1500, output_tokens=30),
            cost=0.002,
            duration=1.0,
        ),
        ToolResult(t=t + 2, step=step, call_id=call.id, name="type", ok=True, content="typed"),
    ]


def _lines(timeline: Timeline) -> list[str]:
    return [timeline.line_text(y) for y in range(timeline.line_count)]


async def test_each_step_is_a_block_with_its_observation_text_call_cost_and_result():
    app = _TimelineApp()
    async with app.run_test(size=(80, 30)) as pilot:
        timeline = app.query_one(Timeline)
        timeline.add_events(_step(1, 1.0) + _step(2, 5.0))
        await pilot.pause()
        lines = _lines(timeline)
        assert lines[0].startswith("step 1 · 0:01 ─")
        assert lines[1:6] == [
            "  ◇ prompt · exit 0 · 0 new lines · 120 tok",
            "  thinking about step 1",
            "  1.5k in · 30 out · $0.0020 · 1.0s",
            "  → type 'echo 1' ⏎",
            "  ✓ type: typed",
        ]
        assert lines[6].startswith("step 2 · 0:05 ─")
        assert timeline.steps == [1, 2] and timeline.step_time(2) == 5.0


async def test_streamed_text_grows_until_the_model_turn_replaces_it():
    app = _TimelineApp()
    async with app.run_test(size=(40, 20)) as pilot:
        timeline = app.query_one(Timeline)
        timeline.add_event(Observation(t=1, step=1, text="", tokens=1, state="prompt"))
        timeline.add_event(ModelText(t=1.5, step=1, text="Let me "))
        timeline.add_event(ModelText(t=1.6, step=1, text="look at the files in this directory"))
        await pilot.pause()
        # Wrapped to the width (40 columns less the scrollbar), indented.
        assert _lines(timeline)[2:] == ["  Let me look at the files in this", "  directory"]
        timeline.add_event(ModelTurn(t=2, step=1, model="m", text="Listing the files."))
        await pilot.pause()
        assert _lines(timeline)[2:] == ["  Listing the files."]  # a turn that cost nothing


async def test_every_kind_of_event_says_something():
    app = _TimelineApp()
    events = [
        SessionStarted(
            session_id="s",
            task="speed up training",
            model="m",
            cwd="/w",
            cols=80,
            rows=24,
            started_at="2026-11-23T10:00:00+00:00",
        ),
        Observation(t=1, step=1, text="", tokens=1, state="prompt"),
        ModelRetry(t=2, step=1, attempt=1, attempts=5, delay=2.0, reason="overloaded"),
        ContextCompacted(t=3, step=1, tokens_before=90000, tokens_after=4000, notes="n"),
        Approval(t=4, step=1, action="rm -rf build", rule="rm", approved=False, by="user"),
        Note(t=5, step=1, text="baseline is 41 s"),
        BudgetWarning(t=6, budget="cost", used=4.1, limit=5.0),
        Error(t=7, message="Traceback...\nValueError: bad", step=1),
        Control(t=8, action="pause"),
        Control(t=9, action="steer", message="try a smaller batch"),
        Control(t=10, action="take_over"),
        InputSent(t=11, data="ls\r", source="user"),
        InputSent(t=11.5, data="ls\r", source="agent"),
        Control(t=12, action="give_back"),
        ExperimentResult(
            t=12.5, experiment=2, commit="abc1234", metric=0.25, values=[0.25],
            status=ExperimentStatus.DISCARD, seconds=1.0, description="learning rate 0.01",
            best_metric=0.125, best_commit="def5678", reason="not better than 0.125",
        ),
        SessionEnded(t=13, outcome=Outcome.QUIT, reason="quit by the user", totals=Totals()),
    ]  # fmt: skip
    async with app.run_test(size=(100, 40)) as pilot:
        timeline = app.query_one(Timeline)
        timeline.add_events(events)
        await pilot.pause()
        text = "\n".join(_lines(timeline))
    for expected in (
        "● speed up training",
        "↻ model call failed (overloaded); try 2 of 5",
        "context compacted: 90.0k → 4.0k tokens",
        "! REFUSED by user (rm): 'rm -rf build'",
        "✎ baseline is 41 s",
        "! budget cost: 4.1 of 5",
        "✗ error: ValueError: bad",
        "paused by the user",
        "the user says: try a smaller batch",
        "the user took over the terminal",
        "» the user entered: ls",
        "the user gave the terminal back",
        "⚗ experiment 2 discard: 0.25 · best 0.125",
        "learning rate 0.01",
        "■ quit: quit by the user",
    ):
        assert expected in text, expected
    assert text.count("entered") == 1, "the agent's own input is its tool call, not said twice"


async def test_a_take_over_shows_each_line_the_user_entered_when_it_is_entered():
    app = _TimelineApp()
    async with app.run_test(size=(80, 30)) as pilot:
        timeline = app.query_one(Timeline)
        timeline.add_events(_step(1, 1.0))
        timeline.add_event(Control(t=5, action="take_over"))
        for key in [*"ls -lx", "\x7f", "a"]:
            timeline.add_event(InputSent(t=6, data=key, source="user"))
        await pilot.pause()
        assert _lines(timeline)[-1] == "  » the user took over the terminal"  # not entered yet
        for key in ["\r", "\x1b[A", "\t"]:
            timeline.add_event(InputSent(t=7, data=key, source="user"))
        timeline.add_events([Control(t=8, action="give_back"), Control(t=9, action="take_over")])
        timeline.add_event(Control(t=10, action="give_back"))
        await pilot.pause()
        assert _lines(timeline)[6:] == [
            "  » the user took over the terminal",
            "  » the user entered: ls -la",
            "  » the user pressed: Up Tab",
            "  » the user gave the terminal back",
            "  » the user took over the terminal",
            "  » the user gave the terminal back, having only watched",
        ]


async def test_up_down_enter_and_a_click_select_a_step():
    app = _TimelineApp()
    async with app.run_test(size=(60, 30)) as pilot:
        timeline = app.query_one(Timeline)
        timeline.add_events(_step(1, 1.0) + _step(2, 5.0) + _step(3, 9.0))
        timeline.focus()
        await pilot.pause()
        await pilot.press("down")
        assert timeline.current_step == 1
        await pilot.press("down", "down", "down")
        assert timeline.current_step == 3
        await pilot.press("up", "enter")
        await pilot.pause()
        assert app.selected == [(2, 5.0)]
        # The third line of step 3's block (6 lines a step).
        await pilot.click(Timeline, offset=(4, 2 * 6 + 2))
        await pilot.pause()
        assert timeline.current_step == 3
        assert app.selected[-1] == (3, 9.0)


async def test_five_thousand_steps_keep_one_widget_and_scroll_to_the_end():
    app = _TimelineApp()
    async with app.run_test(size=(80, 30)) as pilot:
        timeline = app.query_one(Timeline)
        widgets_before = len(app.query("*"))
        timeline.add_events(e for step in range(1, 5001) for e in _step(step, step * 10.0))
        await pilot.pause()
        assert len(app.query("*")) == widgets_before
        assert len(timeline.children) == 0
        assert timeline.line_count == 5000 * 6
        assert timeline.is_vertical_scroll_end  # it followed the end as lines came
        timeline.scroll_home(animate=False, immediate=True)
        await pilot.pause()
        assert timeline.scroll_offset.y == 0
        timeline.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        assert timeline.scroll_offset.y == timeline.max_scroll_y == 5000 * 6 - 30
        shown = [timeline.render_line(y).text for y in range(30)]
        assert any(line.startswith("step 5000 ·") for line in shown)
        assert shown[-1].startswith("  ✓ type: typed")
        # Moving the highlight brings its step into sight.
        timeline.current_step = 2
        await pilot.pause()
        assert timeline.render_line(0).text.startswith("step 2 ·")


async def test_clear_forgets_every_line():
    app = _TimelineApp()
    async with app.run_test() as pilot:
        timeline = app.query_one(Timeline)
        timeline.add_events(_step(1, 1.0))
        timeline.current_step = 1
        timeline.clear()
        await pilot.pause()
        assert timeline.line_count == 0 and timeline.steps == [] and timeline.current_step is None


def _shown(timeline: Timeline) -> list[str]:
    """The lines in sight."""
    return [timeline.render_line(y).text.rstrip() for y in range(timeline.size.height)]


def _newest_in_sight(timeline: Timeline) -> bool:
    shown = timeline.scrollable_content_region.height
    return timeline.scroll_offset.y + shown >= timeline.line_count > shown


_LONG_TASK = SessionStarted(
    session_id="s", task="make training faster " * 200, model="m", cwd="/w", cols=80, rows=24,
    started_at="2026-11-23T10:00:00+00:00",
)  # fmt: skip


async def test_the_newest_line_stays_in_sight_until_the_user_scrolls_up():
    app = _TimelineApp()
    async with app.run_test(size=(60, 20)) as pilot:
        timeline = app.query_one(Timeline)
        timeline.focus()
        timeline.add_event(_LONG_TASK)  # taller than the view
        for step in range(1, 6):
            timeline.add_events(_step(step, step * 10.0))
            await pilot.pause()
            assert _newest_in_sight(timeline), f"step {step}"

        await pilot.press("pageup")  # the user looks back: the view stays there
        await pilot.pause()
        before = _shown(timeline)
        timeline.add_events(_step(6, 60.0))
        await pilot.pause()
        assert _shown(timeline) == before

        await pilot.press("end")  # back at the end: following again
        await pilot.pause()
        timeline.add_events(_step(7, 70.0))
        await pilot.pause()
        assert _newest_in_sight(timeline)


async def test_an_earlier_step_highlighted_stays_in_sight_and_the_latest_follows_again():
    app = _TimelineApp()
    async with app.run_test(size=(60, 20)) as pilot:
        timeline = app.query_one(Timeline)
        timeline.focus()
        timeline.add_events(e for step in range(1, 6) for e in _step(step, step * 10.0))
        await pilot.press("up", "up")  # the latest step, then the one before
        assert timeline.current_step == 4
        timeline.add_events(_step(6, 60.0))
        await pilot.pause()
        assert any(line.startswith("step 4 ·") for line in _shown(timeline))
        assert not _newest_in_sight(timeline)

        await pilot.press("down", "down")  # the latest step (6): its newest lines, as they come
        assert timeline.current_step == 6
        timeline.add_events(_step(7, 70.0))
        await pilot.pause()
        assert _newest_in_sight(timeline)


class _ShrinkingApp(App[None]):
    """A timeline above a panel that appears, as the experiments panel does."""

    CSS = "Timeline { height: 1fr; } #panel { height: 8; display: none; }"

    def compose(self) -> ComposeResult:
        yield Timeline()
        yield Static("a panel", id="panel")


async def test_the_newest_line_stays_in_sight_when_the_view_gets_shorter_or_narrower():
    app = _ShrinkingApp()
    async with app.run_test(size=(60, 24)) as pilot:
        timeline = app.query_one(Timeline)
        timeline.add_events([_LONG_TASK, *_step(1, 10.0), *_step(2, 20.0)])
        await pilot.pause()
        assert _newest_in_sight(timeline)
        app.query_one("#panel").display = True
        await pilot.pause()
        assert timeline.size.height == 24 - 8
        assert _newest_in_sight(timeline)
        await pilot.resize_terminal(40, 24)  # rows laid out anew, more of them
        await pilot.pause()
        assert _newest_in_sight(timeline)
        timeline.add_events(_step(3, 30.0))
        await pilot.pause()
        assert _newest_in_sight(timeline)
