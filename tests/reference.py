"""Slow, literal float64 reference of docs/method.md, written from that page's text only.

One map at a time, one ring at a time: full fft2, fftshift, the documented radius
formula on shifted coordinates, ring SUMS, cumulative threshold.
"""

from __future__ import annotations

import math

import numpy as np


def ref_m(n: int) -> int:
    return int(math.floor(math.sqrt(2) * (n - 1) / 2)) - 1


_RING_CACHE: dict = {}


def _rings(H: int, W: int) -> np.ndarray:
    """Ring index of every fftshift-ed cell, one cell at a time, from docs/method.md."""
    if (H, W) not in _RING_CACHE:
        n = max(H, W)
        ring = np.empty((H, W), dtype=np.int64)
        for y in range(H):
            for xx in range(W):
                r = n * math.sqrt(((y - H // 2) / H) ** 2 + ((xx - W // 2) / W) ** 2)
                ring[y, xx] = math.floor(r + 1e-9)
        _RING_CACHE[(H, W)] = ring
    return _RING_CACHE[(H, W)]


def ref_bin_2d(x: np.ndarray, kappa: float = 0.85):
    """Roll-off bin of one map, or 'dead' / 'nonfinite'."""
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        return "nonfinite"
    H, W = x.shape
    n = max(H, W)
    m = ref_m(n)
    S2D = np.abs(np.fft.fftshift(np.fft.fft2(x)))
    ring = _rings(H, W)
    S1D = np.zeros(m + 1)
    for k in range(m + 1):  # ring SUMS, rings beyond m dropped
        S1D[k] = S2D[ring == k].sum()
    total = S1D.sum()
    if total == 0:
        return "dead"
    acc = 0.0
    for k in range(m + 1):
        acc += S1D[k]
        if acc >= kappa * total:
            return k
    return m


def ref_bin_1d(x: np.ndarray, kappa: float = 0.85):
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        return "nonfinite"
    S1D = np.abs(np.fft.rfft(x))
    total = S1D.sum()
    if total == 0:
        return "dead"
    acc = 0.0
    for k in range(S1D.size):
        acc += S1D[k]
        if acc >= kappa * total:
            return k
    return S1D.size - 1


def ref_bins(x: np.ndarray, kappa: float = 0.85, dims: int = 2) -> np.ndarray:
    """Reference bins over leading axes, with -1 dead and -2 non-finite."""
    x = np.asarray(x)
    lead = x.shape[:-dims]
    flat = x.reshape((-1,) + x.shape[-dims:])
    fn = ref_bin_2d if dims == 2 else ref_bin_1d
    out = []
    for mp in flat:
        b = fn(mp, kappa)
        out.append(-1 if b == "dead" else -2 if b == "nonfinite" else b)
    return np.array(out, dtype=np.int64).reshape(lead)


def ref_max_pool2(x: np.ndarray, dims: int = 2) -> np.ndarray:
    """2x2 (2 for 1-D), stride-2, floor-mode max-pooling over the last ``dims`` axes, one window at a time."""
    lead = x.shape[:-dims]
    out_shape = tuple(s // 2 for s in x.shape[-dims:])
    out = np.empty(lead + out_shape, dtype=x.dtype)
    for idx in np.ndindex(*out_shape):
        window = tuple(slice(2 * i, 2 * i + 2) for i in idx)
        out[(...,) + idx] = x[(...,) + window].reshape(lead + (-1,)).max(axis=-1)
    return out
