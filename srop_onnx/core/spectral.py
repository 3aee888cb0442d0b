"""Spectral roll-off points of 2-D feature maps and 1-D signals (docs/method.md).

Two layers: public functions validate and document; kernels take an array
namespace ``xp`` and use array-API calls only, so the same code runs on NumPy
(CPU), CuPy (GPU) and array-api-strict (the tests' proof of portability).

How the 2-D kernel works, for a batch of maps of shape ``(..., H, W)``:

1. ``R = rfftn(x)`` over the last two axes, shape ``(..., H, W//2 + 1)``.
   ``|F|`` is Hermitian-symmetric, and a cell and its mirror have the same
   radius, so every column that stands for two columns of the full spectrum
   gets weight 2. The result equals the full-FFT definition exactly.
2. ``|R|`` flattened to ``(maps, cells)`` times a cached plan matrix
   ``P (cells, m+1)`` with ``P[j, k] = weight(j)`` when cell ``j`` is in ring
   ``k``: one matrix product gives every ring sum ``S1D`` of every map.
3. ``k = count(cumsum(S1D) < kappa * sum(S1D))`` is the roll-off bin (Eq. 2).
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import array_api_compat
import numpy as np

from ._xp import chunk_elements, cpu_kernel_threads, cpu_workers, device_key, is_numpy, map_chunks, namespace, rfft_for, rfftn_for
from ..errors import TooSmallError, UsageError
from .rings import DEAD, NONFINITE, num_bins, num_bins_1d, rfft_rings, ring_index

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "DEAD",
    "NONFINITE",
    "RolloffBins",
    "num_bins",
    "num_bins_1d",
    "spectrum_ok",
    "ring_index",
    "rolloff_bins",
    "rolloff_bins_1d",
    "rolloff_bins_many",
    "srop",
    "srop1d",
]

#: Below this many input elements a NumPy kernel call is not split across threads.
_MIN_THREADED_ELEMENTS = 1 << 16


@dataclass(frozen=True)
class RolloffBins:
    """Integer roll-off bins of a batch of maps.

    Attributes
    ----------
    bins : array of int32, shape ``x.shape[:-2]`` (2-D) or ``x.shape[:-1]`` (1-D)
        Roll-off bin ``k`` in ``0..m`` of each map; :data:`DEAD` (-1) for dead
        maps and :data:`NONFINITE` (-2) for maps with NaN/Inf. Same namespace
        and device as the input.
    m : int
        Upper band edge ``b2``: SROP in band units is ``k / m``.
    """

    bins: Any
    m: int


def spectrum_ok(shape: tuple[int, ...]) -> str | None:
    """``None`` when maps of ``shape`` (``(H, W)`` or ``(L,)``) have a usable
    spectrum, else the reason (docs/method.md) ``"too small for a spectrum"``."""
    if len(shape) == 2:
        h, w = shape
        if min(h, w) < 2 or num_bins(max(h, w)) < 2:
            return "too small for a spectrum"
        return None
    if len(shape) == 1:
        return None if shape[0] // 2 >= 2 else "too small for a spectrum"
    raise UsageError(f"spectrum shape must be (H, W) or (L,), got {shape}")


def _plan_matrix(h: int, w: int) -> np.ndarray:
    """Host float64 plan ``P (h * (w//2+1), m+1)`` for rfft-layout spectra."""
    ring, weight, m = rfft_rings(h, w)
    plan = np.zeros((ring.size, m + 1))
    inside = ring <= m
    plan[np.nonzero(inside)[0], ring[inside]] = weight[inside]
    return plan


_plans: dict[tuple, Any] = {}
_plans_lock = threading.Lock()


def _plan(xp, like, h: int, w: int, dtype) -> Any:
    key = (device_key(xp, like), h, w, str(dtype))
    with _plans_lock:  # built once: kernel threads that meet a new shape together wait for the first
        plan = _plans.get(key)
        if plan is None:
            plan = xp.asarray(_plan_matrix(h, w), dtype=dtype, device=array_api_compat.device(like))
            _plans[key] = plan
    return plan


def _as_working_float(xp, x):
    """``x`` in its working dtype: float64 stays float64, everything else becomes float32 (docs/method.md)."""
    return xp.astype(x, xp.float64 if x.dtype == xp.float64 else xp.float32, copy=False)


def _rolloff_from_rings(xp, rings, kappa: float):
    """Roll-off bins from ring/bin spectra ``(maps, m+1)``; int32 ``(maps,)``."""
    csum = xp.cumulative_sum(rings, axis=-1)
    total = csum[:, -1:]
    below = csum < (kappa * total)
    k = xp.astype(xp.sum(xp.astype(below, xp.int32), axis=-1), xp.int32)
    total = total[:, 0]
    k = xp.where(total == 0, xp.asarray(DEAD, dtype=xp.int32), k)
    k = xp.where(xp.isfinite(total), k, xp.asarray(NONFINITE, dtype=xp.int32))
    return k


def _kernel_2d(xp, x, kappa: float, workers: int | None = None):
    """Roll-off bins of maps ``x (maps, H, W)`` (array-API only; ``workers``: CPU FFT threads).
    On CuPy with ``SROP_ONNX_FUSED=1``, the fused device kernel of :mod:`srop_onnx.core.fused`."""
    x = _as_working_float(xp, x)
    maps, h, w = x.shape
    if array_api_compat.is_cupy_namespace(xp) and x.dtype == xp.float32:
        from .fused import fused_enabled

        if fused_enabled():
            from .cuda import fused_rolloff_bins

            return fused_rolloff_bins(rfftn_for(xp, workers)(x, (-2, -1)), h, w, kappa)
    plan = _plan(xp, x, h, w, x.dtype)
    rfftn = rfftn_for(xp, workers)
    mag = xp.abs(rfftn(x, (-2, -1)))
    rings = xp.matmul(xp.reshape(mag, (maps, h * (w // 2 + 1))), plan)
    return _rolloff_from_rings(xp, rings, kappa)


def _kernel_1d(xp, x, kappa: float, workers: int | None = None):
    """Roll-off bins of signals ``x (maps, L)`` (array-API only; ``workers``: CPU FFT threads)."""
    spec = xp.abs(rfft_for(xp, workers)(_as_working_float(xp, x)))
    return _rolloff_from_rings(xp, spec, kappa)


def _check_kappa(kappa: float) -> float:
    kappa = float(kappa)
    if not (0.0 < kappa <= 1.0):
        raise UsageError(f"kappa must be in (0, 1], got {kappa}")
    return kappa


def _chunk_step(xp, maps: int, per_map: int, threads: int) -> int:
    """Maps per kernel call: bounded by the namespace's chunk size, and on a multi-core CPU
    small enough that every thread gets a chunk."""
    step = max(1, chunk_elements(xp) // max(per_map, 1))
    if threads > 1 and maps * per_map >= _MIN_THREADED_ELEMENTS:
        step = min(step, -(-maps // threads))
    return step


@dataclass(frozen=True)
class _Job:
    """One array's share of a multi-array call: its flat maps and how to cut them."""

    xp: Any
    kernel: Any
    flat: Any
    step: int
    starts: tuple[int, ...]


def _run_chunk(jobs: list, kappa: float, workers: int | None, task: tuple[int, int]):
    job = jobs[task[0]]
    start = task[1]
    stop = min(start + job.step, job.flat.shape[0])  # array-api-strict refuses slices past the end
    # NaN/Inf maps are expected and counted (docs/method.md): no NumPy warnings for them (errstate is per thread)
    with np.errstate(invalid="ignore", over="ignore"):
        return job.kernel(job.xp, job.flat[start:stop, ...], kappa, workers)


def _run_jobs(jobs: list[_Job], kappa: float, threads: int) -> list:
    """Roll-off bins of every job's maps, int32 ``(maps,)`` per job.

    NumPy: the chunks of all jobs go to the ``threads`` CPU worker threads as one
    queue, one FFT thread each, so no core waits at the end of a layer for the
    other's last chunk; other namespaces (devices) run them in order, each call
    already using the whole device.
    """
    if not jobs:
        return []
    if not any(is_numpy(j.xp) for j in jobs):
        return _run_device_groups(jobs, kappa)
    tasks = [(i, s) for i, job in enumerate(jobs) for s in job.starts]
    for job in jobs:  # import the FFT module here, not first in a worker thread (see _xp.map_chunks)
        (rfft_for if job.kernel is _kernel_1d else rfftn_for)(job.xp)
    with cpu_kernel_threads(jobs[0].xp):
        if len(tasks) == 1 or threads < 2:
            parts = [_run_chunk(jobs, kappa, None, t) for t in tasks]
        else:
            parts = map_chunks(functools.partial(_run_chunk, jobs, kappa, 1), tasks, threads)
    out, at = [], 0
    for job in jobs:
        mine = parts[at : at + len(job.starts)]
        at += len(job.starts)
        out.append(mine[0] if len(mine) == 1 else job.xp.concat(mine, axis=0))
    return out


def _run_device_groups(jobs: list[_Job], kappa: float) -> list:
    """Device arrays: the maps of every job of one shape (and kind) in one kernel call per chunk,
    so a network's layers cost one FFT and one reduction per map shape, not per layer (ResNet-50's
    54 taps have a handful of shapes); results are split back per job, in order."""
    groups: dict[tuple, list[int]] = {}
    for i, job in enumerate(jobs):
        key = (job.kernel, tuple(job.flat.shape[1:]), str(job.flat.dtype))
        groups.setdefault(key, []).append(i)
    out: list = [None] * len(jobs)
    for members in groups.values():
        xp = jobs[members[0]].xp
        flats = [jobs[i].flat for i in members]
        flat = flats[0] if len(flats) == 1 else xp.concat(flats, axis=0)
        step = _chunk_step(xp, flat.shape[0], math.prod(flat.shape[1:]), 1)
        merged = _Job(xp, jobs[members[0]].kernel, flat, step, tuple(range(0, flat.shape[0], step)))
        parts = [_run_chunk([merged], kappa, None, (0, st)) for st in merged.starts]
        bins = parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)
        at = 0
        for i in members:
            n = jobs[i].flat.shape[0]
            out[i] = bins[at : at + n]
            at += n
    return out


def _check_shape(x, dims: int) -> None:
    """Raise on arrays without a spectrum: too few axes, or maps/signals too small (docs/method.md)."""
    if dims == 2:
        if x.ndim < 2:
            raise UsageError(f"rolloff_bins needs maps with two spatial axes, got shape {tuple(x.shape)}")
        h, w = int(x.shape[-2]), int(x.shape[-1])
        reason = spectrum_ok((h, w))
        if reason:
            raise TooSmallError(f"{h}x{w} maps are {reason} (need both sides >= 2 and max side >= 6)")
    else:
        if x.ndim < 1:
            raise UsageError("rolloff_bins_1d needs at least one axis")
        length = int(x.shape[-1])
        reason = spectrum_ok((length,))
        if reason:
            raise TooSmallError(f"signals of length {length} are {reason} (need L // 2 >= 2)")


def _job(x, dims: int, threads: int):
    """``(xp, job or None, lead, m)`` for the maps (``dims`` 2) or signals (1) of ``x``."""
    _check_shape(x, dims)
    xp = namespace(x)
    spatial = tuple(int(s) for s in x.shape[-dims:])
    lead = tuple(x.shape[:-dims])
    maps = math.prod(lead)
    m = num_bins(max(spatial)) if dims == 2 else num_bins_1d(spatial[0])
    if not maps:
        return xp, None, lead, m
    per_map = math.prod(spatial)
    step = _chunk_step(xp, maps, per_map, threads if is_numpy(xp) else 1)
    kernel = _kernel_2d if dims == 2 else _kernel_1d
    job = _Job(xp, kernel, xp.reshape(x, (maps, *spatial)), step, tuple(range(0, maps, step)))
    return xp, job, lead, m


def rolloff_bins_many(xs, *, kappa: float = 0.85, dims=None) -> list[RolloffBins]:
    """Roll-off bins of several arrays in one call: ``[rolloff_bins(x) for x in xs]``.

    The same numbers as one call per array; on a multi-core CPU the chunks of
    all arrays share one queue of worker threads (a network's layers reduced
    together keep every core busy to the last chunk).

    Parameters
    ----------
    xs : sequence of arrays
        Maps ``(..., H, W)`` or signals ``(..., L)``, as ``dims`` says.
    kappa : float in (0, 1]
        Energy fraction of Eq. 2.
    dims : sequence of {1, 2}, optional
        Spatial axes of each array: 2 (:func:`rolloff_bins`, default) or 1
        (:func:`rolloff_bins_1d`).

    Returns
    -------
    list of RolloffBins, one per array, in order.

    Raises
    ------
    TooSmallError, UsageError
        As :func:`rolloff_bins` and :func:`rolloff_bins_1d`, before any work is done.
    """
    kappa = _check_kappa(kappa)
    xs = list(xs)
    dims = [2] * len(xs) if dims is None else [int(d) for d in dims]
    if len(dims) != len(xs):
        raise UsageError(f"dims has {len(dims)} entries for {len(xs)} arrays")
    for d in dims:
        if d not in (1, 2):
            raise UsageError(f"dims entries must be 1 or 2, got {d}")
    threads = cpu_workers()
    plans = [_job(x, d, threads) for x, d in zip(xs, dims)]
    done = iter(_run_jobs([job for _, job, _, _ in plans if job is not None], kappa, threads))
    out = []
    for xp, job, lead, m in plans:
        bins = xp.zeros(lead, dtype=xp.int32) if job is None else xp.reshape(next(done), lead)
        out.append(RolloffBins(bins, m))
    return out


def rolloff_bins(x, *, kappa: float = 0.85) -> RolloffBins:
    """Integer roll-off bins of every 2-D map over the last two axes of ``x``.

    This is the exact, unit-free result that statistics and profiles are built
    from (docs/method.md). See :func:`srop` for the definition.

    Parameters
    ----------
    x : array, shape ``(..., H, W)``
        Real maps (NumPy, CuPy or any array-API array); computed where ``x`` lives.
    kappa : float in (0, 1]
        Energy fraction of Eq. 2.

    Returns
    -------
    RolloffBins
        ``bins`` of shape ``x.shape[:-2]`` (int32; -1 dead, -2 non-finite) and ``m``.

    Raises
    ------
    TooSmallError
        If the maps have a side of 1 or ``m < 2`` (smaller than 6 x 6).
    """
    return rolloff_bins_many([x], kappa=kappa, dims=[2])[0]


def rolloff_bins_1d(x, *, kappa: float = 0.85) -> RolloffBins:
    """Integer roll-off bins of every 1-D signal over the last axis of ``x`` (docs/method.md).

    ``S1D = |rfft(x)|`` over bins ``0..L//2``; ``m = L // 2``. Returns
    ``bins`` of shape ``x.shape[:-1]`` (int32; -1 dead, -2 non-finite).
    """
    return rolloff_bins_many([x], kappa=kappa, dims=[1])[0]


def _to_srop(xp, rb: RolloffBins, denom: int):
    k = rb.bins
    val = xp.astype(k, xp.float64) / float(denom)
    return xp.where(k >= 0, val, xp.asarray(float("nan"), dtype=xp.float64))


def srop(x: Any, *, kappa: float = 0.85, input_side: int | None = None) -> "NDArray[np.float64]":
    r"""Spectral roll-off point of every 2-D map over the last two axes of ``x``.

    For one ``H x W`` map (paper Eq. 2-6, docs/method.md), with ``n = max(H, W)``:

    .. math::

        S_{2D} = |\mathrm{fftshift}(\mathrm{fft2}(x))|, \qquad
        S_{1D}(k) = \sum_{\lfloor r \rfloor = k} S_{2D}, \quad k = 0..m,

        r(y, x) = n \sqrt{((y - H/\!/2)/H)^2 + ((x - W/\!/2)/W)^2}, \qquad
        m = \lfloor \sqrt{2}(n-1)/2 \rfloor - 1,

        \mathrm{SROP} = \frac{1}{m}\,\min\{k : \textstyle\sum_{j \le k} S_{1D}(j)
        \ge \kappa \sum_{j=0}^{m} S_{1D}(j)\}.

    Parameters
    ----------
    x : array, shape ``(..., H, W)``
        Real maps, any leading shape. NumPy in, NumPy out; CuPy in, CuPy out
        (computed on the device). float64 input is computed in float64, other
        dtypes in float32 (docs/method.md).
    kappa : float in (0, 1], default 0.85
        Fraction of spectral energy below the roll-off point.
    input_side : int, optional
        Larger side of the model input. When given, the result is in input
        units ``k / m_in`` with ``m_in = num_bins(input_side)`` (docs/method.md), which
        puts layers of different resolution on one frequency axis.

    Returns
    -------
    array of float64, shape ``x.shape[:-2]``
        SROP in ``[0, 1]`` (band units) or ``[0, m / m_in]`` (input units).
        NaN for dead maps (no in-band energy) and maps containing NaN/Inf.

    Raises
    ------
    TooSmallError
        Maps with a side of 1 or smaller than 6 x 6 (``m < 2``).
    UsageError
        ``kappa`` outside (0, 1] or fewer than two axes.

    Examples
    --------
    >>> import numpy as np
    >>> from srop_onnx import srop
    >>> float(srop(np.ones((8, 8))))            # DC only
    0.0
    >>> yy, xx = np.mgrid[:32, :32]
    >>> float(srop(np.cos(2 * np.pi * 5 * xx / 32)))   # all energy at radius 5, m = 20
    0.25
    """
    rb = rolloff_bins(x, kappa=kappa)
    denom = rb.m if input_side is None else _input_m(input_side)
    return _to_srop(namespace(rb.bins), rb, denom)


def srop1d(x: Any, *, kappa: float = 0.85, input_length: int | None = None) -> "NDArray[np.float64]":
    r"""Spectral roll-off point of every 1-D signal over the last axis of ``x`` (docs/method.md).

    ``S1D = |rfft(x)|`` (bins ``k = 0..L//2``), roll-off bin as in Eq. 2, and
    ``SROP = k / (L // 2)``; with ``input_length`` it is ``k / (L_in // 2)``.

    Parameters
    ----------
    x : array, shape ``(..., L)``
        Real signals, ``L >= 4``.
    kappa : float in (0, 1], default 0.85
    input_length : int, optional
        Length of the model input, for input units.

    Returns
    -------
    array of float64, shape ``x.shape[:-1]``; NaN for dead or non-finite signals.

    Examples
    --------
    >>> import numpy as np
    >>> from srop_onnx import srop1d
    >>> t = np.arange(64)
    >>> float(srop1d(np.cos(2 * np.pi * 8 * t / 64)))  # bin 8 of 32
    0.25
    """
    rb = rolloff_bins_1d(x, kappa=kappa)
    if input_length is None:
        denom = rb.m
    else:
        if int(input_length) // 2 < 1:
            raise UsageError(f"input_length must be >= 2, got {input_length}")
        denom = num_bins_1d(int(input_length))
    return _to_srop(namespace(rb.bins), rb, denom)


def _input_m(input_side: int) -> int:
    side = int(input_side)
    m_in = num_bins(side) if side >= 1 else 0
    if m_in < 1:
        raise UsageError(f"input_side must be >= 4 (so that m_in >= 1), got {input_side}")
    return m_in
