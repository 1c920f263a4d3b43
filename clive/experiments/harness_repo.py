"""The harness's own git repository: where what was measured is kept, out of the model's reach.

It lives in the session directory (which no sandbox can see) and is a bare repository that
the harness drives with a configuration of its own: no system or global config, no hooks, no
fsmonitor, no attributes, no replace refs. Nothing of the model's ``.git`` is ever read. Files
go in as blobs of their exact bytes (``hash-object --no-filters``) and trees are built from an
index the harness writes itself, so no clean filter, line-ending rule or skip-worktree bit can
make what is kept differ from what was measured.

Refs: ``refs/clive/best`` is the best tree so far; ``refs/clive/experiments/N`` is experiment
N's tree, kept or not (a discarded idea is not lost).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from clive.experiments.git import GitError
from clive.experiments.tree import SYMLINK, Entry, Tree
from clive.sandbox import SYSTEM_PATH

BEST_REF = "refs/clive/best"
_IDENTITY = {
    "GIT_AUTHOR_NAME": "clive",
    "GIT_AUTHOR_EMAIL": "clive@localhost",
    "GIT_COMMITTER_NAME": "clive",
    "GIT_COMMITTER_EMAIL": "clive@localhost",
}
# Settings that would run a program or change bytes, pinned off whatever a file says.
_PINNED = (
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.autocrlf=false",
    "core.looseCompression=1",
    "core.attributesFile=/dev/null",
    "core.excludesFile=/dev/null",
    "diff.external=",
    "gc.auto=0",
)


# Seconds any git command may take: listing a tree reads its .gitignore files, and one that
# is a FIFO would block git (and the harness) for ever.
GIT_TIMEOUT = 600.0


def experiment_ref(number: int) -> str:
    """The ref of experiment ``number``'s tree (0 is the baseline)."""
    return f"refs/clive/experiments/{number}"


def _breaks_lines(path: str) -> bool:
    """Whether git would read ``path`` as something else on a line of its own."""
    return "\n" in path or "\r" in path


class HarnessRepo:
    """``HarnessRepo(path)`` opens the bare repository at ``path``, creating it if new."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._known: set[str] = set()
        if not (path / "HEAD").exists():
            path.mkdir(parents=True, exist_ok=True)
            self.git("init", "--quiet", "--bare", str(path))

    def git(
        self,
        *args: str,
        input: bytes | None = None,
        index: Path | None = None,
        work_tree: Path | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run git on this repository with the harness's environment and nothing else."""
        env = {
            "PATH": SYSTEM_PATH,
            "HOME": str(self.path),
            "LC_ALL": "C",
            "GIT_DIR": str(self.path),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_ATTR_NOSYSTEM": "1",
            "GIT_NO_REPLACE_OBJECTS": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_OPTIONAL_LOCKS": "0",
            **_IDENTITY,
        }
        if index is not None:
            env["GIT_INDEX_FILE"] = str(index)
        if work_tree is not None:
            env["GIT_WORK_TREE"] = str(work_tree)
        pinned = [part for setting in _PINNED for part in ("-c", setting)]
        try:
            done = subprocess.run(
                ["git", *pinned, *args],
                input=input, env=env, capture_output=True, check=False, timeout=GIT_TIMEOUT,
            )  # fmt: skip
        except FileNotFoundError:
            raise GitError("git is not installed (no git on PATH)") from None
        except subprocess.TimeoutExpired:
            raise GitError(
                f"git {args[0]} took more than {GIT_TIMEOUT:g}s and was stopped (a .gitignore "
                "that is not a file, in the tree?)"
            ) from None
        if check and done.returncode != 0:
            said = done.stderr.decode("utf-8", "replace").strip()
            raise GitError(f"git {' '.join(args)} failed in {self.path}: {said}")
        return done

    # -- reading the model's tree -----------------------------------------------------------

    def listing(self, worktree: Path, tracked: str | None) -> list[str]:
        """The files of ``worktree`` that make up its tree: those of commit ``tracked`` (even
        if ignored) and every other file its ignore rules do not leave out."""
        with tempfile.TemporaryDirectory(prefix="clive-index-") as scratch:
            index = Path(scratch) / "index"
            if tracked is not None:
                self.git("read-tree", tracked, index=index)
            done = self.git(
                "ls-files", "-z", "--cached", "--others", "--exclude-standard",
                index=index, work_tree=worktree,
            )  # fmt: skip
        paths = dict.fromkeys(os.fsdecode(p) for p in done.stdout.split(b"\0") if p)
        return [p for p in paths if not p.endswith("/")]  # a nested repository, not a file

    # -- writing ----------------------------------------------------------------------------

    def store(self, directory: Path, tree: Tree) -> None:
        """Write the blobs of ``tree`` (its files are in ``directory``) not yet stored."""
        wanted = {entry.sha: path for path, entry in tree.items() if entry.sha not in self._known}
        if not wanted:
            return
        missing = self.missing(wanted)
        # Paths go to git a line each: a name with a line break goes in by its bytes.
        files = [
            (sha, wanted[sha])
            for sha in missing
            if tree[wanted[sha]].mode != SYMLINK and not _breaks_lines(wanted[sha])
        ]
        if files:
            paths = b"".join(os.fsencode(directory / p) + b"\n" for _, p in files)
            done = self.git("hash-object", "-w", "--no-filters", "--stdin-paths", input=paths)
            written = done.stdout.decode().split()
            if written != [sha for sha, _ in files]:
                raise GitError("the harness's copy changed while it was stored")
        for sha in missing:
            path = wanted[sha]
            if tree[path].mode == SYMLINK:
                data = os.fsencode(os.readlink(directory / path))
            elif _breaks_lines(path):
                data = (directory / path).read_bytes()
            else:
                continue
            done = self.git("hash-object", "-w", "--no-filters", "--stdin", input=data)
            if done.stdout.decode().strip() != sha:
                raise GitError("the harness's copy changed while it was stored")
        self._known.update(wanted)

    def missing(self, shas: Iterable[str]) -> list[str]:
        """Those of ``shas`` this repository has no object for."""
        shas = list(dict.fromkeys(shas))
        if not shas:
            return []
        done = self.git("cat-file", "--batch-check", input="".join(f"{s}\n" for s in shas).encode())
        return [line.split()[0] for line in done.stdout.decode().splitlines() if "missing" in line]

    def add_blobs(self, blobs: Mapping[str, bytes]) -> None:
        """Write each blob of ``blobs`` (its hash: its bytes), checking it is that hash's."""
        for sha, data in blobs.items():
            done = self.git("hash-object", "-w", "--no-filters", "--stdin", input=data)
            if done.stdout.decode().strip() != sha:
                raise GitError(f"the file given as {sha} is not that object")
        self._known.update(blobs)

    def commit(self, tree: Tree, parent: str | None, message: str) -> str:
        """A commit of ``tree`` (its blobs stored) on ``parent``; returns its hash."""
        with tempfile.TemporaryDirectory(prefix="clive-index-") as scratch:
            index = Path(scratch) / "index"
            lines = b"".join(
                f"{entry.mode} {entry.sha}\t".encode() + os.fsencode(path) + b"\0"
                for path, entry in sorted(tree.items())
            )
            self.git("update-index", "--add", "-z", "--index-info", input=lines, index=index)
            tree_hash = self.git("write-tree", index=index).stdout.decode().strip()
        parents = ["-p", parent] if parent else []
        done = self.git("commit-tree", tree_hash, *parents, "-m", message)
        return done.stdout.decode().strip()

    def set_ref(self, ref: str, commit: str) -> None:
        """Point ``ref`` at ``commit``."""
        self.git("update-ref", ref, commit)

    # -- reading back -----------------------------------------------------------------------

    def ref(self, ref: str) -> str | None:
        """The commit ``ref`` points at, None if there is no such ref."""
        done = self.git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        return done.stdout.decode().strip() or None

    def tree(self, commit: str) -> Tree:
        """The files of ``commit``."""
        done = self.git("ls-tree", "-r", "-z", "--full-tree", commit)
        tree: Tree = {}
        for record in done.stdout.split(b"\0"):
            if not record:
                continue
            meta, _, path = record.partition(b"\t")
            mode, kind, sha = meta.decode().split()
            if kind == "blob":
                tree[os.fsdecode(path)] = Entry(mode, sha)
        return tree

    def blobs(self, shas: Sequence[str]) -> dict[str, bytes]:
        """The bytes of each blob in ``shas``."""
        unique = list(dict.fromkeys(shas))
        if not unique:
            return {}
        done = self.git("cat-file", "--batch", input="".join(f"{s}\n" for s in unique).encode())
        out, position, found = done.stdout, 0, {}
        for sha in unique:
            end = out.index(b"\n", position)
            header = out[position:end].decode().split()
            if len(header) != 3:
                raise GitError(f"the harness's repository has no object {sha}")
            size = int(header[2])
            found[sha] = out[end + 1 : end + 1 + size]
            position = end + 1 + size + 1
        return found

    def diff(self, older: str, newer: str) -> str:
        """The patch from ``older`` to ``newer`` (no external diff, no text conversion)."""
        done = self.git(
            "diff-tree", "-p", "--no-ext-diff", "--no-textconv", "--binary", "-M", older, newer
        )
        return done.stdout.decode("utf-8", "replace")
