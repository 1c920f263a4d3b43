"""GitRepo against real git in temporary repositories."""

from __future__ import annotations

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


def test_a_failing_git_command_raises_with_what_git_said(repo):
    with pytest.raises(GitError, match=r"git rev-parse no-such-commit failed .*: fatal"):
        repo.git("rev-parse", "no-such-commit")


def test_short_is_seven_characters(repo):
    head = repo.head()
    assert short(head) == head[:7]
    assert git(repo.root, "rev-parse", short(head)).strip() == head
