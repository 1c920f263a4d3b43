"""``clive export SESSION --format cast|md``: the recording, or a Markdown report."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from clive.session import SessionNotFound, find_session
from clive.session.report import markdown_report


def export(args: argparse.Namespace) -> int:
    try:
        session = find_session(args.session, Path(args.sessions_dir))
    except SessionNotFound as error:
        print(f"clive export: {error}", file=sys.stderr)
        return 2
    output = Path(args.output) if args.output else None
    if args.format == "md":
        report = markdown_report(session, full_observations=True)
        if output is None:
            sys.stdout.write(report)
        else:
            output.write_text(report, encoding="utf-8")
    else:
        if not session.cast_path.exists():
            print(f"clive export: {session.name} has no terminal.cast", file=sys.stderr)
            return 1
        if output is None:
            with open(session.cast_path, "rb") as cast:
                shutil.copyfileobj(cast, sys.stdout.buffer)
        else:
            shutil.copyfile(session.cast_path, output)
    if output is not None:
        print(f"wrote {output}", file=sys.stderr)
    return 0
