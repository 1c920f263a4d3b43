"""``clive demo``: a bundled scripted task in a real shell, recorded like any session."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from clive.commands.run import run
from clive.demo import DEMO_SCRIPT, DEMO_TASK
from clive.models import ScriptModel


def demo(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="clive-demo-"))
    args.cwd = str(workdir)
    print(
        f"clive demo: a scripted model (no language model, no API key) works in {workdir}",
        file=sys.stderr,
    )
    try:
        status = run(args, task=DEMO_TASK, model=ScriptModel(DEMO_SCRIPT))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)  # the session keeps everything it showed
    print(
        f"clive demo: {workdir} is removed; next: clive sessions; clive show last; "
        "clive replay last --at 5 --print",
        file=sys.stderr,
    )
    return status
