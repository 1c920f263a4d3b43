"""Keeping secrets off disk: what the session writer removes before anything is written.

Two kinds of secret are removed: values clive knows (the harness's credential variables, and
what was typed at a password prompt) and strings shaped like common API keys (Anthropic,
OpenAI, AWS, GitHub, Hugging Face, Slack). Terminal output arrives in pieces, so a secret can be
cut in two: ``StreamRedactor`` holds back the end of a piece that could be the start of one.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable

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

_KEY_SHAPES = (
    r"sk-ant-[A-Za-z0-9_-]{20,}"  # Anthropic
    r"|sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"  # OpenAI
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"  # AWS access key id
    r"|(?P<aws>aws_secret_access_key\s*[=:]\s*[\"']?)[A-Za-z0-9/+]{40}"  # AWS secret key
    r"|gh[pousr]_[A-Za-z0-9]{36,}"  # GitHub tokens
    r"|github_pat_[A-Za-z0-9_]{22,}"
    r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face
    r"|xox[abprs]-[A-Za-z0-9-]{10,}"  # Slack
)
# A piece of output ending like this may end inside a secret: a run of the characters keys
# are made of, or an AWS secret's name waiting for its value.
_UNSAFE_TAIL = re.compile(
    r"(?:aws_secret_access_key\s*[=:]?\s*[\"']?)?[A-Za-z0-9_/+=-]*\Z", re.IGNORECASE
)
_MIN_SECRET = 4  # shorter values would redact ordinary words


class Redactor:
    """Replaces secrets in text with ``[REDACTED]``.

    ``secrets`` are literal values; by default the values of ``CREDENTIAL_VARIABLES`` in this
    process's environment are added. ``add_secret`` adds more as they become known.
    """

    def __init__(self, secrets: Iterable[str] = (), *, from_environment: bool = True) -> None:
        self._literals: set[str] = set()
        self._regex = re.compile(_KEY_SHAPES, re.IGNORECASE)
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
        ordered = sorted(self._literals, key=len, reverse=True)  # the longest match wins
        literals = "|".join(re.escape(s) for s in ordered)
        self._regex = re.compile(f"(?-i:{literals})|{_KEY_SHAPES}", re.IGNORECASE)

    def redact(self, text: str) -> str:
        """``text`` with every known secret and every key-shaped string replaced."""
        return self._regex.sub(_replacement, text)

    def split_safe(self, text: str) -> tuple[str, str]:
        """``text`` cut where what follows could be the start of a secret, redacted before
        the cut: (safe and redacted, held back)."""
        cut = len(text) - self._unsafe_tail(text)
        for match in self._regex.finditer(text):
            if match.end() >= cut:  # a secret that reaches the end may go on
                cut = min(cut, match.start())
                break
        return self._regex.sub(_replacement, text[:cut]), text[cut:]

    def _unsafe_tail(self, text: str) -> int:
        window = text[-512:]
        keep = len(_UNSAFE_TAIL.search(window).group())
        longest = max((len(s) for s in self._literals), default=0)
        for size in range(min(longest - 1, len(text)), keep, -1):
            suffix = text[-size:]
            if any(secret.startswith(suffix) for secret in self._literals):
                return size
        return keep


def _replacement(match: re.Match[str]) -> str:
    return (match.group("aws") or "") + REDACTED


class StreamRedactor:
    """Redacts text that arrives in pieces, holding back what may be half a secret."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._held = ""

    def feed(self, text: str) -> str:
        """The redacted text that is safe to write now."""
        safe, self._held = self._redactor.split_safe(self._held + text)
        return safe

    def flush(self) -> str:
        """Everything held back, redacted: the stream paused or ended."""
        held, self._held = self._held, ""
        return self._redactor.redact(held) if held else ""

    @property
    def holding(self) -> bool:
        return bool(self._held)
