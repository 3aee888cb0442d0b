"""Array-namespace helpers shared by the math modules.

Math code never imports CuPy: it asks :func:`namespace` for the namespace of
the arrays it was given (array-api-compat) and uses only array-API calls.
The one backend-specific choice made here is the FFT: for NumPy arrays the
multi-threaded ``scipy.fft`` is several times faster than ``numpy.fft``.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import array_api_compat

__all__ = ["namespace", "is_numpy", "to_numpy", "rfftn_for", "rfft_for", "device_key", "cpu_workers", "cpu_kernel_threads"]


def namespace(*arrays: Any):
    """Array-API namespace of ``arrays`` (NumPy, CuPy, array-api-strict, ...)."""
    return array_api_compat.array_namespace(*arrays)


def is_numpy(xp) -> bool:
    return array_api_compat.is_numpy_namespace(xp)


def to_numpy(a: Any):
    """Host NumPy copy of any array (a no-op for NumPy arrays)."""
    import numpy as np

    if isinstance(a, np.ndarray):
        return a
    if array_api_compat.is_cupy_array(a):
        return a.get()
    try:
        return np.from_dlpack(a)
    except Exception:  # array-api-strict and others without host DLPack
        return np.asarray(a)


def cpu_workers() -> int:
    """Threads for CPU FFTs: ``SROP_ONNX_THREADS`` or every core this process may use."""
    env = os.environ.get("SROP_ONNX_THREADS")
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def rfftn_for(xp) -> Callable:
    """``rfftn(x, axes)`` for this namespace (scipy with all workers for NumPy)."""
    if is_numpy(xp):
        import scipy.fft

        workers = cpu_workers()
        return lambda x, axes: scipy.fft.rfftn(x, axes=axes, workers=workers)
    return lambda x, axes: xp.fft.rfftn(x, axes=axes)


def rfft_for(xp) -> Callable:
    """``rfft(x)`` over the last axis for this namespace."""
    if is_numpy(xp):
        import scipy.fft

        workers = cpu_workers()
        return lambda x: scipy.fft.rfft(x, axis=-1, workers=workers)
    return lambda x: xp.fft.rfft(x, axis=-1)


def device_key(xp, x) -> tuple:
    """Hashable key of (namespace, device) used to cache per-device plans."""
    return (getattr(xp, "__name__", repr(xp)), str(array_api_compat.device(x)))


_controller = None


def cpu_kernel_threads(xp):
    """Context for a NumPy kernel: BLAS single-threaded (a no-op for other namespaces).

    The ring-sum matmul is small next to the FFT; multi-threaded OpenBLAS workers
    busy-wait after each call and starve the FFT's workers on the next chunk
    (measured on 2 cores: the core ran 28% faster with BLAS on one thread).
    """
    import contextlib

    if not is_numpy(xp):
        return contextlib.nullcontext()
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")
