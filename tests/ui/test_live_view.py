"""The live app's view of a session the test feeds event by event (tests/ui/fed_session.py):
the timeline follows the steps, the agent waits while the quit question is open, keys that can
do nothing after the end say so, an approval shows in the status bar, and the status line and
the experiments panel fit the window."""

from __future__ import annotations

import pytest
from fed_session import FedSession, started, step
from pilot_polling import until
from rich.cells import cell_len

from clive.agent.approval import ApprovalRequest
from clive.agent.loop import AgentSettings
from clive.session.events import (
    ExperimentResult,
    ExperimentStatus,
    ModelTurn,
    Outcome,
    SessionEnded,
    ToolCall,
    Totals,
    Usage,
)
from clive.ui._dialogs import ApprovalScreen, ConfirmScreen
from clive.ui.experiments_panel import ExperimentsPanel
from clive.ui.status_bar import StatusBar
from clive.ui.timeline import Timeline

pytestmark = pytest.mark.anyio


def _experiment(n: int, status: ExperimentStatus, metric: float, best: float):
    return ExperimentResult(
        t=3.0 * n, experiment=n, commit=f"c{n}", metric=metric, status=status,
        best_metric=best, best_commit="c0", description=f"try {n}",
    )  # fmt: skip


def _ended() -> SessionEnded:
    return SessionEnded(t=99, outcome=Outcome.FINISHED, summary="done", totals=Totals(steps=2))


async def _fed(pilot, session: FedSession, *items, last: str) -> None:
    """Feed ``items`` and wait until the timeline's last line says ``last``."""
    timeline = pilot.app.query_one(Timeline)
    session.put(*items)
    await until(
        pilot,
        lambda: timeline.line_count and last in timeline.line_text(timeline.line_count - 1),
        f"the timeline ends with {last!r}",
    )
    await pilot.pause()


def _newest_in_sight(timeline: Timeline) -> bool:
    shown = timeline.scrollable_content_region.height
    return timeline.scroll_offset.y + shown >= timeline.line_count > shown


@pytest.mark.parametrize("experiments", [True, False], ids=["clive run", "a plain session"])
async def test_the_timeline_follows_the_steps_under_a_long_task_until_the_user_scrolls_up(
    experiments,
):
    session = FedSession()
    app = session.app()
    async with app.run_test(size=(160, 40)) as pilot:
        timeline = app.query_one(Timeline)
        await _fed(pilot, session, started("make the training loop faster; " * 200), last="80×24")
        for n in range(1, 4):
            await _fed(pilot, session, *step(n), last=f"done {n}")
            if experiments:  # the panel appears and takes rows from the timeline
                result = _experiment(n, ExperimentStatus.KEEP, 1 / n, 1 / n)
                await _fed(pilot, session, result, last=f"try {n}")
            assert _newest_in_sight(timeline), f"step {n}"
        assert app.query_one(ExperimentsPanel).display is experiments

        await pilot.press("pageup")  # the user reads back: the view stays where they are
        await pilot.pause()
        where = timeline.scroll_offset.y
        await _fed(pilot, session, *step(4), last="done 4")
        assert timeline.scroll_offset.y == where and not _newest_in_sight(timeline)

        await pilot.press("up")  # the latest step highlighted: following again
        await _fed(pilot, session, *step(5), last="done 5")
        assert _newest_in_sight(timeline)


@pytest.mark.parametrize("paused_before", [False, True])
async def test_the_agent_waits_while_the_quit_question_is_open_and_no_puts_it_back(
    paused_before,
):
    session = FedSession()
    app = session.app()
    async with app.run_test(size=(160, 40)) as pilot:
        await _fed(pilot, session, started(), *step(1), last="done 1")
        if paused_before:
            await pilot.press("p")
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        assert app.link.control.paused
        assert app.query_one(StatusBar).state == "paused"
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmScreen)
        assert app.link.control.paused is paused_before
    assert session.actions[:2] == (["pause", "quit"] if paused_before else ["pause", "resume"])


async def test_after_the_end_pause_take_over_and_steer_leave_the_footer_and_say_so():
    def footer_keys() -> set[str]:
        return {key.key for key in app.query("FooterKey")}

    def toasts() -> list[str]:
        return [str(toast.render()) for toast in app.query("Toast")]

    session = FedSession()
    app = session.app()
    async with app.run_test(size=(160, 40), notifications=True) as pilot:
        await _fed(pilot, session, started(), *step(1), last="done 1")
        assert {"p", "t", "s", "q"} <= footer_keys()
        await _fed(pilot, session, _ended(), last="2 steps")
        await until(pilot, lambda: "p" not in footer_keys(), "the footer redrawn")
        assert footer_keys() & {"p", "t", "s"} == set() and "q" in footer_keys()
        for key in "pts":
            await pilot.press(key)
            await until(
                pilot,
                lambda: any("the session has ended" in text for text in toasts()),
                f"{key} said so",
            )
            app.clear_notifications()
            await until(pilot, lambda: not toasts(), "the notification gone")
        assert not app.link.control.paused and not app.link.control.user_in_control
        assert app.screen is app.screen_stack[0], "no dialog opened"


async def test_the_status_bar_says_an_approval_is_awaited_while_the_dialog_is_open():
    now = [0.0]  # the app's clock: the dialog's arming window passes when the test says
    session = FedSession()
    app = session.app(clock=lambda: now[0])
    sudo = ToolCall(id="c1", name="type", input={"text": "sudo true"})
    async with app.run_test(size=(160, 40)) as pilot:
        bar = app.query_one(StatusBar)
        await _fed(pilot, session, started(), *step(1)[:1], last="tok")
        turn = ModelTurn(t=4, step=1, model="m", tool_calls=[sudo])
        await _fed(pilot, session, turn, last="sudo")
        assert bar.state == "typing"
        session.put(ApprovalRequest(step=1, action="sudo true", rule="sudo"))
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen), "the dialog")
        await pilot.pause()
        assert (bar.state, bar.detail) == ("waiting for your approval", "(sudo)")
        now[0] += ApprovalScreen.ARMING
        await pilot.press("y")
        await until(pilot, lambda: session.decisions, "the answer")
        await pilot.pause()
        assert bar.state == "typing"
    assert session.decisions[0].approved


@pytest.mark.parametrize(
    ("size", "status", "counts"),
    [
        (
            (160, 40),
            "waiting for /val_loss=[0-9.]+ .* epoch (9|10)/10 done/ (0:00) │ step 12 │ "
            "123.0k tok │ $1.23 │ elapsed 0:00 │ left: 488 steps, 3:00:00, $18.77, 1.9M tok",
            "best 0.014419  kept 1 of 3",
        ),
        (
            (80, 24),
            "waiting for /val_loss=[0-9.]+ .* epoch … (0:00) │ step 12 │ $1.23",
            "best 0.014419  ✓1/3",
        ),
    ],
)
async def test_the_status_line_and_the_experiments_counts_fit_and_keep_what_matters(
    size, status, counts
):
    """The model's name, the tokens, the time and the budget go first; what the agent does,
    its step, its cost and the best metric stay."""
    session = FedSession()
    budgets = AgentSettings(max_steps=500, max_time=3 * 3600, max_cost=20.0, max_tokens=2_000_000)
    app = session.app(  # `clive run`'s shell: 120 columns
        model="claude-sonnet-4-5-20250929", cols=120, budgets=budgets, clock=lambda: 100.0
    )
    pattern = r"val_loss=[0-9.]+ .* epoch (9|10)/10 done"
    wait = ToolCall(id="w", name="wait", input={"until": "pattern", "pattern": pattern})
    turn = ModelTurn(
        t=40, step=12, model="m", tool_calls=[wait], cost=1.2345,
        usage=Usage(input_tokens=120_000, output_tokens=3_000),
    )  # fmt: skip
    async with app.run_test(size=size) as pilot:
        await _fed(pilot, session, started(), *step(12)[:1], turn, last="wait")
        await _fed(
            pilot,
            session,
            _experiment(0, ExperimentStatus.BASELINE, 0.021311, 0.021311),
            _experiment(1, ExperimentStatus.KEEP, 0.014419, 0.014419),
            _experiment(2, ExperimentStatus.DISCARD, 0.180179, 0.014419),
            _experiment(3, ExperimentStatus.CRASH, 0.190001, 0.014419),
            last="try 3",
        )
        bar = app.query_one(StatusBar)
        assert str(bar.render()) == status
        assert cell_len(status) <= bar.content_size.width
        line = app.query_one("#experiment-counts")
        assert line.render_line(0).text.rstrip() == counts
        assert cell_len(counts) <= line.content_size.width
