"""Watching a session that runs in a process of its own, over its socket: ``clive "task"``
watches the session it started, ``clive attach`` any running one."""

from __future__ import annotations

import getpass
import os
import signal
import sys
import time
from pathlib import Path

from clive.link.wire import LinkError, SocketLink, socket_path
from clive.session import Session
from clive.session.events import Outcome

VIEWER_NAME = "CLIVE_VIEWER"  # how other views name this one, when --name does not say
_END_WAIT = 10.0  # seconds for a session that said it ended to write its last session.json


def viewer_name(given: str | None = None) -> str:
    """``given``, else ``CLIVE_VIEWER``, else user@tty."""
    if given:
        return given
    if os.environ.get(VIEWER_NAME):
        return os.environ[VIEWER_NAME]
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "someone"
    try:
        tty = os.ttyname(sys.stdin.fileno()).removeprefix("/dev/")
    except OSError:
        return user
    return f"{user}@{tty}"


def watch(directory: Path, name: str | None = None, *, quiet: bool = False) -> int:
    """Watch the session in ``directory`` until it ends (its exit status) or the person
    detaches (0); ``quiet``: without saying how to come back (a fleet's view does)."""
    from clive.ui.live_app import LiveApp

    directory = Path(directory)
    try:
        app = LiveApp(SocketLink(socket_path(directory)), name=viewer_name(name), detachable=True)
    except LinkError as error:
        print(f"clive: {error}", file=sys.stderr)
        return 1
    # `kill` of this process detaches: the session goes on (`q` in the view ends it). So does
    # the terminal going away (a closed window, a lost ssh connection), at once: there is no
    # screen left to restore, nor anyone to tell (and Textual, writing to a terminal that hung
    # up, would wait for ever).
    signal.signal(signal.SIGTERM, lambda *_: app.detach_soon())
    signal.signal(signal.SIGHUP, lambda *_: os._exit(0))
    app.run()
    if app.error:  # clive itself failed, in the session's process
        print(f"clive: {app.error}", file=sys.stderr)
    if app.detached or not app.gone:
        if quiet or not sys.stderr.isatty():
            return 0  # a browser's tab closed: nobody reads this
        print(
            f"clive: detached; the session goes on (a risky command waits for a view to "
            f"approve it). Watch it again with: clive attach {directory}",
            file=sys.stderr,
        )
        return 0
    if quiet:
        return 1 if app.error else 0
    try:
        status = report_end(directory)
    except KeyboardInterrupt:
        return 130
    return 1 if app.error else status


def report_end(directory: Path) -> int:
    """Say where the session is and how to go on; its exit status (``EXIT_STATUS``)."""
    from clive.commands.run import EXIT_STATUS

    session = Session(directory)
    deadline = time.monotonic() + _END_WAIT
    while session.info.outcome is Outcome.RUNNING and time.monotonic() < deadline:
        time.sleep(0.05)
        session = Session(directory)
    outcome = session.info.outcome
    print(f"session: {directory}", file=sys.stderr)
    if outcome is Outcome.PAUSED:
        print(f"resume it with: clive resume {directory}", file=sys.stderr)
    return EXIT_STATUS.get(outcome, 1)


def watch_fleet(directory: Path, name: str | None = None) -> int:
    """Watch the run of many workers in ``directory`` (``FleetApp``): a worker opened is
    watched live (or replayed, once it has ended), and its view's ``d`` comes back here. 0
    when the person detaches or the run has ended."""
    from clive.experiments.fleet_run import WEB_FLEET
    from clive.session import SessionNotFound
    from clive.ui.fleet_app import FleetApp

    directory = Path(directory)
    signal.signal(signal.SIGHUP, lambda *_: os._exit(0))  # no terminal left to draw on
    while True:
        app = FleetApp(directory, detachable=True, in_browser=bool(os.environ.get(WEB_FLEET)))
        signal.signal(signal.SIGTERM, lambda *_, app=app: app.detach_soon())
        app.run()
        if app.opened is None:
            break
        try:
            session = Session(app.opened)
        except SessionNotFound as error:
            print(f"clive: {error}", file=sys.stderr)
            continue
        if session.info.outcome is Outcome.RUNNING and socket_path(session.directory).exists():
            watch(session.directory, name, quiet=True)
        else:  # ended, or written on another machine (a Ray node): what was gathered
            from clive.commands.attach import replay

            replay(session)
    if app.detached and not app.run_view.ended:
        if sys.stderr.isatty():
            print(
                f"clive: detached; the run goes on. Watch it again with: clive attach {directory}",
                file=sys.stderr,
            )
        return 0
    print(f"run: {directory}", file=sys.stderr)
    return 0
