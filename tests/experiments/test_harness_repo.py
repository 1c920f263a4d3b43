"""HarnessRepo: the harness's own repository keeps exact bytes and runs nothing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from clive.experiments import GitError
from clive.experiments.harness_repo import BEST_REF, HarnessRepo, experiment_ref
from clive.experiments.tree import copy_in


@pytest.fixture
def repo(tmp_path) -> HarnessRepo:
    return HarnessRepo(tmp_path / "harness" / "repo.git")


def _take(repo: HarnessRepo, worktree: Path, copy: Path, tracked: str | None = None) -> str:
    """What the runner does with a tree: list it, copy it, store it, commit it."""
    copy.mkdir()
    tree = copy_in(worktree, repo.listing(worktree, tracked), copy)
    repo.store(copy, tree)
    return repo.commit(tree, tracked, "taken")


def test_files_keep_their_exact_bytes_whatever_the_attributes_say(tmp_path, repo):
    work = tmp_path / "work"
    work.mkdir()
    (work / ".gitattributes").write_bytes(b"* text eol=crlf\n")
    (work / "crlf.txt").write_bytes(b"one\r\ntwo\r\n")
    (work / "lf.txt").write_bytes(b"one\ntwo\n")
    (work / "mixed.bin").write_bytes(b"\x00\r\n\n\xff")
    # The same rule where git would read it for the harness's repository: no filter runs.
    (repo.path / "info").mkdir(exist_ok=True)
    (repo.path / "info" / "attributes").write_bytes(b"* text eol=crlf\n")
    commit = _take(repo, work, tmp_path / "copy")
    tree = repo.tree(commit)
    blobs = repo.blobs([entry.sha for entry in tree.values()])
    assert {path: blobs[entry.sha] for path, entry in tree.items()} == {
        path.name: path.read_bytes() for path in work.iterdir()
    }


def test_the_listing_honours_gitignore_but_keeps_what_the_commit_tracks(tmp_path, repo):
    work = tmp_path / "work"
    (work / "build").mkdir(parents=True)
    (work / ".gitignore").write_text("*.log\nbuild/\n")
    (work / "a.txt").write_text("a\n")
    (work / "kept.log").write_text("tracked although ignored\n")
    (work / "debug.log").write_text("ignored\n")
    (work / "build" / "out").write_text("ignored\n")
    assert sorted(repo.listing(work, None)) == [".gitignore", "a.txt"]

    # A commit that tracks kept.log (as the user's repository may): it stays in the listing.
    copy = tmp_path / "copy"
    copy.mkdir()
    tree = copy_in(work, [".gitignore", "a.txt", "kept.log"], copy)
    repo.store(copy, tree)
    commit = repo.commit(tree, None, "with kept.log")
    assert sorted(repo.listing(work, commit)) == [".gitignore", "a.txt", "kept.log"]


def test_the_listing_never_reads_the_worktrees_own_repository(tmp_path, repo):
    work = tmp_path / "work"
    work.mkdir()
    subprocess.run(["git", "init", "--quiet", str(work)], check=True)
    (work / ".git" / "info" / "exclude").write_text("a.txt\n")
    (work / "a.txt").write_text("a\n")
    listing = repo.listing(work, None)
    assert listing == ["a.txt"]


_HOOK = "#!/bin/sh\necho ran >> {marker}\n"
_HOOKS = ("reference-transaction", "pre-commit", "post-commit", "post-checkout", "pre-auto-gc")


def _plant_hooks(directory: Path, marker: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in _HOOKS:
        (directory / name).write_text(_HOOK.format(marker=marker))
        (directory / name).chmod(0o755)


def test_no_hook_of_the_harness_repository_ever_runs(tmp_path, repo):
    marker = tmp_path / "hook-ran"
    _plant_hooks(repo.path / "hooks", marker)
    elsewhere = tmp_path / "elsewhere-hooks"
    _plant_hooks(elsewhere, marker)
    subprocess.run(
        ["git", "--git-dir", str(repo.path), "config", "core.hooksPath", str(elsewhere)],
        check=True,
    )
    work = tmp_path / "work"
    work.mkdir()
    (work / "a.txt").write_text("a\n")
    commit = _take(repo, work, tmp_path / "copy")
    repo.set_ref(BEST_REF, commit)
    repo.set_ref(experiment_ref(0), commit)
    assert repo.ref(BEST_REF) == commit
    assert not marker.exists()

    # The same hooks do run when git is left to itself: the test would see them.
    subprocess.run(
        ["git", "--git-dir", str(repo.path), "update-ref", "refs/plain", commit], check=True
    )
    assert marker.exists()


def test_commits_refs_trees_and_diffs(tmp_path, repo):
    work = tmp_path / "work"
    work.mkdir()
    (work / "a.txt").write_text("one\n")
    first = _take(repo, work, tmp_path / "copy-1")
    (work / "a.txt").write_text("two\n")
    (work / "link").symlink_to("a.txt")
    second = _take(repo, work, tmp_path / "copy-2", tracked=first)
    repo.set_ref(experiment_ref(1), second)
    assert repo.ref(experiment_ref(1)) == second and repo.ref(BEST_REF) is None
    assert sorted(repo.tree(second)) == ["a.txt", "link"]
    assert repo.tree(second)["link"].mode == "120000"
    assert "-one\n+two\n" in repo.diff(first, second)
    # Reopened, the repository is the same one.
    assert HarnessRepo(repo.path).ref(experiment_ref(1)) == second


def test_a_missing_blob_is_an_error(repo):
    with pytest.raises(GitError, match="no object"):
        repo.blobs(["0" * 40])


def test_hostile_file_names_are_kept_as_they_are(tmp_path, repo):
    work = tmp_path / "work"
    work.mkdir()
    names = ["line\nbreak.py", "ends-in-cr\r", "-rf", "tab\there", " lead", "ünïcode", "x" * 200]
    names.append(os.fsdecode(b"not-utf8-\xff"))
    for index, name in enumerate(names):
        (work / name).write_bytes(f"{index}\n".encode())
    tree = repo.tree(_take(repo, work, tmp_path / "copy"))
    assert sorted(tree) == sorted(names)
    blobs = repo.blobs([entry.sha for entry in tree.values()])
    assert {name: blobs[tree[name].sha] for name in names} == {
        name: f"{index}\n".encode() for index, name in enumerate(names)
    }
