"""Exact, mergeable layer statistics of roll-off bins (docs/method.md).

SROP values of one layer are discrete (``k / m``), so the integer histogram
of roll-off bins is the exact distribution: every summary number follows from
it, in band or input units, and two statistics merge by addition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from ..errors import UsageError
from .spectral import DEAD, NONFINITE

__all__ = ["LayerStats", "Summary", "histogram_quantile", "summarize_histogram", "wasserstein1", "kde_scott"]

UNITS = ("band", "input")


@dataclass(frozen=True)
class Summary:
    """Summary numbers of a SROP distribution in one unit (NaN when empty)."""

    mean: float
    std: float
    median: float
    q1: float
    q3: float
    min: float
    max: float

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1


def histogram_quantile(hist: np.ndarray, values: np.ndarray, q: float) -> float:
    """Quantile ``q`` of the multiset with ``hist[i]`` copies of ``values[i]``
    (``values`` ascending), numpy's default ``method="linear"``."""
    hist = np.asarray(hist, dtype=np.int64)
    total = int(hist.sum())
    if total == 0:
        return float("nan")
    pos = q * (total - 1)
    lo = int(np.floor(pos))
    frac = pos - lo
    cum = np.cumsum(hist)
    # sorted multiset element j is values[searchsorted(cum, j, 'right')]
    i_lo = int(np.searchsorted(cum, lo, side="right"))
    i_hi = int(np.searchsorted(cum, min(lo + 1, total - 1), side="right"))
    v_lo, v_hi = float(values[i_lo]), float(values[i_hi])
    return v_lo + frac * (v_hi - v_lo)


def summarize_histogram(hist: np.ndarray, denom: int) -> Summary:
    """Summary of the SROP values ``k / denom`` with counts ``hist[k]``."""
    hist = np.asarray(hist, dtype=np.int64)
    total = int(hist.sum())
    if total == 0:
        nan = float("nan")
        return Summary(nan, nan, nan, nan, nan, nan, nan)
    values = np.arange(hist.size, dtype=np.float64) / float(denom)
    w = hist.astype(np.float64)
    mean = float(np.dot(w, values) / total)
    var = float(np.dot(w, (values - mean) ** 2) / total)
    nz = np.nonzero(hist)[0]
    return Summary(
        mean=mean,
        std=float(np.sqrt(var)),
        median=histogram_quantile(hist, values, 0.5),
        q1=histogram_quantile(hist, values, 0.25),
        q3=histogram_quantile(hist, values, 0.75),
        min=float(values[nz[0]]),
        max=float(values[nz[-1]]),
    )


def wasserstein1(hist_a: np.ndarray, m_a: int, hist_b: np.ndarray, m_b: int) -> float:
    """Exact 1-Wasserstein distance between two SROP histograms in band units.

    Both distributions live on grids ``k / m``; the distance is the integral of
    ``|CDF_a - CDF_b|`` over the union of their support points.
    """
    ha = np.asarray(hist_a, dtype=np.float64)
    hb = np.asarray(hist_b, dtype=np.float64)
    if ha.sum() == 0 or hb.sum() == 0:
        return float("nan")
    va = np.arange(ha.size) / float(m_a)
    vb = np.arange(hb.size) / float(m_b)
    grid = np.union1d(va, vb)
    wa = np.zeros(grid.size)
    wb = np.zeros(grid.size)
    np.add.at(wa, np.searchsorted(grid, va), ha / ha.sum())
    np.add.at(wb, np.searchsorted(grid, vb), hb / hb.sum())
    cdf_diff = np.abs(np.cumsum(wa) - np.cumsum(wb))[:-1]
    return float(np.dot(cdf_diff, np.diff(grid)))


def kde_scott(values, grid, *, block: int = 1 << 14) -> np.ndarray:
    """Gaussian kernel density of 1-D ``values`` at the points ``grid``, bandwidth by Scott's rule.

    .. math::

        \\hat f(x) = \\frac{1}{n}\\sum_{i=1}^{n} \\frac{1}{h\\sqrt{2\\pi}}
                    \\exp\\Big(-\\frac{(x - v_i)^2}{2h^2}\\Big), \\qquad h = s\\,n^{-1/5}

    with ``s`` the sample standard deviation (``ddof=1``): the estimate SciPy's
    ``gaussian_kde(values)`` makes by default, without importing SciPy.

    Parameters
    ----------
    values : array_like, shape (n,)
        Finite samples (SROPs in any unit), ``n >= 2`` and not all equal.
    grid : array_like, shape (g,)
        Where to evaluate the density, in the unit of ``values``.
    block : int
        Samples per step, bounding memory to ``g * block`` floats.

    Returns
    -------
    numpy.ndarray, shape (g,)
        Density (float64) in 1 / unit; it integrates to 1 over the real line.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    x = np.asarray(grid, dtype=np.float64).ravel()
    if v.size < 2 or not np.all(np.isfinite(v)):
        raise UsageError(f"a density needs at least 2 finite values, got {v.size}")
    h = float(np.std(v, ddof=1)) * v.size ** -0.2
    if not h > 0:
        raise UsageError("a density needs values that are not all equal")
    out = np.zeros_like(x)
    for start in range(0, v.size, block):
        z = (x[:, None] - v[None, start:start + block]) / h
        out += np.exp(-0.5 * z * z).sum(axis=1)
    return out / (v.size * h * np.sqrt(2 * np.pi))


def _counts(value, size: int) -> np.ndarray:
    """``value`` as an int64 array, or ``size`` zeros when None."""
    return np.zeros(size, dtype=np.int64) if value is None else np.asarray(value, dtype=np.int64)


class LayerStats:
    """Running statistics of one layer's roll-off bins (docs/method.md).

    Built batch by batch with :meth:`update` (bins of shape ``(N, C)``),
    merged with ``+``. All counts are integers, so merging is exact.

    Attributes
    ----------
    m, m_input : int
        Band edge of this layer's maps and of the model input (Eq. 5 or L//2).
    channels : int
        Number of channels ``C``.
    histogram : int64 array, shape ``(m + 1,)``
        Counts of roll-off bins over all live maps.
    dead, nonfinite : int
        Excluded maps (docs/method.md).
    sample_bin_sum, sample_count : int64 arrays, one entry per sample in input order
        Sum of live bins and number of live channels per sample.
    kernel_bin_sum, kernel_count : int64 arrays, shape ``(C,)``
        Sum of live bins and number of samples where the channel was live.
    """

    def __init__(self, m: int, m_input: int, channels: int, histogram=None, dead: int = 0, nonfinite: int = 0, *,
                 samples=None, kernels=None):
        """``samples``: ``(sample_bin_sum, sample_count)``; ``kernels``: ``(kernel_bin_sum,
        kernel_count)``; counts start at zero when omitted."""
        self.m, self.m_input, self.channels = int(m), int(m_input), int(channels)
        self.dead, self.nonfinite = int(dead), int(nonfinite)
        self.histogram = _counts(histogram, self.m + 1)
        kernel_bin_sum, kernel_count = kernels if kernels is not None else (None, None)
        self.kernel_bin_sum = _counts(kernel_bin_sum, self.channels)
        self.kernel_count = _counts(kernel_count, self.channels)
        sample_bin_sum, sample_count = samples if samples is not None else (None, None)
        # per-sample sums are appended per batch and joined on first read: O(N) over a long run
        self._samples: list[tuple[np.ndarray, np.ndarray]] = [(_counts(sample_bin_sum, 0), _counts(sample_count, 0))]

    def _joined(self) -> tuple[np.ndarray, np.ndarray]:
        if len(self._samples) > 1:
            sums, counts = zip(*self._samples)
            self._samples = [(np.concatenate(sums), np.concatenate(counts))]
        return self._samples[0]

    @property
    def sample_bin_sum(self) -> np.ndarray:
        return self._joined()[0]

    @property
    def sample_count(self) -> np.ndarray:
        return self._joined()[1]

    def __repr__(self) -> str:
        return (f"LayerStats(m={self.m}, m_input={self.m_input}, channels={self.channels}, count={self.count}, "
                f"dead={self.dead}, nonfinite={self.nonfinite}, samples={self.samples})")

    # -- building -------------------------------------------------------------
    @classmethod
    def from_bins(cls, bins, m: int, m_input: int) -> "LayerStats":
        """Statistics of one batch of bins ``(N, C)`` (host NumPy ints)."""
        bins = np.asarray(bins)
        if bins.ndim != 2:
            raise UsageError(f"bins must have shape (N, C), got {bins.shape}")
        st = cls(m=m, m_input=m_input, channels=bins.shape[1])
        st.update(bins)
        return st

    def update(self, bins) -> None:
        """Add a batch of roll-off bins of shape ``(N, C)`` (samples appended in order)."""
        bins = np.asarray(bins, dtype=np.int64)
        if bins.ndim != 2 or bins.shape[1] != self.channels:
            raise UsageError(f"bins must have shape (N, {self.channels}), got {bins.shape}")
        if bins.size and (bins.max() > self.m or bins.min() < NONFINITE):
            raise UsageError(f"bins out of range for m={self.m}")
        live = bins >= 0
        kept = np.where(live, bins, 0)
        self.histogram += np.bincount(bins[live], minlength=self.m + 1)
        self.dead += int(np.count_nonzero(bins == DEAD))
        self.nonfinite += int(np.count_nonzero(bins == NONFINITE))
        # per-sample sums are appended and joined on first read: O(N) over a long run, not O(N^2)
        self._samples.append((kept.sum(axis=1), live.sum(axis=1)))
        self.kernel_bin_sum += kept.sum(axis=0)
        self.kernel_count += live.sum(axis=0)

    # -- merging --------------------------------------------------------------
    def compatible(self, other: "LayerStats") -> bool:
        return (self.m, self.m_input, self.channels) == (other.m, other.m_input, other.channels)

    def __add__(self, other: "LayerStats") -> "LayerStats":
        """Merge: statistics of the samples of ``self`` followed by those of ``other``."""
        if not isinstance(other, LayerStats):
            return NotImplemented
        if not self.compatible(other):
            raise UsageError(
                f"cannot merge layer statistics with (m, m_input, C) = "
                f"{(self.m, self.m_input, self.channels)} and {(other.m, other.m_input, other.channels)}"
            )
        return LayerStats(
            m=self.m,
            m_input=self.m_input,
            channels=self.channels,
            histogram=self.histogram + other.histogram,
            dead=self.dead + other.dead,
            nonfinite=self.nonfinite + other.nonfinite,
            samples=(np.concatenate([self.sample_bin_sum, other.sample_bin_sum]),
                     np.concatenate([self.sample_count, other.sample_count])),
            kernels=(self.kernel_bin_sum + other.kernel_bin_sum, self.kernel_count + other.kernel_count),
        )

    @staticmethod
    def merge(parts: Iterable["LayerStats"]) -> "LayerStats":
        parts = list(parts)
        if not parts:
            raise UsageError("nothing to merge")
        out = parts[0]
        for p in parts[1:]:
            out = out + p
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LayerStats):
            return NotImplemented
        return (
            self.compatible(other)
            and self.dead == other.dead
            and self.nonfinite == other.nonfinite
            and all(
                np.array_equal(getattr(self, f), getattr(other, f))
                for f in ("histogram", "sample_bin_sum", "sample_count", "kernel_bin_sum", "kernel_count")
            )
        )

    # -- derived numbers ------------------------------------------------------
    def denom(self, units: str = "band") -> int:
        if units not in UNITS:
            raise UsageError(f"units must be 'band' or 'input', got {units!r}")
        return self.m if units == "band" else self.m_input

    @property
    def count(self) -> int:
        """Number of live maps (the histogram's total)."""
        return int(self.histogram.sum())

    @property
    def samples(self) -> int:
        return int(self.sample_count.size)

    def summary(self, units: str = "band") -> Summary:
        return summarize_histogram(self.histogram, self.denom(units))

    def per_sample_mean(self, units: str = "band") -> np.ndarray:
        """Mean SROP over live channels of each sample; NaN where all were excluded."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.sample_bin_sum / (self.sample_count * float(self.denom(units)))

    def kernel_mean(self, units: str = "band") -> np.ndarray:
        """Mean SROP of each channel over samples where it was live; NaN if never."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.kernel_bin_sum / (self.kernel_count * float(self.denom(units)))
