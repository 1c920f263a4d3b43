"""The screen at any moment of a recorded session, found fast through keyframes.

Replaying a cast from its start to reach hour six of a training run would mean feeding
gigabytes through the emulator. The index (``terminal.cast.index``, built on first use and
extended when the cast has grown) stores a keyframe every few megabytes of output: the
emulator's whole state, and where in the cast to go on from. Seeking restores one keyframe
and feeds at most a few megabytes of output.
"""

from __future__ import annotations

import bisect
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from clive.session.asciicast import iter_events, read_header
from clive.terminal._screen_state import restore_state, save_state
from clive.terminal.emulator import Emulator

INDEX_SUFFIX = ".index"
_INDEX_VERSION = 2
KEYFRAME_EVERY = 4 << 20  # characters of output between keyframes, at most
# ... and seconds of emulator work: full-screen redraws are parsed cell by cell, ten times
# slower than a log, so a seek must not have megabytes of them to feed.
KEYFRAME_WORK = 0.2


@dataclass(frozen=True)
class Keyframe:
    time: float  # the time of the last event applied
    offset: int  # where the next event starts in the cast
    cols: int
    rows: int
    state: str  # the emulator's state (clive.terminal._screen_state), "" for a fresh one


class ScreenIndex:
    """Keyframes of a cast; ``screen_at(t)`` is the emulator as it was at ``t`` seconds."""

    def __init__(self, cast_path: Path, keyframes: list[Keyframe], cast_size: int) -> None:
        self.cast_path = cast_path
        self.keyframes = keyframes
        self.cast_size = cast_size
        self._times = [k.time for k in keyframes]

    @classmethod
    def open(
        cls,
        cast_path: Path,
        *,
        progress: Callable[[int, int], None] | None = None,
        every: int = KEYFRAME_EVERY,
    ) -> ScreenIndex:
        """The index of ``cast_path``: read from disk, extended or built as needed."""
        cast_path = Path(cast_path)
        index_path = cast_path.with_name(cast_path.name + INDEX_SUFFIX)
        size = cast_path.stat().st_size
        index = _read_index(cast_path, index_path)
        if index is not None and index.cast_size == size:
            return index
        if index is None:
            header = read_header(cast_path)
            start = Keyframe(0.0, _first_event_offset(cast_path), header.width, header.height, "")
            keyframes = [start]
        else:
            keyframes = index.keyframes
        index = cls(cast_path, _extend(cast_path, keyframes, size, every, progress), size)
        index._save(index_path)
        return index

    def keyframe_before(self, time: float) -> Keyframe:
        """The last keyframe at or before ``time`` (the first one is the cast's start)."""
        return self.keyframes[max(0, bisect.bisect_right(self._times, time) - 1)]

    def screen_at(self, time: float) -> Emulator:
        """A fresh emulator showing the screen as it was ``time`` seconds into the session."""
        keyframe = self.keyframe_before(time)
        emulator = _emulator_from(keyframe)
        for event in iter_events(self.cast_path, keyframe.offset):
            if event.time > time or event.offset >= self.cast_size:
                break
            _apply(emulator, event.code, event.data)
        return emulator

    @property
    def duration(self) -> float:
        """The time of the last event in the cast."""
        last = self.keyframes[-1].time
        for event in iter_events(self.cast_path, self.keyframes[-1].offset):
            last = event.time
        return last

    def _save(self, index_path: Path) -> None:
        temporary = index_path.with_name(index_path.name + ".tmp")
        try:
            with open(temporary, "w", encoding="utf-8") as file:
                head = {"version": _INDEX_VERSION, "cast_size": self.cast_size}
                file.write(json.dumps(head) + "\n")
                for k in self.keyframes:
                    file.write(json.dumps([k.time, k.offset, k.cols, k.rows, k.state]) + "\n")
            os.replace(temporary, index_path)
        except OSError:
            pass  # a read-only session: the index lives in memory only


def _read_index(cast_path: Path, index_path: Path) -> ScreenIndex | None:
    try:
        with open(index_path, encoding="utf-8") as file:
            head = json.loads(file.readline())
            if head.get("version") != _INDEX_VERSION:
                return None
            keyframes = [Keyframe(*json.loads(line)) for line in file]
    except (OSError, ValueError, TypeError):
        return None
    if not keyframes or head.get("cast_size", 0) > cast_path.stat().st_size:
        return None  # the cast was replaced by a shorter one
    return ScreenIndex(cast_path, keyframes, head["cast_size"])


def _extend(
    cast_path: Path,
    keyframes: list[Keyframe],
    size: int,
    every: int,
    progress: Callable[[int, int], None] | None,
) -> list[Keyframe]:
    """``keyframes`` with more added from the last one to byte ``size`` of the cast."""
    keyframes = list(keyframes)
    last = keyframes[-1]
    emulator = _emulator_from(last)
    fed = 0
    work_started = time.perf_counter()
    for event in iter_events(cast_path, last.offset):
        end = event.end
        if end > size:
            break
        _apply(emulator, event.code, event.data)
        if event.code == "o":
            fed += len(event.data)
        due = fed >= every or (fed and time.perf_counter() - work_started >= KEYFRAME_WORK)
        if due:
            state = save_state(emulator)
            keyframes.append(Keyframe(event.time, end, emulator.cols, emulator.rows, state))
            fed = 0
            work_started = time.perf_counter()
            if progress is not None:
                progress(end, size)
    return keyframes


def _emulator_from(keyframe: Keyframe) -> Emulator:
    if keyframe.state:
        return restore_state(keyframe.state)
    return Emulator(keyframe.cols, keyframe.rows)


def _apply(emulator: Emulator, code: str, data: str) -> None:
    if code == "o":
        emulator.feed(data)
    elif code == "r":
        apply_resize(emulator, data)


def apply_resize(emulator: Emulator, data: str) -> None:
    """Resize ``emulator`` as a cast's ``r`` event (``"120x40"``) says; ignore a bad one."""
    cols, _, rows = data.partition("x")
    if cols.isdigit() and rows.isdigit():
        emulator.resize(int(cols), int(rows))


def _first_event_offset(cast_path: Path) -> int:
    with open(cast_path, "rb") as file:
        file.readline()
        return file.tell()
