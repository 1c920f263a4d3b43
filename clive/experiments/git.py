"""The few git operations an experiment loop needs, over the real ``git`` command.

A task runs on a branch of its own in a repository with a clean working tree; each experiment
is a commit, kept or reset away. Every call runs ``git`` in a subprocess: what the user's git
does (hooks aside) is what happens, and the history can be read with ``git log`` afterwards.
"""

from __future__ import annotations

import datetime
import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

# A commit is a snapshot of an experiment, not a change for review: the user's hooks
# (linters, checks) must not block it, and signing must not wait for a passphrase.
_COMMIT_OPTIONS = ("-c", "commit.gpgsign=false")
# Used only when the repository has no identity configured (a fresh container, CI).
_FALLBACK_IDENTITY = ("-c", "user.name=clive", "-c", "user.email=clive@localhost")


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

    def ignore_locally(self, paths: Sequence[str | Path]) -> None:
        """Have git ignore ``paths`` in this clone only (``.git/info/exclude``), so that a
        ``git add -A`` by anyone leaves them out."""
        git_dir = Path(self.git("rev-parse", "--git-dir").stdout.strip())
        exclude = (git_dir if git_dir.is_absolute() else self.root / git_dir) / "info" / "exclude"
        exclude.parent.mkdir(parents=True, exist_ok=True)
        present = exclude.read_text().splitlines() if exclude.exists() else []
        lines = [
            "/" + Path(path).resolve().relative_to(self.root).as_posix() + "/"
            for path in paths
            if Path(path).resolve().is_relative_to(self.root)
            # tracked files are not ignored by git: those keep their exclusion pathspec
            and not self.git("ls-files", "--", str(Path(path).resolve())).stdout.strip()
        ]
        new = [line for line in lines if line not in present]
        if new:
            with open(exclude, "a", encoding="utf-8") as file:
                file.write("".join(f"{line}\n" for line in new))

    def is_ancestor(self, older: str, newer: str = "HEAD") -> bool:
        """True when commit ``older`` is in the history of ``newer``."""
        return self.git("merge-base", "--is-ancestor", older, newer, check=False).returncode == 0

    def head(self) -> str:
        """The full hash of the commit checked out."""
        done = self.git("rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
        if done.returncode != 0:
            raise GitError(f"the repository {self.root} has no commit yet: commit the files first")
        return done.stdout.strip()

    def branch(self) -> str | None:
        """The name of the branch checked out, or None on a detached head."""
        done = self.git("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return done.stdout.strip() or None

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
                f"the working tree of {self.root} is not clean ({shown}): experiments are "
                "kept or reset as commits, so commit or stash these changes first"
            )

    def create_branch(self, name: str) -> str:
        """Create and check out ``clive/<slug of name>-<timestamp>`` at HEAD; returns its name."""
        self.head()
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40].rstrip("-") or "task"
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        base = f"clive/{slug}-{stamp}"
        for attempt in range(1, 100):
            branch = base if attempt == 1 else f"{base}-{attempt}"
            if self.git("checkout", "-b", branch, check=False).returncode == 0:
                return branch
        raise GitError(f"cannot create a branch named {base} in {self.root}")

    def commit_all(self, message: str, exclude: Sequence[str | Path] = ()) -> str | None:
        """Commit everything in the working tree (``git add -A``); returns the new commit's
        hash, or None when there was nothing to commit."""
        self.git("add", "-A", "--", *self._spec(exclude))
        if self.git("diff", "--cached", "--quiet", check=False).returncode == 0:
            return None
        identity = () if self._has_identity() else _FALLBACK_IDENTITY
        self.git(*_COMMIT_OPTIONS, *identity, "commit", "--quiet", "--no-verify", "-m", message)
        return self.head()

    def reset_hard(self, commit: str) -> None:
        """Make HEAD, the index and the tracked files exactly ``commit`` (untracked files stay)."""
        self.git("reset", "--quiet", "--hard", commit)

    def _has_identity(self) -> bool:
        return all(
            self.git("config", key, check=False).stdout.strip()
            for key in ("user.name", "user.email")
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
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "LC_ALL": "C"}
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
