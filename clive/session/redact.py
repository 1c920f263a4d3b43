"""Keeping secrets off disk: the gate everything a session writes passes through.

Two kinds of secret are removed: values clive knows (the harness's credential variables, and
what was typed at a password prompt) and strings shaped like common API keys (Anthropic,
OpenAI, AWS, GitHub, Hugging Face, Slack). A key's shape counts only where no word goes on
before it: "disk-usage-report-..." keeps its "sk-".

Secrets are looked for in the text a reader sees: escape sequences inside one (``grep
--color`` puts colours in the middle of a key) are stepped over, and kept after the
replacement; on a screen, a row that fills the width goes on in the next (``redact_rows``).
Terminal output arrives in pieces, so a secret can be cut in two: ``StreamRedactor`` holds back
the end of a piece that could be the start of one, and keeps holding what may begin a secret
through a pause.
"""

from __future__ import annotations

import json
import os
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from itertools import accumulate

from clive.terminal._escapes import ESCAPE_SEQUENCE, split_unfinished_escape

REDACTED = "[REDACTED]"

# Environment variables whose values are secrets wherever they appear.
CREDENTIAL_VARIABLES = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "OPENAI_API_KEY",
    "CLIVE_API_KEY",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "HF_TOKEN",
)

_NO_WORD_BEFORE = r"(?<![A-Za-z0-9_-])"
# Names whose value is a secret, as AWS's files, variables and `aws sts` JSON spell them.
_SECRET_NAMES = r"aws_secret_access_key|aws_session_token|SecretAccessKey|SessionToken"
_KEY_SHAPES = (
    rf"{_NO_WORD_BEFORE}(?:"
    r"sk-ant-[A-Za-z0-9_-]{20,}"  # Anthropic
    r"|sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"  # OpenAI
    r"|gh[pousr]_[A-Za-z0-9]{36,}"  # GitHub tokens
    r"|github_pat_[A-Za-z0-9_]{22,}"
    r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face
    r"|xox[abprs]-[A-Za-z0-9-]{10,}"  # Slack
    r")"
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"  # AWS access key id
    rf"|(?P<name>(?:{_SECRET_NAMES})[\"']?\s*[=:]\s*[\"']?)[A-Za-z0-9/+=]{{16,}}"  # AWS
)
_KEY_FIRSTS = "aghsx"  # what a key shape, or a secret's name, starts with (any case)
# A piece of output ending like this may end inside a secret: a run of the characters keys
# are made of, or a secret's name waiting for its value.
_UNSAFE_TAIL = re.compile(
    rf"(?:(?:{_SECRET_NAMES})[\"']?\s*[=:]?\s*[\"']?)?[A-Za-z0-9_/+=-]*\Z", re.IGNORECASE
)
# An end of output that surely begins a key, or names a secret whose value is to come.
_KEY_START = re.compile(
    rf"(?:{_NO_WORD_BEFORE}(?:sk-|gh[pousr]_|github_pat_|hf_|xox[abprs]-|AKIA|ASIA)"
    rf"|(?:{_SECRET_NAMES})[\"']?\s*[=:]?\s*[\"']?)[A-Za-z0-9_/+=-]*\Z",
    re.IGNORECASE,
)
_TAIL_WINDOW = 512  # characters at the end of a piece looked at for an unsafe tail
_MIN_SECRET = 4  # shorter values would redact ordinary words
# What may begin a secret is held through a pause up to this size (characters), then written.
HOLD_LIMIT = 4096
_SPLIT_AT_ESCAPES = re.compile(f"({ESCAPE_SEQUENCE.pattern})")


class Redactor:
    """Replaces secrets in text with ``[REDACTED]``.

    ``secrets`` are literal values; by default the values of ``CREDENTIAL_VARIABLES`` in this
    process's environment are added. ``add_secret`` adds more as they become known.
    """

    def __init__(self, secrets: Iterable[str] = (), *, from_environment: bool = True) -> None:
        self._literals: set[str] = set()
        self._compile()
        if from_environment:
            for name in CREDENTIAL_VARIABLES:
                value = os.environ.get(name, "")
                if value:
                    self.add_secret(value)
        for secret in secrets:
            self.add_secret(secret)

    def add_secret(self, value: str) -> None:
        """Never write ``value`` (nor its JSON-escaped form) from now on."""
        value = value.strip()
        if len(value) < _MIN_SECRET or value in self._literals:
            return
        self._literals.add(value)
        self._literals.add(json.dumps(value, ensure_ascii=False)[1:-1])
        self._compile()

    def _compile(self) -> None:
        ordered = sorted(self._literals, key=len, reverse=True)  # the longest match wins
        alternatives = [f"(?-i:{'|'.join(re.escape(s) for s in ordered)})"] if ordered else []
        # Every first character up front: the engine skips other positions at C speed, which
        # makes the whole search several times faster on ordinary output.
        firsts = "".join(re.escape(c) for c in sorted({s[0] for s in ordered} | set(_KEY_FIRSTS)))
        pattern = "|".join([*alternatives, _KEY_SHAPES])
        self._regex = re.compile(f"(?=[{firsts}])(?:{pattern})", re.IGNORECASE)

    def redact(self, text: str) -> str:
        """``text`` with every known secret and every key-shaped string replaced, also where
        escape sequences cut one (those are kept, after the replacement)."""
        if "\x1b" not in text:
            return self._regex.sub(_replacement, text)
        plain = _Plain(text)
        pieces: list[str] = []
        done = 0
        for match in self._regex.finditer(plain.text):
            start = plain.position(match.start(), after_escapes=True)
            end = plain.position(match.end(), after_escapes=False)
            pieces += [text[done:start], _replacement(match)]
            pieces += ESCAPE_SEQUENCE.findall(text, start, end)
            done = end
        if pieces:
            text = "".join([*pieces, text[done:]])
        # Then what the escape sequences carry themselves: a window title naming a key.
        return self._regex.sub(_replacement, text)

    def redact_rows(self, text: str, cols: int) -> str:
        """``text`` redacted as the rows of a screen ``cols`` wide: a row that fills the width
        may go on in the next (the terminal wrapped it), so a key cut in two by wrapping is
        found whole, and the row break inside it goes with it."""
        rows = text.split("\n")
        if not any(_fills(row, cols) for row in rows[:-1]):
            return self.redact(text)
        joined: list[str] = []
        breaks: list[int] = []  # where a row break was taken out of the joined text
        length = 0
        for row in rows[:-1]:
            joined.append(row)
            length += len(row)
            if _fills(row, cols):
                breaks.append(length)
            else:
                joined.append("\n")
                length += 1
        joined.append(rows[-1])
        whole = "".join(joined)
        pieces: list[str] = []
        done = 0
        for match in self._regex.finditer(whole):
            pieces += [_with_breaks(whole, done, match.start(), breaks), _replacement(match)]
            done = match.end()
        pieces.append(_with_breaks(whole, done, len(whole), breaks))
        return self.redact("".join(pieces))

    def redact_items(self, items: list[str]) -> list[str]:
        """``items`` redacted as the text they make together (keys pressed one at a time
        spell a password): the items of each secret become one ``[REDACTED]``."""
        items = [self.redact(item) for item in items]
        bounds = list(accumulate(map(len, items), initial=0))
        kept: list[str | None] = list(items)
        for match in self._regex.finditer("".join(items)):
            inside = [
                index
                for index in range(len(items))
                if bounds[index] < match.end() and match.start() < bounds[index + 1]
            ]
            for index in inside:
                kept[index] = None
            if inside:
                kept[inside[0]] = REDACTED
        return [item for item in kept if item is not None]

    def split_safe(self, text: str) -> tuple[str, str]:
        """``text`` cut where what follows could be the start of a secret (or is an escape
        sequence still arriving), redacted before the cut: (safe and redacted, held back)."""
        text, unfinished = split_unfinished_escape(text)
        plain = _Plain(text)
        cut = len(plain.text) - self._unsafe_tail(plain.text)
        for match in self._regex.finditer(plain.text):
            if match.end() >= cut:  # a secret that reaches the end may go on
                cut = min(cut, match.start())
                break
        at = plain.position(cut, after_escapes=True)
        return self.redact(text[:at]), text[at:] + unfinished

    def secret_start(self, text: str) -> int:
        """Where the end of ``text`` may begin a secret: the first characters of a known value,
        of a key, a secret's name waiting for its value, or an escape sequence still arriving.
        ``len(text)`` when nothing there may."""
        text, _ = split_unfinished_escape(text)
        plain = _Plain(text)
        window = plain.text[-_TAIL_WINDOW:]
        size = self._known_prefix(plain.text)
        key = _KEY_START.search(window)
        if key is not None:
            size = max(size, len(window) - key.start())
        return plain.position(len(plain.text) - size, after_escapes=True)

    def _unsafe_tail(self, text: str) -> int:
        keep = len(_UNSAFE_TAIL.search(text[-_TAIL_WINDOW:]).group())
        return max(keep, self._known_prefix(text, longer_than=keep))

    def _known_prefix(self, text: str, longer_than: int = 0) -> int:
        """The length of the longest end of ``text`` that a known value begins with (0 if
        none is longer than ``longer_than``)."""
        longest = max((len(s) for s in self._literals), default=0)
        for size in range(min(longest - 1, len(text)), longer_than, -1):
            suffix = text[-size:]
            if any(secret.startswith(suffix) for secret in self._literals):
                return size
        return 0


def _replacement(match: re.Match[str]) -> str:
    return (match.group("name") or "") + REDACTED


def _fills(row: str, cols: int) -> bool:
    """True when ``row`` may fill a screen ``cols`` wide (a wide character takes two)."""
    return len(row) >= cols or (not row.isascii() and 2 * len(row) >= cols)


def _with_breaks(text: str, start: int, end: int, breaks: list[int]) -> str:
    """``text[start:end]`` with a row break put back at each of ``breaks`` in it, ends
    included."""
    pieces = []
    done = start
    for position in breaks[bisect_left(breaks, start) : bisect_right(breaks, end)]:
        pieces += [text[done:position], "\n"]
        done = position
    pieces.append(text[done:end])
    return "".join(pieces)


class _Plain:
    """``text`` without its escape sequences, and where each position of that is in ``text``."""

    def __init__(self, text: str) -> None:
        if "\x1b" not in text:
            self.text, self._starts, self._origins = text, [0], [0]
            return
        parts = _SPLIT_AT_ESCAPES.split(text)  # text, escape, text, escape, ..., text
        pieces = parts[0::2]
        self.text = "".join(pieces)
        self._starts = [0, *accumulate(map(len, pieces))][:-1]  # each piece's start in plain
        self._origins = [0, *accumulate(map(len, parts))][0::2]  # and in ``text``

    def position(self, index: int, *, after_escapes: bool) -> int:
        """Where ``index`` of the plain text is in the original: after the escape sequences
        standing there, or before them."""
        find = bisect_right if after_escapes else bisect_left
        piece = max(0, find(self._starts, index) - 1)
        return self._origins[piece] + index - self._starts[piece]


class StreamRedactor:
    """Redacts text that arrives in pieces, holding back what may be half a secret."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._held = ""

    def feed(self, text: str) -> str:
        """The redacted text that is safe to write now."""
        safe, self._held = self._redactor.split_safe(self._held + text)
        return safe

    def paused(self) -> str:
        """The stream paused: what is held back, redacted, but for an end that may begin a
        secret, which waits for the rest (up to ``HOLD_LIMIT``, or the end of the stream):
        a password printed in two halves a minute apart is still one secret."""
        held = self._held
        cut = self._redactor.secret_start(held) if len(held) <= HOLD_LIMIT else len(held)
        released, self._held = held[:cut], held[cut:]
        return self._redactor.redact(released) if released else ""

    def flush(self) -> str:
        """Everything held back, redacted: the stream ended."""
        held, self._held = self._held, ""
        return self._redactor.redact(held) if held else ""

    @property
    def holding(self) -> bool:
        return bool(self._held)
