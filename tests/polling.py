"""Waiting in tests for a condition, never for a stretch of time: polled to a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

DEADLINE = 30.0  # seconds any condition polled may take on a loaded machine


def poll(condition: Callable[[], Any], timeout: float = DEADLINE) -> Any:
    """``condition()``'s first true value, polled until ``timeout`` seconds have passed;
    its last (false) value then."""
    deadline = time.monotonic() + timeout
    while not (value := condition()) and time.monotonic() <= deadline:
        time.sleep(0.05)
    return value


def wait_until(
    condition: Callable[[], Any],
    what: str,
    timeout: float = DEADLINE,
    seen: Callable[[], object] | None = None,
) -> Any:
    """``condition()``'s first true value; fail the test naming ``what`` (and what ``seen()``
    shows then) after ``timeout`` seconds."""
    value = poll(condition, timeout)
    if not value:
        shown = f"; seen:\n{seen()}" if seen is not None else ""
        pytest.fail(f"not within {timeout:g}s: {what}{shown}")
    return value
