"""How many examples a Hypothesis test tries: a profile, chosen by ``HYPOTHESIS_PROFILE``.

``dev`` (the default) tries a quarter of each test's number, for a quick local run; ``ci``
(``.ci/run`` sets it) tries them all. Either way Hypothesis remembers failing examples.
"""

from __future__ import annotations

import os

_SHARE = {"dev": 0.25, "ci": 1.0}


def examples(count: int) -> int:
    """``count`` examples in CI, fewer locally (at least 10)."""
    profile = os.environ.get("HYPOTHESIS_PROFILE", "dev")
    if profile not in _SHARE:
        raise ValueError(f"HYPOTHESIS_PROFILE={profile!r}: the profiles are {', '.join(_SHARE)}")
    return max(10, round(count * _SHARE[profile]))
