"""``clive show SESSION``: a session as a readable transcript of its steps."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from clive.experiments.harness_repo import HarnessRepo, experiment_ref
from clive.experiments.runner import HARNESS_DIR
from clive.session import Session, SessionNotFound, find_session
from clive.session.report import markdown_report


def show(args: argparse.Namespace) -> int:
    try:
        session = find_session(args.session, Path(args.sessions_dir))
    except SessionNotFound as error:
        print(f"clive show: {error}", file=sys.stderr)
        return 2
    if args.diff is not None:
        return _diff(session, args.diff)
    sys.stdout.write(markdown_report(session, full_observations=args.full))
    return 0


def _diff(session: Session, number: int) -> int:
    """Experiment ``number``'s change against the best it was tried on (its parent)."""
    path = session.directory / HARNESS_DIR / "repo.git"
    if not path.is_dir():
        print(f"clive show: {session.name} has no experiments (not a `clive run` session)",
              file=sys.stderr)  # fmt: skip
        return 2
    repo = HarnessRepo(path)
    commit = repo.ref(experiment_ref(number))
    if commit is None:
        print(f"clive show: {session.name} has no experiment {number}", file=sys.stderr)
        return 2
    if number == 0:
        print("clive show: experiment 0 is the baseline: it has no change", file=sys.stderr)
        return 2
    sys.stdout.write(repo.diff(f"{commit}^", commit))
    return 0
