"""``clive web``: a session's view in a real browser (Debian's Chromium, headless), behind a
token. Each test leaves a screenshot in ``artifacts/web/``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from browser import CHROMIUM, Browser, stop_process_group
from polling import wait_until
from scripted import finish, tiny_train, type_, wait, write_script

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "web"


class WebServer:
    """``clive web`` serving one session, on a free port; its output goes to a file."""

    def __init__(self, session: Path, sessions: Path, output: Path) -> None:
        self.output = output
        with output.open("wb") as out:
            command = ["web", str(session), "--port", "0", "--sessions-dir", str(sessions)]
            self.process = subprocess.Popen(
                [sys.executable, "-m", "clive", *command],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # the views it starts in its group, ended with it
            )
        self.url = wait_until(self._printed_url, "clive web prints its URL", seen=self.printed)

    @property
    def base(self) -> str:
        """The URL without the token."""
        return self.url.split("?")[0]

    def printed(self) -> str:
        return self.output.read_text()

    def views(self) -> list[int]:
        """The processes it started: one view a browser connection."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def _printed_url(self) -> str | None:
        found = re.search(r"http://\S+\?token=\S+", self.printed())
        return found.group(0) if found else None


@pytest.fixture
def serve(tmp_path) -> Iterator[Callable[[Path, Path], WebServer]]:
    """Starts ``clive web SESSION``; every server started is ended with its views."""
    servers: list[WebServer] = []

    def start(session: Path, sessions: Path) -> WebServer:
        servers.append(WebServer(session, sessions, tmp_path / f"web-{len(servers)}.out"))
        return servers[-1]

    yield start
    for server in servers:
        stop_process_group(server.process)
        print(f"clive web's output:\n{server.printed()}")  # shown when the test fails


@pytest.fixture
def browser(tmp_path) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"no {CHROMIUM}: the web view's tests need Debian's chromium")
    opened = Browser(tmp_path / "chromium")
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(scope="module")
def finished_session(tmp_path_factory) -> Path:
    """A session that printed ``replay-42`` a second in, and finished."""
    root = tmp_path_factory.mktemp("finished")
    script = write_script(
        root / "turns.jsonl",
        [
            type_("sleep 1; echo replay-$((6*7))"),
            wait(until="done", timeout=60),
            finish("printed it"),
        ],
    )
    _clive(
        "--headless", "--model", f"script:{script}", "--no-user-rc", "print the answer", root=root
    )
    [session] = (root / "sessions").iterdir()
    return session


def test_every_request_needs_the_token(serve, finished_session):
    server = serve(finished_session, finished_session.parent)
    assert _status(server.base) == (403, "clive web: no token: open the URL clive web printed")
    assert _status(server.base + "?token=wrong") == (403, "clive web: wrong token")
    assert _status(server.base + "static/js/textual.js")[0] == 403
    port = urllib.parse.urlsplit(server.url).port
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(server.url).query)["token"][0]
    websocket = server.base + "ws"
    assert asyncio.run(_websocket_status(websocket, {})) == 403
    assert asyncio.run(_websocket_status(websocket, {"Cookie": f"clive-web-{port}=x"})) == 403
    # The right cookie, from a page served elsewhere: another port of this machine is the same
    # site, so the browser sends the cookie along.
    elsewhere = {"Cookie": f"clive-web-{port}={token}", "Origin": "http://127.0.0.1:1"}
    assert asyncio.run(_websocket_status(websocket, elsewhere)) == 403

    # The token in the URL opens the page, and a cookie carries it to the page's own requests.
    with urllib.request.urlopen(server.url, timeout=30) as page:
        cookie = page.headers["Set-Cookie"]
        # Never in a frame: a page of another port of this machine would send the cookie.
        assert page.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    framed = urllib.request.Request(
        server.base,
        headers={"Cookie": cookie.split(";")[0], "Sec-Fetch-Site": "same-site"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(framed, timeout=30)
    assert refused.value.code == 403
    assert f"clive-web-{port}=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    script = urllib.request.Request(
        server.base + "static/js/textual.js", headers={"Cookie": cookie.split(";")[0]}
    )
    with urllib.request.urlopen(script, timeout=30) as response:
        assert response.status == 200


def test_a_finished_session_is_replayed_in_the_browser(serve, browser, finished_session):
    server = serve(finished_session, finished_session.parent)
    browser.navigate(server.url)
    browser.wait_for_text("print the answer")  # the task, atop the timeline
    browser.wait_for_text(r"‖ 1x 0:00 /")  # paused at the start

    browser.press("end")
    browser.wait_for_text("(?m)^replay-42")  # the command's output, on a line of its own
    browser.press("home")
    wait_until(lambda: "\nreplay-42" not in browser.terminal_text(), "back at the start")
    browser.press("space")  # play: the output comes a second in
    browser.wait_for_text("(?m)^replay-42")
    _screenshot(browser, "test_a_finished_session_is_replayed_in_the_browser")

    # SIGTERM ends the server cleanly, and the view it started with it.
    views = server.views()
    assert views, "no view was started for the browser"
    os.kill(server.process.pid, signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0, server.printed()
    assert "Traceback" not in server.printed()
    for pid in views:
        assert not Path(f"/proc/{pid}").exists(), f"view {pid} outlived clive web"


def test_a_running_session_is_watched_and_steered_from_the_browser(serve, browser, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    never = wait(until="pattern", pattern="never-printed", timeout=600)
    script = write_script(
        tmp_path / "turns.jsonl",
        [
            type_("for i in $(seq 1 1000); do echo tick-$i; sleep 0.2; done"),
            *[never] * 5,
            finish("ticked"),
        ],
    )
    sessions = tmp_path / "sessions"
    model = f"script:{script}"
    started = _clive(
        "--detach", "--model", model, "--cwd", str(work), "--no-user-rc", "tick", root=tmp_path
    )
    session = Path(started.stdout.strip())
    info = json.loads((session / "session.json").read_text())
    try:
        server = serve(session, sessions)
        browser.navigate(server.url)
        browser.wait_for_text(r"tick-\d+")
        events = session / "events.jsonl"

        browser.press("p")
        wait_until(lambda: _controls(events, "pause"), "a pause recorded", seen=events.read_text)
        browser.press("p")
        wait_until(lambda: _controls(events, "resume"), "a resume recorded", seen=events.read_text)
        browser.press("s")
        browser.wait_for_text(r"Tell the agent \(")  # the dialog, not the footer's key
        browser.type_text("count slower, please")
        browser.wait_for_text("count slower, please")
        browser.press("enter")
        steered = wait_until(
            lambda: _controls(events, "steer"), "a steer recorded", seen=events.read_text
        )
        assert steered[-1]["message"] == "count slower, please"
        browser.wait_for_text("the user says")  # in the timeline
        _screenshot(browser, "test_a_running_session_is_watched_and_steered_from_the_browser")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(info["pid"], signal.SIGTERM)  # never left running, whatever failed
    wait_until(
        lambda: json.loads((session / "session.json").read_text())["outcome"] != "running",
        "the session ends",
    )


def _clive(*args: str, root: Path) -> subprocess.CompletedProcess:
    """``clive ARGS`` with its sessions in ``root/sessions``; it must succeed."""
    done = subprocess.run(
        [sys.executable, "-m", "clive", *args, "--sessions-dir", str(root / "sessions")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    return done


def _status(url: str) -> tuple[int, str]:
    """The status of a GET of ``url``, and the first line of its body."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode().splitlines()[0]
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode().splitlines()[0]


async def _websocket_status(url: str, headers: dict[str, str]) -> int:
    """The status the server answers a websocket upgrade with."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        try:
            async with http.ws_connect(url, headers=headers):
                return 101
        except aiohttp.WSServerHandshakeError as error:
            return error.status


def _controls(events: Path, action: str) -> list[dict]:
    """The control events with ``action`` recorded so far."""
    found = []
    for line in events.read_text().splitlines():
        with contextlib.suppress(json.JSONDecodeError):  # a line still being written
            event = json.loads(line)
            if event["type"] == "control" and event["action"] == action:
                found.append(event)
    return found


def _screenshot(browser: Browser, name: str) -> None:
    path = ARTIFACTS / f"{name}.png"
    browser.screenshot(path)
    assert path.stat().st_size > 10_000, f"{path} is nearly empty"


@pytest.mark.tmux
def test_taken_over_in_a_terminal_and_seen_in_the_browser(serve, browser, tmux_pane, tmp_path):
    """`clive "task"` in tmux, detached, attached again from a second tmux; a browser watches
    at the same time. The second terminal takes over and types: the browser sees who has the
    terminal and what was typed, and its own keys are refused meanwhile."""
    work = tmp_path / "work"
    work.mkdir()
    never = wait(until="pattern", pattern="never-printed", timeout=600)
    script = write_script(
        tmp_path / "turns.jsonl",
        [type_("for i in $(seq 1 1000); do echo tick-$i; sleep 0.5; done"), *[never] * 5],
    )
    sessions = tmp_path / "sessions"
    clive = [sys.executable, "-m", "clive"]
    start = [
        *clive, "--model", f"script:{script}", "--cwd", str(work), "--no-user-rc",
        "--sessions-dir", str(sessions), "watched three ways",
    ]  # fmt: skip
    first = tmux_pane(cols=160, rows=40, command=shlex.join(start) + "; echo CLIVE-EXIT=$?")
    first.wait_for_text(r"tick-2", timeout=30)
    first.send_keys("d")
    first.wait_for_text(r"CLIVE-EXIT=0", timeout=30)
    [session] = [path for path in sessions.iterdir() if path.is_dir()]
    info = json.loads((session / "session.json").read_text())
    try:
        attach = shlex.join([*clive, "attach", str(session), "--sessions-dir", str(sessions)])
        second = tmux_pane(cols=160, rows=40, command=attach + "; echo CLIVE-EXIT=$?")
        second.wait_for_text(r"waiting for /never-printed/", timeout=30)
        server = serve(session, sessions)
        browser.navigate(server.url)
        browser.wait_for_text(r"waiting for /never-printed/")
        second.wait_for_text(r"1 other view: web")

        second.send_keys("t")
        second.wait_for_text(r"you have the terminal")
        browser.wait_for_text(r"\S+@\S+ has the terminal")
        second.send_keys("C-c")
        second.send_text("echo typed-in-tmux")
        second.send_keys("Enter")
        browser.wait_for_text(r"(?m)^│typed-in-tmux")  # its output, in the browser's view
        browser.press("t")  # the terminal is taken: the browser may not
        browser.wait_for_text(r"the terminal is taken")
        _screenshot(browser, "test_taken_over_in_a_terminal_and_seen_in_the_browser")
        second.send_keys("C-]")
        browser.wait_for_text(r"waiting for /never-printed/")
        second.send_keys("q")
        second.wait_for_text(r"Quit\?")
        second.send_keys("y")
        second.wait_for_text(r"CLIVE-EXIT=130", timeout=30)
        browser.wait_for_text(r"ended: quit")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(info["pid"], signal.SIGTERM)  # never left running, whatever failed
    events = [json.loads(line) for line in (session / "events.jsonl").read_text().splitlines()]
    taken = [e for e in events if e["type"] == "control" and e["action"] == "take_over"]
    assert len(taken) == 1 and "@" in taken[0]["message"]  # the terminal's view, not the web


def test_a_fleet_s_run_is_watched_in_the_browser_and_a_worker_opened(serve, browser, tmp_path):
    """``clive web RUN``: the run of many workers, every worker and the plot; a worker's
    number opens its session (here ended: replayed) in a tab of its own."""
    repo = tiny_train(tmp_path)
    for number, value in ((1, "0.2"), (2, "0.3")):
        write_script(tmp_path / f"turns-{number}.jsonl", [
            type_(f"sed -i 's/^LEARNING_RATE = .*/LEARNING_RATE = {value}/' config.py"),
            {"tool": "experiment", "input": {"description": f"learning rate {value}"}},
            finish("done"),
        ])  # fmt: skip
    sessions = tmp_path / "sessions"
    done = subprocess.run(
        [sys.executable, "-m", "clive", "run", "task.md", "--workers", "2", "--headless",
         "--no-user-rc", "--sessions-dir", str(sessions),
         "--model", f"script:{tmp_path}/turns-{{worker}}.jsonl"],
        cwd=repo, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (run,) = [p for p in sessions.iterdir() if p.is_dir()]

    server = serve(run, sessions)
    browser.navigate(server.url)
    browser.wait_for_text(r"2 workers · ended")
    browser.wait_for_text(r"w2 .* finished .* 1/20 .* learning rate 0.3")
    browser.wait_for_text(r"every worker's experiments")
    _screenshot(browser, "test_a_fleet_s_run_is_watched_in_the_browser")
    # A worker's number opens it in a tab of its own (the run's view stays in this one).
    browser.press("2")
    opened = wait_until(
        lambda: next((u for u in browser.pages() if u.endswith("/worker/2")), None),
        "worker 2's tab", seen=browser.pages,
    )  # fmt: skip
    browser.wait_for_text(r"2 workers · ended")
    browser.navigate(opened)  # (that tab's page, here, where the test reads)
    browser.wait_for_text(r"‖ 1x 0:00 /")  # worker 2's session, replayed
    browser.press("end")
    browser.wait_for_text(r"LEARNING_RATE = 0.3")  # what worker 2 typed
    _screenshot(browser, "test_a_fleet_s_worker_in_the_browser")
    # The token is needed there too, and a page of another origin is refused its websocket.
    assert _status(server.base + "worker/2")[0] == 403
    port = urllib.parse.urlsplit(server.url).port
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(server.url).query)["token"][0]
    websocket = server.base + "worker/2/ws"
    assert asyncio.run(_websocket_status(websocket, {})) == 403
    elsewhere = {"Cookie": f"clive-web-{port}={token}", "Origin": "http://127.0.0.1:1"}
    assert asyncio.run(_websocket_status(websocket, elsewhere)) == 403
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(server.base + f"worker/9?token={token}", timeout=30)
    assert missing.value.code == 404  # a worker the run does not have
