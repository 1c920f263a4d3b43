"""``clive sessions``: one line a session, the best metric where a session has one."""

from __future__ import annotations

from clive.cli import main
from clive.session import SessionInfo, SessionWriter
from clive.session.events import Outcome, SessionEnded


def _session(root, task: str, model: str, **ended) -> None:
    info = SessionInfo(
        id="", task=task, model=model, cwd="/", cols=80, rows=24, started_at="2026-01-01T10:00"
    )
    writer = SessionWriter.create(root, info, background_flush=False)
    writer.close(SessionEnded(outcome=Outcome.FINISHED, **ended))


def _listing(root, capsys) -> list[str]:
    assert main(["sessions", "--sessions-dir", str(root)]) == 0
    return capsys.readouterr().out.splitlines()


def test_the_best_metric_has_a_column_only_when_a_session_has_one(tmp_path, capsys):
    _session(tmp_path, "say hello", "openai:small")
    header, row = _listing(tmp_path, capsys)
    assert "BEST" not in header and "openai:small" in row

    _session(tmp_path, "train faster", "claude-sonnet-4-5", best_metric=0.0144191, best_commit="c")
    header, *rows = _listing(tmp_path, capsys)
    assert header.split()[-1] == "BEST"
    best = {row.split()[-1] for row in rows}
    assert best == {"-", "0.0144191"}


def test_running_sessions_are_marked_and_the_way_to_watch_one_is_said(tmp_path, capsys):
    _session(tmp_path, "done already", "m")
    info = SessionInfo(
        id="", task="still going", model="m", cwd="/", cols=80, rows=24, started_at="2026-01-02"
    )
    running = SessionWriter.create(tmp_path, info, background_flush=False)  # this process runs it
    try:
        lines = _listing(tmp_path, capsys)
    finally:
        running.close(SessionEnded(outcome=Outcome.QUIT))
    (row,) = [line for line in lines if "still going" in line]
    assert "running" in row.split()
    assert lines[-1] == f"running: 1; watch one with: clive attach {running.directory.name}"
    assert lines[-1] not in _listing(tmp_path, capsys)  # ended now: nothing to watch


def test_runs_of_many_workers_are_listed_after_the_sessions(tmp_path, capsys):
    from clive.experiments.fleet_run import write_run

    _session(tmp_path, "alone", "script:a.jsonl")
    run = tmp_path / "2026-12-02T01-00-00-fleet-lower-the-loss"
    run.mkdir()
    write_run(run, task="Lower the loss", workers=2, experiments=5, goal="minimize", pid=None,
              host="elsewhere", ended=False)  # fmt: skip
    (run / "results.tsv").write_text(
        "worker\tcommit\tmetric\tstatus\tseconds\tdescription\n"
        "1\ta\t0.5\tbaseline\t1.0\tbaseline\n"
        "2\tb\t0.25\tkeep\t1.0\tsmaller step\n"
    )
    lines = _listing(tmp_path, capsys)
    at = lines.index("runs of many workers (each worker's sessions in RUN/wK):")
    assert any(line.startswith("alone") or "alone" in line for line in lines[:at])
    assert lines[at + 1].split() == ["RUN", "TASK", "WORKERS", "STATE", "EXPERIMENTS", "BEST"]
    assert lines[at + 2].split() == [run.name, "Lower", "the", "loss", "2", "running", "1", "0.25"]
    assert lines[-1] == f"running: 1; watch one with: clive attach {run.name}"
