"""The live app's keys, with Pilot, on a real session: a scripted model in a real shell."""

from __future__ import annotations

import asyncio
import time

import pytest
from pilot_polling import until
from scripted import finish, type_, wait, write_script

from clive.agent.approval import ApprovalPolicy
from clive.agent.loop import AgentSettings
from clive.agent.task import run_task
from clive.config import DEFAULT_RISKY
from clive.link import LocalLink
from clive.models import ScriptModel
from clive.session import Session
from clive.session.events import Approval, ApprovalAsked, Control, InputSent, Outcome
from clive.ui._dialogs import ApprovalScreen, ConfirmScreen, SteerScreen
from clive.ui.help_screen import HelpScreen
from clive.ui.live_app import LiveApp
from clive.ui.status_bar import StatusBar
from clive.ui.terminal_view import TerminalView

pytestmark = pytest.mark.anyio


SLOW = [
    {"text": "Counting.", **type_("for i in $(seq 1 100); do echo tick-$i; sleep 0.2; done")},
    wait(until="done", timeout=600),
    # Each pause or take-over cuts a wait short: there is one for each, and one to quit in.
    *[wait(until="pattern", pattern="never-printed", timeout=600)] * 4,
    finish("counted"),
]


def _app(tmp_path, turns, approve="never", clock=time.monotonic) -> LiveApp:
    script = write_script(tmp_path / "turns.jsonl", turns)
    (tmp_path / "work").mkdir(exist_ok=True)

    def start(*, control, approver, on_event, on_start, on_measure=None, on_open=None):
        return run_task(
            "count",
            ScriptModel(script),
            sessions_dir=tmp_path / "sessions",
            cwd=tmp_path / "work",
            user_rc=False,
            approval=ApprovalPolicy(approve, DEFAULT_RISKY, approver),
            control=control,
            on_event=on_event,
            on_start=on_start,
            on_open=on_open,
        )

    link = LocalLink(start, model="script", cols=80, rows=24, budgets=AgentSettings(max_steps=50))
    return LiveApp(link, clock=clock)


def _session(tmp_path) -> Session:
    (directory,) = (tmp_path / "sessions").iterdir()
    return Session(directory)


@pytest.mark.slow
async def test_pause_take_over_give_back_steer_help_and_quit(tmp_path):
    app = _app(tmp_path, SLOW)
    async with app.run_test(size=(160, 40)) as pilot:
        await until(
            pilot, lambda: app.link.terminal is not None and app.link.terminal.waiting, "a wait"
        )
        view = app.query_one(TerminalView)
        await until(
            pilot,
            lambda: any("tick-" in "".join(c.data for c in r) for r in view.cells),
            "the count on the screen",
        )
        status = app.query_one(StatusBar)
        await until(pilot, lambda: status.budget_left == "48 steps", "step 2 of 50")

        await pilot.press("p")
        assert app.link.control.paused
        await until(pilot, lambda: status.state == "paused", "paused shown")
        await pilot.press("p")
        assert not app.link.control.paused

        await pilot.press("t")
        assert app.link.control.user_in_control and status.state == "you have the terminal"
        await pilot.press("ctrl+c")  # to the shell, not to the app
        await until(pilot, lambda: app.link.terminal.snapshot().state.value == "prompt", "a prompt")
        for key in "echo mine":
            await pilot.press(key if key != " " else "space")
        await pilot.press("enter")
        await pilot.press("q")  # a key like any other while the user has the terminal
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("backspace")
        await pilot.press("ctrl+right_square_bracket")
        assert not app.link.control.user_in_control

        await pilot.press("s")
        assert isinstance(app.screen, SteerScreen)
        for key in "hi":
            await pilot.press(key)
        await pilot.press("enter")
        assert not isinstance(app.screen, SteerScreen)

        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")

        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, lambda: not app.is_running, "the app closed")

    _, ended = app.link.result
    assert ended.outcome is Outcome.QUIT
    events = _session(tmp_path).log().events
    actions = [(e.action, e.message) for e in events if isinstance(e, Control)]
    assert actions[:5] == [
        ("pause", ""),
        ("resume", ""),
        ("take_over", "you"),  # the view's name
        ("give_back", "you"),
        ("steer", "hi"),
    ]
    typed = "".join(e.data for e in events if isinstance(e, InputSent) and e.source == "user")
    assert typed.startswith("\x03echo mine\rq\x7f")


@pytest.mark.parametrize(("answer", "approved"), [("y", True), ("n", False)])
async def test_a_risky_command_waits_for_the_user_in_a_dialog(tmp_path, answer, approved):
    now = [0.0]  # the app's clock: the dialog's arming window passes when the test says
    app = _app(
        tmp_path, [type_("sudo true"), finish("asked")], approve="risky", clock=lambda: now[0]
    )
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen), "the approval dialog")
        assert "sudo true" in str(app.screen.request.action)
        await pilot.press(answer)  # too soon: meant for something else, it does nothing
        assert isinstance(app.screen, ApprovalScreen)
        now[0] += ApprovalScreen.ARMING
        await pilot.press(answer)
        await until(pilot, lambda: app.ended is not None, "the end")
        await pilot.press("q")
        await asyncio.sleep(0)
    events = _session(tmp_path).log().events
    (decision,) = [e for e in events if isinstance(e, Approval)]
    assert decision.approved is approved and decision.by == "user"
    (asked,) = [e for e in events if isinstance(e, ApprovalAsked)]  # replay shows the wait
    assert asked.t <= decision.t and asked.action == decision.action


async def test_quitting_while_an_approval_waits_refuses_it_and_ends_the_app(tmp_path):
    app = _app(tmp_path, [type_("sudo true"), finish("never")], approve="risky")
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen), "the approval dialog")
        app.request_quit()  # what SIGTERM does
        await until(pilot, lambda: not app.is_running, "the app closed")
    _, ended = app.link.result
    assert ended.outcome is Outcome.QUIT
    events = _session(tmp_path).log().events
    (decision,) = [e for e in events if isinstance(e, Approval)]
    assert not decision.approved and "quitting" in decision.reason
    typed = "".join(e.data for e in events if isinstance(e, InputSent))
    assert "sudo" not in typed
