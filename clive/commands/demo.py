"""``clive demo``: a bundled scripted task in a real shell, recorded like any session."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from clive.commands._detach import DETACHED
from clive.commands.run import run, use_ui
from clive.demo import DEMO_SCRIPT, DEMO_TASK
from clive.models import ScriptModel

DEMO_DIR = "CLIVE_DEMO_DIR"  # the demo's directory, for the session's own process


def demo(args: argparse.Namespace) -> int:
    inherited = os.environ.get(DEMO_DIR)
    workdir = Path(inherited) if inherited else Path(tempfile.mkdtemp(prefix="clive-demo-"))
    os.environ[DEMO_DIR] = str(workdir)  # the session's own process works there too
    args.cwd = str(workdir)
    # The session runs in a process of its own when it is watched or detached: that process
    # removes the directory when the session ends.
    handed_on = not os.environ.get(DETACHED) and (getattr(args, "detach", False) or use_ui(args))
    if not inherited:
        print(
            f"clive demo: a scripted model (no language model, no API key) works in {workdir}",
            file=sys.stderr,
        )
    try:
        status = run(args, task=DEMO_TASK, model=ScriptModel(DEMO_SCRIPT))
    finally:
        if not handed_on:
            shutil.rmtree(workdir, ignore_errors=True)  # the session keeps all it showed
    if not inherited:
        gone = "is removed when the session ends" if handed_on else "is removed"
        print(
            f"clive demo: {workdir} {gone}; next: clive sessions; clive show last; "
            "clive replay last --at 5 --print",
            file=sys.stderr,
        )
    return status
