"""``clive resume SESSION`` after a pause, for every backend: the session goes on with the
model, the server's address and the output limit it started with, unless a flag says other."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from chat_server import ChatServer, http_error, streamed_turn, tool_call
from messages_server import MessagesServer, reply, tool_use
from messages_server import http_error as messages_error

from clive.session import Session
from clive.session.events import Control, Outcome, ToolResult

CHAT = "/v1/chat/completions"
PAUSED = 7  # the exit status of a paused session
# Two tries with no wait between them: two failures pause a session at once.
FAST_RETRIES = "[retry]\nattempts = 2\ninitial = 0\nmaximum = 0\n"


def _clive(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """``clive ARGS`` as a user runs it, in ``tmp_path``, with a user config that makes
    retries fast, sessions under ``tmp_path/sessions``."""
    config = tmp_path / "config"
    (config / "clive").mkdir(parents=True, exist_ok=True)
    (config / "clive" / "config.toml").write_text(FAST_RETRIES)
    return subprocess.run(
        [sys.executable, "-m", "clive", *args, "--sessions-dir", "sessions"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "XDG_CONFIG_HOME": str(config), "CLIVE_MODEL": "", "CLIVE_BASE_URL": ""},
    )


def _paused(tmp_path: Path, *flags: str) -> Session:
    """A session of ``flags`` that typed a command, then found its model unavailable."""
    work = tmp_path / "work"
    work.mkdir()
    done = _clive(
        tmp_path, *flags, "--cwd", str(work), "--no-user-rc", "write the state, then read it"
    )
    assert done.returncode == PAUSED, done.stderr + done.stdout
    (directory,) = (tmp_path / "sessions").iterdir()
    assert f"resume it with: clive resume {directory}" in done.stderr
    session = Session(directory)
    assert session.info.outcome is Outcome.PAUSED
    return session


def _paused_on(chat: ChatServer, tmp_path: Path, *flags: str) -> Session:
    """``_paused`` with an OpenAI-compatible model of ``chat``, which then answers the rest
    of the session."""
    chat.enqueue(
        streamed_turn("", [tool_call("type", {"text": "echo first > state.txt"})]),
        *[http_error(503, "the server is loading the model")] * 2,
    )
    return _paused(tmp_path, "--model", "openai:small-model", *flags)


def _answer_the_rest(chat: ChatServer) -> None:
    chat.enqueue(
        streamed_turn("", [tool_call("type", {"text": "cat state.txt"})]),
        streamed_turn("", [tool_call("finish", {"summary": "read it"})]),
    )


def _resumed(tmp_path: Path, session: Session, *flags: str) -> Session:
    done = _clive(tmp_path, "resume", str(session.directory), "--no-user-rc", *flags)
    assert done.returncode == 0, done.stderr + done.stdout
    resumed = Session(session.directory)
    assert resumed.info.outcome is Outcome.FINISHED and resumed.info.summary == "read it"
    results = [e for e in resumed.log().events if isinstance(e, ToolResult)]
    assert [r.step for r in results] == [1, 2, 3], "the steps go on where they stopped"
    assert (tmp_path / "work" / "state.txt").read_text() == "first\n"
    return resumed


def _chat_bodies(chat: ChatServer) -> list[dict]:
    return [r.body for r in chat.requests if r.path == CHAT]


@pytest.mark.slow
def test_an_openai_session_resumes_with_its_server_and_output_limit(tmp_path):
    with ChatServer() as chat:
        flags = ("--base-url", chat.base_url, "--max-output-tokens", "321")
        session = _paused_on(chat, tmp_path, *flags)
        settings = session.info.settings
        assert settings["base_url"] == chat.base_url and settings["max_output_tokens"] == 321
        asked_before = len(_chat_bodies(chat))
        _answer_the_rest(chat)
        resumed = _resumed(tmp_path, session)
    after = _chat_bodies(chat)[asked_before:]
    assert len(after) == 2, "the resumed session asked the same server"
    assert [(b["model"], b["max_tokens"]) for b in after] == [("small-model", 321)] * 2
    assert resumed.info.model == "openai:small-model"
    assert resumed.info.models == ["openai:small-model"]


@pytest.mark.slow
def test_an_anthropic_session_resumes_with_its_server_and_limits(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-" + "k" * 40)
    with MessagesServer() as server:
        server.enqueue(
            reply(tool_use("type", {"text": "echo first > state.txt"})),
            *[messages_error(529, "overloaded_error", "Overloaded")] * 2,
        )
        session = _paused(
            tmp_path,
            "--model", "claude-sonnet-4-5", "--base-url", server.url,
            "--max-output-tokens", "6000", "--thinking", "2048",
        )  # fmt: skip
        first = server.requests[0].body
        server.enqueue(
            reply(tool_use("type", {"text": "cat state.txt"})),
            reply(tool_use("finish", {"summary": "read it"})),
        )
        asked_before = len(server.requests)
        _resumed(tmp_path, session)
        after = [r.body for r in server.requests[asked_before:] if r.path == "/v1/messages"]
    assert len(after) == 2, "the resumed session asked the same server"
    assert first["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    for body in after:
        assert body["model"] == "claude-sonnet-4-5"
        assert body["max_tokens"] == first["max_tokens"] and body["thinking"] == first["thinking"]
    raw = (session.directory / "session.json").read_bytes()
    assert b"sk-ant-test-" not in raw and b"k" * 40 not in raw, "the key stays in the environment"


@pytest.mark.slow
def test_flags_given_to_resume_override_what_the_session_recorded(tmp_path):
    with ChatServer() as first_server, ChatServer() as second_server:
        flags = ("--base-url", first_server.base_url, "--max-output-tokens", "321")
        session = _paused_on(first_server, tmp_path, *flags)
        asked_before = len(_chat_bodies(first_server))
        _answer_the_rest(second_server)
        resumed = _resumed(
            tmp_path,
            session,
            "--model", "openai:large-model", "--base-url", second_server.base_url,
            "--max-output-tokens", "77",
        )  # fmt: skip
    assert len(_chat_bodies(first_server)) == asked_before
    bodies = _chat_bodies(second_server)
    assert [(b["model"], b["max_tokens"]) for b in bodies] == [("large-model", 77)] * 2

    info = resumed.info
    assert info.model == "openai:large-model"
    assert info.models == ["openai:small-model", "openai:large-model"]
    assert info.settings["base_url"] == second_server.base_url
    assert info.settings["max_output_tokens"] == 77
    resume = next(e for e in resumed.log().events if isinstance(e, Control))
    assert "now with openai:large-model (was openai:small-model)" in resume.message
    listing = _clive(tmp_path, "sessions").stdout
    assert "openai:large-model" in listing and "openai:small-model" not in listing


@pytest.mark.slow
def test_an_address_with_a_password_is_not_kept_and_resume_asks_for_it(tmp_path):
    with ChatServer() as chat:
        with_password = chat.base_url.replace("http://", "http://clive:hunter2pw@")
        session = _paused_on(chat, tmp_path, "--base-url", with_password)
        written = [path for path in session.directory.rglob("*") if path.is_file()]
        assert [path for path in written if b"hunter2pw" in path.read_bytes()] == []
        refused = _clive(tmp_path, "resume", str(session.directory), "--no-user-rc")
        assert refused.returncode == 2
        assert "held a credential" in refused.stderr and "--base-url" in refused.stderr
        _answer_the_rest(chat)
        _resumed(tmp_path, session, "--base-url", with_password)
