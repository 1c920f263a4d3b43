"""The prompts, read from Markdown files a user can read and override.

``prompts/system.md`` is the system prompt; ``prompts/tools.md`` holds one ``## name`` section
per tool, its description. ``load_prompts(directory)`` reads a user's copy; a file missing
there is taken from clive's own.
"""

from __future__ import annotations

import re
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


def load_prompts(directory: Path | None = None) -> Prompts:
    """The prompts from ``directory`` (default clive's own), falling back file by file."""
    default = default_prompts_dir()

    def read(name: str) -> str:
        for base in (directory, default):
            if base is not None and (base / name).is_file():
                return (base / name).read_text(encoding="utf-8")
        raise FileNotFoundError(f"prompt file {name} not found")

    return Prompts(system=read("system.md").strip(), tools=_sections(read("tools.md")))


def _sections(markdown: str) -> dict[str, str]:
    headings = list(_SECTION.finditer(markdown))
    sections = {}
    for heading, following in zip(headings, [*headings[1:], None], strict=True):
        end = following.start() if following else len(markdown)
        sections[heading.group(1)] = " ".join(markdown[heading.end() : end].split())
    return sections
