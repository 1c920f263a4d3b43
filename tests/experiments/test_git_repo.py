"""GitRepo against real git in temporary repositories."""

from __future__ import annotations

import re

import pytest
from conftest import git

from clive.experiments import GitError, GitRepo
from clive.experiments.git import short


@pytest.fixture
def repo(tmp_path, make_repo) -> GitRepo:
    return GitRepo(make_repo(tmp_path / "repo", {"a.txt": "a\n", "sub/b.txt": "b\n"}))


def test_a_directory_outside_git_is_refused(tmp_path, git_env):
    with pytest.raises(GitError, match="is not in a git repository"):
        GitRepo(tmp_path)


def test_a_subdirectory_finds_its_repository(repo):
    assert GitRepo(repo.root / "sub").root == repo.root


def test_a_repository_without_commits_says_so(tmp_path, git_env):
    git(tmp_path, "init", "--quiet")
    with pytest.raises(GitError, match="has no commit yet"):
        GitRepo(tmp_path).require_clean()


def test_a_clean_tree_passes_and_a_dirty_one_names_its_files(repo):
    repo.require_clean()
    (repo.root / "a.txt").write_text("changed\n")
    (repo.root / "new file.txt").write_text("new\n")
    (repo.root / "sub" / "b.txt").unlink()
    assert sorted(repo.dirty_files()) == ["a.txt", "new file.txt", "sub/b.txt"]
    with pytest.raises(GitError) as raised:
        repo.require_clean()
    message = str(raised.value)
    assert "not clean" in message and "commit or stash" in message
    for name in ("a.txt", "new file.txt", "sub/b.txt"):
        assert name in message


def test_excluded_paths_do_not_make_the_tree_dirty(repo):
    (repo.root / "sessions" / "s1").mkdir(parents=True)
    (repo.root / "sessions" / "s1" / "events.jsonl").write_text("{}\n")
    repo.require_clean(exclude=[repo.root / "sessions"])
    assert repo.dirty_files() == ["sessions/s1/events.jsonl"]


def test_create_branch_checks_out_a_branch_of_its_own(repo):
    start = repo.head()
    name = repo.create_branch("Speed up nanochat training!")
    assert re.fullmatch(r"clive/speed-up-nanochat-training-\d{8}-\d{6}", name)
    assert repo.branch() == name
    assert repo.head() == start
    assert repo.create_branch("Speed up nanochat training!") != name  # same second: a suffix


def test_commit_all_commits_everything_and_reports_nothing_to_commit(repo):
    start = repo.head()
    assert repo.commit_all("nothing") is None
    (repo.root / "a.txt").write_text("changed\n")
    (repo.root / "c.txt").write_text("new\n")
    (repo.root / "sub" / "b.txt").unlink()
    commit = repo.commit_all("experiment 1: change things")
    assert commit == repo.head() != start
    assert git(repo.root, "log", "-1", "--format=%s").strip() == "experiment 1: change things"
    changed = git(repo.root, "show", "--name-status", "--format=", commit).split()
    assert changed == ["M", "a.txt", "A", "c.txt", "D", "sub/b.txt"]
    assert repo.dirty_files() == []


def test_commit_all_leaves_out_excluded_paths(repo):
    (repo.root / "a.txt").write_text("changed\n")
    (repo.root / "sessions").mkdir()
    (repo.root / "sessions" / "results.tsv").write_text("commit\n")
    commit = repo.commit_all("change", exclude=[repo.root / "sessions", "/elsewhere"])
    assert git(repo.root, "show", "--name-only", "--format=", commit).split() == ["a.txt"]
    assert repo.dirty_files() == ["sessions/results.tsv"]


def test_commit_all_works_without_a_configured_identity(repo, monkeypatch):
    for variable in ("NAME", "EMAIL"):
        for role in ("AUTHOR", "COMMITTER"):
            monkeypatch.delenv(f"GIT_{role}_{variable}")
    monkeypatch.setenv("EMAIL", "")
    (repo.root / "a.txt").write_text("changed\n")
    commit = repo.commit_all("change")
    assert git(repo.root, "log", "-1", "--format=%an <%ae>", commit).strip() == (
        "clive <clive@localhost>"
    )


def test_commit_all_skips_the_repositorys_hooks(repo):
    hook = repo.root / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    (repo.root / "a.txt").write_text("changed\n")
    assert repo.commit_all("change") is not None


def test_reset_hard_restores_a_commit(repo):
    start = repo.head()
    (repo.root / "a.txt").write_text("changed\n")
    (repo.root / "c.txt").write_text("new\n")
    repo.commit_all("change")
    repo.reset_hard(start)
    assert repo.head() == start
    assert (repo.root / "a.txt").read_text() == "a\n"
    assert not (repo.root / "c.txt").exists()
    assert repo.dirty_files() == []


def test_a_failing_git_command_raises_with_what_git_said(repo):
    with pytest.raises(GitError, match=r"git reset .* failed .*: fatal"):
        repo.reset_hard("no-such-commit")


def test_short_is_seven_characters(repo):
    head = repo.head()
    assert short(head) == head[:7]
    assert git(repo.root, "rev-parse", short(head)).strip() == head
