"""The ``clive`` command."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from clive import __version__
from clive.terminal import Terminal, TerminalError

_DESCRIPTION = """\
clive: a harness in which a language model inhabits a real terminal.

The agent loop (clive "task") is not built yet. What works today is the terminal
core: `clive exec` runs a command in clive's own shell (bash in a pseudo-terminal
with shell integration) and reports what clive saw: the exit code, the complete
output, and the screen.
"""

_EXEC_EPILOG = """\
examples:
  clive exec -- make test
  clive exec --screen -- 'ls --color=always /'
  clive exec --json --timeout 60 -- './train.py --steps 100'
"""


_COMMANDS = ("exec",)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and not argv[0].startswith("-") and argv[0] not in _COMMANDS:
        print(
            f"clive: cannot run the task {argv[0]!r} yet: the agent loop is not built. "
            "`clive exec -- COMMAND` runs a command in clive's terminal; see `clive --help`.",
            file=sys.stderr,
        )
        return 2
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return args.handler(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clive", description=_DESCRIPTION, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"clive {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser(
        "exec",
        help="run a shell command in clive's terminal and report what clive saw",
        description="Run a shell command in clive's terminal (bash in a PTY with shell "
        "integration), wait until it ends, and print its output. The exit status is the "
        "command's own.",
        epilog=_EXEC_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("shell_command", nargs="+", metavar="COMMAND", help="the command line")
    run.add_argument("--timeout", type=float, default=None, help="seconds before C-c")
    run.add_argument("--cols", type=int, default=120, help="terminal width (default 120)")
    run.add_argument("--rows", type=int, default=40, help="terminal height (default 40)")
    run.add_argument("--screen", action="store_true", help="also print the final screen")
    run.add_argument("--json", action="store_true", help="print the result as JSON")
    run.add_argument("--no-user-rc", action="store_true", help="do not source ~/.bashrc")
    run.set_defaults(handler=_exec)
    return parser


def _exec(args: argparse.Namespace) -> int:
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


if __name__ == "__main__":
    sys.exit(main())
