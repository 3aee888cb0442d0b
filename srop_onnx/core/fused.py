"""The fused roll-off kernel's arithmetic, for devices (issue 13), and its NumPy model.

On a GPU the array-API kernel (:mod:`srop_onnx.core.spectral`) costs what its launch count costs: |R|,
the ring-sum matrix product, the cumulative sum and the comparisons are each a kernel over the
whole batch. The fused kernel (:func:`srop_onnx.core.cuda.fused_rolloff_bins`, a CuPy ``RawKernel``) reads
cuFFT's output once: one thread block per map, one thread per ring summing that ring's cells (with
the Hermitian column weight) in a fixed order in float64, then one thread scanning the ring sums for
the first ring over ``kappa`` of the total. It is switched on with ``SROP_ONNX_FUSED=1``.

:func:`ring_cells` is the plan both use (the rfft cells of every ring, in order, with their
weights); :func:`fused_bins_model` computes exactly what one thread block computes, in NumPy, so the
arithmetic is tested on the CPU against the array-API kernel before any device runs it.
"""

from __future__ import annotations

import functools

import numpy as np

from .rings import DEAD, NONFINITE, rfft_rings

__all__ = ["RingCells", "ring_cells", "fused_bins_model", "fused_enabled"]


class RingCells:
    """The rfft-layout cells of every ring ``k = 0..m`` of ``h x w`` maps: ``order`` (flat cell
    indices, ring by ring, row-major within a ring), ``offsets`` (``m + 2``: ring ``k`` is
    ``order[offsets[k]:offsets[k + 1]]``) and ``weights`` (2 for a column standing for its mirror)."""

    def __init__(self, h: int, w: int):
        ring, weight, m = rfft_rings(h, w)
        inside = np.nonzero(ring <= m)[0]
        order = inside[np.argsort(ring[inside], kind="stable")]
        self.h, self.w, self.m, self.cells = h, w, m, ring.size
        self.order = order.astype(np.int32)
        self.offsets = np.searchsorted(ring[order], np.arange(m + 2), side="left").astype(np.int32)
        self.weights = weight[order].astype(np.float32)


@functools.lru_cache(maxsize=64)
def ring_cells(h: int, w: int) -> RingCells:
    return RingCells(h, w)


def fused_bins_model(spectrum: np.ndarray, h: int, w: int, kappa: float) -> np.ndarray:
    """Roll-off bins of ``h x w`` maps from their rfft ``spectrum`` ``(maps, h, w // 2 + 1)``
    (complex), computed as each thread block of the fused kernel does (float64 sums in the plan's
    order, one ring per thread, then one scan); int32 ``(maps,)`` with :data:`DEAD` and
    :data:`NONFINITE`."""
    plan = ring_cells(h, w)
    flat = spectrum.reshape(spectrum.shape[0], -1)
    re = flat.real.astype(np.float64)
    im = flat.imag.astype(np.float64)
    mag = np.sqrt(re * re + im * im)
    sums = np.zeros((flat.shape[0], plan.m + 1))
    for k in range(plan.m + 1):  # one thread per ring: its cells in order
        s = np.zeros(flat.shape[0])
        for j in range(plan.offsets[k], plan.offsets[k + 1]):
            s = s + np.float64(plan.weights[j]) * mag[:, plan.order[j]]
        sums[:, k] = s
    total = np.zeros(flat.shape[0])
    for k in range(plan.m + 1):  # one thread scans: the total, then the first ring over kappa * total
        total = total + sums[:, k]
    out = np.full(flat.shape[0], plan.m, dtype=np.int32)
    running = np.zeros(flat.shape[0])
    found = np.zeros(flat.shape[0], bool)
    threshold = kappa * total
    for k in range(plan.m + 1):
        running = running + sums[:, k]
        hit = ~found & (running >= threshold)
        out[hit] = k
        found |= hit
    out[total == 0] = DEAD
    out[~np.isfinite(total)] = NONFINITE
    return out


def fused_enabled() -> bool:
    """The fused device kernel is used when ``SROP_ONNX_FUSED=1`` (never on the CPU)."""
    import os

    return os.environ.get("SROP_ONNX_FUSED") == "1"
