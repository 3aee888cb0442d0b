"""Means and 95 % intervals across seeds for examples/training/train_digits.py (``--seeds N``).

An interval is Student's t: ``mean +- t(0.975, n - 1) * s / sqrt(n)`` with ``s`` the sample standard
deviation of the ``n`` seeds' values (one value per seed; seeds are independent runs: another data
split and another initialisation each). With one seed there is no interval.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["interval", "fmt", "supported"]


def interval(values) -> tuple[float, float]:
    """``(mean, half-width of the 95 % t interval)`` of the finite ``values`` (NaN half-width for
    fewer than 2)."""
    from scipy.stats import t

    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return math.nan, math.nan
    if v.size == 1:
        return float(v[0]), math.nan
    return float(v.mean()), float(t.ppf(0.975, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))


def fmt(values, digits: int = 3) -> str:
    """``0.812 +- 0.011`` (``0.812`` with one seed)."""
    mean, half = interval(values)
    if not math.isfinite(mean):
        return "-"
    return f"{mean:.{digits}f}" if not math.isfinite(half) else f"{mean:.{digits}f} +- {half:.{digits}f}"


def supported(differences) -> str:
    """Whether the 95 % interval of per-seed differences lies below 0 (``lower``), above 0
    (``higher``) or holds 0 (``not shown``)."""
    mean, half = interval(differences)
    if not math.isfinite(half):
        return "one seed"
    if mean + half < 0:
        return "lower"
    if mean - half > 0:
        return "higher"
    return "not shown"
