"""Fixtures for the experiment tests: real git repositories and a session writer."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from clive.session import Redactor, SessionInfo, SessionWriter


@pytest.fixture
def git_env(tmp_path, monkeypatch) -> None:
    """git without the user's configuration, with a known identity."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Tester")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "tester@example.com")


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` and return what it printed."""
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture
def make_repo(git_env) -> Callable[[Path, dict[str, str]], Path]:
    """A factory: ``make_repo(path, {name: text})`` writes the files and commits them."""

    def make(path: Path, files: dict[str, str]) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            (path / name).write_text(text)
        git(path, "init", "--quiet", "--initial-branch=main")
        git(path, "add", "-A")
        git(path, "commit", "--quiet", "-m", "start")
        return path

    return make


@pytest.fixture
def writer(tmp_path) -> Iterator[SessionWriter]:
    info = SessionInfo(
        id="experiments",
        task="experiments",
        model="script:test",
        cwd=str(tmp_path),
        cols=100,
        rows=30,
        started_at="2026-11-23T10:00:00+00:00",
        scripted=True,
    )
    session = SessionWriter(
        tmp_path / "session",
        info,
        background_flush=False,
        redactor=Redactor(from_environment=False),
    )
    yield session
    session.close()
