"""Many workers on tiny-train (``clive run task.md --workers N``), 1, 2 and 4 of them, each trying
different changes (a script each: no tree is tried twice), as a user runs it.

``experiments per hour``: experiments recorded over the run's wall time, N workers against one.
``harness overhead per experiment``: the run's wall time less the time the metric itself ran
(the sum of the runs' seconds in results.tsv), over the experiments: clive's own cost, the
baselines, the sessions, the sandboxes, the shells and the model's turns (a script: nothing)
included. On this machine without a device per worker, measurements take turns: more workers
overlap the rest, not the metric.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from clive.experiments.results import read_results

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "tiny-train"
RATES = ("0.06", "0.07", "0.08", "0.09", "0.1", "0.11", "0.12", "0.13", "0.14", "0.15", "0.16",
         "0.17", "0.18", "0.19", "0.2", "0.21")  # fmt: skip


def fleet_speed(report, work: Path, quick: bool) -> None:
    print("fleet: tiny-train with 1, 2 and 4 workers (scripted), experiments per hour, overhead")
    per_worker = 2 if quick else 4
    figures = {}
    for workers in (1, 2, 4):
        figures[workers] = _run(work / f"fleet-{workers}", workers, per_worker)
        print(
            f"  {workers} workers: {figures[workers][0]} experiments in {figures[workers][1]:.1f}s"
        )
    one = figures[1]
    for workers in (2, 4):
        count, wall, _ = figures[workers]
        report.add(
            f"fleet: experiments per hour, {workers} workers vs 1",
            count / wall * 3600, one[0] / one[1] * 3600, "/h",
        )  # fmt: skip
    for workers, (count, wall, metric) in figures.items():
        report.add(
            f"fleet: harness overhead per experiment, {workers} worker(s)",
            (wall - metric) / count, None, "s", "< 1 s",
        )  # fmt: skip


def _run(directory: Path, workers: int, per_worker: int) -> tuple[int, float, float]:
    """A fresh repository and ``workers`` scripts of ``per_worker`` experiments each: the
    experiments recorded, the run's wall time, the metric's own time."""
    repo = directory / "repo"
    shutil.copytree(EXAMPLE, repo)
    env = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
    commit = ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "start"]
    for args in (["init", "-q"], ["add", "-A"], commit):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True)
    rates = iter(RATES)
    for number in range(1, workers + 1):
        turns = []
        for _ in range(per_worker):
            rate = next(rates)
            sed = f"sed -i 's/^LEARNING_RATE = .*/LEARNING_RATE = {rate}/' config.py"
            turns += [
                {"tool": "type", "input": {"text": sed}},
                {"tool": "experiment", "input": {"description": f"learning rate {rate}"}},
            ]
        turns.append({"tool": "finish", "input": {"summary": "done"}})
        (directory / f"turns-{number}.jsonl").write_text(
            "".join(json.dumps(t) + "\n" for t in turns)
        )
    sessions = directory / "sessions"
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "clive", "run", "task.md", "--workers", str(workers),
         "--model", f"script:{directory}/turns-{{worker}}.jsonl", "--headless", "--no-user-rc",
         "--sessions-dir", str(sessions)],
        cwd=repo, env=env, check=True, capture_output=True,
    )  # fmt: skip
    wall = time.monotonic() - started
    if workers == 1:
        (session,) = sessions.iterdir()
        table = session / "results.tsv"
    else:
        (run,) = [p for p in sessions.iterdir() if p.is_dir()]
        table = run / "results.tsv"
    rows = read_results(table)
    experiments = [row for row in rows if row["status"] != "baseline"]
    metric = sum(float(row["seconds"]) for row in rows)
    return len(experiments), wall, metric
