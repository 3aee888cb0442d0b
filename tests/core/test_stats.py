"""Layer statistics: exact summaries from the histogram, and merge by addition."""

from __future__ import annotations

import numpy as np
import pytest

from srop_onnx import DEAD, NONFINITE, LayerStats, UsageError
from srop_onnx.core.stats import histogram_quantile, wasserstein1


def _random_bins(rng, n, c, m):
    bins = rng.integers(0, m + 1, size=(n, c))
    bins[rng.random((n, c)) < 0.1] = DEAD
    bins[rng.random((n, c)) < 0.03] = NONFINITE
    return bins


def test_summary_equals_numpy_on_the_expanded_values(rng):
    m, m_in = 37, 156
    bins = _random_bins(rng, 17, 24, m)
    st = LayerStats.from_bins(bins, m, m_in)
    live = bins[bins >= 0]
    for units, denom in (("band", m), ("input", m_in)):
        vals = live / denom
        s = st.summary(units)
        assert s.mean == pytest.approx(np.mean(vals), rel=1e-12)
        assert s.std == pytest.approx(np.std(vals), rel=1e-12)
        assert s.median == pytest.approx(np.median(vals), rel=1e-12)
        assert s.q1 == pytest.approx(np.quantile(vals, 0.25), rel=1e-12)
        assert s.q3 == pytest.approx(np.quantile(vals, 0.75), rel=1e-12)
        assert (s.min, s.max) == (vals.min(), vals.max())
    assert st.count == live.size
    assert st.dead == np.count_nonzero(bins == DEAD)
    assert st.nonfinite == np.count_nonzero(bins == NONFINITE)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 10, 11])
@pytest.mark.parametrize("q", [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0])
def test_histogram_quantile_is_numpy_linear(rng, size, q):
    vals = rng.integers(0, 6, size=size)
    hist = np.bincount(vals, minlength=6)
    got = histogram_quantile(hist, np.arange(6.0), q)
    assert got == pytest.approx(np.quantile(vals, q))


def test_per_sample_and_kernel_means(rng):
    m = 18
    bins = _random_bins(rng, 9, 12, m)
    bins[4] = DEAD  # a sample with every map dead
    st = LayerStats.from_bins(bins, m, 77)
    for i in range(9):
        live = bins[i][bins[i] >= 0]
        if live.size:
            assert st.per_sample_mean()[i] == pytest.approx(live.mean() / m)
        else:
            assert np.isnan(st.per_sample_mean()[i])
    for c in range(12):
        live = bins[:, c][bins[:, c] >= 0]
        assert st.kernel_count[c] == live.size
        assert st.kernel_mean("input")[c] == pytest.approx(live.mean() / 77)


@pytest.mark.parametrize("split", [0, 1, 5, 16])
def test_merge_of_splits_equals_whole(rng, split):
    m = 8
    bins = _random_bins(rng, 16, 7, m)
    whole = LayerStats.from_bins(bins, m, 156)
    a = LayerStats.from_bins(bins[:split], m, 156)
    b = LayerStats.from_bins(bins[split:], m, 156)
    assert a + b == whole
    assert LayerStats.merge([a, b]) == whole
    # streaming updates are the same thing
    s = LayerStats(m=m, m_input=156, channels=7)
    s.update(bins[:3])
    s.update(bins[3:])
    assert s == whole


def test_merge_refuses_different_layers():
    with pytest.raises(UsageError, match="cannot merge"):
        LayerStats(m=8, m_input=156, channels=4) + LayerStats(m=9, m_input=156, channels=4)


def test_update_validates_shape_and_range():
    st = LayerStats(m=5, m_input=20, channels=3)
    with pytest.raises(UsageError, match="shape"):
        st.update(np.zeros((2, 4), dtype=int))
    with pytest.raises(UsageError, match="out of range"):
        st.update(np.full((2, 3), 6))


def test_empty_summary_is_nan():
    s = LayerStats(m=5, m_input=20, channels=3).summary()
    assert np.isnan(s.mean) and np.isnan(s.median)


def test_wasserstein_same_grid_matches_scipy(rng):
    from scipy.stats import wasserstein_distance

    a = rng.integers(0, 10, size=50)
    b = rng.integers(0, 10, size=70)
    ha, hb = np.bincount(a, minlength=10), np.bincount(b, minlength=10)
    assert wasserstein1(ha, 9, hb, 9) == pytest.approx(wasserstein_distance(a / 9, b / 9))
    # different grids (different m) too
    hc = np.bincount(rng.integers(0, 13, size=40), minlength=13)
    vals_c = np.repeat(np.arange(13) / 12, hc)
    assert wasserstein1(ha, 9, hc, 12) == pytest.approx(wasserstein_distance(a / 9, vals_c))
    assert wasserstein1(ha, 9, ha, 9) == 0.0


def test_kde_scott_is_scipys_default_gaussian_kde(rng):
    from scipy.stats import gaussian_kde

    from srop_onnx.core.stats import kde_scott

    for n in (2, 17, 5000):
        values = rng.beta(2, 5, size=n)
        grid = np.linspace(-0.2, 1.2, 301)
        np.testing.assert_allclose(kde_scott(values, grid, block=999), gaussian_kde(values)(grid), rtol=1e-10,
                                   atol=1e-12)


def test_kde_scott_integrates_to_one_and_refuses_what_has_no_density(rng):
    from srop_onnx.core.stats import kde_scott

    values = rng.normal(0.5, 0.1, size=200)
    grid = np.linspace(-1, 2, 6001)
    assert np.trapezoid(kde_scott(values, grid), grid) == pytest.approx(1.0, abs=1e-9)
    with pytest.raises(UsageError, match="at least 2 finite"):
        kde_scott([0.5], grid)
    with pytest.raises(UsageError, match="at least 2 finite"):
        kde_scott([0.5, np.nan], grid)
    with pytest.raises(UsageError, match="not all equal"):
        kde_scott([0.5, 0.5, 0.5], grid)
