"""The plain-text transcript: everything the terminal printed, as a reader would want it.

Carriage returns and backspaces are applied (a progress bar leaves its last state, not ten
thousand redraws), escape sequences are removed, and what full-screen programs draw on the
alternate screen is left out, as tmux leaves it out of its history. Finished lines go to a
file on disk, so an overnight job's output costs no memory and stays readable; only the line
being written stays in memory. Unless told where to keep it, that file has no name: nobody
else can open it, and it is gone with the process, however the process ends.
"""

from __future__ import annotations

import codecs
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from clive.terminal._escapes import has_escapes_or_controls, strip_escapes

# Entering or leaving the alternate screen; a full reset (ESC c, what `reset` sends) leaves it.
_ALT_SCREEN_SWITCH = re.compile(r"\x1b\[\?(?:1049|1047|47)([hl])|\x1bc")
# A line this long without a newline is committed in part: an endless line must not eat memory.
_MAX_PENDING = 1 << 20
_KEEP_PENDING = 4096
_READ_BLOCK = 1 << 20  # bytes read from the file at a time
_LONGEST_BLOCK = 4 << 20  # characters of a line without its end that ``save`` filters at once


@dataclass(frozen=True)
class Mark:
    """A position in the transcript: bytes committed to disk, and the unfinished line then."""

    offset: int
    pending: str = ""


class Transcript:
    """Plain text of a terminal's output, appended as it arrives, readable between marks
    until ``close()``.

    ``path`` is where the text is kept, and stays; without one, the text is kept in a file
    with no name in ``directory`` (default: the temporary directory). ``save_filter`` is
    applied to the text ``save`` writes (a session redacts secrets with it). Safe to append
    from one thread while others read.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        directory: str | Path | None = None,
        save_filter: Callable[[str], str] | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        if self.path is None:
            # Unlinked as soon as it is made, while still empty: what it will hold never has
            # a name (no reader but this process, nothing left behind by a crash, even
            # SIGKILL), and it is made where it is told (a session's own directory).
            if directory is not None:
                Path(directory).mkdir(parents=True, exist_ok=True)
            descriptor, name = tempfile.mkstemp(prefix=".transcript-", dir=directory)
            os.unlink(name)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        self._file = open(descriptor, "ab", buffering=1 << 20)  # noqa: SIM115 - lives as long as the transcript
        self._save_filter = save_filter
        self._size = self._file.tell()
        self._line = ""  # the line being written
        self._column = 0  # where the next character lands in it
        self._in_alt_screen = False
        self._lock = threading.Lock()

    # -- writing --------------------------------------------------------------------------

    def append(self, text: str) -> None:
        """Add output; ``text`` must not end inside an escape sequence."""
        if has_escapes_or_controls(text) or self._in_alt_screen:
            text = self._strip_escapes(text)
        if not text:
            return
        with self._lock:
            self._append_unlocked(text)

    def _append_unlocked(self, text: str) -> None:
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        newline = text.rfind("\n")
        if newline < 0:
            self._write_into_line(text)
        elif "\r" not in text and "\b" not in text and self._column == len(self._line):
            self._commit(self._line + text[: newline + 1])
            self._line = text[newline + 1 :]
            self._column = len(self._line)
        else:
            finished = text[:newline].split("\n")
            self._write_into_line(finished[0])
            lines = [self._line]
            for line in finished[1:]:
                lines.append(_render(line) if "\r" in line or "\b" in line else line)
            self._commit("\n".join(lines) + "\n")
            self._line, self._column = "", 0
            self._write_into_line(text[newline + 1 :])
        self._cap_line()

    def append_plain_ascii(self, data: bytes) -> None:
        """Add output known to be printable ASCII, CR, LF and TAB only: the fast path."""
        with self._lock:
            if self._in_alt_screen:
                return
            data = data.replace(b"\r\n", b"\n")
            newline = data.rfind(b"\n")
            if b"\r" in data or (newline >= 0 and self._column != len(self._line)):
                self._append_unlocked(data.decode("ascii"))
            elif newline < 0:
                self._write_into_line(data.decode("ascii"))
            else:
                if self._line:
                    self._commit(self._line)
                self._file.write(data[: newline + 1])
                self._size += newline + 1
                self._line = data[newline + 1 :].decode("ascii")
                self._column = len(self._line)
            self._cap_line()

    def _cap_line(self) -> None:
        """Commit most of a line this long without a newline: an endless line must not eat
        memory, nor cost a copy of all of it at every append."""
        if len(self._line) > _MAX_PENDING:
            cut = len(self._line) - _KEEP_PENDING
            self._commit(self._line[:cut])
            self._line = self._line[cut:]
            self._column = max(0, self._column - cut)

    def _strip_escapes(self, text: str) -> str:
        if ("\x1b[?" in text or "\x1bc" in text) and _ALT_SCREEN_SWITCH.search(text):
            kept = []
            position = 0
            for switch in _ALT_SCREEN_SWITCH.finditer(text):
                if not self._in_alt_screen:
                    kept.append(text[position : switch.start()])
                self._in_alt_screen = switch.group(1) == "h"  # None: a full reset
                position = switch.end()
            if not self._in_alt_screen:
                kept.append(text[position:])
            text = "".join(kept)
        elif self._in_alt_screen:
            return ""
        return strip_escapes(text)

    def _write_into_line(self, text: str) -> None:
        if not text:
            return
        if self._column == len(self._line) and "\r" not in text and "\b" not in text:
            self._line += text
            self._column = len(self._line)
        else:
            self._line, self._column = _overwrite(self._line, self._column, text)

    def _commit(self, text: str) -> None:
        data = text.encode("utf-8", "surrogateescape")
        self._file.write(data)
        self._size += len(data)

    # -- reading --------------------------------------------------------------------------

    def mark(self) -> Mark:
        """The current end of the transcript."""
        with self._lock:
            return Mark(self._size, self._line)

    def read(self, start: Mark | None = None, end: Mark | None = None) -> str:
        """The text between two marks (default: from the beginning to now)."""
        return "".join(self._blocks(start, end))

    def size(self, start: Mark | None = None, end: Mark | None = None) -> int:
        """Bytes of text between two marks (default: all of it), without reading it."""
        start = start or Mark(0)
        end = end or self.mark()
        pending = len(end.pending.encode("utf-8", "replace")) - len(start.pending.encode())
        return max(0, end.offset - start.offset + pending)

    def save(self, path: str | Path, start: Mark | None = None, end: Mark | None = None) -> None:
        """Write what ``read(start, end)`` returns to ``path``, a block at a time, each through
        ``save_filter``: a block ends at the end of a line, so the filter sees lines whole."""
        with open(path, "w", encoding="utf-8", errors="replace", newline="") as target:
            for block in self._blocks(start, end):
                target.write(self._save_filter(block) if self._save_filter else block)

    def _blocks(self, start: Mark | None, end: Mark | None) -> Iterator[str]:
        """The text between two marks, in blocks that end at the end of a line (but for the
        last, and a line longer than ``_LONGEST_BLOCK``)."""
        start = start or Mark(0)
        end = end or self.mark()
        self.flush()
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        offset, remaining = start.offset, max(0, end.offset - start.offset)
        prefix: str | None = start.pending  # the line the start was in, which came before it
        held = ""
        while True:
            data = self._read_bytes(offset, min(remaining, _READ_BLOCK)) if remaining else b""
            offset += len(data)
            remaining -= len(data)
            last = not data
            text = held + decoder.decode(data, final=last) + (end.pending if last else "")
            if prefix is not None:
                if len(text) < len(prefix) and not last:
                    held = text
                    continue
                text, prefix = text.removeprefix(prefix), None
            cut = len(text) if last else text.rfind("\n") + 1
            if not cut and len(text) > _LONGEST_BLOCK:
                cut = len(text)
            held = text[cut:]
            if cut:
                yield text[:cut]
            if last:
                return

    def _read_bytes(self, offset: int, size: int) -> bytes:
        chunks = []
        while size > 0:
            chunk = os.pread(self._file.fileno(), size, offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def flush(self) -> None:
        with self._lock:
            self._file.flush()

    def close(self) -> None:
        """Write the unfinished line and close: a transcript with no name is gone."""
        with self._lock:
            if self._file.closed:
                return
            if self._line:
                self._commit(self._line)
                self._line, self._column = "", 0
            self._file.close()


def _render(line: str) -> str:
    """A line as it would look once its carriage returns and backspaces are applied."""
    return _overwrite("", 0, line)[0]


def _overwrite(line: str, column: int, text: str) -> tuple[str, int]:
    """Write ``text`` (no newlines) into ``line`` at ``column``, as a terminal would."""
    if "\b" in text:
        return _overwrite_with_backspaces(line, column, text)
    first, *redraws = text.split("\r")
    line = line[:column] + first + line[column + len(first) :]
    column += len(first)
    if redraws:
        # Later redraws win; walk back from the last, keeping what each earlier one shows.
        shown = ""
        for segment in reversed(redraws):
            if len(segment) > len(shown):
                shown += segment[len(shown) :]
        line = shown + line[len(shown) :]
        column = len(redraws[-1])
    return line, column


def _overwrite_with_backspaces(line: str, column: int, text: str) -> tuple[str, int]:
    cells = list(line)
    for char in text:
        if char == "\r":
            column = 0
        elif char == "\b":
            column = max(0, column - 1)
        else:
            if column < len(cells):
                cells[column] = char
            else:
                cells.append(char)
            column += 1
    return "".join(cells), column
