"""tmux, the reference terminal, driven from outside as a harness would drive it."""

from __future__ import annotations

import os
import subprocess
import time
import uuid


class TmuxReference:
    """A detached tmux server with one pane running bash, at a given size."""

    def __init__(self, cols: int, rows: int, cwd: str) -> None:
        self.socket = f"clive-bench-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TMUX")}
        env.update({"PS1": "$ ", "HISTFILE": "", "TERM": "xterm-256color"})
        self._tmux(
            "-f", "/dev/null", "new-session", "-d", "-x", str(cols), "-y", str(rows), "-c", cwd,
            "bash --norc --noprofile", ";", "set-option", "-g", "status", "off",
            env=env,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while "$" not in self.capture_text() and time.monotonic() < deadline:
            time.sleep(0.02)

    def _tmux(self, *args: str, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, env=env
        )
        if done.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def run(self, command: str) -> float:
        """Type ``command`` and Enter; seconds until it has finished (tmux wait-for)."""
        channel = f"done-{uuid.uuid4().hex[:8]}"
        started = time.perf_counter()
        self._tmux(
            "send-keys", "-t", "0", "-l", f"{command}; tmux -L {self.socket} wait-for -S {channel}"
        )
        self._tmux("send-keys", "-t", "0", "Enter")
        self._tmux("wait-for", channel)
        return time.perf_counter() - started

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
