"""How much a measurement wanders by itself, and the margin a change must beat the best by.

The noise is estimated from the baseline's runs (``noise_repeats``): its robust spread is
1.4826 times their median absolute deviation (the standard deviation, were they normal, and
unmoved by one wild run), and never less than half their range (with three runs two may be
equal, leaving a MAD of 0). A change is kept when its median beats the best by more than
``K`` times that spread; better but not by that much, it is measured again (``remeasure``).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

K = 2.0  # spreads a gain must exceed
_MAD_TO_SIGMA = 1.4826

STATISTIC = (
    f"{K:g} x the robust spread of the baseline's runs (1.4826 x MAD, at least half the range)"
)


def spread(values: Sequence[float]) -> float:
    """The robust spread of ``values`` (0 for fewer than two)."""
    if len(values) < 2:
        return 0.0
    middle = statistics.median(values)
    mad = statistics.median(abs(v - middle) for v in values)
    return max(_MAD_TO_SIGMA * mad, (max(values) - min(values)) / 2)


def margin(values: Sequence[float]) -> float:
    """What a gain must exceed to be more than the noise of ``values``."""
    return K * spread(values)
