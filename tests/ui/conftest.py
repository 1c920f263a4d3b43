"""What every UI test shares: Textual's event loop for the async tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Textual's loop
