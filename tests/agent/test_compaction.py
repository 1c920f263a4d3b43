"""A long session stays within a small context: the model writes notes, a fresh context
starts from the task, the notes and the current observation."""

from __future__ import annotations

import pytest
from scripted import RecordingScript, finish, type_, write_script

from clive.agent.loop import AgentSettings
from clive.agent.observation import estimate_tokens
from clive.agent.task import run_task
from clive.models import ScriptModel
from clive.session import Session
from clive.session.events import ContextCompacted, ModelTurn, Outcome


@pytest.mark.slow
def test_a_500_step_session_stays_within_a_small_context_and_keeps_its_notes(tmp_path):
    steps = 500
    limit = 8000
    turns = [type_(f"echo line-{i}") for i in range(1, steps)] + [finish("counted")]
    compactions = [{"compact": f"NOTES-{k}: echoed lines so far; keep going"} for k in range(60)]
    model = RecordingScript(write_script(tmp_path / "long.jsonl", turns + compactions))
    (tmp_path / "work").mkdir()
    writer, ended = run_task(
        "echo 500 lines, one a step",
        model,
        sessions_dir=tmp_path / "sessions",
        cwd=tmp_path / "work",
        settings=AgentSettings(max_steps=steps, context_limit=limit),
        user_rc=False,
    )
    assert ended.outcome is Outcome.FINISHED and ended.totals.steps == steps

    events = Session(writer.directory).log().events
    compacted = [e for e in events if isinstance(e, ContextCompacted)]
    assert len(compacted) >= 5
    assert all(e.tokens_after < e.tokens_before for e in compacted)
    # What the model was sent never outgrew the limit (estimated as the loop estimates it).
    acting = [e for e in events if isinstance(e, ModelTurn) and e.purpose == "act"]
    assert len(acting) == steps
    assert max(e.context_tokens for e in acting) <= limit
    for conversation in model.conversations:
        size = sum(estimate_tokens(m.text) + estimate_tokens(m.transient) for m in conversation)
        assert size <= limit

    # The notes carry over: each fresh context opens with the task and the latest notes (the
    # model was asked for everything it needs); notes.md keeps them all.
    fresh = [c for c in model.conversations if len(c) == 1]
    assert len(fresh) >= len(compacted)
    last_opening = fresh[-1][0].text
    assert last_opening.startswith("echo 500 lines, one a step")
    assert f"NOTES-{len(compacted) - 1}" in last_opening and "NOTES-0:" not in last_opening
    notes = (writer.directory / "notes.md").read_text()
    assert all(f"NOTES-{k}" in notes for k in range(len(compacted)))
    # The shell went on through every compaction: the last line is the last echo.
    assert "line-499" in "".join(e.data for e in Session(writer.directory).output())


def test_without_a_context_limit_nothing_is_compacted(tmp_path):
    model = ScriptModel(write_script(tmp_path / "t.jsonl", [type_("echo a"), finish()]))
    (tmp_path / "work").mkdir()
    writer, _ = run_task(
        "short", model, sessions_dir=tmp_path / "s", cwd=tmp_path / "work", user_rc=False
    )
    events = Session(writer.directory).log().events
    assert not [e for e in events if isinstance(e, ContextCompacted)]
