"""Waiting in tests for a condition, never for a stretch of time: polled to a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

DEADLINE = 30.0  # seconds any condition polled may take on a loaded machine


def wait_until(condition: Callable[[], object], what: str, timeout: float = DEADLINE) -> None:
    """Return once ``condition()`` is true; fail the test naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout:g}s: {what}")
        time.sleep(0.05)
