"""Retrying a model call through transient failures, as every backend does it.

Backoff doubles from ``initial`` up to ``maximum`` seconds, with jitter so that many sessions
hit by the same outage do not come back in step; a server's ``retry-after`` is honoured (up to
``max_retry_after``). When the tries run out, ``ModelUnavailable`` says what failed and how
often, and the session pauses instead of dying.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from clive.models.base import ModelUnavailable, Retry, RetryListener

T = TypeVar("T")


class RetryPolicy(BaseModel):
    """How a backend retries a failed call."""

    model_config = ConfigDict(extra="forbid")

    attempts: int = Field(6, ge=1, description="tries in all, the first included")
    initial: float = Field(1.0, ge=0, description="seconds before the first retry")
    maximum: float = Field(60.0, ge=0, description="longest wait between tries")
    max_retry_after: float = Field(600.0, ge=0, description="longest retry-after honoured")


@dataclass(frozen=True)
class Transient:
    """A failure worth retrying: what it was, and how long the server asked us to wait."""

    reason: str
    retry_after: float | None = None


def parse_retry_after(value: str | None) -> float | None:
    """A ``retry-after`` header (seconds, or an HTTP date) as seconds, or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff(attempt: int, policy: RetryPolicy, retry_after: float | None = None) -> float:
    """Seconds to wait after failure number ``attempt`` (1 for the first)."""
    if retry_after is not None:
        return min(retry_after, policy.max_retry_after)
    delay = min(policy.maximum, policy.initial * 2 ** (attempt - 1))
    return delay * random.uniform(0.75, 1.0)


def with_retries(
    call: Callable[[], T],
    classify: Callable[[Exception], Transient | None],
    policy: RetryPolicy,
    on_retry: RetryListener | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``call()``, tried again after each failure ``classify`` calls transient.

    A failure ``classify`` returns None for is raised as it is.
    """
    started = time.monotonic()
    for attempt in range(1, policy.attempts + 1):
        try:
            return call()
        except Exception as error:
            transient = classify(error)
            if transient is None:
                raise
            if attempt == policy.attempts:
                spent = time.monotonic() - started
                raise ModelUnavailable(
                    f"{transient.reason} (tried {attempt} times over {spent:.0f}s)"
                ) from error
            delay = backoff(attempt, policy, transient.retry_after)
            if on_retry is not None:
                on_retry(Retry(attempt, policy.attempts, delay, transient.reason))
            sleep(delay)
    raise AssertionError("unreachable")  # the loop returns or raises
