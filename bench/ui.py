"""Responsiveness of the live UI, each figure beside its reference in the same run.

``key handled``: the time from a key press (``p``, pause or resume) reaching the app until the
agent's control has changed, while the shell prints ``seq 1 10000000`` as fast as it can, against
the same key with the shell idle. ``attached view``: from the key until the session's ``control``
event, back through the stream, is taken by a frame of the view, during the same flood against
the shell idle, for a view attached over the socket to a session in a process of its own (what
``clive "task"`` and ``clive attach`` both are). ``agent not slowed``: how long that ``seq``
takes in a session with the UI watching, against the same session headless. ``5,000 steps``:
the same key press with a timeline of 5,000 steps, against one of ten.

The app runs headless (Textual's test driver) at a real terminal size; the session is real: a
scripted model in a real shell (in the app's process, or in its own for the attached view).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from textual import events

from clive.agent.loop import AgentSettings
from clive.agent.task import run_task
from clive.link import LocalLink, SocketLink, socket_path
from clive.models import ScriptModel
from clive.session.events import Control, ModelTurn, Observation, ToolCall, ToolResult, Usage
from clive.ui.live_app import LiveApp
from clive.ui.timeline import Timeline

SIZE = (160, 48)
PRESSES = 15
# Longer than the type tool waits for a command (3 s), so that the flood is still running when
# the session's first `wait` starts.
FLOOD = "seq 1 10000000"


def _script(directory: Path, command: str | None) -> Path:
    """A session that waits: for ``command`` to end, or for a pattern that never comes. A pause
    cuts a wait short and the next turn is another wait, so there is one for each press."""
    never = {"until": "pattern", "pattern": "never", "timeout": 600}
    turns = []
    if command is not None:
        turns.append({"tool": "type", "input": {"text": command}})
    for _ in range(PRESSES + 2):
        wait = {"until": "done", "timeout": 600} if command is not None else never
        turns.append({"tool": "wait", "input": wait})
    turns.append({"tool": "wait", "input": never})
    turns.append({"tool": "finish", "input": {"summary": "done"}})
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"script-{time.monotonic_ns()}.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in turns))
    return path


def _starter(directory: Path, script: Path, marks: dict | None = None):
    """start() for a LiveApp: the scripted session; ``marks`` gets the times the model's
    first turn came and the first ``wait`` ended (the command's run, as the agent sees it)."""
    (directory / "work").mkdir(exist_ok=True)

    def start(*, control, approver, on_event, on_start, on_measure, on_open):
        return run_task(
            "bench", ScriptModel(script), sessions_dir=directory / "sessions",
            cwd=directory / "work", user_rc=False, control=control,
            on_event=_marking(on_event, marks), on_start=on_start, on_measure=on_measure,
            on_open=on_open,
        )  # fmt: skip

    return LocalLink(start, model="bench", cols=120, rows=40)


def _marking(on_event, marks: dict | None):
    def marked(event):
        if marks is not None and isinstance(event, ToolResult):
            marks.setdefault(event.name, time.perf_counter())
        if marks is not None and isinstance(event, ModelTurn):
            marks.setdefault("turn", time.perf_counter())
        if on_event is not None:
            on_event(event)

    return marked


async def _key_latency(app: LiveApp, presses: int) -> list[float]:
    """Seconds from a key press (``p``: pause, then resume) reaching the app until the agent's
    control has changed, ``presses`` times."""
    latencies = []
    control = app.link.control
    for _ in range(presses):
        paused = control.paused
        key = events.Key("p", "p")
        key.set_sender(app)
        started = time.perf_counter()
        app._driver.send_message(key)
        while control.paused == paused:
            await asyncio.sleep(0.0005)
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.05)
    if control.paused:
        control.resume()
    return latencies


async def _shown_latency(app: LiveApp, presses: int) -> list[float]:
    """Seconds from a key press (``p``) reaching the app until the session's answer (its
    ``control`` event, back through the stream) is taken by a frame of the app (the status bar
    shows it then), ``presses`` times."""
    answers: list[float] = []
    follow = app._follow

    def noting(event) -> bool:
        if isinstance(event, Control):
            answers.append(time.perf_counter())
        return follow(event)

    app._follow = noting
    latencies = []
    for _ in range(presses):
        before = len(answers)
        key = events.Key("p", "p")
        key.set_sender(app)
        started = time.perf_counter()
        app._driver.send_message(key)
        await _until(lambda before=before: len(answers) > before)
        latencies.append(answers[before] - started)
        await asyncio.sleep(0.05)
    return latencies


async def _until(predicate, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the session did not get there")
        await asyncio.sleep(0.01)


def _in_step_wait(app: LiveApp, step: int) -> bool:
    terminal = app.link.terminal
    return terminal is not None and terminal.waiting and app.query_one("StatusBar").step == step


def _waiting_in(app: LiveApp, steps: tuple[int, ...]) -> bool:
    """The session (wherever it runs) is at one of ``steps``, in a wait, as its events say."""
    return app.status.state == "waiting" and app.status.step in steps


async def _flood_run(directory: Path, with_keys: bool) -> tuple[list[float], float]:
    """Key latencies while ``seq`` floods the shell; or, without keys, how long it ran (from
    the model's turn that types it to the end of the ``wait`` for it)."""
    marks: dict = {}
    script = _script(directory, FLOOD)
    app = LiveApp(_starter(directory, script, marks))
    async with app.run_test(size=SIZE):
        # Typed, and waiting for seq to end (the type tool waits a while itself).
        await _until(lambda: _in_step_wait(app, 1) or _in_step_wait(app, 2))
        latencies = await _key_latency(app, PRESSES) if with_keys else []
        if not with_keys:
            await _until(lambda: "wait" in marks)
        app.link.control.quit()
        await _until(lambda: app.ended is not None)
    return latencies, marks.get("wait", 0.0) - marks.get("turn", 0.0)


async def _idle_run(directory: Path) -> list[float]:
    app = LiveApp(_starter(directory, _script(directory, None)))
    async with app.run_test(size=SIZE):
        await _until(lambda: _in_step_wait(app, 1))
        latencies = await _key_latency(app, PRESSES)
        app.link.control.quit()
        await _until(lambda: app.ended is not None)
    return latencies


async def _shown_run(app: LiveApp) -> list[float]:
    async with app.run_test(size=SIZE):
        await _until(lambda: _waiting_in(app, (1, 2)))
        latencies = await _shown_latency(app, PRESSES)
        app.request_quit()
        await _until(lambda: app.gone)
    return latencies


async def _attached_flood(directory: Path) -> float:
    """How long ``seq`` runs in a session watched over its socket (the view ``clive "task"``
    is), from the model's turn that types it to the end of the ``wait`` for it, by the
    session's own events."""
    app = _attached_view(directory, FLOOD)
    session = Path(app.hello["directory"])
    async with app.run_test(size=SIZE):
        await _until(lambda: _first(session, "tool_result", "wait") is not None)
        app.request_quit()
        await _until(lambda: app.gone)
    return _first(session, "tool_result", "wait") - _first(session, "model_turn")


def _first(session: Path, kind: str, name: str | None = None) -> float | None:
    """The time of the session's first event of ``kind`` (a tool's result: of ``name``)."""
    for line in (session / "events.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event["type"] == kind and (name is None or event.get("name") == name):
            return event["t"]
    return None


def _attached_view(directory: Path, command: str | None) -> LiveApp:
    """The view, over its socket, of a session in a process of its own (``--detach``)."""
    script = _script(directory, command)
    started = subprocess.run(
        [sys.executable, "-m", "clive", "--detach", "--model", f"script:{script}", "--cwd",
         str(_work(directory)), "--sessions-dir", str(directory / "sessions"), "--no-user-rc",
         "--cols", "120", "--rows", "40", "bench"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    link = SocketLink(socket_path(Path(started.stdout.strip())))
    return LiveApp(link, name="bench", detachable=True)


def _headless_flood(directory: Path) -> float:
    """How long ``seq`` runs in the same session without the UI (the reference)."""
    marks: dict = {}
    script = _script(directory, FLOOD)
    run_task(
        "bench", ScriptModel(script), sessions_dir=directory / "sessions", cwd=_work(directory),
        user_rc=False, on_event=_marking(None, marks), settings=AgentSettings(max_steps=3),
    )  # fmt: skip
    return marks["wait"] - marks["turn"]


def _work(directory: Path) -> Path:
    (directory / "work").mkdir(parents=True, exist_ok=True)
    return directory / "work"


def _steps(count: int):
    """The events of ``count`` ordinary steps, as a timeline gets them."""
    for step in range(1, count + 1):
        t = step * 2.0
        yield Observation(
            t=t, step=step, text="", tokens=900, state="prompt", exit_code=0, new_output_lines=12
        )
        yield ModelTurn(
            t=t + 0.5, step=step, model="bench", text=f"Step {step}: run the next experiment.",
            tool_calls=[ToolCall(id=f"c{step}", name="type", input={"text": f"make run-{step}"})],
            usage=Usage(input_tokens=1200, output_tokens=80, cache_read_tokens=30000), cost=0.01,
        )  # fmt: skip
        yield ToolResult(
            t=t + 1.5, step=step, call_id=f"c{step}", name="type", ok=True,
            content="typed 12 characters and Enter; the command finished with exit code 0",
        )  # fmt: skip


async def _timeline_run(directory: Path, steps: int) -> tuple[list[float], float]:
    app = LiveApp(_starter(directory, _script(directory, None)))
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: _in_step_wait(app, 1))
        started = time.perf_counter()
        app.query_one(Timeline).add_events(_steps(steps))
        await pilot.pause()
        added = time.perf_counter() - started
        latencies = await _key_latency(app, PRESSES)
        app.link.control.quit()
        await _until(lambda: app.ended is not None)
    return latencies, added


def ui_responsiveness(report, quick: bool) -> None:
    print(f"ui: key latency with `{FLOOD}` running, the agent's speed, 5,000 steps")
    with tempfile.TemporaryDirectory(prefix="clive-bench-ui-") as tmp:
        directory = Path(tmp)
        idle = asyncio.run(_idle_run(directory / "idle"))
        loaded, _ = asyncio.run(_flood_run(directory / "flood-keys", with_keys=True))
        _, flood_with_ui = asyncio.run(_flood_run(directory / "flood", with_keys=False))
        headless = _headless_flood(directory / "headless")
        report.add(
            "key handled, median: shell flooding vs idle (ms)",
            statistics.median(loaded) * 1e3,
            statistics.median(idle) * 1e3,
            "ms",
            "< 100 ms",
        )
        report.add(
            "key handled, slowest: shell flooding vs idle (ms)",
            max(loaded) * 1e3,
            max(idle) * 1e3,
            "ms",
            "< 100 ms",
        )
        report.add(
            f"`{FLOOD}` in a session: UI watching vs headless (s)",
            flood_with_ui,
            headless,
            "s",
            "ratio ~1",
        )
        ten, _ = asyncio.run(_timeline_run(directory / "ten", 10))
        many, added = asyncio.run(_timeline_run(directory / "many", 5000))
        report.add(
            "key handled, median: 5,000 steps vs 10 (ms)",
            statistics.median(many) * 1e3,
            statistics.median(ten) * 1e3,
            "ms",
            "ratio ~1",
        )
        report.add("adding 5,000 steps to the timeline (s, once)", added, None, "s")
        report.add(
            f"`{FLOOD}` in a session: watched over its socket vs headless (s)",
            asyncio.run(_attached_flood(directory / "attached-flood")),
            headless,
            "s",
            "ratio ~1",
        )
        # `clive "task"` and `clive attach` alike watch over the session's socket.
        idle = asyncio.run(_shown_run(_attached_view(directory / "attached-idle", None)))
        flooded = asyncio.run(_shown_run(_attached_view(directory / "attached", FLOOD)))
        for name, figure in (("median", statistics.median), ("slowest", max)):
            report.add(
                f"attached view, key to the session's answer shown, {name}: flooding vs idle (ms)",
                figure(flooded) * 1e3,
                figure(idle) * 1e3,
                "ms",
                "< 100 ms",
            )
        # fmt: on
