"""A session written on one machine, gathered on another as it grows.

A worker on a Ray cluster writes its session on its own node; the run's directory is on the
head. ``Gatherer`` (on the node) turns what changed under the session's directory since the
last look into pieces: the new bytes of a file that grew (the logs and recordings only
grow), the whole file otherwise. ``apply`` (on the head) writes them. At the end
``Gatherer.final`` makes the head's copy exact: whole files again where the digests differ,
and files that are gone removed. What was gathered before a node is lost stays.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

HARNESS_DIR = "harness"  # a session's (clive.experiments.runner's)
COPY_PREFIX = "tree-"  # the runner's copies of trees in it (_new_directory("tree"))
PIECE_BYTES = 4 * 1024 * 1024  # at most this much in one piece (a file beyond it: several)
_TAIL = 64  # bytes at the end of what was sent, checked before sending only what follows

# (path relative to the directory, offset, bytes): offset -1 is the whole file
Piece = tuple[str, int, bytes]


class Gatherer:
    """What changed under ``root`` since what was ``sent``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._sent: dict[str, tuple[int, int, bytes]] = {}  # path: (inode, size, tail)

    def pieces(self) -> tuple[list[Piece], dict[str, tuple[int, int, bytes]]]:
        """The pieces that bring a copy from what was ``sent`` to what is there now, and the
        marks to give ``sent`` once the copy has them (a failed send leaves no hole)."""
        pieces: list[Piece] = []
        marks: dict[str, tuple[int, int, bytes]] = {}
        for relative, offset, data, mark in self._changes():
            pieces += _split(relative, offset, data)
            marks[relative] = mark
        return pieces, marks

    def sent(self, marks: dict[str, tuple[int, int, bytes]]) -> None:
        """The copy has what ``pieces`` returned with ``marks``."""
        self._sent.update(marks)

    def _changes(self) -> Iterator[tuple[str, int, bytes, tuple[int, int, bytes]]]:
        for relative, path in _files(self.root):
            try:
                status = path.stat()
                sent = self._sent.get(relative)
                if sent is not None and sent[:2] == (status.st_ino, status.st_size):
                    continue
                with open(path, "rb") as file:
                    offset = -1
                    if sent is not None and sent[0] == status.st_ino and sent[1] < status.st_size:
                        start = max(0, sent[1] - len(sent[2]))
                        file.seek(start)
                        if file.read(sent[1] - start) == sent[2]:
                            offset = sent[1]  # it grew: only what follows
                    file.seek(max(offset, 0))
                    data = file.read()
            except OSError:
                continue  # gone since it was listed: the next look or the end says so
            tail = (sent[2] + data if offset > 0 and sent is not None else data)[-_TAIL:]
            yield relative, offset, data, (status.st_ino, max(offset, 0) + len(data), tail)

    def final(self, theirs: dict[str, str]) -> tuple[list[Piece], list[str]]:
        """What makes a copy whose digests are ``theirs`` (``digests``) equal to ``root``:
        the pieces to apply, and the paths to remove (only in the directories ``root``
        holds)."""
        pieces: list[Piece] = []
        mine = set()
        for relative, path in _files(self.root):
            mine.add(relative)
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if theirs.get(relative) != hashlib.sha256(data).hexdigest():
                pieces += _split(relative, -1, data)
        # Only within this directory's sessions: another start of the worker gathers its
        # own beside them.
        tops = {relative.split("/", 1)[0] for relative in (*mine, *self._sent)}
        return pieces, sorted(p for p in set(theirs) - mine if p.split("/", 1)[0] in tops)


def apply(root: Path, pieces: list[Piece]) -> None:
    """Write ``pieces`` under ``root`` (the head's copy)."""
    for relative, offset, data in pieces:
        path = _inside(root, relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        if offset < 0:
            with open(path, "wb") as file:
                file.write(data)
        else:
            with open(path, "r+b" if path.exists() else "wb") as file:
                file.seek(offset)
                file.write(data)


def digests(root: Path) -> dict[str, str]:
    """Each file's SHA-256 under ``root`` (the head's copy)."""
    found = {}
    for relative, path in _files(root):
        try:
            found[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            continue
    return found


def remove(root: Path, relatives: list[str]) -> None:
    for relative in relatives:
        _inside(root, relative).unlink(missing_ok=True)


def _files(root: Path) -> Iterator[tuple[str, Path]]:
    """Every regular file under ``root`` (symbolic links not followed), by relative path;
    not the harness's copies of trees, made to be measured and removed after."""
    for directory, subdirectories, names in os.walk(root):
        if Path(directory).name == HARNESS_DIR:
            subdirectories[:] = [d for d in subdirectories if not d.startswith(COPY_PREFIX)]
        for name in sorted(names):
            path = Path(directory, name)
            if path.is_file() and not path.is_symlink():
                yield path.relative_to(root).as_posix(), path


def _split(relative: str, offset: int, data: bytes) -> list[Piece]:
    """One piece, or several of at most ``PIECE_BYTES`` (a whole file: the first writes it,
    the others extend it)."""
    if len(data) <= PIECE_BYTES:
        return [(relative, offset, data)]
    base = max(offset, 0)
    return [
        (relative, offset if start == 0 else base + start, data[start : start + PIECE_BYTES])
        for start in range(0, len(data), PIECE_BYTES)
    ]


def _inside(root: Path, relative: str) -> Path:
    parts = PurePosixPath(relative).parts
    if not parts or PurePosixPath(relative).is_absolute() or ".." in parts:
        raise ValueError(f"not a path inside the session: {relative!r}")
    return root.joinpath(*parts)
