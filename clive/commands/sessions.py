"""``clive sessions``: the sessions on disk, one line each."""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

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
    if not found:
        print(f"no sessions in {root}")
        return 0
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
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    running = [s.name for s in found if s.info.outcome is Outcome.RUNNING]
    if running:
        print(f"\nrunning: {len(running)}; watch one with: clive attach {running[-1]}")
    return 0


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
