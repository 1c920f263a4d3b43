"""Fixtures shared by clive's tests."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis_profile import load_profile
from tmux_reference import TmuxPane

load_profile()


@pytest.fixture
def tmux_pane() -> Iterator[Callable[..., TmuxPane]]:
    """A factory of `TmuxPane`s (same arguments), all closed when the test ends.

    Skips the test when tmux is not installed.
    """
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not on PATH: the tmux reference tests need a real tmux")
    panes: list[TmuxPane] = []

    def open_pane(**options: Any) -> TmuxPane:
        pane = TmuxPane(**options)
        panes.append(pane)
        return pane

    yield open_pane
    for pane in panes:
        pane.close()
