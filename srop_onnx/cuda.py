"""The thin CUDA adapter: everything that knows about CUDA, CuPy and device buffers.

Nothing else in srop-onnx imports CuPy. On machines without CUDA every
function here answers cleanly (a reason string) instead of failing at import.
"""

from __future__ import annotations

import importlib.util

__all__ = ["cuda_problem"]


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
