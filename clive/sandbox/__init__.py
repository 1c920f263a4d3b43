"""The trust boundary: bubblewrap sandboxes for the model's shell and for the measurement.

A ``Sandbox`` says what a process may see and touch; ``Sandbox.wrap(argv)`` is the command
line that runs ``argv`` inside it. Everything starts from the whole system mounted read-only,
in its own PID, UTS, IPC and user namespaces, with every capability dropped, a private
``/tmp``, ``/run`` and scratch ``$HOME``; then ``writable`` paths are bound read-write,
``readonly`` ones read-only on top (a repository's ``.git``, clive's installation), ``hidden``
ones covered by an empty directory (every session directory), and ``binds`` put a harness
copy at a path (the exported tree at the repository's path, a dataset read-only).

``probe()`` says whether bubblewrap works on this machine; ``choose(mode)`` turns
``--sandbox auto|on|off`` into a decision with one line of explanation.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import clive

BWRAP = "bwrap"
# PATH inside a sandbox when the caller gives none: the system's directories only, so
# nothing from a writable place can stand in for a program.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Kernel knobs that a process running as root could write even with no capability.
_PROC_READONLY = ("/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus")


class SandboxMode(StrEnum):
    """``--sandbox``: on where it works (auto), always (on: fail if it cannot), or never."""

    AUTO = "auto"
    ON = "on"
    OFF = "off"


class SandboxError(RuntimeError):
    """The sandbox was asked for and cannot run here; the message says why and what to do."""


@dataclass(frozen=True)
class Sandbox:
    """What a sandboxed process may see and touch (paths are absolute)."""

    writable: tuple[Path, ...] = ()
    readonly: tuple[Path, ...] = ()
    hidden: tuple[Path, ...] = ()
    binds: tuple[tuple[Path, Path], ...] = ()  # (source outside, path inside), read-only
    writable_binds: tuple[tuple[Path, Path], ...] = ()  # (source outside, path inside)
    home: Path = field(default_factory=Path.home)  # a scratch directory inside, empty
    network: bool = True
    gpus: bool = True  # pass /dev/nvidia* through where they exist
    env: Mapping[str, str] | None = None  # the whole environment inside; None: inherited
    # The program is the namespace's init: when it exits, the kernel kills every process left
    # in the namespace as part of that exit. (Its files are released a moment before: what
    # runs beside a metric can print up to its end; a task keeps it apart with a setup.)
    as_pid_1: bool = False

    # Every process inside is in a PID namespace of the sandbox's own (see Terminal).
    pid_namespace = True

    def wrap(self, argv: Sequence[str]) -> list[str]:
        """The command line that runs ``argv`` in this sandbox, in the directory it is
        started from."""
        writable = (*self.writable, *(p for bind in self.writable_binds for p in bind))
        args = [
            _bwrap(writable),
            "--die-with-parent",  # nothing outlives the harness
            "--unshare-user",
            # No namespace of its own inside: every process stays in sight (a nested PID
            # namespace hides from the checks) and every mount stays as it was made.
            "--disable-userns",
            "--unshare-pid",
            "--unshare-uts",
            "--unshare-ipc",
            "--unshare-cgroup-try",
            "--cap-drop",
            "ALL",
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
        ]
        if not self.network:
            args.append("--unshare-net")
        if self.as_pid_1:
            args.append("--as-pid-1")
        for path in _PROC_READONLY:
            if os.path.exists(path):
                args += ["--ro-bind", path, path]
        if self.gpus:
            for device in sorted(glob.glob("/dev/nvidia*")):
                args += ["--dev-bind", device, device]
        args += ["--tmpfs", "/tmp", "--tmpfs", "/dev/shm"]
        args += _private_run()
        args += ["--tmpfs", str(self.home)]
        for path in self.writable:
            args += ["--bind", str(path), str(path)]
        for source, target in self.writable_binds:
            args += ["--bind", str(source), str(target)]
        for path in _outermost(self.readonly):
            # A read-only mount above a writable place would cover it: never.
            if path.exists() and not any(w.is_relative_to(path) for w in writable):
                args += ["--ro-bind", str(path), str(path)]
        for source, target in self.binds:
            args += ["--ro-bind", str(source), str(target)]
        # Only the outermost: a hidden path inside another (a session in the sessions
        # directory) is covered already, and could not be mounted on the read-only cover.
        for path in _outermost(self.hidden):
            if not self._visible(path):
                continue  # under a private /tmp or home already: nothing to cover
            if path.is_dir():
                args += ["--tmpfs", str(path), "--remount-ro", str(path)]
            elif path.exists():
                args += ["--ro-bind", "/dev/null", str(path)]
        if self.env is not None:
            args.append("--clearenv")
            for name, value in self.env.items():
                args += ["--setenv", name, value]
        return [*args, "--", *argv]

    def _visible(self, path: Path) -> bool:
        """Whether ``path`` would be seen inside: not under a private directory, or bound
        into the sandbox again."""
        shown = (*self.writable, *self.readonly, *(t for _, t in self.writable_binds))
        shown += tuple(t for _, t in self.binds)
        if any(path.is_relative_to(p) for p in shown):
            return True
        private = (Path("/tmp"), Path("/run"), Path("/dev/shm"), self.home)
        return not any(path.is_relative_to(p) for p in private)


def _outermost(paths: Sequence[Path]) -> list[Path]:
    """``paths`` without those inside another of them (one bind covers both), in order."""
    return [
        p for p in dict.fromkeys(paths) if not any(p != q and p.is_relative_to(q) for q in paths)
    ]


def _private_run() -> list[str]:
    """A private ``/run`` (the machine's sockets, docker's among them, are out of reach),
    keeping only what name resolution needs when ``/etc/resolv.conf`` points there."""
    args = ["--tmpfs", "/run"]
    resolv = Path("/etc/resolv.conf")
    if resolv.is_symlink():
        target = resolv.resolve()
        if target.is_relative_to("/run") and target.exists():
            args += ["--ro-bind", str(target), str(target)]
    return args


def _bwrap(writable: Sequence[Path] = ()) -> str:
    """bwrap from PATH, never from a directory of PATH inside ``writable`` (or a relative
    one): bwrap runs outside the sandbox, and a ``.venv/bin`` or ``./bin`` of the model's
    tree on the user's PATH would otherwise let the model's program run in its place."""
    writable = [p.resolve() for p in writable]

    def trusted(path: str) -> bool:
        return os.path.isabs(path) and not any(
            Path(path).resolve().is_relative_to(w) for w in writable
        )

    path = os.pathsep.join(
        p for p in os.environ.get("PATH", os.defpath).split(os.pathsep) if trusted(p)
    )
    found = shutil.which(BWRAP, path=path)
    if found is not None and not trusted(found):
        found = None
    if found is None:
        raise SandboxError(
            "bubblewrap is not installed (no bwrap on PATH): install it "
            "(apt-get install bubblewrap) or run with --sandbox off"
        )
    return found


@functools.cache
def probe() -> str | None:
    """None when bubblewrap works here, else why not, in a few words."""
    try:
        sandbox = Sandbox(home=_scratch_home())
        argv = sandbox.wrap(["/bin/sh", "-c", "exit 0"])
    except SandboxError as error:
        return str(error)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap could not start: {error}"
    if done.returncode != 0:
        said = done.stderr.strip().splitlines()
        return f"bubblewrap does not work here: {said[-1].rstrip('.') if said else done.returncode}"
    return None


@dataclass(frozen=True)
class Choice:
    """Whether sessions run sandboxed, and the line that says so."""

    enabled: bool
    note: str


def choose(mode: SandboxMode | str) -> Choice:
    """Decide ``--sandbox``: ``on`` raises ``SandboxError`` where bubblewrap cannot run."""
    mode = SandboxMode(mode)
    if mode is SandboxMode.OFF:
        return Choice(False, "sandbox off (--sandbox off): the model's shell runs as you do")
    problem = probe()
    if problem is None:
        return Choice(True, "sandbox on (bubblewrap)")
    if mode is SandboxMode.ON:
        raise SandboxError(f"--sandbox on: {problem}")
    return Choice(False, f"sandbox off: {problem}; the model's shell runs as you do")


def installation() -> tuple[Path, ...]:
    """Where clive's own code and its Python packages live: never writable by the model."""
    places = {Path(clive.__file__).resolve().parent}
    places.update(Path(p).resolve() for p in sys.path if p and "site-packages" in p)
    places.add(Path(sys.prefix).resolve())
    return tuple(sorted(p for p in places if p.exists() and p != Path("/")))


# Directories a working tree may not be: the sandbox would make the system writable.
_SYSTEM_DIRS = tuple(
    Path(p) for p in ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/boot",
                      "/proc", "/sys", "/dev", "/run", "/var/lib", "/var/run")
)  # fmt: skip


def check_worktree(worktree: Path) -> None:
    """Raise ``SandboxError`` when ``worktree`` cannot be the sandbox's writable place: the
    root, your home or a directory above it (your dotfiles would be writable, and run as you
    later), or a system directory."""
    tree = worktree.resolve()
    home = _scratch_home()
    if home.is_relative_to(tree):
        where = "/" if tree == Path("/") else f"{tree} (your home or above it)"
        raise SandboxError(
            f"the sandbox cannot make {where} writable: run clive in a project's directory "
            "(--cwd DIR), or with --sandbox off"
        )
    if any(tree.is_relative_to(d) for d in _SYSTEM_DIRS):
        raise SandboxError(
            f"the sandbox cannot make the system directory {tree} writable: run clive in a "
            "project's directory (--cwd DIR), or with --sandbox off"
        )


def shell_sandbox(
    worktree: Path,
    *,
    sessions: Sequence[Path] = (),
    readonly: Sequence[Path] = (),
    network: bool = True,
) -> Sandbox:
    """The model's shell: ``worktree`` writable; the sessions and clive's installation out
    of reach; ``readonly`` (a repository's ``.git`` in an experiment) read-only."""
    check_worktree(worktree)
    tree = worktree.resolve()
    return Sandbox(
        writable=(tree,),
        readonly=(*toolchains(avoid=[tree]), *(p.resolve() for p in readonly), *installation()),
        hidden=tuple(p.resolve() for p in sessions),
        home=_scratch_home(),
        network=network,
    )


def _scratch_home() -> Path:
    home = os.environ.get("HOME") or "/root"
    return Path(home).resolve() if Path(home).is_absolute() else Path("/root")


# Directories under $HOME that hold many unrelated things: a tool on PATH inside one of them
# is shown alone, not with its neighbours.
_SHARED_HOME_DIRS = frozenset({".local", ".config", ".cache"})


def toolchains(avoid: Sequence[Path] = ()) -> tuple[Path, ...]:
    """The user's tools under ``$HOME`` (pyenv, cargo, ~/.local/bin...): the directories of
    ``PATH`` and of this Python that a scratch home would otherwise hide, shown read-only.
    Dotfiles beside them stay hidden. Nothing inside ``avoid`` (a working tree: a project's
    ``.venv`` is the project's), nor above it, is shown: that would cover the tree."""
    home = _scratch_home()
    avoid = [p.resolve() for p in avoid]
    places = {Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p}
    places.add(Path(sys.prefix))
    shown = set()
    for place in places:
        try:
            resolved = place.resolve()
        except OSError:
            continue
        if not place.is_absolute() or not resolved.is_relative_to(home) or resolved == home:
            continue
        top = resolved.relative_to(home).parts[0]
        for candidate in (resolved if top in _SHARED_HOME_DIRS else home / top, resolved):
            if not any(candidate.is_relative_to(a) or a.is_relative_to(candidate) for a in avoid):
                shown.add(candidate)
                break
    return tuple(sorted(p for p in shown if p.is_dir()))


__all__ = [
    "SYSTEM_PATH",
    "Choice",
    "Sandbox",
    "SandboxError",
    "SandboxMode",
    "check_worktree",
    "choose",
    "installation",
    "probe",
    "shell_sandbox",
    "toolchains",
]
