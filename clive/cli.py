"""The ``clive`` command: ``clive [OPTIONS] "task"`` runs a task; the rest are subcommands."""

from __future__ import annotations

import argparse
import difflib
import importlib
import re
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from clive import __version__

DEFAULT_SIZE = (120, 40)  # the shell's columns and rows, headless or without a view to fit
MIN_FOLLOWED_SIZE = (80, 24)  # a shell fitted to a small view is never smaller: it scrolls

_USAGE = """\
clive [OPTIONS] "TASK"
       clive COMMAND [ARGS]   (clive COMMAND --help for each)"""

_DESCRIPTION = """\
clive: a language model at work in a real terminal, every session recorded.

Runs TASK in a real shell (bash in a pseudo-terminal, in the current directory):
the model observes the screen, types, waits, and finishes with a summary, while
you watch the shell and the agent side by side (keys: p pause/resume, t take the
terminal, ctrl+] give it back, s tell the agent, q quit, ? help). Every event is
written to a session directory as it happens (./sessions by default)."""

_EPILOG = """\
commands:
  run TASK.md       a task with a metric: the model changes files, clive
                    measures each change in a sandbox, keeps the best, logs
                    results.tsv
  sessions          list the recorded sessions
  show SESSION      print a session as a transcript of its steps
  replay SESSION    play a session back (--print --at SECONDS: the screen then)
  export SESSION    write the recording (--format cast) or a report
                    (--format md)
  resume SESSION    continue an interrupted or paused session
  verify SESSION    measure a `clive run` session's kept tree again and compare
  demo              run a bundled scripted task: the whole product, no API key
  exec -- COMMAND   run one shell command in clive's terminal, say what it saw
  attach [SESSION]  watch a running session again, from any terminal (default:
                    the latest running one); a finished one is replayed
  web [SESSION]     the same view in a browser (127.0.0.1, a token in the URL)

SESSION is a session directory, its name, a unique part of its name, or "last".
Options may also come before a command (clive --headless run task.md).

models:
  --model claude-sonnet-4-5   Anthropic (the default): ANTHROPIC_API_KEY set
  --model openai:NAME --base-url http://localhost:8000/v1
                              any OpenAI-compatible server (vLLM, Ollama,
                              llama.cpp, LM Studio, OpenAI); OPENAI_API_KEY is
                              sent when set
  --model script:PATH         a JSONL script, one model turn a line (README.md):
                              {"tool": "type", "input": {"text": "ls"}}

settings: flags win over CLIVE_* environment variables (CLIVE_MODEL,
  CLIVE_MAX_COST...), which win over ./clive.toml, which wins over
  ~/.config/clive/config.toml. Prices per model ([prices."NAME"] input/output
  per million tokens) and the risky-command rules ([risky] name = "regex") are
  set in those files.

exit status: 0 finished, 1 clive failed, 2 bad usage, 3 a budget ran out,
  4 too many invalid tool calls, 5 the model failed, 6 the shell exited,
  7 paused (the model stayed unavailable: clive resume SESSION), 130 quit.

examples:
  clive demo
  clive --model script:turns.jsonl --max-steps 20 "run the tests"
  clive show last
  clive replay last --at 30 --print"""

_REPLAY_KEYS = """\
keys:
  space              play or pause
  + / -              faster or slower: 0.5x, 1x, 2x, 4x, 8x, 16x
  left / right       back or forward 5 seconds
  shift+left/right   back or forward a minute
  home / end         the start or the end
  n / p              the next or previous agent step
  up / down          move the highlight in the timeline
  enter (or click)   jump to the highlighted step
  ?                  these keys
  q                  quit"""

_COMMANDS = (
    "run", "sessions", "show", "replay", "export", "resume", "verify", "demo", "exec",
    "attach", "web",
)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command, before, after = _find_command(argv)
    if command is not None:
        parser = _command_parser(command)
        # Options may come before the command, as in git; there, those the command has no
        # use for (--model before `sessions`) are passed over.
        args, unknown = parser.parse_known_args([*before, *after])
        stray = [word for word in unknown if word in after]
        if stray:
            parser.error(f"unrecognized arguments: {' '.join(stray)}")
    else:
        parser = _task_parser()
        args, unknown = parser.parse_known_args(argv)
        if unknown:
            parser.error(_unrecognized(args.task, unknown))
        if args.task is None:
            parser.print_help()
            return 2
    if hasattr(args, "sessions_dir"):
        # Settings from config files and the environment fill in what flags left out.
        from clive.config import Config, ConfigError, load_config

        flags = {name: getattr(args, name, None) for name in Config.model_fields}
        try:
            args.config = load_config(Path(getattr(args, "cwd", ".")).resolve(), flags)
        except ConfigError as error:
            print(f"clive: {error}", file=sys.stderr)
            return 2
        args.sessions_dir = str(args.config.sessions_dir)
    args.argv = argv  # as given: --detach runs it again in the background
    if getattr(args, "cols", 0) is None or getattr(args, "rows", 0) is None:
        # Neither given: the live view fits the shell to its room; else the size is fixed.
        args.follow_size = args.cols is None and args.rows is None
        args.cols = args.cols or DEFAULT_SIZE[0]
        args.rows = args.rows or DEFAULT_SIZE[1]
    module, _, function = args.handler.partition(":")
    return getattr(importlib.import_module(module), function)(args)


def _find_command(argv: list[str]) -> tuple[str | None, list[str], list[str]]:
    """(the subcommand, the words before it, the words after it), or (None, argv, [])
    when the first word that is not an option (nor an option's value) names none."""
    takes_value = {
        option
        for action in _task_parser()._actions
        if action.nargs != 0
        for option in action.option_strings
    }
    index = 0
    while index < len(argv):
        word = argv[index]
        if word == "--":
            break
        if word.startswith("-"):
            index += 2 if word in takes_value else 1
            continue
        if word in _COMMANDS:
            return word, argv[:index], argv[index + 1 :]
        break
    return None, argv, []


def _unrecognized(task: str | None, unknown: list[str]) -> str:
    """What to say about words the task's command line has no place for."""
    words = [w for w in unknown if not w.startswith("-")]
    if task is not None and words and len(words) == len(unknown):
        close = difflib.get_close_matches(task, _COMMANDS, n=1, cutoff=0.6)
        if close and len(task) > 1:
            return f"unknown command {task!r}: did you mean `clive {close[0]}`?"
        quoted = " ".join([task, *words])
        return f'the task is several words: put it in quotes: clive "{quoted}"'
    return f"unrecognized arguments: {' '.join(unknown)}"


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``2h``, ``1h30m`` as seconds."""
    match = re.fullmatch(
        r"\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*", text
    )
    if not text.strip() or match is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration (examples: 90, 15m, 2h, 1h30m)"
        )
    hours, minutes, seconds = (float(group or 0) for group in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a duration must be more than zero")
    return total


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be more than zero")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text!r}")
    return value


def _whole_number_in(low: int, high: int, what: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} {what}: from {low} to {high}, please")
        return value

    return parse


_columns = _whole_number_in(20, 1000, "columns")
_rows = _whole_number_in(5, 500, "rows")
_thinking_tokens = _whole_number_in(1024, 1_000_000, "tokens of thinking")
_port = _whole_number_in(0, 65535, "as a port")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be at least 1")
    return value


def _sessions_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sessions-dir",
        metavar="DIR",
        default=None,
        help="where sessions are written and read (default ./sessions, or $CLIVE_SESSIONS_DIR)",
    )


def _session_options(
    parser: argparse.ArgumentParser, *, with_model: bool = True, with_size: bool = True
) -> None:
    """The options of running a session. Those left out come from the config files and the
    environment (see clive/config.py), so their defaults are None here."""
    if with_model:
        parser.add_argument(
            "--model",
            default=None,
            help="claude-... (Anthropic, the default: claude-sonnet-4-5), openai:NAME with "
            "--base-url, or script:PATH",
        )
        parser.add_argument(
            "--base-url",
            default=None,
            metavar="URL",
            help="the API's address: an OpenAI-compatible server "
            "(http://localhost:8000/v1) or another Messages API endpoint",
        )
        parser.add_argument(
            "--thinking",
            type=_thinking_tokens,
            default=None,
            metavar="TOKENS",
            help="switch on extended thinking with this budget (at least 1024)",
        )
        parser.add_argument(
            "--max-output-tokens",
            type=_positive_int,
            default=None,
            metavar="N",
            help="tokens one model turn may write (default 8192; with an OpenAI-compatible "
            "server that tells its context window, at most a quarter of it)",
        )
    _sessions_dir_option(parser)
    parser.add_argument(
        "--headless",
        action="store_true",
        help="no UI: print a line per event (also when not in a terminal)",
    )
    parser.add_argument("--json", action="store_true", help="print the events as JSON lines")
    parser.add_argument(
        "--detach",
        action="store_true",
        help="run in the background, without a view, and print the session's directory: it "
        "goes on when this terminal closes",
    )
    parser.add_argument(
        "--approve",
        choices=("never", "risky", "always"),
        default=None,
        help="which commands need a person's approval (default risky: rm -rf on broad "
        "paths, mkfs, dd to devices, force pushes, curl | sh, sudo...; see clive/config.py). "
        "Headless, a command that needs approval is refused and the model is told why",
    )
    parser.add_argument(
        "--prompts",
        default=None,
        metavar="DIR",
        help="a directory of prompt files overriding clive's (system.md, tools.md, "
        "compact.md, context.md)",
    )
    budgets = parser.add_argument_group("budgets (a warning at 80%, a clean stop at 100%)")
    budgets.add_argument(
        "--max-steps",
        type=_positive_int,
        default=None,
        metavar="N",
        help="stop after N model turns (default 500)",
    )
    budgets.add_argument(
        "--max-time",
        type=parse_duration,
        default=None,
        metavar="DURATION",
        help="stop after this long: 90, 15m, 2h (default: no limit)",
    )
    budgets.add_argument(
        "--max-cost",
        type=_positive_float,
        default=None,
        metavar="DOLLARS",
        help="stop when the model has cost this much (default: no limit)",
    )
    budgets.add_argument(
        "--max-tokens",
        type=_positive_int,
        default=None,
        metavar="N",
        help="stop after N tokens of every kind, cache reads included (default: no limit)",
    )
    budgets.add_argument(
        "--max-invalid-calls",
        type=_positive_int,
        default=None,
        metavar="N",
        help="stop after N invalid tool calls in a row (default 3)",
    )
    budgets.add_argument(
        "--context-limit",
        type=_positive_int,
        default=None,
        metavar="TOKENS",
        help="compact the conversation before it reaches this size "
        "(default: the context window of Anthropic models; with any model, a server's "
        "answer that the conversation is too long also compacts it)",
    )
    sandbox = parser.add_argument_group("sandbox")
    sandbox.add_argument(
        "--sandbox",
        choices=("auto", "on", "off"),
        default=None,
        help="run the model's shell in a bubblewrap sandbox: the system read-only, only the "
        "working directory writable, a private /tmp and an empty $HOME, the sessions out of "
        "sight, no process outliving it (default auto: on where bubblewrap works, with a "
        "line saying so where it does not; on: fail if it cannot)",
    )
    sandbox.add_argument(
        "--network",
        choices=("on", "off"),
        default=None,
        help="whether the sandboxed shell may use the network (default on: builds need packages)",
    )
    terminal = parser.add_argument_group("terminal")
    if with_size:  # a resumed session keeps its size: its recording has one
        terminal.add_argument(
            "--cols",
            type=_columns,
            default=None,
            help="a fixed terminal width, 20 to 1000 (default: the live view fits the shell to "
            f"its room, at least {MIN_FOLLOWED_SIZE[0]}x{MIN_FOLLOWED_SIZE[1]}; headless "
            f"{DEFAULT_SIZE[0]})",
        )
        terminal.add_argument(
            "--rows",
            type=_rows,
            default=None,
            help=f"a fixed terminal height, 5 to 500 (default: as for --cols; headless "
            f"{DEFAULT_SIZE[1]})",
        )
    terminal.add_argument("--no-user-rc", action="store_true", help="do not source ~/.bashrc")


def _task_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clive",
        usage=_USAGE,
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"clive {__version__}")
    parser.add_argument("task", nargs="?", metavar="TASK", help="what the agent should do")
    parser.add_argument(
        "--cwd", default=".", metavar="DIR", help="the shell's working directory (default: here)"
    )
    _session_options(parser)
    parser.set_defaults(handler="clive.commands.run:run")
    return parser


def _command_parser(name: str) -> argparse.ArgumentParser:
    prog = f"clive {name}"
    formatter = argparse.RawDescriptionHelpFormatter
    if name == "sessions":
        parser = argparse.ArgumentParser(
            prog=prog,
            description="List the recorded sessions: "
            "when, task, model, outcome, duration, steps, cost.",
        )
        _sessions_dir_option(parser)
        parser.add_argument("--json", action="store_true", help="one session.json a line")
        parser.set_defaults(handler="clive.commands.sessions:sessions")
    elif name == "show":
        parser = argparse.ArgumentParser(
            prog=prog,
            description="Print a session as a "
            "transcript of its steps: what the model saw, said and did.",
        )
        parser.add_argument("session", metavar="SESSION", help='a session (or "last")')
        parser.add_argument("--full", action="store_true", help="include every screen seen")
        parser.add_argument(
            "--diff",
            type=int,
            default=None,
            metavar="N",
            help="print experiment N's change (clive run) against the best it was tried on",
        )
        _sessions_dir_option(parser)
        parser.set_defaults(handler="clive.commands.show:show")
    elif name == "replay":
        parser = argparse.ArgumentParser(
            prog=prog,
            description="Play a session back: its terminal exactly as it was at each moment,\n"
            "beside the agent's timeline of steps. With --print, print the screen at one\n"
            "moment instead.",
            epilog=_REPLAY_KEYS,
            formatter_class=formatter,
        )
        parser.add_argument("session", metavar="SESSION", help='a session (or "last")')
        parser.add_argument(
            "--at",
            type=float,
            default=None,
            metavar="SECONDS",
            help="seconds from the start, negative from the end: where the replay starts "
            "(default: the start), or the moment --print prints (default: the end)",
        )
        parser.add_argument(
            "--print", action="store_true", help="print the screen at --at and exit (no UI)"
        )
        parser.add_argument(
            "--measurement",
            action="store_true",
            help="with --print: the harness's measurement terminal (clive run) instead of the "
            "model's",
        )
        _sessions_dir_option(parser)
        parser.set_defaults(handler="clive.commands.replay:replay")
    elif name == "export":
        parser = argparse.ArgumentParser(
            prog=prog,
            description="Write a session's terminal "
            "recording (asciicast v2: plays in asciinema) or a Markdown report.",
        )
        parser.add_argument("session", metavar="SESSION", help='a session (or "last")')
        parser.add_argument("--format", choices=("cast", "md"), required=True)
        parser.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
        _sessions_dir_option(parser)
        parser.set_defaults(handler="clive.commands.export:export")
    elif name == "demo":
        parser = argparse.ArgumentParser(
            prog=prog,
            description="Run a bundled scripted task "
            "in a real shell, in a fresh temporary directory, recorded like any session. "
            "No language model and no API key are involved.",
        )
        _session_options(parser, with_model=False)
        parser.set_defaults(handler="clive.commands.demo:demo")
    elif name == "run":
        parser = argparse.ArgumentParser(
            prog=prog,
            description="Run a task with a metric (grounded experiments). TASK.md is "
            "Markdown for the model with YAML front matter for the harness: the metric's "
            "command, a pattern whose first group is the number, minimize or maximize, the "
            "seconds a run may take, repeats, the paths and variables the metric needs, the "
            "files the model must not change, and the limits on experiments and failures in a "
            "row. The task's directory must be in a git repository with nothing uncommitted: "
            "that is the baseline. The model's shell runs in a sandbox; at each `experiment` "
            "call clive copies the model's files into its own repository (in the session), "
            "rejects a change to a protected file, and runs the metric on that copy in a "
            "sandbox and a terminal of its own; it keeps the tree when the number beats the "
            "best, and otherwise writes the best back into the model's files. Every experiment "
            "is a row of the session's results.tsv; clive verify SESSION measures the kept "
            "tree again.",
            epilog="example:\n  cp -r examples/tiny-train /tmp/t && cd /tmp/t\n"
            "  git init -q && git add -A && git commit -qm start\n"
            "  clive run task.md --model script:script.jsonl   (a script plays the model)",
            formatter_class=formatter,
        )
        parser.add_argument("task_file", metavar="TASK.md", help="the task file")
        fleet = parser.add_argument_group("many workers")
        fleet.add_argument(
            "--workers",
            type=_whole_number_in(1, 64, "workers"),
            default=1,
            metavar="N",
            help="N agents at once, each in its own sandbox and working tree, sharing one "
            "table and one best (headless: a line per event, each with its worker)",
        )
        fleet.add_argument(
            "--no-share",
            action="store_true",
            help="with --workers: each worker keeps to its own best",
        )
        fleet.add_argument(
            "--gpus",
            default=None,
            metavar="IDS",
            help="with --workers: devices, e.g. 0,1,2,3: each worker's measurements see one "
            "(CUDA_VISIBLE_DEVICES) and run at once; without, measurements take turns",
        )
        fleet.add_argument(
            "--ray",
            nargs="?",
            const="local",
            default=None,
            metavar="ADDRESS",
            help="with --workers: each worker a Ray actor on the cluster at ADDRESS (e.g. "
            "10.0.0.1:6379, or auto), its session written on its node and gathered here; "
            "without ADDRESS, the Ray of this machine (one `ray start` started, else one of "
            "the run's own) (pip install "
            "'clive-harness[ray]')",
        )
        fleet.add_argument(
            "--cpus-per-worker",
            type=_non_negative_float,
            default=1.0,
            metavar="N",
            help="with --ray: the CPUs Ray reserves for each worker (default 1)",
        )
        fleet.add_argument(
            "--gpus-per-worker",
            type=_non_negative_float,
            default=0.0,
            metavar="N",
            help="with --ray: the GPUs of each worker (Ray sets its CUDA_VISIBLE_DEVICES); "
            "with devices of their own, the workers' measurements run at once",
        )
        _session_options(parser)
        parser.set_defaults(handler="clive.commands.experiments:run_experiments")
    elif name == "verify":
        parser = argparse.ArgumentParser(
            prog=prog,
            description="Measure a `clive run` session's best tree (or experiment N) again, "
            "exactly as the session measured it (the task file as it was at the start, the "
            "harness's copy of the tree, a sandbox), and compare the number with the one "
            "recorded. Exit status 0 when they agree within the tolerance, 1 when not.",
        )
        parser.add_argument("session", metavar="SESSION", help='a session (or "last")')
        parser.add_argument(
            "--experiment", type=int, default=None, metavar="N", help="verify experiment N"
        )
        parser.add_argument(
            "--tolerance",
            type=float,
            default=None,
            metavar="X",
            help="the difference allowed (default: the spread of the repeats, recorded and "
            "new; 0 with a single run each)",
        )
        parser.add_argument(
            "--sandbox",
            choices=("on", "off"),
            default=None,
            help="measure in a sandbox or not (default: in one where bubblewrap works; a "
            "session that ran sandboxed is only verified in one)",
        )
        _sessions_dir_option(parser)
        parser.set_defaults(handler="clive.commands.verify:verify")
    elif name == "resume":
        parser = argparse.ArgumentParser(
            prog=prog,
            description="Continue an interrupted or paused session in the same session "
            "directory: a fresh shell in the directory the session was last in, and a fresh "
            "context from the task, the session's notes and where it stopped. Budgets count "
            "the whole session and are the session's own unless a flag changes one (give a "
            "larger --max-steps to go on after a step limit). So are the model, the server's "
            "address, the output limit, thinking, the prompts, the approval mode and the "
            "sandbox: a flag given here wins, and is kept for the next resume.",
            formatter_class=formatter,
        )
        parser.add_argument("session", metavar="SESSION", help='a session (or "last")')
        _session_options(parser, with_size=False)
        parser.set_defaults(handler="clive.commands.resume:resume")
    elif name == "attach":
        parser = argparse.ArgumentParser(
            prog=prog,
            description="Watch a running session again, from any terminal: its shell and the "
            "agent's timeline, with the keys of the live view (p pause, t take the terminal, s "
            "tell the agent, q quit the session). d detaches: the session goes on. Several "
            "views may watch one session at once; one at a time may take the terminal. A "
            "session that has ended is replayed.",
            formatter_class=formatter,
        )
        parser.add_argument(
            "session",
            metavar="SESSION",
            nargs="?",
            default=None,
            help="a session (default: the latest running one)",
        )
        parser.add_argument(
            "--name", default=None, help="how the other views name this one (default: user@tty)"
        )
        _sessions_dir_option(parser)
        parser.set_defaults(handler="clive.commands.attach:attach")
    elif name == "web":
        parser = argparse.ArgumentParser(
            prog=prog,
            description="Serve the view of a session in a browser: the same app as in a "
            "terminal (each browser tab is one more view, as `clive attach`); a session "
            "that has ended is replayed. It listens on 127.0.0.1 unless --host says "
            "otherwise, and every URL needs the token it prints.",
            formatter_class=formatter,
        )
        parser.add_argument(
            "session",
            metavar="SESSION",
            nargs="?",
            default=None,
            help="a session (default: the latest running one, else the latest)",
        )
        parser.add_argument("--port", type=_port, default=8420, help="default 8420 (0: any free)")
        parser.add_argument(
            "--host",
            default="127.0.0.1",
            help="the address to listen on (default 127.0.0.1: this machine only)",
        )
        _sessions_dir_option(parser)
        parser.set_defaults(handler="clive.commands.web:web")
    else:
        parser = argparse.ArgumentParser(
            prog=prog,
            description="Run a shell command in clive's terminal (bash in a PTY with shell "
            "integration), wait until it ends, and print its output. The exit status is the "
            "command's own.",
            epilog="examples:\n  clive exec -- make test\n  clive exec --screen -- 'ls "
            "--color=always /'\n  clive exec --json --timeout 60 -- './train.py --steps 100'",
            formatter_class=formatter,
        )
        parser.add_argument("shell_command", nargs="+", metavar="COMMAND", help="the command line")
        parser.add_argument("--timeout", type=float, default=None, help="seconds before C-c")
        parser.add_argument(
            "--cols", type=_columns, default=120, help="terminal width, 20 to 1000 (default 120)"
        )
        parser.add_argument(
            "--rows", type=_rows, default=40, help="terminal height, 5 to 500 (default 40)"
        )
        parser.add_argument("--screen", action="store_true", help="also print the final screen")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.add_argument("--no-user-rc", action="store_true", help="do not source ~/.bashrc")
        parser.set_defaults(handler="clive.commands.exec:exec_command")
    if parser.formatter_class is formatter and parser.description:
        # Raw text keeps the examples' lines; the description is still a paragraph to wrap.
        parser.description = "\n".join(
            textwrap.fill(paragraph, 79) for paragraph in parser.description.split("\n\n")
        )
    return parser


if __name__ == "__main__":
    sys.exit(main())
