"""How clive starts the shell: the command line, its rc file and the child's environment."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

BASH_RC = Path(__file__).parent / "shell" / "bashrc"

# The harness's own credentials: never handed to the shell the model types into.
HARNESS_CREDENTIALS = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "OPENAI_API_KEY",
    "CLIVE_API_KEY",
)

# How the harness's processes tell each other how they run (a session in a process of its
# own, watched or not; the pipe it announces itself on): a `clive` started in the shell must
# not take them for its own.
HARNESS_INTERNAL = (
    "CLIVE_DETACHED",
    "CLIVE_VIEWED",
    "CLIVE_ANNOUNCE_FD",
    "CLIVE_DEMO_DIR",
    "CLIVE_VIEWER",
)

# The variables of the cluster a worker runs on (a Ray actor's: its address, its token): with
# them, the model's code could reach the cluster and run outside its sandbox.
HARNESS_PREFIXES = ("RAY_",)

# Nothing in the shell should stop and wait for a human the model cannot see: pagers print,
# installers do not ask, git does not prompt for passwords, Python does not buffer its output
# (so progress shows while a training job runs), and no history file is written.
NONINTERACTIVE_DEFAULTS: Mapping[str, str] = {
    "TERM": "xterm-256color",
    "PAGER": "cat",
    "GIT_PAGER": "cat",
    "MANPAGER": "cat",
    "SYSTEMD_PAGER": "",
    "HISTFILE": "",
    "DEBIAN_FRONTEND": "noninteractive",
    "GIT_TERMINAL_PROMPT": "0",
    "PIP_NO_INPUT": "1",
    "PYTHONUNBUFFERED": "1",
}


def child_environment(
    overrides: Mapping[str, str | None] | None = None,
    hidden: tuple[str, ...] = (),
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment for the shell: ours, with clive's defaults, less the credentials.

    ``overrides`` win over the defaults; a value of None removes the variable. ``hidden``
    names more variables that must not reach the shell.
    """
    env = dict(os.environ if base is None else base)
    for name in (*HARNESS_CREDENTIALS, *HARNESS_INTERNAL, *hidden):
        env.pop(name, None)
    for name in [n for n in env if n.startswith(HARNESS_PREFIXES)]:
        env.pop(name)
    env.update(NONINTERACTIVE_DEFAULTS)
    if not env.get("LANG") and not env.get("LC_ALL"):
        env["LANG"] = "C.UTF-8"
    managed = set(NONINTERACTIVE_DEFAULTS)
    for name, value in (overrides or {}).items():
        managed.add(name)
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    for name in (*HARNESS_CREDENTIALS, *hidden):
        if name in env and name not in (overrides or {}):
            env.pop(name)
    if "PS1" in env and "PS1" in (overrides or {}):
        env["CLIVE_PS1"] = env["PS1"]
    env["CLIVE_MANAGED_ENV"] = " ".join(sorted(n for n in managed if n.isidentifier()))
    return env


def bash_command(*, user_rc: bool = True) -> tuple[list[str], dict[str, str]]:
    """The argv that starts bash with clive's integration, and variables it needs."""
    bash = shutil.which("bash")
    if bash is None:
        raise FileNotFoundError("bash is not installed: clive needs it for its shell")
    extra = {} if user_rc else {"CLIVE_NO_USER_RC": "1"}
    return [bash, "--rcfile", str(BASH_RC), "-i"], extra
