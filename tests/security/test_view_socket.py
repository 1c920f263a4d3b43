"""A model that finds its session's view socket could approve its own risky commands, take the
terminal from the person, or quit. In its sandbox the socket is out of reach: the sessions
directory is hidden, and the harness's processes are in another PID namespace, so no
/proc/PID/cwd or /proc/PID/root leads back to it."""

from __future__ import annotations

import sys

import pytest

from clive.link.hub import Hub
from clive.link.wire import HubServer, socket_path
from clive.sandbox import choose, shell_sandbox
from clive.terminal import Terminal

ATTACK = r"""
import glob, json, os, socket
tried, reached = [], []
candidates = ["{relative}", "{absolute}"]
candidates += glob.glob("/proc/*/cwd/{relative}") + glob.glob("/proc/*/root{absolute}")
for path in candidates:
    tried.append(path)
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        s.sendall(b'{{"k": "hello", "name": "model"}}\n{{"k": "control", "action": "pause"}}\n')
        reached.append(path)
    except OSError:
        pass
print("REACHED", reached if reached else "nothing", "of", len(tried))
"""


@pytest.mark.skipif(not choose("auto").enabled, reason="bubblewrap is not usable here")
def test_the_model_s_sandboxed_shell_cannot_reach_the_view_socket(tmp_path):
    worktree = tmp_path / "work"
    session = worktree / "sessions" / "s"
    session.mkdir(parents=True)
    hub = Hub(model="m", cols=80, rows=24)
    server = HubServer(hub, session)
    (worktree / "attack.py").write_text(
        ATTACK.format(relative="sessions/s/view.sock", absolute=socket_path(session))
    )
    launcher = shell_sandbox(worktree, sessions=[worktree / "sessions"])
    terminal = Terminal(100, 30, cwd=worktree, user_rc=False, launcher=launcher)
    try:
        terminal.start()
        result = terminal.run(f"{sys.executable} -I attack.py", timeout=60)
        assert "REACHED nothing of" in result.output, result.output
        assert not hub.control.paused
    finally:
        terminal.close()
        server.close()
