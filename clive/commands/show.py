"""``clive show SESSION``: a session as a readable transcript of its steps."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from clive.session import SessionNotFound, find_session
from clive.session.report import markdown_report


def show(args: argparse.Namespace) -> int:
    try:
        session = find_session(args.session, Path(args.sessions_dir))
    except SessionNotFound as error:
        print(f"clive show: {error}", file=sys.stderr)
        return 2
    sys.stdout.write(markdown_report(session, full_observations=args.full))
    return 0
