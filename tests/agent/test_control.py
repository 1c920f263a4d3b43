"""A person at the controls of a running agent: pause, steer, take over, give back, quit."""

from __future__ import annotations

import threading

from scripted import RecordingScript, finish, type_, wait, write_script

from clive.agent.control import AgentControl
from clive.agent.task import run_task
from clive.session import Session
from clive.session.events import Control, InputSent, ModelTurn, Outcome, ToolResult


def _run_with(tmp_path, turns, act):
    """Run ``turns``; ``act(control, terminal)`` runs in a thread once step 2's model turn is
    recorded (the agent is then inside step 2's tool call)."""
    model = RecordingScript(write_script(tmp_path / "t.jsonl", turns))
    control = AgentControl()
    (tmp_path / "work").mkdir()
    started = {}
    errors = []

    def on_start(writer, terminal):
        started["terminal"] = terminal

    def on_event(event):
        if isinstance(event, ModelTurn) and event.step == 2:

            def run():
                try:
                    act(control, started["terminal"])
                except Exception as error:  # reported by the test, not lost in the thread
                    errors.append(error)

            threading.Thread(target=run, daemon=True).start()

    writer, ended = run_task(
        "a task",
        model,
        sessions_dir=tmp_path / "s",
        cwd=tmp_path / "work",
        user_rc=False,
        control=control,
        on_event=on_event,
        on_start=on_start,
    )
    assert not errors, errors
    return Session(writer.directory), ended, model


def _until(predicate, timeout=20.0):
    done = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        done.wait(0.02)
    raise AssertionError("the condition never held")


def test_pause_cuts_a_wait_short_and_steering_reaches_the_model(tmp_path):
    def act(control, terminal):
        _until(lambda: terminal.waiting)  # the agent waits for `sleep 30` to end
        control.pause()
        _until(lambda: not terminal.waiting)
        control.steer("stop waiting and finish")
        control.resume()

    session, ended, model = _run_with(
        tmp_path,
        [type_("sleep 30"), wait(until="done", timeout=120), finish("stopped")],
        act,
    )
    assert ended.outcome is Outcome.FINISHED
    events = session.log().events
    waited = next(e for e in events if isinstance(e, ToolResult) and e.name == "wait")
    assert "cut short" in waited.content and "paused" in waited.content
    actions = [(e.action, e.message) for e in events if isinstance(e, Control)]
    assert actions == [("pause", ""), ("steer", "stop waiting and finish"), ("resume", "")]
    told = model.conversations[-1][-1].text
    assert "Message from the user: stop waiting and finish" in told


def test_take_over_gives_the_user_the_terminal_and_the_agent_hears_of_it(tmp_path):
    def act(control, terminal):
        _until(lambda: terminal.waiting)
        control.take_over()
        terminal.send_keys("C-c")  # the user stops the agent's command...
        terminal.wait(prompt=True, timeout=10)
        terminal.send_text("echo typed-by-the-user\r")  # ...and runs one of their own
        terminal.wait(prompt=True, timeout=10)
        control.give_back()

    session, ended, model = _run_with(
        tmp_path, [type_("sleep 30"), wait(until="done", timeout=120), finish("back")], act
    )
    assert ended.outcome is Outcome.FINISHED
    events = session.log().events
    typed = [e for e in events if isinstance(e, InputSent) and e.source == "user"]
    assert "typed-by-the-user" in "".join(e.data for e in typed)
    agents = [e for e in events if isinstance(e, InputSent) and "sleep" in e.data]
    assert agents and all(e.source == "agent" for e in agents)
    told = model.conversations[-1][-1]
    assert "The user took the terminal for" in told.text
    assert "typed-by-the-user" in told.text + told.transient


def test_quit_ends_the_session_as_quit_by_the_user(tmp_path):
    def act(control, terminal):
        _until(lambda: terminal.waiting)
        control.quit()

    session, ended, _ = _run_with(
        tmp_path, [type_("sleep 30"), wait(until="done", timeout=120), finish("never")], act
    )
    assert ended.outcome is Outcome.QUIT and ended.reason == "quit by the user"
    assert session.info.outcome is Outcome.QUIT
