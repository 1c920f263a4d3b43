"""Running scripted sessions in tests: the real loop, a real shell, a session on disk."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from clive.agent.loop import AgentSettings
from clive.agent.task import run_task
from clive.models import ScriptModel
from clive.session import Session
from clive.session.events import SessionEnded


class RecordingScript(ScriptModel):
    """The script backend, keeping a copy of every conversation it is sent."""

    def __init__(self, path):
        super().__init__(path)
        self.conversations = []

    def reply(self, system, messages, tools, **listeners):
        self.conversations.append(list(messages))
        return super().reply(system, messages, tools, **listeners)


TINY_TRAIN = Path(__file__).resolve().parents[1] / "examples" / "tiny-train"


def tiny_train(directory: Path) -> Path:
    """A fresh repository of the tiny-train example at ``directory``/repo, its one commit
    named "tiny-train"."""
    repo = directory / "repo"
    shutil.copytree(TINY_TRAIN, repo)
    identity = ["-c", "user.name=Tester", "-c", "user.email=tester@example.com"]
    for args in (["init", "-q", "--initial-branch=main"], ["add", "-A"],
                 [*identity, "commit", "-qm", "tiny-train"]):  # fmt: skip
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)
    return repo


def write_script(path: Path, turns: list[dict]) -> Path:
    path.write_text("".join(json.dumps(turn) + "\n" for turn in turns), encoding="utf-8")
    return path


def run_script(
    tmp_path: Path, turns: list[dict], task: str = "a scripted task", **settings
) -> tuple[Session, SessionEnded]:
    """Run ``turns`` as a session in ``tmp_path/work``, recorded under ``tmp_path/sessions``."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    script = write_script(tmp_path / "turns.jsonl", turns)
    writer, ended = run_task(
        task,
        ScriptModel(script),
        sessions_dir=tmp_path / "sessions",
        cwd=work,
        settings=AgentSettings(**settings),
        cols=80,
        rows=24,
        user_rc=False,
    )
    return Session(writer.directory), ended


def type_(text: str, **extra) -> dict:
    return {"tool": "type", "input": {"text": text, **extra}}


def wait(**extra) -> dict:
    return {"tool": "wait", "input": extra}


def finish(summary: str = "done") -> dict:
    return {"tool": "finish", "input": {"summary": summary}}
