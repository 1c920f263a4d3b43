"""Which actions need a person's approval, and asking for it.

``--approve never`` asks nothing; ``risky`` (the default) asks before a command that matches a
rule of the config's ``risky`` table (rm -rf on a broad path, mkfs, dd onto a device, a force
push, a download piped into a shell, sudo...); ``always`` asks before every command. With no one
to ask (headless), what needs approval is refused and the model is told why.

What is judged is each line as it is submitted, however it was typed (``input_line``); the
rules are regular expressions, a seat belt and not a boundary (README, docs/security.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

ApproveMode = Literal["never", "risky", "always"]

# A backslash before a line end: the shell joins the two lines.
_CONTINUATION = re.compile(r"\\\r?\n")
# Quotes and backslashes, which split no word: r''m, "rm", \rm all run rm.
_QUOTING = re.compile(r"""['"\\]""")


@dataclass(frozen=True)
class ApprovalRequest:
    """An action waiting for a decision: what would be typed, and the rule it matched."""

    step: int
    action: str
    rule: str


@dataclass(frozen=True)
class Decision:
    approved: bool
    by: Literal["user", "policy"]
    reason: str = ""


# Asks a person (the UI shows a dialog); None means there is no one to ask.
Approver = Callable[[ApprovalRequest], Decision]


class ApprovalPolicy:
    """Decides, or asks ``approver``, before the model's commands run."""

    def __init__(
        self, mode: ApproveMode, rules: Mapping[str, str], approver: Approver | None = None
    ) -> None:
        self.mode = mode
        self.approver = approver
        self.rules: dict[str, re.Pattern[str]] = {}
        for name, pattern in rules.items():
            if not pattern:
                continue  # a config file turns a default rule off with an empty pattern
            try:
                self.rules[name] = re.compile(pattern)
            except re.error as error:
                message = f"risky rule {name!r} is not a regular expression: {error}"
                raise ValueError(message) from None

    def rule_for(self, text: str) -> str | None:
        """Why running ``text`` needs approval (a rule's name), or None when it does not.
        The rules also see ``text`` with continued lines joined and quotes taken out."""
        if self.mode == "never":
            return None
        joined = _CONTINUATION.sub("", text)
        readings = dict.fromkeys((text, joined, _QUOTING.sub("", joined)))
        for name, pattern in self.rules.items():
            if any(pattern.search(reading) for reading in readings):
                return name
        return "every command (--approve always)" if self.mode == "always" else None

    def rule_for_line(self, readings: Iterable[str]) -> str | None:
        """The first rule any reading of a submitted line matches (``Submission.readings``)."""
        return next(filter(None, map(self.rule_for, readings)), None)

    def decide(self, request: ApprovalRequest) -> Decision:
        if self.approver is None:
            return Decision(False, "policy", "no one is there to approve it (headless run)")
        return self.approver(request)
