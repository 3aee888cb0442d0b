"""The rings of a spectrum (Eq. 5-6): the number of radius bins, each cell's ring index and its
Hermitian weight in rfft layout, and the markers of maps without a roll-off. The lowest layer of the
spectral math: :mod:`srop_onnx.core.spectral` (the kernels) and :mod:`srop_onnx.core.fused` (the device
kernel's plan) both build on it.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import UsageError

__all__ = ["DEAD", "NONFINITE", "num_bins", "num_bins_1d", "ring_index", "rfft_rings"]

#: Roll-off bin marker of a dead map (``sum(S1D) == 0``, docs/method.md).
DEAD = -1
#: Roll-off bin marker of a map with NaN/Inf (docs/method.md).
NONFINITE = -2


def num_bins(n: int) -> int:
    """Number of radius bins ``m`` of Eq. 5 for a map whose larger side is ``n``.

    ``m = floor(sqrt(2) * (n - 1) / 2) - 1``; e.g. 224 -> 156, 56 -> 37, 7 -> 3.
    """
    if n < 1:
        raise UsageError(f"map side must be >= 1, got {n}")
    # Integer-exact: floor(sqrt(2)*(n-1)/2) == floor(sqrt(2*(n-1)^2) / 2) == isqrt(2*(n-1)^2) // 2
    return math.isqrt(2 * (n - 1) ** 2) // 2 - 1


def num_bins_1d(length: int) -> int:
    """Upper band edge of a 1-D signal of ``length`` samples: ``L // 2`` (docs/method.md)."""
    return length // 2


def ring_index(h: int, w: int) -> np.ndarray:
    """Ring index of every cell of the fftshift-ed ``h x w`` spectrum (docs/method.md).

    ``floor(n * sqrt(((y - h//2)/h)^2 + ((x - w//2)/w)^2) + 1e-9)`` with
    ``n = max(h, w)``; int64 array of shape ``(h, w)``.
    """
    n = max(h, w)
    y = (np.arange(h, dtype=np.float64) - h // 2) / h
    x = (np.arange(w, dtype=np.float64) - w // 2) / w
    r = n * np.sqrt(y[:, None] ** 2 + x[None, :] ** 2)
    return np.floor(r + 1e-9).astype(np.int64)


def rfft_rings(h: int, w: int) -> tuple[np.ndarray, np.ndarray, int]:
    """``(ring, weight, m)`` of every rfft-layout cell of ``h x w`` spectra, flattened row-major:
    its ring index (docs/method.md) and its Hermitian column weight (2 for a column standing for its
    mirror ``w - v``, else 1)."""
    m = num_bins(max(h, w))
    wr = w // 2 + 1
    shifted = ring_index(h, w)
    # rfft cell (u, v) sits at fftshift position ((u + h//2) % h, (v + w//2) % w)
    rows = (np.arange(h) + h // 2) % h
    cols = (np.arange(wr) + w // 2) % w
    ring = shifted[rows[:, None], cols[None, :]].reshape(-1)
    weight = np.ones(wr)
    weight[1 : (w - 1) // 2 + 1] = 2.0  # columns whose mirror (w - v) is not stored
    return ring, np.broadcast_to(weight, (h, wr)).reshape(-1), m
