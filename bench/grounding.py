"""The price of grounding: what an experiment costs the harness besides the metric itself.

``measurement overhead``: an experiment whose metric prints a constant, from the tool call to
its result (the tree copied into the harness's directory, its changed blobs stored, a commit,
the metric started in a sandbox of its own, the best tree written back), against the old way:
the same metric typed into the model's shell (``env -i bash --norc -c ...``) and read off its
transcript. On a small repository (examples/tiny-train) and on one of 100 MB; the goal is
under a second for 100 MB. ``baseline``: the first copy, when every blob is stored once.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from clive.experiments.runner import ExperimentRunner
from clive.experiments.task_file import load_task
from clive.sandbox import probe
from clive.session import Redactor, SessionInfo, SessionWriter
from clive.terminal import Terminal

EXAMPLE = Path(__file__).parents[1] / "examples" / "tiny-train"
_TASK = """---
metric: {command: 'echo score: 1', pattern: 'score: ([0-9.]+)', goal: minimize, budget: 60}
limits: {experiments: 1000, consecutive_failures: 1000}
---
# Overhead
"""


def measurement_overhead(report, work: Path, quick: bool) -> None:
    print("grounding: measurement overhead (export + sandbox) against the in-shell run")
    problem = probe()
    if problem is not None:
        report.fail(f"the sandbox does not work here: {problem}")
        return
    repeats = 3 if quick else 7
    for name, size in (("small repo", 0), ("100 MB repo", 100 << 20)):
        repo = _repository(work / name.replace(" ", "-"), size)
        clive_seconds, baseline_seconds = _clive(repo, work / f"{name}-session", repeats)
        reference = _in_shell(repo, repeats)
        report.add(
            f"experiment overhead, {name}", clive_seconds, reference, "s",
            "< 1 s for 100 MB" if size else "",
        )  # fmt: skip
        report.add(f"baseline (every blob stored), {name}", baseline_seconds, None, "s")


def _repository(path: Path, size: int) -> Path:
    shutil.copytree(EXAMPLE, path)
    (path / "task.md").write_text(_TASK)
    data = path / "data"
    data.mkdir()
    chunk = 1 << 20
    for i in range(size // chunk):  # a hundred 1 MB files that do not compress
        (data / f"shard-{i:03d}.bin").write_bytes(os.urandom(chunk))
    env = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=b", "-c", "user.email=b@b",
                                                 "commit", "-qm", "start"]):  # fmt: skip
        subprocess.run(["git", *args], cwd=path, env=env, check=True)
    return path


def _clive(repo: Path, session: Path, repeats: int) -> tuple[float, float]:
    info = SessionInfo(
        id="bench", task="bench", model="script:bench", cwd=str(repo), cols=120, rows=40,
        started_at="2026-12-01T00:00:00+00:00",
    )  # fmt: skip
    writer = SessionWriter(session, info, background_flush=False, redactor=Redactor())
    try:
        runner = ExperimentRunner(writer, load_task(repo / "task.md"), sandboxed=True)
        started = time.perf_counter()
        runner.baseline()
        baseline = time.perf_counter() - started
        times = []
        for i in range(repeats):
            (repo / "config.py").write_text(f"STEPS = {i}\n")
            started = time.perf_counter()
            runner.run(f"change {i}")
            times.append(time.perf_counter() - started)
        return statistics.median(times), baseline
    finally:
        writer.close()


def _in_shell(repo: Path, repeats: int) -> float:
    command = "env -i PATH=/usr/bin:/bin bash --norc --noprofile -c 'echo score: 1'"
    with Terminal(120, 40, cwd=repo, user_rc=False) as terminal:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            result = terminal.run(command, timeout=30)
            times.append(time.perf_counter() - started)
            assert "score: 1" in result.output
    return statistics.median(times)
