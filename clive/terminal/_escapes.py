"""Escape sequences in a stream of terminal output: where they end, and removing them."""

from __future__ import annotations

import re

# A sequence longer than this without its terminator is garbage, not a sequence in flight.
MAX_HELD_BACK = 65536

_STRING_START = re.compile(r"\x1b[\]P_^X]")
_UNFINISHED_TAIL = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|[()#%])?")

# Every escape sequence: CSI, strings (OSC, DCS...), character sets, two-character ones.
ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b[\]P_^X][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[()#%][\s\S]"
    r"|\x1b[\s\S]?"
)
# Every escape sequence and control character a plain-text transcript drops. CR, LF, BS and
# TAB are kept: the transcript applies them.
ANY_ESCAPE = re.compile(ESCAPE_SEQUENCE.pattern + r"|[\x00-\x07\x0b\x0c\x0e-\x1f\x7f\x80-\x9f]")


_CSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


class SeenSequences:
    """Escape sequences met lately, of those ``pattern`` matches: a coloured log repeats a
    handful of them hundreds of thousands of times, and ``str.count`` and ``str.replace`` go
    through a text at C speed, twice as fast as a pattern."""

    SIZE = 16
    LEARN_FROM = 8192  # characters of a text new sequences are learnt from

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self._pattern = pattern
        self._sequences: tuple[str, ...] = ()

    def remove(self, text: str) -> str:
        """``text`` without the sequences met lately."""
        for sequence in self._sequences:
            if sequence in text:
                text = text.replace(sequence, "")
        return text

    def cover(self, text: str, escapes: int) -> bool:
        """True when each of the ``escapes`` ESCs of ``text`` starts one of the sequences met
        lately (counted: two control sequences cannot start at one ESC)."""
        return sum(text.count(sequence) for sequence in self._sequences) == escapes

    def learn(self, text: str) -> None:
        """Remember the sequences the start of ``text`` holds (forgetting all when too many)."""
        found = self._pattern.findall(text, 0, self.LEARN_FROM)
        new = set(found).difference(self._sequences)
        known = self._sequences if len(self._sequences) + len(new) <= self.SIZE else ()
        self._sequences = (*known, *new)  # one assignment: safe for other threads reading


_SEEN = SeenSequences(_CSI)


def strip_escapes(text: str) -> str:
    """``text`` without escape sequences and control characters other than CR, LF, BS, TAB."""
    # CSI (colours above all) first: sequences met lately go with str.replace; a pattern with
    # a literal prefix then takes what is left, and the full alternation runs only when
    # something else still is.
    if "\x1b[" in text:
        text = _SEEN.remove(text)
        if "\x1b[" in text:
            _SEEN.learn(text)
            text = _CSI.sub("", text)
    if has_escapes_or_controls(text):
        text = ANY_ESCAPE.sub("", text)
    return text


def split_unfinished_escape(text: str) -> tuple[str, str]:
    """Split ``text`` into what can be interpreted now and an escape sequence still arriving.

    Output arrives in arbitrary chunks; a sequence cut in two must not be read as two pieces
    of garbage. The unfinished tail (at most ``MAX_HELD_BACK`` characters) is returned to be
    put in front of the next chunk.
    """
    last = text.rfind("\x1b")
    if last < 0:
        return text, ""
    window = max(0, len(text) - MAX_HELD_BACK)
    terminated = max(text.rfind("\x07"), text.rfind("\x1b\\"))
    string = _STRING_START.search(text, max(window, terminated + 1))
    # A string (OSC, DCS...) with no terminator is still arriving, unless another escape
    # sequence came after it: that cuts it short, as in xterm.
    if string is not None:
        # An ESC as the very last character may be the first half of the terminator.
        cut_short = -1 < text.find("\x1b", string.start() + 2) < len(text) - 1
        if not cut_short:
            return text[: string.start()], text[string.start() :]
    if len(text) - last <= 64 and _UNFINISHED_TAIL.fullmatch(text, last):
        return text[:last], text[last:]
    return text, ""


def has_escapes_or_controls(text: str) -> bool:
    """True unless ``text`` is printable apart from CR, LF and TAB (checked at C speed)."""
    if "\x1b" in text:
        return True
    return not text.replace("\n", "").replace("\r", "").replace("\t", "").isprintable()
