"""The noise rule (``clive.experiments.noise``) against a model that mines the noise: it
submits changes that do nothing, again and again, hoping for a lucky draw to be kept. Sessions
of ten experiments are simulated with normal noise (seeded: the same draws every run), decided
exactly as the runner decides (the median against the best's, measured again when better but
within the margin, two runs more at most), against the rule clive had before (2 x the robust
spread of the baseline's runs, fixed for the session)."""

from __future__ import annotations

import random
import statistics

import pytest

from clive.experiments.noise import Noise, t95

SESSIONS = 1500
EXPERIMENTS = 10
REMEASURE = 2


def _session(rng: random.Random, effect: float, margin_of) -> int:
    """How many of a session's experiments were kept: each lowers the true value by
    ``effect`` standard deviations (0: it does nothing); ``margin_of(groups, best, values)``."""
    baseline = [rng.gauss(0, 1) for _ in range(3)]
    groups, best, truth, kept = [baseline], baseline, 0.0, 0
    for _ in range(EXPERIMENTS):
        mean = truth - effect
        values = [rng.gauss(mean, 1)]
        while True:
            gain = statistics.median(best) - statistics.median(values)
            if gain > margin_of(groups, best, values):
                kept, best, truth = kept + 1, values, mean
                break
            if gain <= 0 or len(values) > REMEASURE:
                break
            values.append(rng.gauss(mean, 1))  # better, within the noise: once more
        if len(values) >= 2:
            groups.append(values)
    return kept


def _pooled(groups, best, values) -> float:
    measured = groups + ([values] if len(values) >= 2 else [])
    return Noise(measured).margin(len(best), len(values))


def _before(groups, best, values) -> float:
    baseline = groups[0]
    middle = statistics.median(baseline)
    mad = statistics.median(abs(v - middle) for v in baseline)
    return 2 * max(1.4826 * mad, (max(baseline) - min(baseline)) / 2)


def _rates(margin_of, effect: float = 0.0) -> tuple[float, float]:
    """(the share of experiments kept, the share of sessions that kept three or more)."""
    rng = random.Random(20261202)
    kept = [_session(rng, effect, margin_of) for _ in range(SESSIONS)]
    return sum(kept) / (SESSIONS * EXPERIMENTS), sum(k >= 3 for k in kept) / SESSIONS


def test_changes_that_do_nothing_are_rarely_kept():
    per_experiment, sessions = _rates(_pooled)
    before_experiment, before_sessions = _rates(_before)
    assert per_experiment < 0.05  # a one-sided test at 5%
    assert per_experiment < before_experiment
    # The old rule's worst case: three close baseline runs, a margin near 0 for ever.
    assert sessions * 5 < before_sessions


def test_a_real_gain_is_kept():
    assert _rates(_pooled, effect=3.0)[0] > 0.5
    assert _rates(_pooled, effect=5.0)[0] > 0.9


def test_the_margin_narrows_as_runs_add_up():
    noise = Noise([[10, 12, 11]])  # s = 1, df 2
    assert noise.spread == pytest.approx(1.0) and noise.df == 2
    once, thrice = noise.margin(3, 1), noise.margin(3, 3)
    assert once == pytest.approx(t95(2) * 1.2533 * (1 / 3 + 1) ** 0.5, rel=1e-4)
    assert thrice < once
    more = Noise([[10, 12, 11], [9.5, 9.7, 9.4], [5, 5.2]])  # more degrees of freedom
    assert more.df == 5 and t95(5) < t95(2)


def test_no_noise_known_no_margin():
    assert Noise([]).margin(1, 1) == 0.0  # one run each: nothing to tell noise by
    assert Noise([[0.5, 0.5, 0.5]]).margin(3, 1) == 0.0  # a deterministic metric
    assert Noise([[1.0]]).df == 0
