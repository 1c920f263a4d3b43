"""A real Ray cluster of two nodes on this machine, for the tests of ``--ray``: a head started
with ``ray start --head`` and a second node with ``ray start --address``, each with its own
processes. The second node carries the resource ``node_b``, by which its raylet is found to
stop it. Everything the cluster started is ended by its processes, never by ``ray stop``
(which would end every Ray on the machine)."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from polling import wait_until

from clive.terminal import _processes

RAY = Path(sys.executable).with_name("ray")
SECOND_NODE = "node_b"  # the second node's custom resource


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class RayCluster:
    """``address``: where ``clive run --ray`` finds it, with the environment ``env`` (its
    token)."""

    def __init__(self, head_cpus: int = 2, second_cpus: int = 1) -> None:
        # Short: Ray's sockets live under it, and a socket's path is at most 107 bytes.
        self.temp = Path(tempfile.mkdtemp(prefix="clive-ray-", dir="/tmp"))
        self.address = f"127.0.0.1:{_free_port()}"
        common = [
            "--disable-usage-stats",
            "--node-ip-address=127.0.0.1",
            "--object-store-memory=100000000",
        ]
        # Token authentication, as Ray does by default for a cluster of its own, with a token
        # of this cluster's (not ~/.ray/auth_token, which another Ray may have written).
        self.env = {
            **os.environ,
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(32),
        }
        env = self.env
        self._run(
            [str(RAY), "start", "--head", f"--port={self.address.split(':')[1]}",
             f"--num-cpus={head_cpus}", "--include-dashboard=false",
             f"--temp-dir={self.temp}", *common], env,
        )  # fmt: skip
        self._run(
            [str(RAY), "start", f"--address={self.address}", f"--num-cpus={second_cpus}",
             f'--resources={{"{SECOND_NODE}": 1}}', *common], env,
        )  # fmt: skip

    def _run(self, argv: list[str], env: dict[str, str]) -> None:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
        if done.returncode != 0:
            self.stop()
            raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")

    def processes(self) -> list[int]:
        """The cluster's processes: everything whose command line names its directory, and
        their descendants (the workers)."""
        named = [int(p) for p in os.listdir("/proc") if p.isdigit()]
        ours = {pid for pid in named if str(self.temp) in _cmdline(pid)}
        return sorted(ours.union(*(_processes.descendants(pid) for pid in ours)))

    def raylet_of(self, pid: int) -> int | None:
        """The raylet whose worker ``pid`` is (its parent), if it is the second node's."""
        parent = _processes.parent(pid) or 0
        line = _cmdline(parent)
        return parent if "raylet" in line and SECOND_NODE in line else None

    def stop_second_node(self, raylet: int) -> None:
        """The second node stops at once, as a machine lost would: its raylet killed."""
        os.kill(raylet, signal.SIGKILL)

    def stop(self) -> None:
        pids = self.processes()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        wait_until(
            lambda: not any(map(_processes.is_alive, pids)), "the Ray cluster's processes ended", 60
        )
        shutil.rmtree(self.temp, ignore_errors=True)
