"""make bench: clive's terminal against its references, side by side, in one run.

    python -m bench [--quick] [--only throughput|latency|idle|memory|log|seek|tokens|...]

Throughput: a workload through clive's Terminal and through tmux, until the prompt is back with
the right final screen and (for clive) a complete transcript. Latency: short commands through
Terminal.run, subprocess.run, tmux send-keys + wait-for, and clive's shell in a bare PTY whose
markers are read by hand (the floor). Idle: the CPU a Terminal waiting on a pattern costs while
nothing is printed, beside tmux's server's. Memory: peak RSS of a process whose
Terminal swallows 1 GB of output. Log, seek and tokens (bench/session.py): session log bytes per
hour of a progress bar against a recorder that writes every chunk; the screen at random moments
of a 1 GB cast through its index against replaying it from the start; tokens of clive's
observations in a scripted session against the full tmux scrollback that tmux-based harnesses
send. Timings are reported, never judged: only a wrong screen, transcript or recording makes
this exit non-zero; a reference that fails (tmux never drawing its prompt) is reported as its
own failure, and its figure left out.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import fleet, grounding, session, ui
from bench._raw_pty import RawShell
from bench._tmux import TmuxReference, TmuxReferenceError
from clive.terminal import Terminal, WaitReason

COLS, ROWS = 120, 40
RESULTS = Path(__file__).parent / "results" / "latest.json"

LOG_SCRIPT = """
import sys
for i in range(100_000):
    sys.stdout.write(
        f"step {i:6d} | loss \\x1b[32m{2.5 - i * 1e-5:.4f}\\x1b[0m | lr 3.0e-04 | "
        f"\\x1b[1mtok/s {120000 + i % 977}\\x1b[0m\\n"
    )
"""
BAR_SCRIPT = """
import sys
N = 200_000
for i in range(N + 1):
    filled = i * 40 // N
    sys.stdout.write(f"\\r{100 * i / N:5.1f}% |{'█' * filled}{' ' * (40 - filled)}| {i}/{N}")
sys.stdout.write("\\n")
"""


class Report:
    """Rows of the summary table, and the JSON written beside it."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.failures: list[str] = []
        self.reference_failures: list[str] = []

    def add(self, figure: str, clive: float, reference: float | None, unit: str, goal: str = ""):
        ratio = clive / reference if reference else None
        self.rows.append(
            {"figure": figure, "clive": clive, "reference": reference, "unit": unit,
             "ratio": ratio, "goal": goal}
        )  # fmt: skip
        ref = f"{reference:.3f}" if reference is not None else "-"
        ratio_text = f"{ratio:.2f}" if ratio is not None else "-"
        print(f"  {figure}: clive {clive:.3f} {unit}, reference {ref}, ratio {ratio_text}")

    def fail(self, message: str) -> None:
        self.failures.append(message)
        print(f"  CORRECTNESS FAILURE: {message}")

    def reference_failed(self, message: str) -> None:
        """A reference failed: its failure, not clive's; its figure is left out."""
        self.reference_failures.append(message)
        print(f"  REFERENCE FAILURE (not clive's): {message}")

    def print_table(self) -> None:
        print()
        header = f"{'figure':<48} {'clive':>10} {'reference':>10} {'ratio':>7}  {'unit':<10} goal"
        print(header)
        print("-" * len(header))
        for row in self.rows:
            ref = f"{row['reference']:.3f}" if row["reference"] is not None else "-"
            ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "-"
            print(
                f"{row['figure']:<48} {row['clive']:>10.3f} {ref:>10} {ratio:>7}  "
                f"{row['unit']:<10} {row['goal']}"
            )

    def save(self) -> None:
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(
            json.dumps(
                {
                    "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    "rows": self.rows,
                    "reference_failures": self.reference_failures,
                },
                indent=1,
            )
        )


class _ByteCounter:
    """An output listener that counts the bytes the terminal printed."""

    def __init__(self) -> None:
        self.total = 0

    def __call__(self, data: bytes, _when: float) -> None:
        self.total += len(data)


def _output_rows(lines: list[str], count: int) -> list[str]:
    """The last ``count`` rows above the final prompt: the command lines and prompts differ
    between the two harnesses (tmux's command carries its wait-for), the output must not."""
    rows = list(lines)
    while rows and not rows[-1]:
        rows.pop()
    return rows[-count - 1 : -1]


def throughput(report: Report, work: Path, repeats: int) -> None:
    (work / "log.py").write_text(LOG_SCRIPT)
    (work / "bar.py").write_text(BAR_SCRIPT)
    with open(work / "log.txt", "w") as log:
        subprocess.run([sys.executable, "log.py"], cwd=work, stdout=log, check=True)
    bar_output = subprocess.run([sys.executable, "bar.py"], cwd=work, capture_output=True).stdout
    bar_final = bar_output.decode().rsplit("\r", 1)[-1]
    workloads = [
        ("seq 1 3000000", "seq 1 3000000", 3_000_000, "3000000", ROWS - 1),
        ("100,000-line coloured training log", "cat log.txt", 100_000, None, ROWS - 1),
        ("carriage-return progress bar, 200,000 updates", "python3 bar.py", 1, bar_final, 1),
    ]
    for name, command, lines, last, screen_rows in workloads:
        print(f"throughput: {name}")
        clive_times, tmux_times, size = [], [], 0
        for attempt in range(repeats):
            print(f"  run {attempt + 1}/{repeats}", flush=True)
            with Terminal(COLS, ROWS, cwd=work, user_rc=False, env={"PS1": "$ "}) as term:
                printed = _ByteCounter()
                term.add_output_listener(printed)
                started = time.perf_counter()
                result = term.run(command, timeout=600)
                screen = term.snapshot().lines
                clive_times.append(time.perf_counter() - started)
            size = printed.total
            output_lines = result.output.splitlines()
            if result.exit_code != 0 or len(output_lines) != lines:
                report.fail(f"{name}: exit {result.exit_code}, {len(output_lines)} lines")
            if last is not None and output_lines and output_lines[-1].strip() != last.strip():
                report.fail(f"{name}: transcript ends with {output_lines[-1]!r}, not {last!r}")
            in_tmux = _in_tmux(report, name, command, work)
            if in_tmux is None:
                continue
            seconds, reference = in_tmux
            tmux_times.append(seconds)
            if _output_rows(screen, screen_rows) != _output_rows(reference, screen_rows):
                report.fail(
                    f"{name}: final screen differs from tmux's:\n"
                    + "\n".join(
                        f"  {a!r:<60} {b!r}" for a, b in zip(screen, reference, strict=False)
                    )
                )
        clive_median = statistics.median(clive_times)
        tmux_median = statistics.median(tmux_times) if tmux_times else None
        report.add(f"{name} (s)", clive_median, tmux_median, "s", "ratio <= 1.0")
        report.add(f"{name} (s) vs a bare Python PTY reader", clive_median,
                   _bare_reader_time(command, work, repeats), "s")  # fmt: skip
        report.add(f"{name} (MB/s printed)", size / clive_median / 1e6,
                   size / tmux_median / 1e6 if tmux_median else None, "MB/s")  # fmt: skip


def _bare_reader_time(command: str, work: Path, repeats: int) -> float:
    """Median seconds of ``command`` in clive's shell read by a bare Python loop (no
    transcript, no screen): the floor for a Python reader of a PTY on this machine."""
    times = []
    for _ in range(repeats):
        bare = RawShell(COLS, ROWS, str(work))
        try:
            times.append(bare.run(command))
        finally:
            bare.close()
    return statistics.median(times)


def _in_tmux(report: Report, name: str, command: str, work: Path) -> tuple[float, list[str]] | None:
    """``command`` in a fresh tmux: its time and the screen after it, or None if tmux failed
    (reported as the reference's failure)."""
    try:
        tmux = TmuxReference(COLS, ROWS, str(work))
        try:
            return tmux.run(command), tmux.capture()
        finally:
            tmux.close()
    except TmuxReferenceError as error:
        report.reference_failed(f"{name}: {error}")
        return None


def _p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[18]  # the 19th of 20 quantiles


def latency(report: Report, work: Path, count: int) -> None:
    print(f"latency: {count} sequential short commands (/bin/true: a process each time)")
    with Terminal(COLS, ROWS, cwd=work, user_rc=False) as term:
        clive_times = [term.run("/bin/true").duration for _ in range(count)]
    subprocess_times = []
    for _ in range(count):
        started = time.perf_counter()
        subprocess.run(["/bin/true"], check=True)
        subprocess_times.append(time.perf_counter() - started)
    tmux_times = []
    try:
        tmux = TmuxReference(COLS, ROWS, str(work))
        try:
            tmux_times = [tmux.run("/bin/true") for _ in range(count)]
        finally:
            tmux.close()
    except TmuxReferenceError as error:
        report.reference_failed(f"latency: {error}")
    builtins = count * 5
    print(f"latency: {builtins} runs of the shell's builtin `true` (the harness's own cost)")
    builtin_times, bare_times = [], []
    bare = RawShell(COLS, ROWS, str(work))
    try:
        with Terminal(COLS, ROWS, cwd=work, user_rc=False) as term:
            for _ in range(builtins):  # in turns: a load on the machine weighs on both alike
                builtin_times.append(term.run("true").duration)
                bare_times.append(bare.run("true"))
    finally:
        bare.close()
    ms = 1000
    clive_median = statistics.median(clive_times) * ms
    report.add("run() median per command (ms) vs subprocess.run", clive_median,
               statistics.median(subprocess_times) * ms, "ms")  # fmt: skip
    report.add("run() median per command (ms) vs tmux send-keys", clive_median,
               statistics.median(tmux_times) * ms if tmux_times else None, "ms")  # fmt: skip
    report.add("run() p95 per command (ms) vs tmux send-keys", _p95(clive_times) * ms,
               _p95(tmux_times) * ms if tmux_times else None, "ms")  # fmt: skip
    overhead = clive_median - statistics.median(subprocess_times) * ms
    report.add("run() overhead over subprocess.run (ms)", overhead, None, "ms", "< 5 ms")
    report.add("run('true') median (ms) vs a bare PTY + OSC 133",
               statistics.median(builtin_times) * ms, statistics.median(bare_times) * ms, "ms",
               "<= 1 ms")  # fmt: skip
    report.add("run('true') p95 (ms) vs a bare PTY + OSC 133", _p95(builtin_times) * ms,
               _p95(bare_times) * ms, "ms")  # fmt: skip


def idle(report: Report, work: Path, seconds: float) -> None:
    print(f"idle: a Terminal waiting {seconds:g} s on a pattern that never comes, nothing printed")
    tmux = None
    try:
        tmux = TmuxReference(COLS, ROWS, str(work))
    except TmuxReferenceError as error:
        report.reference_failed(f"idle: {error}")
    try:
        with Terminal(COLS, ROWS, cwd=work, user_rc=False) as term:
            tmux_before = tmux.server_cpu_seconds() if tmux else 0.0
            cpu_before, started = time.process_time(), time.monotonic()  # every thread's CPU
            outcome = term.wait(pattern="never printed", timeout=seconds)
            cpu, wall = time.process_time() - cpu_before, time.monotonic() - started
            tmux_cpu = tmux.server_cpu_seconds() - tmux_before if tmux else None
    finally:
        if tmux is not None:
            tmux.close()
    if outcome.reason is not WaitReason.TIMEOUT:
        report.fail(f"idle: the wait ended by {outcome.reason.value}, not at its deadline")
    report.add("idle wait on a pattern (% of a core) vs tmux server", 100 * cpu / wall,
               100 * tmux_cpu / wall if tmux_cpu is not None else None, "%",
               "< 0.1")  # fmt: skip


def memory(report: Report, size: int) -> None:
    print(f"memory: {size / 1e6:.0f} MB of output through one Terminal (in a child process)")
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--memory-child", str(size)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        report.fail(f"memory child failed: {done.stderr[-2000:]}")
        return
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    if not figures["complete"]:
        report.fail(f"memory: output not complete on disk: {figures}")
    report.add(f"peak RSS after {size / 1e6:.0f} MB of output (MB)", figures["peak_rss_mb"],
               None, "MB", "< 300 MB")  # fmt: skip
    report.add(f"time for {size / 1e6:.0f} MB of output (s)", figures["seconds"], None, "s")


def _memory_child(size: int) -> None:
    line = "x" * 59
    with tempfile.TemporaryDirectory() as work, Terminal(COLS, ROWS, cwd=work) as term:
        started = time.perf_counter()
        result = term.run(f"yes {line} 2>/dev/null | head -c {size}", timeout=3600)
        seconds = time.perf_counter() - started
        on_disk = result.output_path.stat().st_size if result.output_path else len(result.output)
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the parent.
        status = Path("/proc/self/status").read_text()
        peak = int(status.split("VmHWM:")[1].split()[0]) / 1024
        complete = on_disk == size and result.exit_code == 0
        print(json.dumps({"peak_rss_mb": peak, "seconds": seconds, "complete": complete}))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="1 repeat, 50 commands, 100 MB, 10 min"
    )
    parser.add_argument(
        "--only",
        choices=[
            "throughput",
            "latency",
            "idle",
            "memory",
            "log",
            "seek",
            "tokens",
            "recorded",
            "ui",
            "grounding",
            "fleet",
        ],
    )
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        _memory_child(args.memory_child)
        return 0
    report = Report()
    with tempfile.TemporaryDirectory(prefix="clive-bench-") as tmp:
        work = Path(tmp)
        os.environ.pop("TMUX", None)
        if args.only in (None, "throughput"):
            throughput(report, work, repeats=1 if args.quick else 3)
        if args.only in (None, "latency"):
            latency(report, work, count=50 if args.quick else 200)
        if args.only in (None, "idle"):
            idle(report, work, seconds=10)
        if args.only in (None, "memory"):
            memory(report, size=100_000_000 if args.quick else 1_000_000_000)
        if args.only in (None, "log"):
            session.log_size(report, args.quick)
        if args.only in (None, "seek"):
            session.seek(report, args.quick)
        if args.only in (None, "tokens"):
            session.observation_tokens(report, args.quick)
        if args.only in (None, "recorded"):
            session.recorded_session(report, args.quick)
        if args.only in (None, "ui"):
            ui.ui_responsiveness(report, args.quick)
        if args.only in (None, "grounding"):
            grounding.measurement_overhead(report, work, args.quick)
        if args.only in (None, "fleet"):
            fleet.fleet_speed(report, work, args.quick)
    report.print_table()
    report.save()
    if report.reference_failures:
        print("\nreference failures (not clive's):\n  " + "\n  ".join(report.reference_failures))
    if report.failures:
        print("\ncorrectness failures:\n  " + "\n  ".join(report.failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
