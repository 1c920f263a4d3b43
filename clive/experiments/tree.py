"""Files of a working tree the model can write, read and written by the harness safely.

The model controls every name in its tree: a file may be a symlink to the harness's secrets, a
directory may be a symlink to ``/etc``, a "file" may be a FIFO that blocks whoever opens it. So
the harness never follows a symlink in that tree: it walks each path one directory at a time
(``openat`` with ``O_NOFOLLOW``), copies symlinks as symlinks, skips what is not a regular
file, and replaces (never writes through) whatever stands where it writes.

A tree is a ``dict`` from a relative POSIX path to an ``Entry``: its git mode and the SHA-1
of its git blob, which is how the harness's own repository names the same bytes.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import stat
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

FILE, EXECUTABLE, SYMLINK = "100644", "100755", "120000"
_CHUNK = 1 << 20
_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class Entry:
    """One file of a tree: its git mode and the SHA-1 of its blob."""

    mode: str
    sha: str


Tree = dict[str, Entry]


def blob_sha(data: bytes) -> str:
    """The SHA-1 git gives ``data`` as a blob."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _parts(relative: str) -> list[str]:
    parts = PurePosixPath(relative).parts
    if not parts or PurePosixPath(relative).is_absolute() or any(p in ("..", ".") for p in parts):
        raise ValueError(f"{relative!r} is not a path inside the tree")
    return list(parts)


@contextlib.contextmanager
def _open_parent(root: Path, relative: str, *, create: bool):
    """A descriptor of ``relative``'s directory, reached without following a symlink, and
    the last name. With ``create``, missing directories are made and anything that stands
    in the way of one (a symlink, a file) is removed."""
    *directories, name = _parts(relative)
    fd = os.open(root, _DIRECTORY_FLAGS)
    try:
        for part in directories:
            try:
                child = os.open(part, _DIRECTORY_FLAGS, dir_fd=fd)
            except OSError as error:
                # Missing, not a directory, or a symlink (ELOOP): nothing to go through. Any
                # other failure (permissions, too many files) is no reason to remove it.
                if error.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                    raise
                if not create:
                    raise FileNotFoundError(relative) from error
                _remove(fd, part)
                os.mkdir(part, 0o755, dir_fd=fd)
                child = os.open(part, _DIRECTORY_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
        yield fd, name
    finally:
        os.close(fd)


def _remove(dir_fd: int, name: str) -> None:
    """Remove ``name`` in ``dir_fd`` whatever it is (a directory with all it holds)."""
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(name, dir_fd=dir_fd)
    else:
        os.unlink(name, dir_fd=dir_fd)


def copy_in(source: Path, paths: Iterable[str], destination: Path) -> Tree:
    """Copy ``paths`` (relative, as listed) from the tree at ``source`` into the empty
    directory ``destination``, the harness's own; returns what was copied. A path that is
    gone, or is neither a regular file nor a symlink, is left out."""
    tree: Tree = {}
    for relative in paths:
        try:
            with _open_parent(source, relative, create=False) as (fd, name):
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
                if stat.S_ISLNK(info.st_mode):
                    target = os.readlink(name, dir_fd=fd)
                    entry = Entry(SYMLINK, blob_sha(os.fsencode(target)))
                    with _open_parent(destination, relative, create=True) as (out, out_name):
                        os.symlink(target, out_name, dir_fd=out)
                elif stat.S_ISREG(info.st_mode):
                    entry = _copy_file(fd, name, destination, relative)
                else:
                    continue
        except (FileNotFoundError, NotADirectoryError):
            continue
        tree[relative] = entry
    return tree


def _copy_file(fd: int, name: str, destination: Path, relative: str) -> Entry:
    # O_NONBLOCK: a FIFO put there after the stat must not block the harness.
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    source = os.open(name, flags, dir_fd=fd)
    try:
        info = os.fstat(source)
        if not stat.S_ISREG(info.st_mode):
            raise FileNotFoundError(relative)
        mode = EXECUTABLE if info.st_mode & stat.S_IXUSR else FILE
        with _open_parent(destination, relative, create=True) as (out_dir, out_name):
            out = _create(out_name, out_dir, 0o755 if mode == EXECUTABLE else 0o644)
            with os.fdopen(out, "wb") as written:
                while chunk := os.read(source, _CHUNK):
                    written.write(chunk)
            # Hashed from the harness's copy: the model may change its file meanwhile, the
            # copy is what will be measured and kept.
            sha = _file_sha(out_name, out_dir)
    finally:
        os.close(source)
    return Entry(mode, sha)


def _create(name: str, dir_fd: int, mode: int) -> int:
    """A new file (never an existing one, never through a symlink) with exactly ``mode``."""
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode, dir_fd=dir_fd)
    os.fchmod(fd, mode)  # whatever the umask
    return fd


def _file_sha(name: str, dir_fd: int) -> str:
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    with os.fdopen(fd, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        digest = hashlib.sha1(b"blob %d\0" % size)
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_tree(
    root: Path,
    target: Mapping[str, Entry],
    current: Mapping[str, Entry],
    read_blob: Callable[[str], bytes],
) -> list[str]:
    """Make the files at ``root`` those of ``target``, given that they were ``current``:
    write what differs (from ``read_blob(sha)``), remove what ``target`` lacks, replacing
    whatever stands in the way. Returns the paths changed."""
    changed = []
    for relative in sorted(set(current) - set(target)):
        with (
            contextlib.suppress(FileNotFoundError, NotADirectoryError),
            _open_parent(root, relative, create=False) as (fd, name),
        ):
            _remove(fd, name)
        changed.append(relative)
    for relative, entry in sorted(target.items()):
        if current.get(relative) == entry:
            continue
        write_file(root, relative, entry, read_blob(entry.sha))
        changed.append(relative)
    return changed


def write_file(root: Path, relative: str, entry: Entry, data: bytes) -> None:
    """Put ``data`` at ``relative`` under ``root`` as ``entry`` says (a file or a symlink),
    in place of whatever is there, never through a symlink."""
    with _open_parent(root, relative, create=True) as (fd, name):
        temporary = f".clive-{uuid.uuid4().hex[:12]}"
        if entry.mode == SYMLINK:
            os.symlink(os.fsdecode(data), temporary, dir_fd=fd)
        else:
            out = _create(temporary, fd, 0o755 if entry.mode == EXECUTABLE else 0o644)
            with os.fdopen(out, "wb") as file:
                file.write(data)
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISDIR(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
                shutil.rmtree(name, dir_fd=fd)
        os.replace(temporary, name, src_dir_fd=fd, dst_dir_fd=fd)


def walk(root: Path, relative: str) -> list[str]:
    """The files (regular or symlinks) at ``relative`` under ``root`` or below it, as
    relative paths, found without following a symlink."""
    found = []
    try:
        with _open_parent(root, relative, create=False) as (fd, name):
            info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if not stat.S_ISDIR(info.st_mode):
                return (
                    [relative] if stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode) else []
                )
            inner = os.open(name, _DIRECTORY_FLAGS, dir_fd=fd)
    except (FileNotFoundError, NotADirectoryError):
        return []
    for top, _dirs, files, top_fd in os.fwalk(".", dir_fd=inner, follow_symlinks=False):
        for file in files:
            info = os.stat(file, dir_fd=top_fd, follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode):
                found.append(str(PurePosixPath(relative, top, file)))
    os.close(inner)
    return sorted(found)


def under(tree: Mapping[str, Entry], path: str) -> dict[str, Entry]:
    """The entries of ``tree`` at ``path`` or below it."""
    prefix = path.rstrip("/") + "/"
    return {p: e for p, e in tree.items() if p == path.rstrip("/") or p.startswith(prefix)}
