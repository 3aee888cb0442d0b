"""How many threads a run takes: the cores the process may use (affinity, cgroup CPU quota); which
array namespace the math gets."""

from __future__ import annotations

import pytest


def _cgroup(root, v2=None, v1=None):
    """A cgroup file system under ``root``: v2's ``cpu.max`` text, or v1's (quota, period)."""
    if v2 is not None:
        (root / "cpu.max").write_text(v2 + "\n")
    if v1 is not None:
        (root / "cpu").mkdir()
        (root / "cpu" / "cpu.cfs_quota_us").write_text(f"{v1[0]}\n")
        (root / "cpu" / "cpu.cfs_period_us").write_text(f"{v1[1]}\n")
    return str(root)


@pytest.mark.parametrize("v2, v1, cpus", [
    ("200000 100000", None, 2.0),        # docker run --cpus 2 (cgroup v2)
    ("150000 100000", None, 1.5),
    ("max 100000", None, None),          # no limit
    (None, (50000, 100000), 0.5),        # cgroup v1, half a CPU
    (None, (-1, 100000), None),          # v1, no limit
    (None, None, None),                  # no cgroup files (macOS, Windows)
    ("garbage", None, None),
])
def test_the_cgroup_cpu_quota_is_read_from_v2_or_v1_files(tmp_path, v2, v1, cpus):
    from srop_onnx.core._xp import cgroup_cpu_quota

    assert cgroup_cpu_quota(_cgroup(tmp_path, v2, v1)) == cpus


@pytest.mark.parametrize("v2, expected", [("150000 100000", 2), ("50000 100000", 1), ("max 100000", None)])
def test_usable_cores_never_exceed_the_cgroup_quota(tmp_path, monkeypatch, v2, expected):
    """A Kubernetes CPU limit or ``docker --cpus`` is a quota the affinity does not show: more threads
    than it allows are throttled. The quota caps the FFT, decoding and ONNX Runtime threads."""
    import os

    from srop_onnx.core import _xp
    from srop_onnx.run.runtime import ort_threads

    monkeypatch.delenv("SROP_ONNX_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(_xp, "CGROUP_ROOT", _cgroup(tmp_path, v2))
    assert _xp.usable_cores() == (expected or 64) and _xp.cpu_workers() == (expected or 64)
    assert ort_threads() == expected  # None: every core of the machine, ONNX Runtime's own default


def test_numpy_arrays_get_numpy_itself_and_other_arrays_their_namespace():
    """NumPy 2.1+ has every array-API call the kernels make: no wrapper (its import copies NumPy's
    whole namespace); array-api-strict and NumPy subclasses from elsewhere keep array-api-compat's."""
    import array_api_strict
    import numpy as np

    from srop_onnx.core._xp import is_numpy, namespace

    if not hasattr(np, "cumulative_sum"):
        pytest.skip("NumPy < 2.1 takes array-api-compat's wrapper")
    assert namespace(np.zeros(3, np.float32)) is np
    assert namespace(np.zeros(3), np.float32(1)) is np
    assert is_numpy(namespace(np.ma.zeros(3))) and namespace(np.ma.zeros(3)) is not np
    strict = array_api_strict.asarray([1.0])
    assert namespace(strict) is array_api_strict
    with pytest.raises(TypeError, match="Multiple namespaces"):
        namespace(np.zeros(3), strict)
