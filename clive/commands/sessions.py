"""``clive sessions``: the sessions on disk, one line each."""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

from clive.experiments.fleet_run import is_run, read_run
from clive.session import list_sessions
from clive.session.events import Outcome
from clive.session.present import format_duration


def sessions(args: argparse.Namespace) -> int:
    root = Path(args.sessions_dir)
    found = list_sessions(root)
    if args.json:
        for session in found:
            print(session.info.model_dump_json())
        return 0
    runs = _runs(root)
    if not found and not runs:
        print(f"no sessions in {root}")
        return 0
    if found:
        _table(found)
    if runs:
        print(("\n" if found else "") + "runs of many workers (each worker's sessions in RUN/wK):")
        _print_rows(runs)
        going = [row[0] for row in runs[1:] if row[3] == "running"]
        if going:
            print(f"\nrunning: {len(going)}; watch one with: clive attach {going[-1]}")
    return 0


def _runs(root: Path) -> list[list[str]]:
    """A row for each run of many workers under ``root`` (a header first), or none."""
    found = sorted(p for p in root.glob("*-fleet-*") if is_run(p))
    if not found:
        return []
    rows = [["RUN", "TASK", "WORKERS", "STATE", "EXPERIMENTS", "BEST"]]
    for path in found:
        run = read_run(path)
        best = run.best()
        rows.append([
            path.name, _clip(run.task, 40), str(len(run.workers)),
            "ended" if run.ended else "running" if run.running else "gone",
            str(sum(1 for r in run.results if r.status != "baseline")),
            "-" if best is None or best.metric is None else f"{best.metric:.6g}",
        ])  # fmt: skip
    return rows


def _table(found) -> None:
    # The best metric of `clive run` sessions, in a column of its own when there are any.
    best = any(session.info.best_metric is not None for session in found)
    rows = [["SESSION", "WHEN", "TASK", "MODEL", "OUTCOME", "TIME", "STEPS", "COST"]]
    rows[0] += ["BEST"] if best else []
    for session in found:
        info = session.info
        totals = info.totals
        rows.append(
            [
                session.name,
                _when(info.started_at),
                _clip(info.task, 40),
                _model_label(info.model),
                info.outcome.value,
                format_duration(totals.duration),
                str(totals.steps),
                "-" if totals.cost is None else f"${totals.cost:.2f}",
            ]
        )
        if best:
            rows[-1].append("-" if info.best_metric is None else f"{info.best_metric:.6g}")
    _print_rows(rows)
    running = [s.name for s in found if s.info.outcome is Outcome.RUNNING]
    if running:
        print(f"\nrunning: {len(running)}; watch one with: clive attach {running[-1]}")


def _print_rows(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _model_label(model: str) -> str:
    kind, _, rest = model.partition(":")
    return f"script:{Path(rest).name}" if kind == "script" else _clip(model, 32)


def _when(iso: str) -> str:
    try:
        return datetime.datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."
