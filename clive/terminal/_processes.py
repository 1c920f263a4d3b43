"""Processes of a terminal, read from /proc: who is in the foreground, and who to stop."""

from __future__ import annotations

import contextlib
import os
import signal
import time


def _stat(pid: int) -> tuple[str, int, int, int] | None:
    """(name, parent pid, process group, session) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    name = raw[raw.find("(") + 1 : raw.rfind(")")]
    fields = raw[raw.rfind(")") + 2 :].split()
    return name, int(fields[1]), int(fields[2]), int(fields[3])


def start_time(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot): with the pid, names one process even
    after its number is reused; None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    return int(raw[raw.rfind(b")") + 2 :].split()[19])


def is_zombie(pid: int) -> bool:
    """True when the process has ended and only waits to be reaped (or is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return True
    return raw[raw.rfind(b")") + 2 : raw.rfind(b")") + 3] in (b"Z", b"X")


def _all_processes() -> dict[int, tuple[str, int, int, int]]:
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = _stat(int(entry))
            if info is not None:
                table[int(entry)] = info
    return table


def family(shell_pid: int, marker: bytes | None = None) -> set[int]:
    """The shell, its descendants, every process in its session, and every process whose
    environment carries ``marker`` (a ``NAME=value`` the shell was started with).

    Descendants that left the session (setsid, daemons) are found through their parents while
    those live, and through the inherited marker once they have been re-parented to init.
    """
    table = _all_processes()
    members = {shell_pid} | {pid for pid, info in table.items() if info[3] == shell_pid}
    if marker is not None:
        members |= {pid for pid in table if pid != os.getpid() and _has_in_environ(pid, marker)}
    children: dict[int, list[int]] = {}
    for pid, info in table.items():
        children.setdefault(info[1], []).append(pid)
    stack = list(members)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in members:
                members.add(child)
                stack.append(child)
    return members


def _has_in_environ(pid: int, marker: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return marker in f.read().split(b"\0")
    except OSError:
        return False


def terminate(pids: set[int], grace: float = 1.0) -> None:
    """SIGTERM (and SIGCONT, for stopped ones), then SIGKILL what is left after ``grace``."""
    for sig in (signal.SIGTERM, signal.SIGCONT):
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not any(is_alive(pid) for pid in pids):
            return
        time.sleep(0.02)
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def is_alive(pid: int) -> bool:
    """True while ``pid`` runs (not a zombie, not gone)."""
    info = _stat(pid)
    if info is None:
        return False
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            return b"State:\tZ" not in f.read()
    except OSError:
        return False


def foreground_names(fd: int) -> set[str]:
    """Names of the processes in the terminal's foreground process group."""
    try:
        group = os.tcgetpgrp(fd)
    except OSError:
        return set()
    return {info[0] for info in _all_processes().values() if info[2] == group}


def pid_namespace(pid: int) -> str | None:
    """The PID namespace ``pid`` lives in (``pid:[4026531836]``), None if it is gone."""
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def in_namespace(namespace: str) -> set[int]:
    """Every process in the PID namespace ``namespace``: a sandbox's processes, all of
    them, whatever they did to leave their session or hide their environment."""
    return {pid for pid in _all_processes() if pid_namespace(pid) == namespace}


def descendants(root: int) -> list[int]:
    """The processes under ``root``, breadth first."""
    children: dict[int, list[int]] = {}
    for pid, info in sorted(_all_processes().items()):
        children.setdefault(info[1], []).append(pid)
    found, queue = [], list(children.get(root, []))
    while queue:
        pid = queue.pop(0)
        found.append(pid)
        queue.extend(children.get(pid, []))
    return found


def descendant_named(root: int, name: str) -> int | None:
    """``root`` or the first process under it (breadth first) called ``name``: the shell a
    launcher (bubblewrap, or ``env`` which becomes it) started, seen from outside."""
    short = name[:15]  # the kernel keeps 15 characters of a name
    for pid in [root, *descendants(root)]:
        info = _stat(pid)
        if info is not None and info[0] == short:
            return pid
    return None


def parent(pid: int) -> int | None:
    """The parent of ``pid``, None if it is gone."""
    info = _stat(pid)
    return info[1] if info is not None else None
