"""``clive replay SESSION``: play a session back in the UI; with ``--print``, print the screen
as it was at a moment (``--at SECONDS``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from clive.session import SessionNotFound, find_session
from clive.session.asciicast import CastError
from clive.session.measurement import MEASUREMENT_CAST
from clive.session.replay import ScreenIndex


def replay(args: argparse.Namespace) -> int:
    try:
        session = find_session(args.session, Path(args.sessions_dir))
        if not session.cast_path.exists():
            if args.print:
                print(f"clive replay: {session.name} has no terminal.cast", file=sys.stderr)
                return 1
            index = None  # the timeline plays without a terminal
        else:
            index = ScreenIndex.open(session.cast_path, progress=_progress)
    except (SessionNotFound, CastError) as error:
        print(f"clive replay: {error}", file=sys.stderr)
        return 2
    if not args.print:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            print(
                "clive replay: the replay UI needs a terminal; "
                "--print --at SECONDS prints the screen at that moment",
                file=sys.stderr,
            )
            return 2
        from clive.ui.replay_app import ReplayApp

        ReplayApp(session, start_at=args.at, index=index).run()
        return 0
    at = args.at
    if at is None:
        at = index.duration
    elif at < 0:
        at = max(0.0, index.duration + at)  # from the end, as with Python's negative indices
    if args.measurement:
        path = session.directory / MEASUREMENT_CAST
        if not path.exists():
            print(f"clive replay: {session.name} has no measurement.cast", file=sys.stderr)
            return 1
        index = ScreenIndex.open(path)
    screen = index.screen_at(at)
    sys.stdout.write("\n".join(line.rstrip() for line in screen.lines()).rstrip("\n") + "\n")
    return 0


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        print(f"\rindexing the recording: {done * 100 // total}%", end="", file=sys.stderr)
        if done >= total:
            print(file=sys.stderr)
