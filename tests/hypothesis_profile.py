"""How many examples a Hypothesis test tries: a profile, chosen by ``HYPOTHESIS_PROFILE``.

``dev`` (the default) tries a quarter of each test's number, drawn at random, for a quick
local run that explores; Hypothesis remembers what failed. ``ci`` (``.ci/run`` sets it) tries
them all, derandomized: the same examples at every run, so a CI run cannot fail on an example
no one has seen before. A failure found while exploring is pinned with ``@example``.
"""

from __future__ import annotations

import os

from hypothesis import settings

_SHARE = {"dev": 0.25, "ci": 1.0}

settings.register_profile("dev")
settings.register_profile("ci", derandomize=True)


def load_profile() -> None:
    """Make the profile ``HYPOTHESIS_PROFILE`` names the default of every test."""
    settings.load_profile(_profile())


def _profile() -> str:
    profile = os.environ.get("HYPOTHESIS_PROFILE", "dev")
    if profile not in _SHARE:
        raise ValueError(f"HYPOTHESIS_PROFILE={profile!r}: the profiles are {', '.join(_SHARE)}")
    return profile


def examples(count: int) -> int:
    """``count`` examples in CI, fewer locally (at least 10)."""
    return max(10, round(count * _SHARE[_profile()]))
