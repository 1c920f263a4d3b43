"""tmux, the reference terminal, driven from outside as a harness would drive it."""

from __future__ import annotations

import os
import subprocess
import time
import uuid

PROMPT_DEADLINE = 30.0  # seconds tmux may take to draw its prompt on a loaded machine
COMMAND_DEADLINE = 900.0  # seconds any tmux command (a wait-for) may take


class TmuxReferenceError(RuntimeError):
    """The reference failed (tmux did not start, or never drew its prompt): not clive's fault."""


class TmuxReference:
    """A detached tmux server with one pane running bash, at a given size.

    Raises ``TmuxReferenceError`` when tmux fails, so that a bench reports the reference's
    failure as the reference's.
    """

    def __init__(self, cols: int, rows: int, cwd: str) -> None:
        self.socket = f"clive-bench-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TMUX")}
        env["TERM"] = "xterm-256color"
        # The pane does not inherit PS1 from the client: it is set on bash's command line.
        self._tmux(
            "-f", "/dev/null", "new-session", "-d", "-x", str(cols), "-y", str(rows), "-c", cwd,
            "PS1='$ ' HISTFILE= exec bash --norc --noprofile",
            ";", "set-option", "-g", "status", "off",
            env=env,
        )  # fmt: skip
        try:
            self.wait_for_prompt()
        except TmuxReferenceError:
            self.close()
            raise

    def _tmux(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = COMMAND_DEADLINE
    ) -> str:
        try:
            done = subprocess.run(
                ["tmux", "-L", self.socket, *args],
                capture_output=True, text=True, env=env, timeout=timeout,
            )  # fmt: skip
        except subprocess.TimeoutExpired as error:
            raise TmuxReferenceError(f"tmux {' '.join(args)}: no answer in {timeout:g}s") from error
        if done.returncode != 0:
            raise TmuxReferenceError(f"tmux {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def run(self, command: str) -> float:
        """Type ``command`` and Enter; seconds until it has finished (tmux wait-for).

        Returns once the next prompt is drawn (not timed), so that the screen captured
        next is complete: wait-for signals before bash prints its prompt, and before tmux
        may have drawn the end of the output."""
        channel = f"done-{uuid.uuid4().hex[:8]}"
        started = time.perf_counter()
        self._tmux(
            "send-keys", "-t", "0", "-l", f"{command}; tmux -L {self.socket} wait-for -S {channel}"
        )
        self._tmux("send-keys", "-t", "0", "Enter")
        self._tmux("wait-for", channel)
        seconds = time.perf_counter() - started
        self.wait_for_prompt()
        return seconds

    def wait_for_prompt(self, timeout: float = PROMPT_DEADLINE) -> None:
        """Return once the cursor stands after a fresh prompt ("$ "); the prompt comes after
        everything the last command printed, so the screen is then complete."""
        deadline = time.monotonic() + timeout
        while True:
            # The cursor and the screen in one command, at one moment.
            cursor, *rows = self._tmux(
                "display-message", "-p", "-t", "0", "#{cursor_x} #{cursor_y}", ";",
                "capture-pane", "-p", "-t", "0",
            ).split("\n")[:-1]  # fmt: skip
            x, y = (int(n) for n in cursor.split())
            if x == 2 and y < len(rows) and rows[y].rstrip() == "$":
                return
            if time.monotonic() > deadline:
                raise TmuxReferenceError(
                    f"tmux drew no prompt within {timeout:g}s; its screen:\n"
                    + "\n".join(rows).rstrip()
                )
            time.sleep(0.005)

    def capture(self) -> list[str]:
        return self._tmux("capture-pane", "-p", "-t", "0").split("\n")[:-1]

    def capture_text(self) -> str:
        return "\n".join(self.capture())

    def server_cpu_seconds(self) -> float:
        """CPU time the tmux server has used so far (user + system)."""
        pid = int(self._tmux("display-message", "-p", "#{pid}").strip())
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)
