"""Waiting in a Pilot test for a condition, never for a stretch of time: the app runs meanwhile,
and the wait fails at a deadline (``polling.wait_until``'s, for the app's event loop)."""

from __future__ import annotations

import time
from collections.abc import Callable

from polling import DEADLINE
from textual.pilot import Pilot


async def until(
    pilot: Pilot, condition: Callable[[], object], what: str, timeout: float = DEADLINE
) -> None:
    """Return once ``condition()`` holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g}s: {what}")
        await pilot.pause(0.05)
