"""Copying a tree the model controls in and out without following its symlinks."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from clive.experiments.tree import (
    EXECUTABLE,
    FILE,
    SYMLINK,
    Entry,
    blob_sha,
    copy_in,
    under,
    write_file,
    write_tree,
)


def _entry(data: bytes, mode: str = FILE) -> Entry:
    return Entry(mode, blob_sha(data))


@pytest.fixture
def source(tmp_path) -> Path:
    path = tmp_path / "source"
    path.mkdir()
    return path


@pytest.fixture
def destination(tmp_path) -> Path:
    path = tmp_path / "destination"
    path.mkdir()
    return path


def test_blob_sha_is_gits():
    # git hash-object on an empty file, and on "hello\n"
    assert blob_sha(b"") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
    assert blob_sha(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_copy_in_copies_a_symlink_as_a_symlink(tmp_path, source, destination):
    secret = tmp_path / "secret"
    secret.write_text("the harness's secret\n")
    (source / "link").symlink_to(secret)
    tree = copy_in(source, ["link"], destination)
    assert tree == {"link": Entry(SYMLINK, blob_sha(os.fsencode(secret)))}
    assert os.readlink(destination / "link") == str(secret)


def test_copy_in_never_goes_through_a_symlinked_directory(tmp_path, source, destination):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret\n")
    (source / "dir").symlink_to(outside)
    (source / "a.txt").write_text("a\n")
    tree = copy_in(source, ["dir/secret.txt", "a.txt"], destination)
    assert tree == {"a.txt": _entry(b"a\n")}
    assert sorted(os.listdir(destination)) == ["a.txt"]


def test_copy_in_skips_a_fifo_without_blocking(source, destination):
    os.mkfifo(source / "fifo")
    (source / "a.txt").write_text("a\n")
    copied = {}
    worker = threading.Thread(
        target=lambda: copied.update(copy_in(source, ["fifo", "a.txt"], destination)),
        daemon=True,
    )
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "copy_in blocked on a FIFO"
    assert copied == {"a.txt": _entry(b"a\n")}
    assert not (destination / "fifo").exists()


def test_copy_in_leaves_out_what_is_gone(source, destination):
    (source / "a.txt").write_text("a\n")
    assert copy_in(source, ["gone.txt", "a.txt", "no/such/dir.txt"], destination) == {
        "a.txt": _entry(b"a\n")
    }


def test_copy_in_keeps_the_executable_bit_and_nothing_else(source, destination):
    (source / "run.sh").write_bytes(b"#!/bin/sh\n")
    (source / "run.sh").chmod(0o700)
    (source / "sub").mkdir()
    (source / "sub" / "private.txt").write_bytes(b"private\n")
    (source / "sub" / "private.txt").chmod(0o600)
    old_umask = os.umask(0o077)
    try:
        tree = copy_in(source, ["run.sh", "sub/private.txt"], destination)
    finally:
        os.umask(old_umask)
    assert tree == {
        "run.sh": _entry(b"#!/bin/sh\n", EXECUTABLE),
        "sub/private.txt": _entry(b"private\n"),
    }
    assert stat.S_IMODE((destination / "run.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((destination / "sub" / "private.txt").stat().st_mode) == 0o644
    assert (destination / "sub" / "private.txt").read_bytes() == b"private\n"


def test_write_tree_replaces_a_symlinked_directory_instead_of_writing_through_it(tmp_path, source):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.txt").write_text("outside\n")
    (source / "lib").symlink_to(outside)
    target = {"lib/a.txt": _entry(b"inside\n")}
    current = {"lib": _entry(os.fsencode(outside), SYMLINK)}
    changed = write_tree(source, target, current, {blob_sha(b"inside\n"): b"inside\n"}.get)
    assert sorted(changed) == ["lib", "lib/a.txt"]
    assert not (source / "lib").is_symlink() and (source / "lib").is_dir()
    assert (source / "lib" / "a.txt").read_text() == "inside\n"
    assert (outside / "a.txt").read_text() == "outside\n"


def test_write_tree_replaces_a_symlink_it_was_not_told_about(tmp_path, source):
    # The model replaced a directory with a symlink after the harness took its tree.
    outside = tmp_path / "outside"
    outside.mkdir()
    (source / "lib").symlink_to(outside)
    current = {"lib/a.txt": _entry(b"old\n")}
    target = {"lib/a.txt": _entry(b"new\n")}
    write_tree(source, target, current, {blob_sha(b"new\n"): b"new\n"}.get)
    assert (source / "lib" / "a.txt").read_text() == "new\n"
    assert os.listdir(outside) == []


def test_write_file_replaces_a_symlinked_file_instead_of_writing_through_it(tmp_path, source):
    victim = tmp_path / "victim"
    victim.write_text("victim\n")
    (source / "a.txt").symlink_to(victim)
    write_file(source, "a.txt", _entry(b"new\n"), b"new\n")
    assert not (source / "a.txt").is_symlink()
    assert (source / "a.txt").read_text() == "new\n" and victim.read_text() == "victim\n"


def test_write_file_replaces_a_directory_and_sets_the_mode(source):
    (source / "run.sh").mkdir()
    (source / "run.sh" / "inside").write_text("x\n")
    write_file(source, "run.sh", _entry(b"#!/bin/sh\n", EXECUTABLE), b"#!/bin/sh\n")
    assert (source / "run.sh").read_bytes() == b"#!/bin/sh\n"
    assert stat.S_IMODE((source / "run.sh").stat().st_mode) == 0o755
    write_file(source, "link", _entry(b"run.sh", SYMLINK), b"run.sh")
    assert os.readlink(source / "link") == "run.sh"


def test_write_tree_removes_the_files_the_target_lacks(source):
    (source / "keep.txt").write_text("keep\n")
    (source / "old.txt").write_text("old\n")
    (source / "sub").mkdir()
    (source / "sub" / "old.txt").write_text("old\n")
    current = {
        "keep.txt": _entry(b"keep\n"),
        "old.txt": _entry(b"old\n"),
        "sub/old.txt": _entry(b"old\n"),
    }
    target = {"keep.txt": _entry(b"keep\n")}
    changed = write_tree(source, target, current, {}.__getitem__)
    assert changed == ["old.txt", "sub/old.txt"]
    assert sorted(p.name for p in source.rglob("*") if p.is_file()) == ["keep.txt"]


@pytest.mark.parametrize("relative", ["../escape", "/etc/passwd", "a/../../b", ""])
def test_a_path_outside_the_tree_is_refused(source, relative):
    with pytest.raises(ValueError, match="not a path inside the tree"):
        write_file(source, relative, _entry(b"x"), b"x")


def test_under_takes_a_path_and_what_is_below_it():
    tree = {"a": _entry(b"1"), "a/b": _entry(b"2"), "ab": _entry(b"3"), "c/a": _entry(b"4")}
    assert under(tree, "a") == {"a": tree["a"], "a/b": tree["a/b"]}
    assert under(tree, "c/") == {"c/a": tree["c/a"]}
    assert under(tree, "d") == {}
