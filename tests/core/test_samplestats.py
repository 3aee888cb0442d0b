"""Issue 38: the statistics of per-sample SROP sets (W1 between samples, the permutation test,
Holm, robust z, KDE modes) against literal float64 computations and analytic cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from srop_onnx.core.samplestats import MAD_SCALE, holm, kde_modes, permutation_w1, robust_z, smallest_p, w1_samples
from srop_onnx.errors import UsageError


def _w1_literal(a, b) -> float:
    """W1 as the integral of |F_a - F_b| over the pooled support, one interval at a time."""
    z = sorted(set(a) | set(b))
    total = 0.0
    for lo, hi in zip(z[:-1], z[1:]):
        fa = sum(1 for v in a if v <= lo) / len(a)
        fb = sum(1 for v in b if v <= lo) / len(b)
        total += abs(fa - fb) * (hi - lo)
    return total


def test_w1_between_samples_is_the_literal_integral_and_scipys(rng):
    from scipy.stats import wasserstein_distance

    for n, k in ((1, 1), (3, 7), (40, 25), (200, 3)):
        a, b = rng.normal(0.4, 0.05, n), rng.normal(0.45, 0.08, k)
        assert w1_samples(a, b) == pytest.approx(_w1_literal(list(a), list(b)), abs=1e-12)
        assert w1_samples(a, b) == pytest.approx(wasserstein_distance(a, b), abs=1e-12)


def test_w1_of_two_points_is_their_distance_and_of_equal_sets_zero():
    assert w1_samples([0.25], [0.75]) == pytest.approx(0.5)
    assert w1_samples([0.1, 0.2, 0.3], [0.3, 0.1, 0.2]) == 0.0


def _exact_p(a, b) -> float:
    """The permutation p-value over every split of the pooled values (no sampling)."""
    z = np.concatenate([a, b])
    obs = _w1_literal(list(a), list(b))
    hits = total = 0
    for chosen in itertools.combinations(range(z.size), len(a)):
        mask = np.zeros(z.size, bool)
        mask[list(chosen)] = True
        total += 1
        hits += _w1_literal(list(z[mask]), list(z[~mask])) >= obs - 1e-12
    return hits / total


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.3])
def test_the_permutation_p_value_agrees_with_full_enumeration(rng, shift):
    a = rng.normal(0.4, 0.05, 5)
    b = rng.normal(0.4 + shift, 0.05, 5)
    exact = _exact_p(a, b)  # 252 splits
    w1, p = permutation_w1(a, b, permutations=20000, rng=7)
    assert w1 == pytest.approx(_w1_literal(list(a), list(b)), abs=1e-12)
    # Monte Carlo error of a proportion over 20,000 draws: sd <= 0.0036
    assert p == pytest.approx(exact, abs=0.015)


@pytest.mark.parametrize("n_a, n_b", [(1, 1), (2, 2), (2, 3), (3, 3), (1, 5), (4, 4), (3, 6)])
def test_the_smallest_p_is_the_share_of_splits_as_extreme_as_the_most_extreme_one(n_a, n_b):
    """Two sets as far apart as they can be (every value of A below every value of B): by full
    enumeration, the share of splits whose W1 is at least theirs is the floor no data can beat."""
    a, b = np.arange(n_a) * 0.01, 0.5 + np.arange(n_b) * 0.01
    share = _exact_p(a, b)
    assert share == pytest.approx((2 if n_a == n_b else 1) / math.comb(n_a + n_b, n_a), abs=1e-12)
    assert smallest_p(n_a, n_b, 10**15) == pytest.approx(share, rel=1e-9)
    for splits in (9, 99, 999):  # (B q + 1) / (B + 1): what the seeded Monte Carlo p averages to
        assert smallest_p(n_a, n_b, splits) == pytest.approx((splits * share + 1) / (splits + 1), rel=1e-12)


def test_the_smallest_p_is_what_the_permutation_test_gives_on_average_and_limits_holm(rng):
    a, b = np.array([0.1, 0.2]), np.array([0.8, 0.9])  # two against two: never below 1/3
    ps = [permutation_w1(a, b, permutations=999, rng=seed)[1] for seed in range(20)]
    assert np.mean(ps) == pytest.approx(smallest_p(2, 2, 999), abs=0.02) and min(ps) > 0.25
    assert smallest_p(2, 2) > 1 / 3 - 1e-9
    assert smallest_p(200, 200, 9999) == pytest.approx(1 / 10000)  # large sets: the splits are the floor
    # 100 tests at alpha 0.01 need a p below 1e-4: 9,999 splits never give one
    assert 100 * smallest_p(200, 200, 9999) >= 0.01 > 100 * smallest_p(200, 200, 99999)
    with pytest.raises(UsageError, match="at least 1"):
        smallest_p(0, 3)


def test_stopping_once_p_cannot_fall_below_alpha_keeps_every_p_below_it_and_every_decision(rng):
    """``stop_at``: a test whose p can no longer fall below alpha stops drawing splits (a set of 500
    against 500 took 9,999 splits to say p = 0.85); every p below alpha is the full run's, to the bit."""
    alpha, splits = 0.01, 1999
    for shift in (0.0, 0.002, 0.005, 0.01, 0.02, 0.05):
        for n in (8, 40):
            a, b = rng.normal(0.4, 0.02, n), rng.normal(0.4 + shift, 0.02, n)
            full = permutation_w1(a, b, permutations=splits, rng=11)
            fast = permutation_w1(a, b, permutations=splits, rng=11, stop_at=alpha)
            assert fast[0] == full[0]
            if full[1] < alpha:
                assert fast[1] == full[1]
            else:
                assert fast[1] >= alpha  # the same decision, on fewer splits
    a, b = np.linspace(0.3, 0.5, 200), np.linspace(0.3005, 0.5005, 200)  # interleaved: p near 1
    p = permutation_w1(a, b, permutations=9999, rng=1, stop_at=alpha)[1]
    drawn = [l for l in (128, 384, 896) if p * (l + 1) == pytest.approx(round(p * (l + 1)))]
    assert p >= alpha and drawn  # (b + 1) / (l + 1) over the first blocks' splits, not all 9,999


def test_the_p_value_is_b_plus_one_over_b_plus_one_seeded_and_never_zero(rng):
    a, b = rng.normal(0.2, 0.01, 30), rng.normal(0.8, 0.01, 30)
    w1, p = permutation_w1(a, b, permutations=999, rng=3)
    assert p == pytest.approx(1 / 1000)  # no split of two far-apart groups is as extreme
    assert permutation_w1(a, b, permutations=999, rng=3) == (w1, p)
    same = rng.normal(0.5, 0.05, 40)
    w1_same, p_same = permutation_w1(same[:20], same[20:], permutations=999, rng=4)
    assert 1 / 1000 <= p_same <= 1.0
    assert (p_same * 1000) == pytest.approx(round(p_same * 1000))  # (b + 1) / (B + 1)
    with pytest.raises(UsageError, match="permutations must be at least 1"):
        permutation_w1(a, b, permutations=0)
    with pytest.raises(UsageError, match="all finite"):
        permutation_w1([0.1, math.nan], b)


def test_under_the_null_p_values_are_uniform(rng):
    ps = [permutation_w1(rng.normal(0, 1, 15), rng.normal(0, 1, 15), permutations=199, rng=i)[1] for i in range(200)]
    assert 0.02 <= np.mean(np.asarray(ps) < 0.1) <= 0.2  # ~10% below 0.1


def _holm_literal(p):
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def test_holm_matches_the_literal_step_down(rng):
    for m in (1, 2, 7, 50):
        p = list(rng.uniform(0, 0.2, m))
        assert np.allclose(holm(p), _holm_literal(p), atol=1e-15)
    got = holm([0.01, np.nan, 0.04])
    assert np.isnan(got[1]) and np.allclose(got[[0, 2]], _holm_literal([0.01, 0.04]))


def test_robust_z_is_median_and_scaled_mad():
    v = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    med, mad = 3.0, 1.0 * MAD_SCALE
    assert np.allclose(robust_z(v), (v - med) / mad)
    assert np.all(np.isnan(robust_z([2.0, 2.0, 2.0, 5.0])))  # MAD 0: no spread to measure against


def test_kde_modes_find_two_clusters_and_split_them_between(rng):
    v = np.concatenate([rng.normal(0.25, 0.02, 300), rng.normal(0.7, 0.02, 100)])
    modes = kde_modes(v)
    assert len(modes) == 2
    assert modes[0].at == pytest.approx(0.25, abs=0.02) and modes[1].at == pytest.approx(0.7, abs=0.02)
    assert 0.3 < modes[0].hi == modes[1].lo < 0.65
    assert modes[0].lo == -np.inf and modes[1].hi == np.inf
    assert kde_modes(v) == modes  # deterministic
    one = kde_modes([0.4, 0.4, 0.4])
    assert len(one) == 1 and one[0].at == 0.4 and (one[0].lo, one[0].hi) == (-np.inf, np.inf)
