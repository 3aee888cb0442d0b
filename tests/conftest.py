from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def rng():
    return np.random.default_rng(20261124)


def _cupy_usable() -> bool:
    if importlib.util.find_spec("cupy") is None:
        return False
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


_XP_PARAMS = [
    pytest.param("numpy", id="numpy"),
    pytest.param("array_api_strict", id="array_api_strict"),
    pytest.param("cupy", id="cupy", marks=pytest.mark.gpu),
]


@pytest.fixture(params=_XP_PARAMS)
def xp(request):
    """Array namespace: NumPy, array-api-strict (portability proof), CuPy (GPU only)."""
    name = request.param
    if name == "cupy" and not _cupy_usable():
        pytest.skip("CuPy with a CUDA device is not available")
    if name == "array_api_strict":
        mod = pytest.importorskip("array_api_strict")
        return mod
    import array_api_compat

    mod = importlib.import_module(name)
    return array_api_compat.array_namespace(mod.asarray([1.0]))


def to_np(a):
    from srop_onnx._xp import to_numpy

    return np.asarray(to_numpy(a))


def gpu_available() -> bool:
    return _cupy_usable()
