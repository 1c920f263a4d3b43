"""How much a measurement wanders by itself, and the margin a change must beat the best by.

**The noise** is the pooled standard deviation ``s`` of every tree the session measured more
than once: the baseline's ``noise_repeats`` runs first, then every change measured again. Each
run counts by its deviation from its own tree's mean, over the degrees of freedom ``df`` (the
runs less one, for each tree): the estimate grows surer as the session goes on.

**The margin.** A change is kept when the median of its runs beats the best's median by more
than

    t(0.95, df) x 1.2533 x s x sqrt(1/n_best + 1/n_change)

a one-sided test at 5% for normal noise: Student's t because ``s`` comes from few runs, 1.2533
because a median of normal runs wanders that much more than their mean. A change better than
the best but within that margin is measured again (``remeasure``): its runs narrow the margin
and add to the noise's ``df``.

**What it buys** (``tests/experiments/test_noise.py`` simulates sessions of ten experiments
with normal noise, three baseline runs and two runs more at most): a change with no effect is
kept 3.5% of the time, and a session keeps three of them 0.07% of the time; with the previous
rule (2 x the robust spread of the baseline's three runs, fixed for the session) 5.4% and
1.5%: a session whose three baseline runs fell close together kept noise for ever. A model
that submits the same tree in many disguises, hoping for a lucky draw, gains little. The price
is caution while the noise is known from few runs: a real gain of three standard deviations is
kept 60% of the time at the first try (more ``noise_repeats`` and ``remeasure`` raise it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

MEDIAN_SE = math.sqrt(math.pi / 2)  # a median's standard error over a mean's (normal runs)
# Student's t, one-sided 95%, for 1 to 30 degrees of freedom; beyond, the normal's 1.645.
_T_95 = (
    6.314, 2.920, 2.353, 2.132, 2.015, 1.943, 1.895, 1.860, 1.833, 1.812, 1.796, 1.782,
    1.771, 1.761, 1.753, 1.746, 1.740, 1.734, 1.729, 1.725, 1.721, 1.717, 1.714, 1.711,
    1.708, 1.706, 1.703, 1.701, 1.699, 1.697,
)  # fmt: skip

STATISTIC = (
    "t(0.95, df) x 1.2533 x s x sqrt(1/n_best + 1/n_change), s the pooled standard "
    "deviation of the trees measured more than once"
)


def t95(df: int) -> float:
    """Student's t quantile at 95% for ``df`` degrees of freedom (at least 1)."""
    return _T_95[df - 1] if df <= len(_T_95) else 1.645


class Noise:
    """The pooled noise of ``groups``: the runs of each tree measured (one or more)."""

    def __init__(self, groups: Iterable[Sequence[float]] = ()) -> None:
        self.squares = 0.0
        self.df = 0
        for values in groups:
            if len(values) >= 2:
                mean = math.fsum(values) / len(values)
                self.squares += math.fsum((v - mean) ** 2 for v in values)
                self.df += len(values) - 1

    @property
    def spread(self) -> float:
        """The pooled standard deviation (0 when no tree was measured twice)."""
        return math.sqrt(self.squares / self.df) if self.df else 0.0

    def margin(self, n_best: int, n_change: int) -> float:
        """What a gain of a change measured ``n_change`` times over a best measured
        ``n_best`` times must exceed (0 when no noise could be estimated)."""
        if not self.df or self.squares == 0:
            return 0.0
        runs = math.sqrt(1 / max(n_best, 1) + 1 / max(n_change, 1))
        return t95(self.df) * MEDIAN_SE * self.spread * runs
