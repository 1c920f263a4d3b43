"""The prompts, read from Markdown files a user can read and override.

``prompts/system.md`` is the system prompt; ``prompts/tools.md`` holds one ``## name`` section
per tool, its description; ``compact.md`` asks for notes before the context is cleared, and
``context.md`` opens a fresh context (``$task``, ``$notes``, ``$situation``).
``load_prompts(directory)`` reads a user's copy; a file missing there is taken from clive's own.
"""

from __future__ import annotations

import re
import string
import sys
from dataclasses import dataclass
from pathlib import Path

_SECTION = re.compile(r"^## +(\S+)[ \t]*$", re.MULTILINE)


def default_prompts_dir() -> Path:
    """clive's own prompts: ``prompts/`` beside the package in a checkout, else installed."""
    for candidate in (
        Path(__file__).resolve().parents[2] / "prompts",
        Path(sys.prefix) / "share" / "clive" / "prompts",
    ):
        if (candidate / "system.md").is_file():
            return candidate
    raise FileNotFoundError("clive's prompts/ directory is missing from this installation")


@dataclass(frozen=True)
class Prompts:
    system: str
    tools: dict[str, str]  # tool name -> description
    compact: str
    context: str  # a string.Template

    def fresh_context(self, task: str, notes: str, situation: str) -> str:
        """The first message of a fresh context."""
        return (
            string.Template(self.context)
            .safe_substitute(task=task, notes=notes or "(none)", situation=situation)
            .strip()
        )


def load_prompts(directory: Path | None = None) -> Prompts:
    """The prompts from ``directory`` (default clive's own), falling back file by file."""
    default = default_prompts_dir()
    if directory is not None and not directory.is_dir():
        raise FileNotFoundError(f"the prompts directory {directory} does not exist")

    def read(name: str) -> str:
        for base in (directory, default):
            if base is not None and (base / name).is_file():
                return (base / name).read_text(encoding="utf-8")
        raise FileNotFoundError(f"prompt file {name} not found")

    return Prompts(
        system=read("system.md").strip(),
        tools=_sections(read("tools.md")),
        compact=read("compact.md").strip(),
        context=read("context.md"),
    )


def _sections(markdown: str) -> dict[str, str]:
    headings = list(_SECTION.finditer(markdown))
    sections = {}
    for heading, following in zip(headings, [*headings[1:], None], strict=True):
        end = following.start() if following else len(markdown)
        sections[heading.group(1)] = " ".join(markdown[heading.end() : end].split())
    return sections
