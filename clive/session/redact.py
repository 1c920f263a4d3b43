"""Keeping secrets off disk: the gate everything a session writes passes through.

Two kinds of secret are removed: values clive knows (the harness's credential variables, and
what was typed at a password prompt) and strings shaped like common API keys (Anthropic,
OpenAI, AWS, GitHub, Hugging Face, Slack). A key's shape counts only where no word goes on
before it: "disk-usage-report-..." keeps its "sk-".

Secrets are looked for in the text a reader sees: escape sequences inside one (``grep
--color`` puts colours in the middle of a key) are stepped over, and kept after the
replacement; on a screen, a row that fills the width goes on in the next (``redact_rows``).
Terminal output arrives in pieces, so a secret can be cut in two: ``Redactor.scan`` reads a
piece after what was written before it and says how much of it is safe to write; the session's
``PendingOutput`` holds the rest back, and keeps holding what surely begins a secret through a
pause (``Redactor.secret_start``).

Megabytes a second go through here. Every match begins with a known value or one of a few
anchors (``sk-``, ``AKIA``, a secret's name...), and every anchor has one of the characters
``_ - a k``: text without them (a flood of numbers) is passed after a few ``in`` tests, and
other text is searched for the anchors (lower-cased, with one plain pattern) and for the known
values (``str.find``); the full pattern runs only where one of them stands. The end of a text
is held back only when it could really begin a secret: ``3100`` cannot, ``sk`` can.
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
# Names whose value, assigned with "=" (PASSWORD=..., DB_PASSWORD=..., --token=...,
# CLIENT_SECRET=...), is a secret, whatever its shape. "secret" alone has none of the
# anchors' characters (_ANCHOR_CHARS): only "_secret" counts.
_ASSIGNED_NAMES = ("password", "passwd", "passphrase", "token", "_secret", "api_key", "apikey")
_ASSIGNED_VALUE = r"[^\s\"'`;&|]"
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
    rf"|(?P<assigned>(?:{'|'.join(_ASSIGNED_NAMES)})[\"']?=[\"']?)"
    rf"(?!\[REDACTED\]){_ASSIGNED_VALUE}+"
)
# Where a match of _KEY_SHAPES can start, in text folded to lower case (_fold): keep the two
# in step. Each anchor has one of _ANCHOR_CHARS (with the characters that fold to them).
_KEY_ANCHORS = re.compile(
    rf"sk-|gh[pousr]_|github_pat_|hf_|xox[abprs]-|akia|asia|{_SECRET_NAMES.lower()}"
)
# Where a secret assigned to a name starts (folded text): looked for only in text with "="
# and a word each name holds (_assigns_maybe).
_ASSIGNMENT_ANCHORS = re.compile(rf"(?:{'|'.join(_ASSIGNED_NAMES)})[\"']?=")
_ANCHOR_CHARS = "_-aAkK\u212a"
# The characters re.IGNORECASE takes for an ASCII letter, besides its two cases; str.lower
# turns the first into two characters.
_NON_ASCII_FOLDS = {0x130: "i", 0x131: "i", 0x17F: "s", 0x212A: "k"}


def _beginnings(units: list[str], then: str) -> str:
    """A pattern of every non-empty beginning of ``units`` (patterns of one character each,
    in order), followed once they are all there by a beginning of ``then``."""
    pattern = then
    for unit in reversed(units):
        pattern = f"{unit}(?:{pattern})?"
    return pattern


# An end of output (folded) that could be the beginning of a secret: of a key where no word
# goes on before it, of an AWS key id, of a secret's name and its value.
_MAY_BEGIN = re.compile(
    r"(?:(?<![a-z0-9_-])(?:"
    + "|".join(
        [
            _beginnings(["s", "k", "-"], "[a-z0-9_-]*"),
            _beginnings(["g", "h", "[pousr]", "_"], "[a-z0-9]*"),
            _beginnings(list("github_pat_"), "[a-z0-9_]*"),
            _beginnings(["h", "f", "_"], "[a-z0-9]*"),
            _beginnings(["x", "o", "x", "[abprs]", "-"], "[a-z0-9-]*"),
        ]
    )
    + r")|\b"
    + _beginnings(["a", "[ks]", "i", "a"], "[0-9a-z]{0,16}")
    + "|"
    + "|".join(
        _beginnings(list(name), r"[\"']?\s*(?:[=:]\s*[\"']?[a-z0-9/+=]*)?")
        for name in _SECRET_NAMES.lower().split("|")
    )
    + r")\Z"
)
# An end of output (folded) that could begin a name a secret is assigned to, up to the quote
# after "=" (once a character of the value is there, the whole pattern matches): short, so
# only the last _ASSIGNED_TAIL characters are searched.
_MAY_BEGIN_ASSIGNED = re.compile(
    "(?:"
    + "|".join(_beginnings(list(name), r"[\"']?(?:=[\"']?)?") for name in _ASSIGNED_NAMES)
    + r")\Z"
)
_ASSIGNED_TAIL = max(map(len, _ASSIGNED_NAMES)) + len("'='")
# The characters of a key or a secret's value (folded).
_KEY_CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789_/+=-"
_ONLY_ESCAPES = re.compile(f"(?:{ESCAPE_SEQUENCE.pattern})*")
# An end of output that surely begins a key, or names a secret whose value is to come.
_KEY_START = re.compile(
    rf"(?:{_NO_WORD_BEFORE}(?:sk-|gh[pousr]_|github_pat_|hf_|xox[abprs]-|AKIA|ASIA)"
    rf"|(?:{_SECRET_NAMES})[\"']?\s*[=:]?\s*[\"']?)[A-Za-z0-9_/+=-]*\Z"
    rf"|(?:{'|'.join(_ASSIGNED_NAMES)})[\"']?=[\"']?{_ASSIGNED_VALUE}*\Z",
    re.IGNORECASE,
)
_TAIL_WINDOW = 512  # characters at the end of a piece looked at for a beginning of a secret
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
        pattern = "|".join([*alternatives, _KEY_SHAPES])
        # Tried only where a known value or an anchor stands (_candidates).
        self._regex = re.compile(pattern, re.IGNORECASE)

    def redact(self, text: str) -> str:
        """``text`` with every known secret and every key-shaped string replaced, also where
        escape sequences cut one (those are kept, after the replacement)."""
        return apply_spans(text, self.spans(text))

    def spans(self, text: str) -> list[Span]:
        """Where the secrets of ``text`` are, in order: what ``redact`` replaces, and with
        what. Secrets are looked for in the text a reader sees (escape sequences stepped
        over, and kept after the replacement), then in what that leaves: a window title
        naming a key, a key right after a replaced secret or an escape sequence."""
        if "\x1b" not in text:
            first = [(m.start(), m.end(), _replacement(m)) for m in self._matches(text)]
        elif found := self._matches(ESCAPE_SEQUENCE.sub("", text)):
            plain = _Plain(text)
            first = []
            for match in found:
                start = plain.position(match.start(), after_escapes=True)
                end = plain.position(match.end(), after_escapes=False)
                escapes = "".join(ESCAPE_SEQUENCE.findall(text, start, end))
                first.append((start, end, _replacement(match) + escapes))
        else:
            return [(m.start(), m.end(), _replacement(m)) for m in self._matches(text)]
        if not first:
            return first
        middle = apply_spans(text, first)
        then = [(m.start(), m.end(), _replacement(m)) for m in self._matches(middle)]
        return _composed(first, middle, then) if then else first

    def _matches(self, text: str) -> list[re.Match[str]]:
        """The matches of the whole pattern in ``text``, as ``finditer`` gives them."""
        matches: list[re.Match[str]] = []
        done = 0
        for position in self._candidates(text):
            if position >= done and (match := self._regex.match(text, position)):
                matches.append(match)
                done = match.end()
        return matches

    def _candidates(self, text: str) -> list[int]:
        """Every position where a match may start: a known value or a key's anchor."""
        positions = []
        for secret in self._literals:
            at = text.find(secret)
            while at >= 0:
                positions.append(at)
                at = text.find(secret, at + 1)
        if any(char in text for char in _ANCHOR_CHARS):
            folded = _fold(text)
            if len(folded) != len(text):  # a case folding this module does not know
                return list(range(len(text)))
            search = _KEY_ANCHORS.search
            anchor = search(folded)
            while anchor is not None:
                positions.append(anchor.start())
                anchor = search(folded, anchor.start() + 1)
            if _assigns_maybe(folded):
                positions += [m.start() for m in _ASSIGNMENT_ANCHORS.finditer(folded)]
        return sorted(positions)

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
        for match in self._matches(whole):
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
        for match in self._matches("".join(items)):
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
        spans, cut = self.scan(text)
        return apply_spans(text, spans, 0, cut), text[cut:]

    def scan(self, text: str, before: str = "") -> tuple[list[Span], int]:
        """The secrets of ``text``, and how much of it can be written now (``safe_end``),
        ``text`` read after ``before``: the end of what was written before it (a key
        prefix right after a word begins no key, one right after a known value does)."""
        whole = before + text if before else text
        spans = self.spans(whole)
        safe = self.safe_end(whole, spans)
        if not before:
            return spans, safe
        shift = len(before)
        spans = [
            (max(start, shift) - shift, end - shift, r) for start, end, r in spans if end > shift
        ]
        return spans, max(0, safe - shift)

    def safe_end(self, text: str, spans: list[Span]) -> int:
        """How much of ``text`` (whose secrets are ``spans``) can be written now: not an end
        that could begin a secret, a secret that reaches the end (it may go on), or an
        escape sequence still arriving."""
        body, _ = split_unfinished_escape(text)
        cut = self._beginning_of_secret(body, spans)
        if spans:
            start, end, _ = spans[-1]
            if _ONLY_ESCAPES.fullmatch(body, end):
                cut = min(cut, start)  # only escape sequences after it: it may go on
        for start, end, _ in reversed(spans):
            if start < cut < end:
                return start
            if end <= cut:
                break
        return cut

    def _beginning_of_secret(self, text: str, spans: list[Span]) -> int:
        """Where the longest end of ``text`` that could begin a secret starts (``len(text)``
        when no end could), as ``spans`` looks for one: in the text a reader sees, and in the
        text as it is, where an escape sequence or a secret (replaced) may end a word."""
        window = text[-4 * _TAIL_WINDOW :]
        offset = len(text) - len(window)
        plain = _Plain(window)
        size = _could_begin(plain.text, self._known_prefix(plain.text[-_TAIL_WINDOW:]))
        cut = plain.position(len(plain.text) - size, after_escapes=True) if size else len(window)
        if "\x1b" in window or (spans and spans[-1][1] > offset):
            pieces, done = [], 0
            for start, end, _ in spans:
                if end > offset:
                    start = max(start - offset, done)
                    pieces += [window[done:start], "\0" * (end - offset - start)]  # not a word
                    done = end - offset
            seen = "".join([*pieces, window[done:]])
            could = len(window) - _could_begin(seen, self._known_prefix(seen[-_TAIL_WINDOW:]))
            for escape in ESCAPE_SEQUENCE.finditer(window, max(0, could - _TAIL_WINDOW)):
                if escape.start() < could < escape.end():  # not cut in two: held whole
                    could = escape.start()
                    break
            cut = min(cut, could)
        return offset + cut

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

    def _known_prefix(self, text: str) -> int:
        """The length of the longest end of ``text`` that a known value begins with."""
        longest = max((len(s) for s in self._literals), default=0)
        for size in range(min(longest - 1, len(text)), 0, -1):
            suffix = text[-size:]
            if any(secret.startswith(suffix) for secret in self._literals):
                return size
        return 0


# (start, end, replacement): a secret in a text
Span = tuple[int, int, str]


def apply_spans(text: str, spans: list[Span], start: int = 0, end: int | None = None) -> str:
    """``text[start:end]`` with the secrets of ``spans`` in it replaced; no span may cross
    ``start`` or ``end``."""
    end = len(text) if end is None else end
    pieces = []
    done = start
    for first, last, replacement in spans:
        if first >= end:
            break
        if first >= start:
            pieces += [text[done:first], replacement]
            done = last
    if not pieces:
        return text[start:end] if start or end < len(text) else text
    pieces.append(text[done:end])
    return "".join(pieces)


def _could_begin(text: str, known: int = 0) -> int:
    """The length of the longest end of ``text`` that could begin a key, a secret's name and
    value, or (``known`` long) a known value, with the characters of a key before it
    (whether they are one depends on what comes: ``AKIA`` and 16 more is a key when a known
    value, replaced, follows it)."""
    folded = _fold(text[-_TAIL_WINDOW:])
    # Each of those begins with one of these letters (a flood of numbers has none).
    could = _MAY_BEGIN.search(folded) if any(c in folded for c in "aghsx") else None
    size = max(known, len(folded) - could.start() if could else 0)
    if assigned := _MAY_BEGIN_ASSIGNED.search(folded, max(0, len(folded) - _ASSIGNED_TAIL)):
        size = max(size, len(folded) - assigned.start())
    if not size:
        return 0
    return len(folded) - len(folded[: len(folded) - size].rstrip(_KEY_CHARACTERS))


def _composed(first: list[Span], middle: str, then: list[Span]) -> list[Span]:
    """Spans of a text that do what ``first`` does to it (which makes ``middle``) and then
    what ``then`` does to ``middle``: where they overlap, one span."""
    placed = []  # each of first: its place in middle, and what middle gained by it
    gained = 0
    for start, end, replacement in first:
        placed.append((start + gained, start + gained + len(replacement)))
        gained += len(replacement) - (end - start)
    joined: list[list[int]] = []
    for start, end in sorted(placed + [(start, end) for start, end, _ in then]):
        if joined and start < joined[-1][1]:
            joined[-1][1] = max(joined[-1][1], end)
        else:
            joined.append([start, end])

    def in_text(position: int) -> int:  # a position of middle outside every replacement
        before = [i for i, (_, end) in enumerate(placed) if end <= position]
        if not before:
            return position
        i = before[-1]
        return first[i][1] + position - placed[i][1]

    spans = []
    for start, end in joined:
        inside = [span for span in then if start <= span[0] and span[1] <= end]
        replaced = apply_spans(middle, inside, start, end)
        spans.append((in_text(start), in_text(end), replaced))
    return spans


def _assigns_maybe(folded: str) -> bool:
    """False when ``folded`` surely assigns nothing to a name of _ASSIGNED_NAMES (at C
    speed: most text has no "=", or none of these words)."""
    return "=" in folded and (
        "pass" in folded or "token" in folded or "_secret" in folded or "api" in folded
    )


def _fold(text: str) -> str:
    """``text`` in lower case as ``re.IGNORECASE`` sees it, one character for one."""
    if not text.isascii() and any(chr(c) in text for c in _NON_ASCII_FOLDS):
        text = text.translate(_NON_ASCII_FOLDS)
    return text.lower()


def _replacement(match: re.Match[str]) -> str:
    return (match.group("name") or match.group("assigned") or "") + REDACTED


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
