"""Terminal output on its way to the cast: gathered, redacted, and cut into events that are
each exactly what the terminal showed at the time they carry.

The terminal's reader thread hands over every chunk it reads, with the time it was read. The
chunks are gathered for up to a second; then, in one pass over all of them, the secrets are
found (``Redactor.scan``, reading them after the end of what was written before) and the
chunks are cut into events. An event ends where a chunk ended and carries that chunk's time,
so the screen after it is the screen the terminal showed then: gathering and redaction delay
bytes, they never move them earlier or later than the chunk they came in. A chunk whose end
could begin a secret is kept back whole, with its time, until what follows says whether it
does (the next chunk, or a pause of a second).

Within what is written at once: when the text only writes rows in place, carriage-return
redraws that a later one covers are dropped (one event, a progress bar costs one redraw a
second); otherwise chunks less than 40 ms apart become one event.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import accumulate

from clive.session.redact import HOLD_LIMIT, Redactor, Span, apply_spans
from clive.terminal.emulator import collapse_redraws

# Output is written at least this often (seconds), and redraws are collapsed within it.
OUTPUT_WINDOW = 1.0
# Output chunks closer together than this become one event in the cast.
MERGE_WITHIN = 0.04
_MAX_PENDING = 1 << 18  # characters of output held before writing regardless of time
_CONTEXT = 512  # characters of what was written that what follows is read after

_BARE_RETURN = re.compile(r"\r[^\n]")  # faster than a lookahead; the text's end apart
# An event for the cast: (time, text)
CastOutput = tuple[float, str]


class PendingOutput:
    """Output read but not yet in the cast, and how to cut it into events (not thread-safe:
    the session writer holds its lock around every call)."""

    def __init__(self, redactor: Redactor, cols: int) -> None:
        self._redactor = redactor
        self.cols = cols
        self._times: list[float] = []
        self._texts: list[str] = []
        self._size = 0
        self.last_time = 0.0  # of the last chunk added
        self._written_until = float("-inf")  # the time of the last event taken
        self._before = ""  # the end of what was written: what the rest is read after

    def add(self, t: float, text: str) -> bool:
        """Gather ``text`` read at ``t``; True when enough is gathered to write it."""
        self._times.append(t)
        self._texts.append(text)
        self._size += len(text)
        self.last_time = t
        return t - self._times[0] >= OUTPUT_WINDOW or self._size >= _MAX_PENDING

    def due(self, now: float) -> bool:
        """True when the oldest output gathered has waited a whole window."""
        return bool(self._times) and now - self._times[0] >= OUTPUT_WINDOW

    @property
    def holding(self) -> bool:
        return bool(self._times)

    def take(self) -> list[CastOutput]:
        """The events that can be written now: all but the chunks from the one whose end
        could begin a secret on (those wait, whole)."""
        if not self._texts:
            return []
        text = self._joined()
        spans, safe = self._redactor.scan(text, self._before)
        ends = list(accumulate(map(len, self._texts)))
        whole = bisect_right(ends, safe)  # chunks that end before anything kept back
        while whole and _inside(spans, ends[whole - 1]):
            whole -= 1
        return self._events(text, spans, ends, whole)

    def take_paused(self) -> list[CastOutput]:
        """Output paused: everything gathered but an end that surely begins a secret (a
        known value's first characters, a key's prefix, a secret's name), which waits for
        the rest, up to ``HOLD_LIMIT`` characters."""
        events = self.take()
        if not self._texts:
            return events
        text = self._joined()
        spans, _ = self._redactor.scan(text, self._before)
        cut = self._redactor.secret_start(text)
        if len(text) - cut > HOLD_LIMIT:
            cut = len(text)
        for start, end, _ in spans:
            if start < cut < end:
                cut = start
        ends = list(accumulate(map(len, self._texts)))
        whole = bisect_right(ends, cut)
        if whole < len(ends) and cut > (ends[whole - 1] if whole else 0):
            # What is written of the chunk cut in two keeps its time; the rest waits with it.
            before = ends[whole - 1] if whole else 0
            head, tail = text[before:cut], text[cut : ends[whole]]
            self._texts[whole : whole + 1] = [head, tail]
            self._times.insert(whole, self._times[whole])
            ends.insert(whole, cut)
            whole += 1
        return events + self._events(text, spans, ends, whole)

    def take_all(self) -> list[CastOutput]:
        """Every event, nothing kept back: the stream ended."""
        if not self._texts:
            return []
        text = self._joined()
        ends = list(accumulate(map(len, self._texts)))
        return self._events(text, self._redactor.scan(text, self._before)[0], ends, len(ends))

    def _joined(self) -> str:
        return self._texts[0] if len(self._texts) == 1 else "".join(self._texts)

    def _events(
        self, text: str, spans: list[Span], ends: list[int], whole: int
    ) -> list[CastOutput]:
        """Events for the first ``whole`` chunks of ``text`` (ending at ``ends``); the rest
        stay gathered."""
        times = self._times
        self._times, self._texts = times[whole:], self._texts[whole:]
        self._size = sum(map(len, self._texts))
        if not whole:
            return []
        written = ends[whole - 1]
        self._before = (self._before + text[max(0, written - _CONTEXT) : written])[-_CONTEXT:]
        events = self._cut(text, spans, ends, times, whole)
        self._written_until = events[-1][0]
        return events

    def _cut(
        self, text: str, spans: list[Span], ends: list[int], times: list[float], whole: int
    ) -> list[CastOutput]:
        written = ends[whole - 1]
        # Chunks of the moment the last event showed belong to that moment: they are never
        # folded into a later one (the screen at that time would miss them).
        lead = bisect_right(times, self._written_until, 0, whole)
        cuts_a_secret = lead and _inside(spans, ends[lead - 1])
        if lead < whole and not cuts_a_secret and _may_redraw(text, written):
            start = ends[lead - 1] if lead else 0
            shown = apply_spans(text, spans, start, written)
            collapsed = collapse_redraws(shown, self.cols)
            if collapsed is not shown:
                head = [(times[lead - 1], apply_spans(text, spans, 0, start))] if lead else []
                return [*head, (times[whole - 1], collapsed)]
        events = []
        first = 0  # the first chunk of the next event
        for i in range(whole):
            # An event ends after chunk i unless the next one follows within MERGE_WITHIN of
            # the event's first chunk, or a secret goes on across.
            if i + 1 < whole and (
                times[i + 1] - times[first] < MERGE_WITHIN or _inside(spans, ends[i])
            ):
                continue
            events.append(
                (times[i], apply_spans(text, spans, ends[first - 1] if first else 0, ends[i]))
            )
            first = i + 1
        return events


def _inside(spans: list[Span], position: int) -> bool:
    """True when ``position`` is inside a secret (a cut there would cut it in two)."""
    return any(start < position < end for start, end, _ in spans)


def _may_redraw(text: str, end: int) -> bool:
    """True when ``text[:end]`` may redraw a row (two carriage returns not followed by a line
    feed): only then can ``collapse_redraws`` drop anything (checked at C speed)."""
    first = _BARE_RETURN.search(text, 0, end)
    if first is None:
        return False
    last_returns = end - 1 > first.start() and text[end - 1] == "\r"
    return last_returns or _BARE_RETURN.search(text, first.start() + 1, end) is not None
