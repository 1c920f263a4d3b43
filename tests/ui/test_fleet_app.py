"""The view of a run of many workers (``FleetApp``), on a run's directory as the run writes it:
every worker's place, state, experiments and last result, the combined plot with the best,
opening a worker, detaching, and stopping the run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from pilot_polling import until
from polling import wait_until

from clive.experiments.fleet_run import find_run, read_run, write_run
from clive.experiments.results import COLUMNS
from clive.session import SessionInfo, SessionWriter
from clive.session.events import Outcome, SessionEnded
from clive.ui.fleet_app import FleetApp

pytestmark = pytest.mark.anyio

HEADER = "\t".join(["worker", *COLUMNS])
SESSIONS = {1: ["2026-12-02T01-00-00-s"], 2: ["2026-12-02T01-00-00-a", "2026-12-02T01-05-00-b"]}


def _row(worker: int, status: str, metric: str, description: str) -> str:
    values = {"commit": "abc1234", "metric": metric, "status": status, "seconds": "0.5",
              "description": description}  # fmt: skip
    return "\t".join([str(worker), *(values.get(c, "") for c in COLUMNS)])


def _run(directory: Path, *, pid: int | None = None, ended: bool = True, goal="minimize") -> Path:
    directory.mkdir(parents=True)
    write_run(directory, task="Lower the loss", workers=3, experiments=20, goal=goal, ray=None,
              pid=pid, host=__import__("socket").gethostname(), ended=ended)  # fmt: skip
    rows = [
        _row(1, "baseline", "0.021", "baseline"),
        _row(2, "baseline", "0.021", "baseline"),
        _row(1, "keep", "0.0144", "learning rate 0.2"),
        _row(2, "discard", "0.03", "degree 9"),
        _row(2, "lost", "", "bigger batch"),
        _row(2, "keep", "0.0139", "400 steps"),
        _row(1, "discard", "0.0144", "momentum"),
        "3\tabc",  # a line being written
    ]
    (directory / "results.tsv").write_text("\n".join([HEADER, *rows]) + "\n")
    (directory / "workers.tsv").write_text(
        "worker\tattempt\tnode\taddress\tpid\tstate\n"
        "1\t1\tnode-a-1234567890\t10.0.0.1\t11\tmeasuring 3\n"
        "2\t1\tnode-b-1234567890\t10.0.0.2\t12\tlost\n"
        "2\t2\tnode-a-1234567890\t10.0.0.1\t13\tworking\n"
    )
    for number, names in SESSIONS.items():
        for name in names:
            session = directory / f"w{number}" / name
            session.mkdir(parents=True)
            (session / "session.json").write_text("{}")
    return directory


def test_the_run_is_read_from_its_directory(tmp_path):
    run = read_run(_run(tmp_path / "run"))
    assert (run.task, run.limit, run.ended, run.running) == ("Lower the loss", 20, True, False)
    assert [w.number for w in run.workers] == [1, 2, 3]  # worker 3 has nothing yet
    one, two, three = run.workers
    assert (one.state, one.experiments, one.kept, one.last.description) == (
        "measuring 3", 2, 1, "momentum",
    )  # fmt: skip
    assert (two.attempt, two.state, two.address, two.experiments) == (2, "working", "10.0.0.1", 3)
    assert two.session.name == "2026-12-02T01-05-00-b"  # its latest start's
    assert (three.state, three.session) == ("starting", None)
    best = run.best()
    assert (best.worker, best.metric, best.description) == (2, 0.0139, "400 steps")
    assert run.best_line() == [0.021, 0.021, 0.0144, 0.0144, 0.0144, 0.0139, 0.0139]


def test_the_best_follows_the_goal(tmp_path):
    run = read_run(_run(tmp_path / "run", goal="maximize"))
    assert run.best().metric == 0.021  # the discarded 0.03 never counts


async def test_every_worker_is_shown_with_the_plot_and_the_best(tmp_path):
    app = FleetApp(_run(tmp_path / "run"))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.query_one("DataTable").row_count == 3, "three workers")
        table = app.query_one("DataTable")
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(3)]
        assert rows[0] == ["w1", "10.0.0.1 (node-a-1)", "measuring 3", "2/20", "1",
                           "momentum: discard 0.0144"]  # fmt: skip
        assert rows[1][:4] == ["w2", "10.0.0.1 (node-a-1) (start 2)", "working", "3/20"]
        assert rows[2][2:] == ["starting", "0/20", "0", "-"]
        head = str(app.query_one("#fleet-head").render())
        assert "ended" in head and "best 0.0139 (worker 2: 400 steps)" in head
        drawn = app.query_one("PlotextPlot").plt.build()  # the plot as text, legend included
        assert all(label in drawn for label in ("best", "w1", "w2"))
        assert "w3" not in drawn  # nothing measured yet


async def test_enter_opens_the_selected_worker_s_latest_session(tmp_path):
    directory = _run(tmp_path / "run")
    app = FleetApp(directory)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("down", "enter")
        await until(pilot, lambda: app.opened is not None, "a worker opened")
    assert app.opened == directory / "w2" / "2026-12-02T01-05-00-b"


async def test_a_worker_without_a_session_is_not_opened(tmp_path):
    app = FleetApp(_run(tmp_path / "run"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("down", "down", "enter")
        await pilot.pause()
        assert app.opened is None and app.is_running


async def test_d_detaches_and_leaves_the_run_going(tmp_path):
    app = FleetApp(_run(tmp_path / "run", ended=False, pid=None), detachable=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("d")
        await until(pilot, lambda: not app.is_running, "the view closed")
    assert app.detached


@pytest.fixture
def the_run_s_process():
    process = subprocess.Popen(["sleep", "600"])
    yield process
    process.kill()
    process.wait(timeout=10)


async def test_q_stops_a_running_run_after_asking(tmp_path, the_run_s_process):
    directory = _run(tmp_path / "run", ended=False, pid=the_run_s_process.pid)
    app = FleetApp(directory, detachable=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("q")
        await until(pilot, lambda: "Stop the run?" in _screen_text(app), "the question")
        await pilot.press("n")
        await pilot.pause()
        assert the_run_s_process.poll() is None  # no: nothing stopped
        await pilot.press("q", "y")
        await until(pilot, lambda: app.stopping, "the run told to stop")
        wait_until(lambda: the_run_s_process.poll() is not None, "the run's process ended")
        write_run(directory, ended=True)  # as the run does when its workers have ended
        await until(pilot, lambda: "ended" in str(app.query_one("#fleet-head").render()), "ended")
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, "the view closed")


async def test_q_never_signals_a_process_this_machine_cannot_see(tmp_path, monkeypatch):
    # No pid said: os.kill(0, ...) would end the view's own process group.
    signalled = []
    monkeypatch.setattr("os.kill", lambda *call: signalled.append(call))
    app = FleetApp(_run(tmp_path / "run", ended=False, pid=None), detachable=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert "Stop the run?" not in _screen_text(app) and app.is_running
    assert signalled == []


def test_a_run_is_found_by_its_path_its_name_or_as_the_one_running(tmp_path, the_run_s_process):
    root = tmp_path / "sessions"
    ended = _run(root / "2026-12-01T00-00-00-fleet-old")
    running = _run(root / "2026-12-02T00-00-00-fleet-new", ended=False,
                   pid=the_run_s_process.pid)  # fmt: skip
    assert find_run(str(ended), root) == ended.resolve()
    assert find_run(ended.name, root) == ended.resolve()
    assert find_run(None, root) == running.resolve()
    assert find_run("no-such-run", root) is None
    # A session started after the run, and running: the latest is that session.
    later = SessionInfo(id="", task="t", model="m", cwd="/", cols=80, rows=24,
                        started_at="2999-01-01T00:00:00")  # fmt: skip
    writer = SessionWriter.create(root, later, background_flush=False)
    try:
        assert find_run(None, root) is None
    finally:
        writer.close(SessionEnded(outcome=Outcome.FINISHED))
    assert find_run(None, root) == running.resolve()
    write_run(running, ended=True)
    assert json.loads((running / "run.json").read_text())["ended"] is True
    assert find_run(None, root) is None


def _screen_text(app) -> str:
    return "\n".join(
        str(widget.render()) for widget in app.screen.query("Static") if widget.display
    )
