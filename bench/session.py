"""Benchmarks of what clive records and sends, each beside its reference in the same run.

``log_size``: bytes a session log costs per hour of a progress bar, against a recorder that
writes every chunk (asciinema rec). ``seek``: the screen at any moment of a huge cast through
``ScreenIndex``, against replaying the cast from its start. ``observation_tokens``: tokens of
clive's observations in a scripted scenario, against the full-scrollback capture a tmux-based
harness sends at every step. ``recorded_session``: ``seq 1 3000000`` in a session recorded as a
real one is (events, cast, redaction, transcript), against ``asciinema rec`` and tmux.
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench._tmux import TmuxReference, TmuxReferenceError
from clive.agent.observation import estimate_tokens
from clive.agent.task import run_task
from clive.models import ScriptModel
from clive.session.asciicast import CastWriter, iter_events
from clive.session.events import Outcome
from clive.session.info import CAST_FILE, EVENTS_FILE, SessionInfo
from clive.session.reader import Session
from clive.session.replay import ScreenIndex
from clive.session.writer import SessionWriter
from clive.terminal import Terminal
from clive.terminal.emulator import Emulator

COLS, ROWS = 120, 40
MB = 1e6

# -- session log size -----------------------------------------------------------------------

BAR_RATE = 10  # updates a second
EPOCH_UPDATES = 600  # a log line ends each tqdm bar, every minute


def bar_text(i: int, total: int = EPOCH_UPDATES) -> str:
    """What tqdm draws at update ``i`` of a bar of ``total`` (one bar per epoch):
    ``epoch 3:  45%|████▌     | 270/600 [00:27<00:33, 10.00it/s]``."""
    n = i % total + 1
    eighths = n * 10 * 8 // total
    full, part = divmod(eighths, 8)
    bar = ("█" * full + (" ▏▎▍▌▋▊▉"[part] if full < 10 else "")).ljust(10)
    elapsed, left = n // BAR_RATE, (total - n) // BAR_RATE
    return (
        f"epoch {i // total + 1}: {100 * n / total:3.0f}%|{bar}| {n}/{total} "
        f"[{elapsed // 60:02d}:{elapsed % 60:02d}<{left // 60:02d}:{left % 60:02d}, "
        f"{BAR_RATE:.2f}it/s]"
    )


def _progress_bar_chunks(seconds: int) -> Iterator[tuple[float, str]]:
    """(time, text) of the terminal's output: a redraw every 0.1 s, a log line every epoch."""
    for i in range(seconds * BAR_RATE):
        t = i / BAR_RATE
        yield t, "\r" + bar_text(i)
        if i % EPOCH_UPDATES == EPOCH_UPDATES - 1:
            epoch = i // EPOCH_UPDATES + 1
            yield t, f"\r\nepoch {epoch} done, loss {2.5 / (1 + 0.1 * epoch):.4f}\r\n"


def log_size(report, quick: bool) -> None:
    seconds = 600 if quick else 3600
    label = "10 min simulated" if quick else "1 h simulated"
    print(f"log size: a progress bar redrawn {BAR_RATE} times a second, {label}")
    chunks = list(_progress_bar_chunks(seconds))
    with tempfile.TemporaryDirectory(prefix="clive-bench-log-") as tmp:
        directory = Path(tmp) / "session"
        info = SessionInfo(
            id="bench", task="bench", model="bench", cwd="/", cols=COLS, rows=ROWS,
            started_at="2026-01-01T00:00:00+00:00",
        )  # fmt: skip
        writer = SessionWriter(directory, info, clock=lambda: 0.0, background_flush=False)
        started = time.perf_counter()
        for t, text in chunks:
            writer.terminal_output(text.encode(), t)
        writer.close()
        write_seconds = time.perf_counter() - started
        cast = directory / CAST_FILE
        clive_bytes = cast.stat().st_size + (directory / EVENTS_FILE).stat().st_size
        # asciinema rec writes every chunk as it comes, after the same header.
        header = len(cast.read_bytes().split(b"\n", 1)[0]) + 1
        reference_bytes = header + sum(
            len(json.dumps([round(t, 6), "o", text], ensure_ascii=False).encode()) + 1
            for t, text in chunks
        )
        per_hour = 3600 / seconds / MB
        report.add(f"log MB/h: 10/s progress bar, {label}",
                   clive_bytes * per_hour, reference_bytes * per_hour, "MB/h")  # fmt: skip
        report.add(f"log: time to record it, {label} (s)", write_seconds, None, "s")
        _check_screen_each_second(report, cast, chunks, seconds)


def _check_screen_each_second(
    report, cast: Path, chunks: list[tuple[float, str]], seconds: int
) -> None:
    """At each whole second s, the cast's screen must be one the terminal showed in (s-1, s].

    One pass over both streams: ``recorded`` is fed the cast's events up to s, ``actual`` the
    raw chunks; the actual screen is only rendered until it matches the recorded one.
    """
    recorded, actual = Emulator(COLS, ROWS), Emulator(COLS, ROWS)
    events = [e for e in iter_events(cast) if e.code == "o"]
    next_event = next_chunk = 0
    mismatches = []
    for s in range(1, seconds + 1):
        while next_event < len(events) and events[next_event].time <= s:
            recorded.feed(events[next_event].data)
            next_event += 1
        shown = recorded.lines()
        while next_chunk < len(chunks) and chunks[next_chunk][0] <= s - 1:
            actual.feed(chunks[next_chunk][1])
            next_chunk += 1
        # The screen after every chunk up to s-1 is still showing just after s-1.
        matched = actual.lines() == shown
        while next_chunk < len(chunks) and chunks[next_chunk][0] <= s:
            actual.feed(chunks[next_chunk][1])
            next_chunk += 1
            matched = matched or actual.lines() == shown
        if not matched:
            mismatches.append(s)
    if mismatches:
        report.fail(
            f"log size: at {len(mismatches)} of {seconds} seconds the cast shows a screen the "
            f"terminal did not show in the second before (first: {mismatches[:5]})"
        )


# -- seek in a huge cast --------------------------------------------------------------------

EVENT_CHARS = 64 << 10
EVENT_EVERY = 0.05  # seconds between events
# Sections, as (first event, every, length) in events: a progress bar and a full-screen
# program (an alternate screen, like htop), both once within the first 20 MB as well.
BAR_SECTIONS = (40, 700, 10)
FULL_SCREEN_SECTIONS = (120, 4000, 100)


def _in_section(k: int, section: tuple[int, int, int]) -> int | None:
    """Which event of its section event ``k`` is (0 is the first), or None if outside."""
    first, every, length = section
    if k < first or (k - first) % every >= length:
        return None
    return (k - first) % every


def _training_log(step: int, chars: int) -> tuple[str, int]:
    lines = []
    size = 0
    while size < chars:
        loss = 2.5 / (1 + step * 1e-4) + step % 7 * 1e-3
        line = (
            f"step {step:6d} | loss \x1b[32m{loss:.4f}\x1b[0m | lr 3e-4 | "
            f"tok/s {120000 + step * 7919 % 9973}\r\n"
        )
        lines.append(line)
        size += len(line)
        step += 1
    return "".join(lines), step


def _progress_bar(k: int, chars: int) -> str:
    redraws = []
    size = 0
    i = k * 1000
    while size < chars:
        redraws.append("\r" + bar_text(i, 100_000))
        size += len(redraws[-1])
        i += 1
    return "".join(redraws)


def _full_screen_frames(k: int, chars: int) -> str:
    """Whole-screen redraws of a top-like program, every row cursor-addressed."""
    frames = []
    size = 0
    frame = k * 100
    while size < chars:
        rows = [
            f"\x1b[1;1H\x1b[7m top - frame {frame:8d}  load {frame % 97 / 10:.2f} \x1b[K\x1b[0m"
        ]
        for row in range(3, ROWS + 1):
            pid = 1000 + (row * 37 + frame) % 9000
            rows.append(
                f"\x1b[{row};1H{pid:6d} user  {(row * frame) % 100:3d}.0 "
                f"\x1b[{row};30H{'python train.py' if row % 3 else 'bash'}\x1b[K"
            )
        rows.append(f"\x1b[5;10H\x1b[1m{frame % 1000:03d}\x1b[0m")
        frames.append("".join(rows))
        size += len(frames[-1])
        frame += 1
    return "".join(frames)


def _write_cast(path: Path, size: int) -> list[tuple[float, int]]:
    """A synthetic cast of at least ``size`` bytes; (time, end offset) of every event."""
    events = []
    step = 0
    with open(path, "wb") as file:
        cast = CastWriter(file)
        cast.header(COLS, ROWS, timestamp=0, title="bench", env={})
        k = 0
        while file.tell() < size:
            t = k / 20  # EVENT_EVERY apart, without adding up rounding errors
            bar = _in_section(k, BAR_SECTIONS)
            screen = _in_section(k, FULL_SCREEN_SECTIONS)
            if screen == 0:
                text = "\x1b[?1049h\x1b[H\x1b[2J" + _full_screen_frames(k, EVENT_CHARS)
            elif screen is not None:
                text = _full_screen_frames(k, EVENT_CHARS)
            elif _in_section(k - 1, FULL_SCREEN_SECTIONS) is not None:
                text = "\x1b[?1049l$ python train.py --resume\r\n"  # back to the main screen
            elif bar is not None:
                text = _progress_bar(k, EVENT_CHARS)
                if bar == BAR_SECTIONS[2] - 1:
                    text += "\r\n"
            else:
                text, step = _training_log(step, EVENT_CHARS)
            cast.event(t, "o", text)
            events.append((t, file.tell()))
            k += 1
    return events


def _replay_from_start(cast: Path, time_: float) -> Emulator:
    """The screen at ``time_`` the way there is without an index: every event from the start."""
    emulator = Emulator(COLS, ROWS)
    for event in iter_events(cast):
        if event.time > time_:
            break
        if event.code == "o":
            emulator.feed(event.data)
    return emulator


def seek(report, quick: bool) -> None:
    size = 100_000_000 if quick else 1_000_000_000
    label = f"{size / 1e9:g} GB" if size >= 1e9 else f"{size / MB:.0f} MB"
    print(f"seek: a {label} cast of a coloured training log, progress bars, full-screen programs")
    rng = random.Random(20260101)
    with tempfile.TemporaryDirectory(prefix="clive-bench-seek-") as tmp:
        cast = Path(tmp) / "terminal.cast"
        started = time.perf_counter()
        events = _write_cast(cast, size)
        size = cast.stat().st_size
        print(f"  wrote {size / MB:.0f} MB, {len(events)} events, "
              f"in {time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip

        started = time.perf_counter()
        index = ScreenIndex.open(cast)
        build = time.perf_counter() - started
        report.add(f"{label} cast: index build (s, once)", build, None, "s")
        report.add(f"{label} cast: index build (MB/s)", size / MB / build, None, "MB/s")
        started = time.perf_counter()
        index = ScreenIndex.open(cast)
        report.add(f"{label} cast: index re-open (s)", time.perf_counter() - started, None, "s")

        duration = events[-1][0]
        seeks = []
        for _ in range(20):
            target = rng.uniform(0, duration)
            started = time.perf_counter()
            index.screen_at(target)
            seeks.append(time.perf_counter() - started)

        # The reference: one target half way through the file, reached from the start.
        middle = next(t for t, end in events if end >= size / 2) + EVENT_EVERY / 2
        started = time.perf_counter()
        expected = _replay_from_start(cast, middle).lines()
        replay = time.perf_counter() - started
        started = time.perf_counter()
        seen = index.screen_at(middle).lines()
        at_middle = time.perf_counter() - started
        report.add(f"{label} cast: seek to the middle (s) vs replay",
                   at_middle, replay, "s", "< 1 s")  # fmt: skip
        report.add(f"{label} cast: 20 random seeks, median (s) vs replay",
                   statistics.median(seeks), replay, "s", "< 1 s")  # fmt: skip
        report.add(f"{label} cast: 20 random seeks, max (s) vs replay",
                   max(seeks), replay, "s", "< 1 s")  # fmt: skip

        checks = [("the middle", middle, seen, expected)]
        for name, target in _early_targets(rng, events):
            checks.append(
                (name, target, index.screen_at(target).lines(),
                 _replay_from_start(cast, target).lines())
            )  # fmt: skip
        for name, target, got, want in checks:
            if got != want:
                report.fail(
                    f"seek: at {target:.3f} s ({name}) the index's screen differs from the "
                    "replay's:\n"
                    + "\n".join(f"  {a!r:<60} {b!r}" for a, b in zip(got, want, strict=False))
                )


def _early_targets(rng: random.Random, events: list[tuple[float, int]]) -> list[tuple[str, float]]:
    """A random moment in each kind of section within the first 20 MB: replaying it is cheap.
    Inside a full-screen section there is a keyframe (every few MB), so seeks there start from
    a keyframe taken on the alternate screen; just after it ends, the main screen is back."""
    first_bar, first_screen = BAR_SECTIONS[0], FULL_SCREEN_SECTIONS[0]
    back = first_screen + FULL_SCREEN_SECTIONS[2]
    assert events[back][1] < 20_000_000, "the early sections must lie in the first 20 MB"
    within = [
        ("a progress bar", first_bar, BAR_SECTIONS[2]),
        ("a full-screen program", first_screen, FULL_SCREEN_SECTIONS[2]),
        ("just back from the full-screen program", back, 1),
    ]
    return [
        (name, events[first][0] + rng.uniform(0, length * EVENT_EVERY))
        for name, first, length in within
    ]


# -- tokens per observation -----------------------------------------------------------------

TRAIN_LOG_PY = """\
import random
random.seed(1)
for step in range(1, 3001):
    loss = 2.5 / (1 + step / 400) + random.random() * 0.02
    print(f"2026-01-01 12:{step // 60 % 60:02d}:{step % 60:02d} INFO train step {step}/3000 "
          f"loss {loss:.4f} lr 3.0e-04 grad_norm {random.random() + 0.5:.2f} tok/s {120000 + step}")
    if step % 250 == 0:
        print(f"2026-01-01 12:{step // 60 % 60:02d}:{step % 60:02d} INFO eval step {step} "
              f"val_loss {loss + 0.05:.4f} accuracy {0.5 + step / 7000:.3f}")
PY"""
BAR_PY = """\
import sys, time
for i in range(101):
    sys.stdout.write(f"\\rdownloading weights {i:3d}% |{'#' * (i // 4):<25}| {i * 42 // 100}/42 MB")
    sys.stdout.flush()
    time.sleep(0.03)
print()
print("saved to weights.bin")
PY"""

# (what the model says, tool, input): about a dozen steps of an ordinary session.
SCENARIO = [
    ("I'll write a script that prints a training log.", "type",
     {"text": "cat > train_log.py <<'PY'\n" + TRAIN_LOG_PY}),
    ("Run it.", "type", {"text": "python3 train_log.py"}),
    ("What tools are there?", "type", {"text": "ls -la /usr/bin | head -60"}),
    ("Put it under version control.", "type", {"text": (
        "git init && git add train_log.py && git -c user.name=bench "
        "-c user.email=bench@example.com commit -m 'Add the training log script'")}),
    ("Count to 500.", "type", {"text": "seq 1 500"}),
    ("Is the script JSON? (it is not: an error)", "type",
     {"text": "python3 -c \"import json; json.loads(open('train_log.py').read())\""}),
    ("A download with a progress bar.", "type",
     {"text": "cat > download.py <<'PY'\n" + BAR_PY}),
    ("Run it.", "type", {"text": "python3 download.py"}),
    ("Wait for it to finish.", "wait", {"until": "done", "timeout": 60}),
    ("Keep the last 200 lines of the log.", "type",
     {"text": "python3 train_log.py | tail -200 > recent.log && wc -l recent.log"}),
    ("Read them.", "type", {"text": "cat recent.log"}),
    ("Find the evaluations.", "type", {"text": "grep -n eval recent.log"}),
    ("Done.", "finish", {"summary": "Ran the training log, looked around, committed."}),
]  # fmt: skip


class _ScrollbackTmux(TmuxReference):
    """tmux as a harness drives it: a prompt hook signals each finished command (so the
    command line is not cluttered with a wait-for), and the capture is the whole scrollback."""

    def __init__(self, cols: int, rows: int, cwd: str) -> None:
        super().__init__(cols, rows, cwd)
        self._channel = f"prompt-{self.socket}"
        self.type_and_wait(f"PROMPT_COMMAND='tmux -L {self.socket} wait-for -S {self._channel}'")
        self.type_and_wait("clear")
        self._tmux("clear-history", "-t", "0")

    def type_and_wait(self, text: str) -> None:
        """Type ``text`` and Enter; return when the shell prompts again."""
        self._tmux("send-keys", "-t", "0", "-l", text)
        self._tmux("send-keys", "-t", "0", "Enter")
        self._tmux("wait-for", self._channel)

    def scrollback(self) -> str:
        return self._tmux("capture-pane", "-p", "-S", "-", "-t", "0")


def observation_tokens(report, quick: bool) -> None:
    print(f"tokens: a {len(SCENARIO)}-step scripted session, clive vs a full-scrollback capture")
    with tempfile.TemporaryDirectory(prefix="clive-bench-tokens-") as tmp:
        tmp = Path(tmp)
        script = tmp / "scenario.jsonl"
        script.write_text(
            "".join(
                json.dumps({"text": text, "tool": tool, "input": value}) + "\n"
                for text, tool, value in SCENARIO
            )
        )
        for name in ("clive", "tmux"):
            (tmp / name).mkdir()
        writer, ended = run_task(
            "bench: an ordinary session", ScriptModel(script), sessions_dir=tmp / "sessions",
            cwd=tmp / "clive", user_rc=False,
        )  # fmt: skip
        if ended.outcome != Outcome.FINISHED:
            report.fail(f"tokens: the scenario ended {ended.outcome}: {ended.reason}")
        observations = [
            e for e in Session(writer.directory).log().events if e.type == "observation"
        ]
        clive_tokens = [e.tokens for e in observations]
        mismatched = [e.step for e in observations if e.tokens != estimate_tokens(e.text)]
        if mismatched:
            print(f"  note: recorded tokens differ from estimate_tokens(text) at {mismatched}")

        # The reference sees the whole scrollback before each model turn, as clive observes.
        tmux = _ScrollbackTmux(COLS, ROWS, str(tmp / "tmux"))
        try:
            captures = [tmux.scrollback()]
            for _text, tool, value in SCENARIO[:-1]:
                if tool == "type":
                    tmux.type_and_wait(value["text"])
                captures.append(tmux.scrollback())
        finally:
            tmux.close()
        tmux_tokens = [estimate_tokens(capture) for capture in captures]

        clive_mean, tmux_mean = statistics.mean(clive_tokens), statistics.mean(tmux_tokens)
        report.add("tokens per observation, mean (estimated)", clive_mean, tmux_mean, "tokens")
        report.add(f"tokens over the {len(SCENARIO)}-step scenario (estimated)",
                   sum(clive_tokens), sum(tmux_tokens), "tokens")  # fmt: skip
        report.add("largest observation (estimated tokens)",
                   max(clive_tokens), max(tmux_tokens), "tokens")  # fmt: skip


# -- a recorded session swallowing a flood ----------------------------------------------------

FLOOD = "seq 1 3000000"
FLOOD_LAST = "3000000"


def recorded_session(report, quick: bool) -> None:
    """``seq 1 3000000`` in a recorded session, against ``asciinema rec -c`` and tmux.

    clive's session is a real one (``run_task``: the writer, its redactor, the agent's wiring
    of the terminal to the writer); the command runs from ``on_start``, before the scripted
    model finishes. Its time ends once the prompt is back and the output is in the cast
    (a marker flushes what the writer gathers). asciinema's ends when it exits, its cast
    written; its own copy of the output goes to /dev/null, which is the cheapest for it.
    """
    print(f"recorded session: {FLOOD}, with events, cast, redaction and transcript")
    asciinema = shutil.which("asciinema")
    clive_times, asciinema_times, tmux_times = [], [], []
    with tempfile.TemporaryDirectory(prefix="clive-bench-recorded-") as tmp:
        tmp = Path(tmp)
        script = tmp / "finish.jsonl"
        script.write_text(json.dumps({"tool": "finish", "input": {"summary": "done"}}) + "\n")
        for attempt in range(1 if quick else 3):
            print(f"  run {attempt + 1}/{1 if quick else 3}", flush=True)
            clive_times.append(_recorded_clive(report, tmp, script, attempt))
            if asciinema is not None:
                asciinema_times.append(_recorded_asciinema(report, asciinema, tmp))
            try:
                tmux = TmuxReference(COLS, ROWS, str(tmp))
                try:
                    tmux_times.append(tmux.run(FLOOD))
                    if FLOOD_LAST not in tmux.capture():
                        report.reference_failed(f"recorded session: tmux lacks {FLOOD_LAST}")
                finally:
                    tmux.close()
            except TmuxReferenceError as error:
                report.reference_failed(f"recorded session: {error}")
    clive_median = statistics.median(clive_times)
    reference = statistics.median(asciinema_times) if asciinema_times else None
    report.add(f"recorded session: {FLOOD} (s) vs asciinema rec",
               clive_median, reference, "s", "ratio <= 1.0")  # fmt: skip
    tmux_median = statistics.median(tmux_times) if tmux_times else None
    report.add(f"recorded session: {FLOOD} (s) vs tmux", clive_median, tmux_median, "s")


def _recorded_clive(report, tmp: Path, script: Path, attempt: int) -> float:
    work = tmp / f"clive-{attempt}"
    work.mkdir()
    timed: dict[str, object] = {}

    def flood(writer: SessionWriter, terminal: Terminal) -> None:
        started = time.perf_counter()
        result = terminal.run(FLOOD, timeout=600)
        writer.marker("flooded")
        timed["seconds"] = time.perf_counter() - started
        timed["at"] = writer.elapsed()
        timed["result"] = result
        timed["screen"] = terminal.snapshot().lines

    writer, ended = run_task(
        f"bench: {FLOOD}", ScriptModel(script), sessions_dir=tmp / f"sessions-{attempt}",
        cwd=work, cols=COLS, rows=ROWS, user_rc=False, on_start=flood,
    )  # fmt: skip
    if ended.outcome != Outcome.FINISHED or "seconds" not in timed:
        report.fail(f"recorded session: clive's session ended {ended.outcome}: {ended.reason}")
        return float("nan")
    result = timed["result"]
    lines = result.output.splitlines()
    if result.exit_code != 0 or len(lines) != 3_000_000 or lines[-1] != FLOOD_LAST:
        report.fail(f"recorded session: exit {result.exit_code}, {len(lines)} lines in clive")
    cast = writer.directory / CAST_FILE
    # The cast replays to the screen the terminal showed when the flood was over.
    replayed = ScreenIndex.open(cast).screen_at(timed["at"]).lines()
    if replayed != timed["screen"]:
        report.fail(
            "recorded session: the cast replays to another screen than the terminal's:\n"
            + "\n".join(
                f"  {a!r:<60} {b!r}" for a, b in zip(replayed, timed["screen"], strict=False)
            )
        )
    output = "".join(e.data for e in iter_events(cast) if e.code == "o")
    if f"\n{FLOOD_LAST}\r\n" not in output or output.count("\n") < 3_000_000:
        report.fail(
            f"recorded session: the cast lacks lines of the output ({output.count(chr(10))})"
        )
    return timed["seconds"]


def _recorded_asciinema(report, asciinema: str, tmp: Path) -> float:
    cast = tmp / "asciinema.cast"
    started = time.perf_counter()
    subprocess.run(
        [asciinema, "rec", "-q", "--overwrite", "-c", FLOOD, str(cast)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True, timeout=600,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    with open(cast, "rb") as file:
        file.seek(-200, 2)
        if f"{FLOOD_LAST}\\r\\n".encode() not in file.read():
            report.fail(f"recorded session: asciinema's cast does not end with {FLOOD_LAST}")
    return seconds
