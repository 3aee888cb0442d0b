"""The thin CUDA adapter: everything that knows about CUDA, CuPy and device buffers.

Nothing else in srop-onnx imports CuPy. On machines without CUDA every
function here answers cleanly (a reason string) instead of failing at import.

Zero copy: ONNX Runtime allocates the tap outputs on the GPU (IOBinding);
:func:`ortvalue_to_cupy` wraps each OrtValue's device pointer as a CuPy array
(``cupy.cuda.UnownedMemory`` with the OrtValue as owner, so the buffer lives as
long as the array).

Stream order: ONNX Runtime runs on its own CUDA stream and, by default, synchronizes
it at the end of ``run_with_iobinding``; the runner also calls
``IOBinding.synchronize_outputs()``, so CuPy work queued afterwards (on CuPy's
stream) sees finished data. In the other direction, the reducer's one
device-to-host copy per batch waits for every CuPy kernel that read the buffers,
so when the OrtValues are dropped and ONNX Runtime reuses their memory for the
next run, nothing still reads it.
"""

from __future__ import annotations

import importlib.util

import numpy as np

__all__ = [
    "cuda_problem",
    "preload_cuda_libraries",
    "ortvalue_to_cupy",
    "free_device_memory",
    "record_device_memory",
    "peak_device_memory",
    "release_cached_memory",
    "is_out_of_memory",
    "DeviceOutOfMemory",
    "FUSED_SOURCE",
    "fused_rolloff_bins",
]

_ORT_TYPES = {
    "tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
    "tensor(uint8)": np.uint8, "tensor(int8)": np.int8, "tensor(int32)": np.int32, "tensor(int64)": np.int64,
}


class DeviceOutOfMemory(RuntimeError):
    """A batch did not fit in device (or host) memory; the caller halves the batch."""


def cuda_problem() -> str | None:
    """None when the CUDA path can run here, else what is missing (one line)."""
    if importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime is not installed"
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return "onnxruntime-gpu is not installed (pip install 'srop-onnx[gpu]', after pip uninstall onnxruntime)"
    if importlib.util.find_spec("cupy") is None:
        return "CuPy is not installed (pip install cupy-cuda13x)"
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() < 1:
            return "no CUDA device is visible"
    except Exception as exc:  # driver/library problems
        return f"CUDA is not usable ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
    return None


def gpu_present() -> bool:
    """Whether this machine shows an NVIDIA GPU at all (its driver, or ``nvidia-smi``), without
    loading CUDA: a note that CUDA is not used is worth printing only then."""
    import os
    import shutil

    return os.path.exists("/proc/driver/nvidia/version") or shutil.which("nvidia-smi") is not None


def preload_cuda_libraries() -> None:
    """Let ONNX Runtime find CUDA and cuDNN from pip packages (or PyTorch's) before a CUDA
    session starts (``onnxruntime.preload_dlls``, ORT >= 1.21); best effort, silent."""
    import onnxruntime as ort

    preload = getattr(ort, "preload_dlls", None)
    if preload is None:
        return
    try:
        preload()
    except Exception:  # noqa: BLE001 - libraries found elsewhere (system CUDA) are fine too
        pass


def ortvalue_to_cupy(value, device_id: int = 0):
    """A CuPy view of a CUDA OrtValue (no copy); the OrtValue is kept alive by the view."""
    import cupy

    dtype = np.dtype(_ORT_TYPES[value.data_type()])
    shape = tuple(value.shape())
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    mem = cupy.cuda.UnownedMemory(value.data_ptr(), nbytes, owner=value, device_id=device_id)
    return cupy.ndarray(shape, dtype=dtype, memptr=cupy.cuda.MemoryPointer(mem, 0))


def free_device_memory(device_id: int = 0) -> int:
    """Free bytes on the CUDA device."""
    import cupy

    with cupy.cuda.Device(device_id):
        free, _total = cupy.cuda.runtime.memGetInfo()
    return int(free)


_peak_used: int | None = None


def _cupy_loaded():
    """The CuPy module when this process has imported it (i.e. used the GPU path), else None."""
    import sys

    return sys.modules.get("cupy")


def record_device_memory(device_id: int = 0) -> None:
    """Note the device memory in use now (total - free: ONNX Runtime's arena, CuPy's pool,
    anything else on the device); :func:`peak_device_memory` reports the largest seen."""
    global _peak_used
    cupy = _cupy_loaded()
    if cupy is None:
        return
    with cupy.cuda.Device(device_id):
        free, total = cupy.cuda.runtime.memGetInfo()
    _peak_used = max(_peak_used or 0, int(total) - int(free))


def peak_device_memory() -> dict | None:
    """``{"device_peak_used_bytes", "device_pool_bytes"}`` when the GPU path ran, else None.

    The peak is the largest device usage :func:`record_device_memory` saw (once per run);
    the pool figure is what CuPy holds now for FFT and ring work.
    """
    cupy = _cupy_loaded()
    if cupy is None:
        return None
    out = {"device_pool_bytes": int(cupy.get_default_memory_pool().total_bytes())}
    if _peak_used is not None:
        out["device_peak_used_bytes"] = _peak_used
    return out


def release_cached_memory() -> None:
    """Give CuPy's cached blocks back to the device (before retrying a halved batch)."""
    cupy = _cupy_loaded()
    if cupy is not None:
        cupy.get_default_memory_pool().free_all_blocks()
        cupy.fft.config.get_plan_cache().clear()


def is_out_of_memory(exc: BaseException) -> bool:
    """True for allocation failures from ONNX Runtime (CPU or CUDA), CuPy, cuFFT, cuBLAS or NumPy
    (see :func:`srop_onnx.errors.memory_problem`)."""
    from ..errors import memory_problem

    return isinstance(exc, DeviceOutOfMemory) or memory_problem(exc)


#: The fused roll-off kernel (issue 13): one block per map, one thread per ring, then one scan.
#: Every float64 operation is rounded on its own (no fused multiply-add), so each block computes
#: exactly what :func:`srop_onnx.core.fused.fused_bins_model` computes.
FUSED_SOURCE = r"""
extern "C" __global__ void srop_fused_rolloff(const float2* spectrum, const int cells, const int* order,
                                              const int* offsets, const float* weights, const int rings,
                                              const double kappa, int* out) {
    extern __shared__ double sums[];
    const int map = blockIdx.x;
    const float2* r = spectrum + (size_t)map * cells;
    for (int k = threadIdx.x; k < rings; k += blockDim.x) {
        double s = 0.0;
        for (int j = offsets[k]; j < offsets[k + 1]; ++j) {
            const float2 v = r[order[j]];
            const double re = (double)v.x, im = (double)v.y;
            const double mag = __dsqrt_rn(__dadd_rn(__dmul_rn(re, re), __dmul_rn(im, im)));
            s = __dadd_rn(s, __dmul_rn((double)weights[j], mag));
        }
        sums[k] = s;
    }
    __syncthreads();
    if (threadIdx.x != 0) return;
    double total = 0.0;
    for (int k = 0; k < rings; ++k) total = __dadd_rn(total, sums[k]);
    if (!isfinite(total)) { out[map] = -2; return; }
    if (total == 0.0) { out[map] = -1; return; }
    const double threshold = __dmul_rn(kappa, total);
    double running = 0.0;
    int k = 0;
    for (; k < rings - 1; ++k) {
        running = __dadd_rn(running, sums[k]);
        if (running >= threshold) break;
    }
    out[map] = k;
}
"""

_fused_cache: dict = {}


def _fused_plan(h: int, w: int, device_id: int):
    import cupy

    from .fused import ring_cells

    key = (h, w, device_id)
    if key not in _fused_cache:
        plan = ring_cells(h, w)
        _fused_cache[key] = (plan, cupy.asarray(plan.order), cupy.asarray(plan.offsets), cupy.asarray(plan.weights))
    return _fused_cache[key]


def fused_rolloff_bins(spectrum, h: int, w: int, kappa: float):
    """Roll-off bins (int32 CuPy, ``(maps,)``) of ``h x w`` maps from their rfft ``spectrum``
    ``(maps, h, w // 2 + 1)``, in one kernel launch (``SROP_ONNX_FUSED=1``)."""
    import cupy

    kernel = _fused_cache.get("kernel")
    if kernel is None:
        kernel = _fused_cache["kernel"] = cupy.RawKernel(FUSED_SOURCE, "srop_fused_rolloff")
    plan, order, offsets, weights = _fused_plan(h, w, spectrum.device.id)
    spectrum = cupy.ascontiguousarray(spectrum, dtype=cupy.complex64)
    maps = spectrum.shape[0]
    out = cupy.empty(maps, dtype=cupy.int32)
    if maps:
        rings = plan.m + 1
        kernel((maps,), (128,), (spectrum, np.int32(plan.cells), order, offsets, weights, np.int32(rings),
                                 np.float64(kappa), out), shared_mem=8 * rings)
    return out
