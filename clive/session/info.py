"""``session.json``: what a session is, at a glance, without reading its events."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from clive.session.events import Outcome, SessionEnded, Totals

SESSION_FILE = "session.json"
EVENTS_FILE = "events.jsonl"
CAST_FILE = "terminal.cast"
OUTPUTS_DIR = "outputs"
NOTES_FILE = "notes.md"
RESULTS_FILE = "results.tsv"  # the experiments of a task with a metric (clive.experiments)


class SessionInfo(BaseModel):
    """The summary of a session, rewritten (atomically) when it starts, when it is resumed
    and when it ends.

    ``model`` is the model at work now; ``models`` every model the session has run with, in
    order (``clive resume --model`` adds one). ``settings`` are what resuming needs to go on
    as the session ran (budgets, approval, the model's address and limits, the sandbox), as
    they are now; never a key. ``best_metric`` and ``best_commit``: a task with a metric's
    best, at the end."""

    id: str
    task: str
    model: str
    models: list[str] = Field(default_factory=list)
    scripted: bool = False
    cwd: str
    cols: int
    rows: int
    started_at: str
    ended_at: str | None = None
    outcome: Outcome = Outcome.RUNNING
    summary: str = ""
    reason: str = ""
    totals: Totals = Field(default_factory=Totals)
    best_metric: float | None = None
    best_commit: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=dict)
    pid: int | None = None
    host: str | None = None

    def with_end(self, ended: SessionEnded, at: str | None = None) -> SessionInfo:
        """This summary with how the session ended, as ``ended`` says (``at``: when)."""
        return self.model_copy(
            update={
                "ended_at": at or self.ended_at,
                "outcome": ended.outcome,
                "summary": ended.summary,
                "reason": ended.reason,
                "totals": ended.totals,
                "best_metric": ended.best_metric,
                "best_commit": ended.best_commit,
            }
        )

    def write(self, directory: Path) -> None:
        """Replace ``session.json`` in ``directory``: readers see the old or the new, whole."""
        path = directory / SESSION_FILE
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, path)

    @classmethod
    def read(cls, directory: Path) -> SessionInfo:
        return cls.model_validate_json((directory / SESSION_FILE).read_bytes())
