"""``clive attach [SESSION]``: watch a running session again, from any terminal; a session that
has ended is replayed."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from clive.experiments.fleet_run import find_run
from clive.link.wire import socket_path
from clive.session import Session, SessionNotFound, find_session, list_sessions
from clive.session.events import Outcome


def attach(args: argparse.Namespace) -> int:
    root = Path(args.sessions_dir)
    run = find_run(args.session, root)
    session = None
    if run is None:
        try:
            session = session_to_watch(args.session, root)
        except SessionNotFound as error:
            print(f"clive attach: {error}", file=sys.stderr)
            return 2
    # A view needs a terminal, or a browser's (textual-serve runs each tab's view with
    # Textual's web driver, over pipes).
    if not (sys.stdin.isatty() and sys.stdout.isatty()) and "TEXTUAL_DRIVER" not in os.environ:
        print("clive attach: the view needs a terminal", file=sys.stderr)
        return 2
    if session is None:  # a run of many workers: its view, which opens any worker's
        from clive.commands._view import watch_fleet

        return watch_fleet(run, name=args.name)
    if session.info.outcome is not Outcome.RUNNING or not socket_path(session.directory).exists():
        return replay(session)  # ended, or running elsewhere (a worker's, gathered from a node)
    from clive.commands._view import watch

    return watch(session.directory, name=args.name)


def session_to_watch(name: str | None, root: Path, *, or_latest: bool = False) -> Session:
    """The session ``name`` means; without one, the latest that is running (``or_latest``:
    else the latest of all)."""
    if name is not None:
        return find_session(name, root)
    sessions = list_sessions(root)
    running = [s for s in sessions if s.info.outcome is Outcome.RUNNING]
    if not running and not (or_latest and sessions):
        if sessions:
            raise SessionNotFound(
                f"no session is running in {root}: name one to replay it (clive sessions "
                "lists them)"
            )
        raise SessionNotFound(f"no sessions in {root}: name one, or start one (clive demo)")
    return max(running or sessions, key=lambda s: s.info.started_at)


def replay(session: Session) -> int:
    from clive.session.replay import ScreenIndex
    from clive.ui.replay_app import ReplayApp

    index = ScreenIndex.open(session.cast_path) if session.cast_path.exists() else None
    ReplayApp(session, index=index).run()
    return 0
