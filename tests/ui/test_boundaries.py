"""The views read the session's stream, never its terminal: nothing under clive/ui imports the
terminal (``Terminal``, its keys, its processes). Drawing a screen needs only the emulator's
cells, which a view keeps itself."""

from __future__ import annotations

import ast
from pathlib import Path

import clive.ui

ALLOWED = {"clive.terminal.emulator"}  # the cells and cursor a view draws, from its own copy


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_view_imports_the_terminal():
    modules = sorted(Path(clive.ui.__file__).parent.glob("*.py"))
    assert len(modules) > 5
    offending = {
        path.name: sorted(
            name
            for name in _imports(path)
            if name.startswith("clive.terminal")
            and not any(name == a or name.startswith(a + ".") for a in ALLOWED)
        )
        for path in modules
    }
    assert {name: found for name, found in offending.items() if found} == {}
