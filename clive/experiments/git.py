"""The user's repository, read before a session starts: is it clean, which files it tracks.

This is the user's own git, trusted because nothing of the model's has touched the repository
yet; once the model works there, only the harness's own repository (``harness_repo``) is used.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from clive.session.redact import CREDENTIAL_VARIABLES
from clive.terminal.shell import HARNESS_CREDENTIALS

# What git runs (hooks, filters, an fsmonitor) gets no credential of the harness or the user.
_CREDENTIALS = frozenset((*HARNESS_CREDENTIALS, *CREDENTIAL_VARIABLES))


class GitError(RuntimeError):
    """A git operation failed or the repository is not fit for experiments; the message
    says what is wrong and what to do."""


class GitRepo:
    """A git repository's working tree: ``GitRepo(path)`` finds the repository ``path`` is in."""

    def __init__(self, path: str | Path) -> None:
        path = Path(path).resolve()
        if not path.is_dir():
            raise GitError(f"{path} is not a directory")
        done = _git(path, "rev-parse", "--show-toplevel", check=False)
        if done.returncode != 0:
            raise GitError(
                f"{path} is not in a git repository: experiments are commits, so the task "
                "must run in one (git init, then commit the files)"
            )
        self.root = Path(done.stdout.strip())

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``git args...`` in the repository; a failure raises ``GitError`` if ``check``."""
        return _git(self.root, *args, check=check)

    def head(self) -> str:
        """The full hash of the commit checked out."""
        done = self.git("rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
        if done.returncode != 0:
            raise GitError(f"the repository {self.root} has no commit yet: commit the files first")
        return done.stdout.strip()

    def dirty_files(self, exclude: Sequence[str | Path] = ()) -> list[str]:
        """Paths with changes not committed (modified, staged, untracked), as git names them.

        ``exclude`` lists paths (say, the session directory) that do not count.
        """
        done = self.git(
            "status", "--porcelain", "--untracked-files=all", "-z", "--", *self._spec(exclude)
        )
        entries = done.stdout.split("\0")
        paths = []
        skip_next = False
        for entry in entries:
            if skip_next:  # the source of a rename, which follows its target
                skip_next = False
                continue
            if not entry:
                continue
            status, path = entry[:2], entry[3:]
            skip_next = "R" in status or "C" in status
            paths.append(path)
        return paths

    def require_clean(self, exclude: Sequence[str | Path] = ()) -> None:
        """Raise ``GitError`` naming the dirty files unless the working tree is clean."""
        self.head()
        dirty = self.dirty_files(exclude)
        if dirty:
            shown = ", ".join(dirty[:10]) + (
                f" and {len(dirty) - 10} more" if len(dirty) > 10 else ""
            )
            raise GitError(
                f"the working tree of {self.root} is not clean ({shown}): the baseline is "
                "what git has, so commit or stash these changes first"
            )

    def _spec(self, exclude: Sequence[str | Path]) -> list[str]:
        """A pathspec for the whole tree but ``exclude`` (paths outside the tree are ignored)."""
        spec = ["."]
        for path in exclude:
            absolute = Path(path).resolve()
            if absolute.is_relative_to(self.root) and absolute != self.root:
                relative = absolute.relative_to(self.root).as_posix()
                # git refuses a pathspec naming an ignored path (left out anyway)
                if self.git("check-ignore", "-q", relative, check=False).returncode != 0:
                    spec.append(f":(exclude){relative}")
        return spec


def short(commit: str) -> str:
    """A commit hash as people write it (7 characters, as ``git log --oneline``)."""
    return commit[:7]


def _git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    # No pager, no prompts for credentials, messages in English for the error text.
    env = {name: value for name, value in os.environ.items() if name not in _CREDENTIALS}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_PAGER="cat", LC_ALL="C")
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise GitError("git is not installed (no git on PATH)") from None
    if check and done.returncode != 0:
        said = (done.stderr or done.stdout).strip()
        raise GitError(f"git {' '.join(args)} failed in {cwd} (status {done.returncode}): {said}")
    return done
