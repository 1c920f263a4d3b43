"""A session in a process of its own, which goes on when the terminal that started it closes
(or the ssh connection drops): ``--detach`` starts one without a view, ``clive "task"`` starts
one and watches it (``commands/_view.py``).

The command runs again as a child in a new session (no controlling terminal: no SIGHUP), with
``--headless`` and ``CLIVE_DETACHED`` set (and ``CLIVE_VIEWED`` when a view is on its way: it
waits for the view's room before its shell starts, and asks the views to approve risky
commands). The child says which session directory it made on a pipe (``CLIVE_ANNOUNCE_FD``) as
soon as the directory exists and its views' socket listens; the parent prints it and exits, or
watches it. If the child ends before saying it, the parent prints what the child printed and
fails. What the child prints goes to ``detached.log`` beside the session directories.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

DETACHED = "CLIVE_DETACHED"  # set in the child: it must not detach again
VIEWED = "CLIVE_VIEWED"  # set in the child when the parent watches it
ANNOUNCE_FD = "CLIVE_ANNOUNCE_FD"  # the pipe the child writes its session directory to
LOG_NAME = "detached.log"
_ANNOUNCE_TIMEOUT = 120.0  # seconds for the child to make its session: a sandbox, a baseline


def detach(argv: list[str], sessions_dir: Path) -> int:
    """Run ``clive argv`` (without ``--detach``) in the background; print its session."""
    started = start_in_background(argv, sessions_dir)
    if isinstance(started, int):
        return started
    directory, child = started
    print(directory)
    print(
        f"clive: running in the background (pid {child.pid}): watch it with "
        f"clive attach {directory}; stop it with kill {child.pid}",
        file=sys.stderr,
    )
    return 0


def start_in_background(
    argv: list[str], sessions_dir: Path, *, viewed: bool = False
) -> tuple[str, subprocess.Popen] | int:
    """Start ``clive argv`` (without ``--detach``) as a child of its own; its session
    directory once it exists, or an exit status after saying why there is none."""
    sessions_dir.mkdir(parents=True, exist_ok=True)
    log_path = sessions_dir / LOG_NAME
    start = log_path.stat().st_size if log_path.exists() else 0  # the child's lines follow
    read_end, write_end = os.pipe()
    env = {**os.environ, DETACHED: "1", ANNOUNCE_FD: str(write_end)}
    if viewed:
        env[VIEWED] = "1"
    command = [sys.executable, "-m", "clive", "--headless", *_without_detach(argv)]
    with open(log_path, "ab") as log:
        try:
            child = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                pass_fds=(write_end,),
                start_new_session=True,
            )
        except OSError as error:
            os.close(read_end)
            os.close(write_end)
            print(f"clive: cannot start the session in the background: {error}", file=sys.stderr)
            return 1
    os.close(write_end)  # the child holds the only writer: end of file when it is gone
    try:
        directory = _announced(read_end, _ANNOUNCE_TIMEOUT)
    except KeyboardInterrupt:
        # Nobody will watch it, nor approve its commands: it ends as quit.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGTERM)
        print("clive: interrupted before the session started: it is stopped", file=sys.stderr)
        return 130
    if directory is None:
        print(
            f"clive: the session has not started after {_ANNOUNCE_TIMEOUT:g}s; it may still "
            f"(pid {child.pid}): what it printed is in {log_path}",
            file=sys.stderr,
        )
        return 1
    if not directory:
        try:
            status = f"exit status {child.wait(timeout=_ANNOUNCE_TIMEOUT)}"
        except subprocess.TimeoutExpired:
            status = f"pid {child.pid}"
        print(
            f"clive: the session did not start ({status}); what it printed is in {log_path}:",
            file=sys.stderr,
        )
        print(_tail(log_path, start), file=sys.stderr)
        return 1
    return directory, child


def announcer():
    """In a detached child: a hook ``announce(writer)`` that says the session's directory to
    the parent once; None elsewhere."""
    fd = os.environ.get(ANNOUNCE_FD)
    if fd is None or not os.environ.get(DETACHED):
        return None
    os.environ.pop(ANNOUNCE_FD)  # a session started from this one does not inherit it

    def announce(writer) -> None:
        try:
            os.write(int(fd), f"{writer.directory}\n".encode())
            os.close(int(fd))
        except (OSError, ValueError):
            pass  # the parent is gone: nobody to tell

    return announce


def _announced(fd: int, timeout: float) -> str | None:
    """The line the child writes on ``fd``: its session directory, "" if it closed the pipe
    without one (it ended), None if nothing came within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    data = b""
    try:
        while b"\n" not in data:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            piece = os.read(fd, 4096)
            if not piece:
                break
            data += piece
    finally:
        os.close(fd)
    return data.decode("utf-8", "replace").strip()


def _without_detach(argv: list[str]) -> list[str]:
    """``argv`` without its ``--detach`` option (a word after ``--`` is not an option)."""
    if "--detach" not in argv:
        return list(argv)
    end = argv.index("--") if "--" in argv else len(argv)
    if "--detach" not in argv[:end]:
        return list(argv)
    at = argv.index("--detach")
    return argv[:at] + argv[at + 1 :]


def _tail(path: Path, start: int, lines: int = 20) -> str:
    """The last ``lines`` of what was written to ``path`` from offset ``start`` on (the log is
    shared by every session started in the background)."""
    try:
        with open(path, "rb") as log:
            log.seek(start)
            text = log.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
