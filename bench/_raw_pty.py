"""The floor under ``Terminal.run``: clive's shell in a bare PTY, its markers read by hand."""

from __future__ import annotations

import os
import select
import time

import pexpect

from clive.terminal.shell import bash_command, child_environment

_DEADLINE = 30.0  # seconds a command of the bench may take on a loaded machine


class RawShell:
    """bash with clive's rc (OSC 133 markers) in a PTY, and nothing else: no reader thread,
    no transcript, no screen. ``run`` writes the command and reads until the next prompt."""

    def __init__(self, cols: int, rows: int, cwd: str) -> None:
        argv, extra = bash_command(user_rc=False)
        self._child = pexpect.spawn(
            argv[0], argv[1:], env=child_environment(extra), cwd=cwd,
            dimensions=(rows, cols), encoding=None, echo=True,
        )  # fmt: skip
        self._fd = self._child.child_fd
        self._until_prompt()

    def run(self, command: str) -> float:
        """Type ``command`` and Enter; seconds until the shell has drawn its next prompt."""
        started = time.perf_counter()
        os.write(self._fd, command.encode() + b"\r")
        self._until_prompt()
        return time.perf_counter() - started

    def _until_prompt(self) -> None:
        """Read until a command's end (133;D) and the end of the prompt after it (133;B)."""
        seen = b""
        deadline = time.monotonic() + _DEADLINE
        while True:
            end = seen.find(b"\x1b]133;D")
            if end >= 0 and seen.find(b"\x1b]133;B", end) >= 0:
                return
            if not select.select([self._fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise TimeoutError(f"no prompt from the bare shell within {_DEADLINE:g}s")
            # The markers are near the end: keep a tail, not the whole output of a flood.
            seen = seen[-4096:] + os.read(self._fd, 1 << 16)

    def close(self) -> None:
        self._child.close(force=True)
