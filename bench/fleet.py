"""Many workers on tiny-train (``clive run task.md --workers N``), 1, 2 and 4 of them, each trying
different changes (a script each: no tree is tried twice), as a user runs it.

``experiments per hour``: experiments recorded over the run's wall time, N workers against one.
``harness overhead per experiment``: the run's wall time less the time the metric itself ran
(the sum of the runs' seconds in results.tsv), over the experiments: clive's own cost, the
baselines, the sessions, the sandboxes, the shells and the model's turns (a script: nothing)
included. On this machine without a device per worker, measurements take turns: more workers
overlap the rest, not the metric.

The same with ``--ray`` on a two-node Ray cluster started on this machine (``ray start``), 2
and 4 workers, against the same counts without Ray: what the actors, the coordinator's calls
and the gathering of sessions cost.
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
    _on_ray(report, work, per_worker, figures)
    _waiting(report, work)


def _waiting(report, work: Path, workers: int = 4, seconds: float = 10.0) -> None:
    """What a waiting worker costs: ``workers`` workers each waiting on a long command in its
    shell (a training run, as the agent sees it), the CPU time clive's process takes over
    ``seconds``, per worker."""
    directory = work / "waiting"
    repo = _repository(directory)
    for number in range(1, workers + 1):
        turns = [
            {"tool": "type", "input": {"text": f"echo waiting-{number}; sleep 600"}},
            {"tool": "wait", "input": {"until": "done", "timeout": 600}},
        ]
        (directory / f"turns-{number}.jsonl").write_text(
            "".join(json.dumps(t) + "\n" for t in turns)
        )
    sessions = directory / "sessions"
    run = subprocess.Popen(
        [sys.executable, "-m", "clive", "run", "task.md", "--workers", str(workers),
         "--model", f"script:{directory}/turns-{{worker}}.jsonl", "--headless", "--no-user-rc",
         "--sessions-dir", str(sessions)],
        cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # every worker in its wait
            states = _states(sessions)
            if len(states) == workers and all('"name":"wait"' in s for s in states):
                break
            time.sleep(0.2)
        else:
            print("  waiting workers: they did not all start waiting within 120s: skipped")
            return
        time.sleep(1.0)  # settled in the wait
        before, started = _cpu(run.pid), time.monotonic()
        time.sleep(seconds)
        used, wall = _cpu(run.pid) - before, time.monotonic() - started
    finally:
        run.terminate()
        run.wait(timeout=60)
    share = used / wall / workers
    print(f"  {workers} workers waiting: clive took {used:.2f}s of CPU in {wall:.1f}s")
    report.add("fleet: CPU of a worker waiting on a long command", share * 100, None, "%", "~0")


def _states(sessions: Path) -> list[str]:
    """The last tool call of each worker's session so far."""
    found = []
    for log in sessions.glob("*/w*/*/events.jsonl"):
        calls = [line for line in log.read_text().splitlines() if '"type": "model_turn"' in line
                 or '"type":"model_turn"' in line]  # fmt: skip
        found.append(calls[-1] if calls else "")
    return found


def _cpu(pid: int) -> float:
    """The CPU seconds process ``pid`` has used (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _on_ray(report, work: Path, per_worker: int, local: dict) -> None:
    """The same runs with ``--ray`` on a real two-node Ray cluster on this machine, against
    the same number of workers without Ray."""
    try:
        import ray  # noqa: F401
    except ImportError:
        print("  ray: not installed (pip install -e '.[ray]'): skipped")
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from ray_cluster import RayCluster

    started = time.monotonic()
    cluster = RayCluster(head_cpus=2, second_cpus=2)
    print(f"  a two-node Ray cluster started in {time.monotonic() - started:.1f}s")
    try:
        for workers in (2, 4):
            count, wall, metric = _run(
                work / f"ray-{workers}", workers, per_worker, ray=cluster.address, env=cluster.env
            )
            print(f"  {workers} workers on Ray: {count} experiments in {wall:.1f}s")
            there = local[workers]
            report.add(
                f"fleet on Ray: experiments per hour, {workers} workers vs the same without Ray",
                count / wall * 3600, there[0] / there[1] * 3600, "/h",
            )  # fmt: skip
            report.add(
                f"fleet on Ray: harness overhead per experiment, {workers} workers",
                (wall - metric) / count, (there[1] - there[2]) / there[0], "s", "< 1 s",
            )  # fmt: skip
    finally:
        cluster.stop()


def _run(
    directory: Path,
    workers: int,
    per_worker: int,
    ray: str | None = None,
    env: dict[str, str] | None = None,
) -> tuple[int, float, float]:
    """A fresh repository and ``workers`` scripts of ``per_worker`` experiments each (on the
    Ray cluster at ``ray``): the experiments recorded, the run's wall time, the metric's own
    time."""
    repo = _repository(directory)
    env = {**(env or os.environ), "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
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
         "--sessions-dir", str(sessions), *(["--ray", ray] if ray else [])],
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


def _repository(directory: Path) -> Path:
    """A fresh tiny-train repository in ``directory``/repo, committed."""
    repo = directory / "repo"
    shutil.copytree(EXAMPLE, repo)
    env = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
    commit = ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "start"]
    for args in (["init", "-q"], ["add", "-A"], commit):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True)
    return repo
