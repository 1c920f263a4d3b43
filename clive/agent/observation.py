"""What the model sees at each step: a header, the new output, and the screen.

The new output is what was printed since the last observation, from the transcript (so what
scrolled away is not lost); when it is long, the model gets its head and tail and the path of
the full text, saved in the session's ``outputs/`` (by the transcript, through the terminal's
``save_filter``: a session's redactor). When all of it is still on the screen, it is not
repeated. Tokens are estimated, the same way for every harness compared.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from clive.terminal import ScreenState, Snapshot, Terminal
from clive.terminal.transcript import Mark

_STATE_WORDS = {
    ScreenState.PROMPT: "at a prompt",
    ScreenState.RUNNING: "a command is running",
    ScreenState.FULL_SCREEN: "a full-screen program is open",
    ScreenState.PAGER: "a pager is open",
    ScreenState.PASSWORD: "a password prompt is waiting (what you type is not shown or kept)",
    ScreenState.CONTINUATION: "the shell waits for the rest of a command (continuation prompt)",
    ScreenState.EXITED: "the shell has exited",
}
_READ_WHOLE = 1 << 20  # bytes of new output read whole; past that only its ends
_TOKEN_PIECES = re.compile(r"[A-Za-z]+|[0-9]{1,3}|\s+|[^A-Za-z0-9\s]")


def estimate_tokens(text: str) -> int:
    """Roughly how many tokens ``text`` costs a model: a word piece every 4 letters, one per
    1-3 digits, per punctuation mark and per run of whitespace. Used on both sides of every
    comparison, so ratios hold even where the absolute figure is off."""
    total = 0
    for piece in _TOKEN_PIECES.findall(text):
        first = piece[0]
        total += math.ceil(len(piece) / 4) if first.isalpha() and first.isascii() else 1
    return total


@dataclass(frozen=True)
class ObservationLimits:
    """How much new output goes in whole; past that, head and tail."""

    max_lines: int = 80
    head_lines: int = 25
    tail_lines: int = 40
    max_line_chars: int = 400


@dataclass(frozen=True)
class View:
    """One observation: the text given to the model, and its parts for the session log."""

    text: str  # the whole observation: ``short``, a blank line, ``screen``
    short: str  # the header and the new output
    screen: str  # the screen section, which later observations replace
    tokens: int
    state: ScreenState
    exit_code: int | None
    cwd: str | None
    new_output_lines: int
    full_output_path: Path | None


class Observer:
    """Builds observations of ``terminal``; long outputs are saved under ``outputs_dir``."""

    def __init__(
        self, terminal: Terminal, outputs_dir: Path, limits: ObservationLimits | None = None
    ) -> None:
        self.terminal = terminal
        self.outputs_dir = outputs_dir
        self.limits = limits or ObservationLimits()
        self.last_mark: Mark | None = None

    def observe(self, step: int, elapsed: float, step_limit: int | None = None) -> View:
        transcript = self.terminal.transcript
        end = transcript.mark()
        start = self.last_mark or Mark(0)
        self.last_mark = end
        full_path = None
        if transcript.size(start, end) > _READ_WHOLE:
            # An overnight log between two looks: never load it, keep its two ends.
            full_path = self._path(step)
            transcript.save(full_path, start, end)
            new_output = _ends_of(full_path, _READ_WHOLE // 2)
        else:
            new_output = transcript.read(start, end)
        snapshot = self.terminal.snapshot()

        lines = new_output.split("\n")
        while lines and not lines[-1].strip():
            lines.pop()
        if not lines:
            output_section = "New output: none."
        elif _all_on_screen(lines, snapshot, continues_line=bool(start.pending)):
            output_section = f"New output: {len(lines)} lines, all on the screen below."
        else:
            if len(lines) > self.limits.max_lines and full_path is None:
                full_path = self._path(step)
                transcript.save(full_path, start, end)  # through the terminal's filter
            output_section = self._output_section(lines, full_path)

        steps = f"{step}/{step_limit}" if step_limit else str(step)
        header = (
            f"[step {steps} | {_STATE_WORDS[snapshot.state]} | last exit code: "
            f"{_or_unknown(snapshot.last_exit_code)} | cwd: {snapshot.cwd or 'unknown'} | "
            f"elapsed: {_clock(elapsed)}]"
        )
        screen = _screen_section(snapshot)
        short = f"{header}\n{output_section}"
        text = f"{short}\n\n{screen}"
        return View(
            text=text,
            short=short,
            screen=screen,
            tokens=estimate_tokens(text),
            state=snapshot.state,
            exit_code=snapshot.last_exit_code,
            cwd=snapshot.cwd,
            new_output_lines=len(lines),
            full_output_path=full_path,
        )

    def _output_section(self, lines: list[str], full_path: Path | None) -> str:
        limits = self.limits
        clipped = [_clip_line(line, limits.max_line_chars) for line in lines]
        if full_path is None:
            return f"New output ({len(lines)} lines):\n" + "\n".join(clipped)
        omitted = len(lines) - limits.head_lines - limits.tail_lines
        return (
            f"New output ({len(lines)} lines; the first {limits.head_lines} and the last "
            f"{limits.tail_lines}, all of it in {full_path}):\n"
            + "\n".join(clipped[: limits.head_lines])
            + f"\n[... {omitted} lines ...]\n"
            + "\n".join(clipped[-limits.tail_lines :])
        )

    def _path(self, step: int) -> Path:
        self.outputs_dir.mkdir(parents=True, exist_ok=True)
        return self.outputs_dir / f"step-{step:04d}.txt"


def _ends_of(path: Path, keep: int) -> str:
    """The first and last ``keep`` bytes of a file, as whole lines, marking what is left out."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(keep).decode("utf-8", "replace").rsplit("\n", 1)[0]
        f.seek(size - keep)
        tail = f.read().decode("utf-8", "replace").split("\n", 1)[-1]
    return f"{head}\n[... {size - 2 * keep} bytes more ...]\n{tail}"


def _all_on_screen(lines: list[str], snapshot: Snapshot, *, continues_line: bool) -> bool:
    """True when the lines of ``lines`` are on the screen, in order, on consecutive rows.
    ``continues_line``: the first line is the end of a line begun before (the command
    typed after a prompt), so it only has to be found on the screen."""
    if len(lines) > snapshot.rows or snapshot.alt_screen:
        return False
    screen = [line.rstrip() for line in snapshot.lines]
    if continues_line:
        if lines[0].strip() not in "".join(line.ljust(snapshot.cols) for line in screen):
            return False
        lines = lines[1:]
    cols = snapshot.cols
    # A line longer than the screen is wide shows on several rows (exact for narrow text;
    # otherwise no match, and the output is shown: a few tokens more, never less truth).
    wanted = [
        line[start : start + cols].rstrip()
        for line in lines
        for start in range(0, max(len(line), 1), cols)
    ]
    if len(wanted) > len(screen):
        return False
    for top in range(len(screen) - len(wanted) + 1):
        if screen[top : top + len(wanted)] == wanted:
            return True
    return False


def _screen_section(snapshot: Snapshot) -> str:
    lines = list(snapshot.lines)
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    last = max(last, snapshot.cursor.y)
    shown = lines[: last + 1]
    blank = snapshot.rows - len(shown)
    cursor = snapshot.cursor
    title = f", title {snapshot.title!r}" if snapshot.title else ""
    note = f"; the {blank} rows below are blank" if blank else ""
    head = (
        f"Screen ({snapshot.cols}x{snapshot.rows}, cursor at row {cursor.y + 1} column "
        f"{cursor.x + 1}{title}{note}):"
    )
    return head + "\n" + "\n".join(shown)


def _clip_line(line: str, limit: int) -> str:
    if len(line) <= limit:
        return line
    return line[: limit // 2] + f" [... {len(line) - limit} characters ...] " + line[-limit // 2 :]


def _or_unknown(value: int | None) -> str:
    return "unknown" if value is None else str(value)


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
