"""``measurement.cast``: the harness's measurement terminal, recorded beside the model's.

Every run of the metric goes into one asciicast, on the session's clock, each starting with a
marker that names it and a terminal reset (each run is a fresh terminal). Replay shows it
between a ``measurement_started`` event and the experiment's result. Output goes the way of the
session's own (``clive.session._output``): redacted, each event what the terminal showed at
its time.
"""

from __future__ import annotations

import codecs
import os
import threading
import time
from pathlib import Path

from clive.session._output import CastOutput, PendingOutput
from clive.session.asciicast import CastWriter
from clive.session.writer import SessionWriter

MEASUREMENT_CAST = "measurement.cast"


class MeasurementRecorder:
    """Records measurement terminals of ``writer``'s session into ``measurement.cast``."""

    def __init__(self, writer: SessionWriter, cols: int, rows: int) -> None:
        self._writer = writer
        self.path: Path = writer.directory / MEASUREMENT_CAST
        self._cols, self._rows = cols, rows
        self._lock = threading.Lock()
        self._file = None
        self._cast: CastWriter | None = None
        self._output = PendingOutput(writer.redactor, cols)
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def begin(self, label: str) -> None:
        """A new run starts: mark it and start from a fresh screen."""
        with self._lock:
            if self._cast is None:
                new = not self.path.exists() or self.path.stat().st_size == 0
                self._file = open(self.path, "ab")  # noqa: SIM115 - open while recording
                self._cast = CastWriter(self._file)
                if new:
                    self._cast.header(
                        self._cols,
                        self._rows,
                        timestamp=int(time.time()),
                        title="clive measurements",
                        env={"SHELL": os.environ.get("SHELL", "/bin/bash"), "TERM": "xterm"},
                    )
            now = self._writer.elapsed()
            self._cast.event(now, "m", self._writer.redactor.redact(label))
            self._cast.event(now, "o", "\x1bc")
            self._output = PendingOutput(self._writer.redactor, self._cols)
            self._decoder.reset()

    def output(self, data: bytes, _when: float) -> None:
        """A terminal output listener (the measurement terminal's reader thread calls it)."""
        with self._lock:
            text = self._decoder.decode(data)
            if text and self._output.add(self._writer.elapsed(), text):
                self._write(self._output.take())

    def end(self) -> None:
        """The run ended: write what is held back, and close the file until the next."""
        with self._lock:
            if rest := self._decoder.decode(b"", final=True):
                self._output.add(self._writer.elapsed(), rest)
            self._write(self._output.take_all())
            if self._file is not None:
                self._file.close()
            self._file, self._cast = None, None

    def _write(self, events: list[CastOutput]) -> None:
        if self._cast is not None:
            for t, text in events:
                self._cast.event(t, "o", text)
