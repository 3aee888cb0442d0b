"""Statistics of sets of per-sample values (one SROP per sample): the distance between two sets,
the permutation test on it, Holm's correction, robust z-scores and the modes of a density.

They answer the per-class questions of docs/datasets.md. Everything is NumPy on the host: the
inputs are a few thousand numbers per layer, the statistics the GPU brought back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UsageError

__all__ = ["w1_samples", "permutation_w1", "smallest_p", "extreme_share", "holm", "robust_z", "Mode", "kde_modes", "MAD_SCALE", "GRID_POINTS"]

#: MAD * 1.4826 estimates the standard deviation of normal data
MAD_SCALE = 1.4826
#: points of the fixed grid a density's modes are found on
GRID_POINTS = 512
#: a mode lower than this fraction of the highest is not a peak (a ripple of the estimate)
MIN_PEAK_FRACTION = 0.05


def _finite_1d(values, name: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0 or not np.all(np.isfinite(v)):
        raise UsageError(f"{name}: needs at least one value, all finite (got {v.size})")
    return v


def w1_samples(a, b) -> float:
    """1-Wasserstein distance between the empirical distributions of two sets of values.

    .. math::

        W_1(A, B) = \\int_{-\\infty}^{\\infty} |F_A(x) - F_B(x)|\\,dx

    with :math:`F` the empirical CDFs; in the unit of the values (band units for SROPs).

    Parameters
    ----------
    a, b : array_like, shape (n,), (k,)
        Finite values, at least one each.

    Returns
    -------
    float
    """
    a, b = _finite_1d(a, "w1_samples a"), _finite_1d(b, "w1_samples b")
    z = np.concatenate([a, b])
    order = np.argsort(z, kind="stable")
    in_a = np.zeros(z.size, dtype=bool)
    in_a[: a.size] = True
    return float(_w1_sorted(np.sort(z), in_a[order][None, :], a.size, b.size)[0])


def _w1_sorted(z: np.ndarray, in_a: np.ndarray, na: int, nb: int) -> np.ndarray:
    """W1 of each row of ``in_a`` (which sorted pooled values ``z`` belong to A) against the rest."""
    ca = np.cumsum(in_a, axis=1, dtype=np.int64)[:, :-1]
    cb = np.arange(1, z.size, dtype=np.int64)[None, :] - ca
    return np.abs(ca / na - cb / nb) @ np.diff(z)


def permutation_w1(a, b, *, permutations: int = 9999, rng=None, block: int = 1024,
                   stop_at: float | None = None) -> tuple[float, float]:
    """Two-sample permutation test on W1: ``(observed W1, p-value)``.

    The pooled values are split at random ``permutations`` times into sets of the sizes of ``a``
    and ``b``; with :math:`b` the splits whose W1 is at least the observed one,

    .. math::

        p = \\frac{b + 1}{B + 1}

    (never 0: the observed split is one of the possible ones). With ``stop_at`` (a level such as
    alpha), the splits stop as soon as :math:`(b + 1) / (B + 1) \\ge` ``stop_at``, when p can no
    longer fall below it; the p returned is then :math:`(b + 1) / (l + 1)` over the :math:`l` splits
    drawn (Besag and Clifford's sequential p, also at least ``stop_at``). Decisions at ``stop_at`` or
    below, and every p below it, are those of all :math:`B` splits.

    Parameters
    ----------
    a, b : array_like
        Finite values, at least one each.
    permutations : int
        :math:`B`, at least 1.
    rng : numpy.random.Generator or int, optional
        The generator (or its seed) of the splits: a seeded test gives the same p every time.
    block : int
        Splits drawn at once (memory ``block * (n + k)`` values).
    """
    a, b = _finite_1d(a, "permutation_w1 a"), _finite_1d(b, "permutation_w1 b")
    if int(permutations) < 1:
        raise UsageError(f"permutations must be at least 1, got {permutations}")
    rng = np.random.default_rng(rng)
    z = np.concatenate([a, b])
    order = np.argsort(z, kind="stable")
    zs = z[order]
    base = np.zeros(z.size, dtype=bool)
    base[: a.size] = True
    observed = float(_w1_sorted(zs, base[order][None, :], a.size, b.size)[0])
    tol = 1e-12 * max(1.0, abs(observed))  # ties in floating point count as "at least"
    total = int(permutations)
    hits, left, size = 0, total, min(block, 128) if stop_at is not None else block
    while left:
        n = min(size, left)
        split = rng.permuted(np.broadcast_to(base, (n, z.size)), axis=1)
        hits += int(np.count_nonzero(_w1_sorted(zs, split[:, order], a.size, b.size) >= observed - tol))
        left -= n
        if stop_at is not None and left and hits + 1 >= stop_at * (total + 1):
            return observed, (hits + 1) / (total - left + 1)
        size = min(block, 2 * size)  # small first blocks: a test far from stop_at ends after a few hundred
    return observed, (hits + 1) / (total + 1)


def smallest_p(n_a: int, n_b: int, permutations: int = 9999) -> float:
    r"""The smallest p-value :func:`permutation_w1` gives, in expectation, for sets of these sizes.

    Even the most extreme observed split is matched by a share :math:`q = k / \binom{n_a + n_b}{n_a}`
    of the random splits - itself, and its mirror (:math:`k = 2`) when the sizes are equal, since W1
    is symmetric - so with :math:`B` splits

    .. math::

        p_{\min} = \frac{B q + 1}{B + 1}

    Two sets of two can never give less than 1/3; any sets, never less than :math:`1 / (B + 1)`.
    A family of :math:`m` tests needs :math:`m\,p_{\min} < \alpha` for one of them to pass Holm's
    correction at :math:`\alpha`.

    Parameters
    ----------
    n_a, n_b : int
        Sizes of the two sets, at least 1 each.
    permutations : int
        :math:`B`, at least 1.

    Returns
    -------
    float
        In (0, 1].
    """
    b = int(permutations)
    if b < 1:
        raise UsageError(f"smallest_p needs permutations of at least 1, got {b}")
    q = extreme_share(n_a, n_b)
    return (b * q + 1) / (b + 1)


def extreme_share(n_a: int, n_b: int) -> float:
    """:math:`q`, the share of all splits as extreme as the most extreme one (:func:`smallest_p`
    with every split drawn): the floor no data and no number of splits can beat."""
    import math

    n_a, n_b = int(n_a), int(n_b)
    if n_a < 1 or n_b < 1:
        raise UsageError(f"the two sets need sizes of at least 1, got {n_a} and {n_b}")
    # C(n_a + n_b, n_a) through log-gamma: exact enough, and no 30,000-digit integer for large sets
    log_c = math.lgamma(n_a + n_b + 1) - math.lgamma(n_a + 1) - math.lgamma(n_b + 1)
    return min(1.0, math.exp(math.log(2 if n_a == n_b else 1) - log_c))


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error), in the order given.

    Sorted ascending, :math:`\\tilde p_{(i)} = \\max_{j \\le i} \\min(1, (m - j + 1)\\,p_{(j)})`
    for :math:`m` tests; NaN entries are not tests and stay NaN.
    """
    p = np.asarray(pvalues, dtype=np.float64).ravel()
    out = np.full(p.shape, np.nan)
    live = np.flatnonzero(np.isfinite(p))
    if live.size == 0:
        return out
    order = live[np.argsort(p[live], kind="stable")]
    m = order.size
    adjusted = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(adjusted)
    return out


def robust_z(values, reference=None) -> np.ndarray:
    """Robust z-scores: ``(v - median) / (MAD * 1.4826)`` against ``reference`` (default: ``values``).

    NaN values stay NaN; all NaN when the reference's MAD is 0 (no spread to measure against).
    """
    v = np.asarray(values, dtype=np.float64)
    ref = v if reference is None else np.asarray(reference, dtype=np.float64)
    ref = ref[np.isfinite(ref)]
    if ref.size == 0:
        return np.full(v.shape, np.nan)
    med = float(np.median(ref))
    mad = float(np.median(np.abs(ref - med))) * MAD_SCALE
    if not mad > 0:
        return np.full(v.shape, np.nan)
    return (v - med) / mad


@dataclass(frozen=True)
class Mode:
    """A peak of a density: where it is, how high, and its basin ``[lo, hi)`` between the
    neighbouring minima (the first basin starts at -inf, the last ends at +inf)."""

    at: float
    height: float
    lo: float
    hi: float


def kde_modes(values, *, lo: float = 0.0, hi: float = 1.0, points: int = GRID_POINTS,
              min_fraction: float = MIN_PEAK_FRACTION) -> list[Mode]:
    """Modes of the Gaussian KDE (Scott's rule, :func:`srop_onnx.core.stats.kde_scott`) of ``values``.

    The density is evaluated on ``points`` evenly spaced points from ``lo`` to ``hi`` (the band:
    0 to 1); a mode is a grid point higher than its left neighbour and at least as high as its
    right one, at least ``min_fraction`` of the highest mode. Between two modes, the basin boundary
    is the lowest grid point between them. Fewer than 2 values, or values all equal: one mode at
    the median, its basin the whole line.

    Returns
    -------
    list of Mode, in increasing ``at``.
    """
    from .stats import kde_scott

    v = _finite_1d(values, "kde_modes")
    if v.size < 2 or np.ptp(v) == 0:
        return [Mode(float(np.median(v)), float("inf"), -np.inf, np.inf)]
    grid = np.linspace(lo, hi, int(points))
    dens = kde_scott(v, grid)
    left = np.concatenate([[-np.inf], dens[:-1]])
    right = np.concatenate([dens[1:], [-np.inf]])
    idx = np.flatnonzero((dens > left) & (dens >= right))
    if idx.size == 0:
        idx = np.array([int(np.argmax(dens))])
    idx = idx[dens[idx] >= min_fraction * dens[idx].max()]
    bounds = [grid[i + int(np.argmin(dens[i:j + 1]))] for i, j in zip(idx[:-1], idx[1:])]
    edges = [-np.inf, *bounds, np.inf]
    return [Mode(float(grid[i]), float(dens[i]), float(edges[k]), float(edges[k + 1])) for k, i in enumerate(idx)]
