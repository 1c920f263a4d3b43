"""``clive exec -- COMMAND``: one shell command in clive's terminal, and what clive saw."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from clive.terminal import Terminal, TerminalError


def exec_command(args: argparse.Namespace) -> int:
    command = " ".join(args.shell_command)
    if args.cols < 10 or args.rows < 2:
        print("clive exec: --cols must be at least 10 and --rows at least 2", file=sys.stderr)
        return 2
    try:
        # A long output is named by path in what is printed: keep it after the terminal closes.
        outputs = Path(tempfile.gettempdir()) / "clive-outputs"
        with Terminal(
            cols=args.cols, rows=args.rows, user_rc=not args.no_user_rc, output_dir=outputs
        ) as term:
            result = term.run(command, timeout=args.timeout)
            snapshot = term.snapshot()
    except TerminalError as error:
        print(f"clive exec: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(
            json.dumps(
                {
                    "command": result.command,
                    "exit_code": result.exit_code,
                    "duration": round(result.duration, 4),
                    "timed_out": result.timed_out,
                    "decided_by": result.decided_by.value,
                    "output": result.output,
                    "output_bytes": result.output_bytes,
                    "screen": snapshot.lines if args.screen else None,
                    "cwd": snapshot.cwd,
                }
            )
        )
    else:
        sys.stdout.write(result.output)
        if args.screen:
            width = snapshot.cols
            print("-" * width + "\n" + snapshot.text() + "\n" + "-" * width)
        status = "timed out" if result.timed_out else f"exit {result.exit_code}"
        print(f"[clive] {status} after {result.duration:.2f}s", file=sys.stderr)
    if result.timed_out:
        return 124
    return result.exit_code if result.exit_code is not None else 1
