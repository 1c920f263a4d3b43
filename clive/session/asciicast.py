"""The asciicast v2 format: a JSON header line, then one ``[time, code, data]`` line per event.

Codes: ``o`` output, ``i`` input, ``r`` resize (``"120x40"``), ``m`` marker. Only the format
lives here; what clive records, and when, is ``clive.session.writer``'s business.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any


@dataclass(frozen=True)
class CastEvent:
    """One event line, with the byte offset where it starts in the file."""

    offset: int
    end: int  # where the next line starts
    time: float
    code: str
    data: str


@dataclass(frozen=True)
class CastHeader:
    width: int
    height: int
    timestamp: int | None = None
    title: str | None = None


class CastError(ValueError):
    """The file is not an asciicast v2 recording."""


class CastWriter:
    """Writes events to an open binary file; every line is written whole and flushed."""

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file

    def header(self, width: int, height: int, *, timestamp: int, title: str, env: dict) -> None:
        header = {"version": 2, "width": width, "height": height, "timestamp": timestamp}
        self._line({**header, "title": title, "env": env})

    def event(self, time: float, code: str, data: str) -> None:
        self._line([round(time, 6), code, data])

    def _line(self, value: Any) -> None:
        # One write: a reader never sees a whole line without its newline.
        line = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n"
        self._file.write(line)
        self._file.flush()


def read_header(path: Path) -> CastHeader:
    """The header of the recording at ``path``."""
    with open(path, "rb") as file:
        first = file.readline()
    try:
        header = json.loads(first)
        if header.get("version") != 2:
            raise CastError(f"{path}: asciicast version {header.get('version')!r}, expected 2")
        width, height = int(header["width"]), int(header["height"])
        return CastHeader(width, height, header.get("timestamp"), header.get("title"))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise CastError(f"{path}: not an asciicast v2 header: {first[:80]!r}") from error


def iter_events(path: Path, start: int | None = None) -> Iterator[CastEvent]:
    """The events of the recording from byte offset ``start`` (default: the first event).

    A last line without its newline (cut short by a kill, or still being written) ends the
    iteration quietly; a malformed line elsewhere raises ``CastError`` naming it.
    """
    with open(path, "rb") as file:
        if start is None:
            file.readline()
            offset = file.tell()
        else:
            file.seek(start)
            offset = start
        for line in file:
            here = offset
            offset += len(line)
            if not line.endswith(b"\n"):
                return  # torn, or still being written: a line is whole with its newline
            try:
                time, code, data = json.loads(line)
            except ValueError as error:
                raise CastError(f"{path}: bad event line at byte {here}: {line[:80]!r}") from error
            yield CastEvent(here, offset, float(time), code, data)


def last_time(path: Path) -> float:
    """The time of the last whole event of the recording (0 when it has none); reads only
    the end of the file, however long the recording."""
    size = path.stat().st_size
    with open(path, "rb") as file:
        window = 1 << 16
        while True:
            file.seek(max(0, size - window))
            lines = file.read().split(b"\n")
            # The first piece may be a partial line, the last one is torn or empty.
            candidates = lines[1:-1] if size > window else lines[:-1]
            for line in reversed(candidates):
                try:
                    value = json.loads(line)
                except ValueError:
                    continue
                if isinstance(value, list) and value:
                    return float(value[0])
            if window >= size:
                return 0.0
            window *= 4
