"""The fused device kernel of issue 13: its arithmetic as a NumPy model of one thread block, checked
against the array-API kernel on the CPU; the CUDA kernel itself against the same, on a GPU only."""

from __future__ import annotations

import os

import numpy as np
import pytest

from conftest import gpu_available
from srop_onnx.core.fused import fused_bins_model, ring_cells
from srop_onnx.core.spectral import DEAD, NONFINITE, _plan_matrix, rolloff_bins, rolloff_bins_many

SHAPES = [(6, 6), (7, 7), (13, 9), (9, 13), (14, 14), (28, 28), (56, 40), (15, 16)]


def _maps(rng, h, w):
    """Random maps plus the edge cases: dead, NaN, +inf, a constant, a checkerboard, an impulse."""
    x = rng.standard_normal((24, h, w)).astype(np.float32)
    x[1] = 0
    x[2, 0, 0] = np.nan
    x[3, h // 2, w // 2] = np.inf
    x[4] = 3.0
    x[5] = np.where((np.indices((h, w)).sum(axis=0) % 2) == 0, 1.0, -1.0)
    x[6] = 0
    x[6, 0, 0] = 1.0
    x[7] = np.abs(x[7]) ** 3  # heavy tail
    return x


def test_ring_cells_are_the_plan_matrix(rng):
    for h, w in SHAPES:
        plan = ring_cells(h, w)
        dense = _plan_matrix(h, w)  # (cells, m + 1), weights at each cell's ring
        rebuilt = np.zeros_like(dense)
        for k in range(plan.m + 1):
            cells = plan.order[plan.offsets[k]:plan.offsets[k + 1]]
            rebuilt[cells, k] = plan.weights[plan.offsets[k]:plan.offsets[k + 1]]
        np.testing.assert_array_equal(rebuilt, dense)
        assert list(plan.offsets) == sorted(plan.offsets) and plan.offsets[-1] == len(plan.order)


@pytest.mark.parametrize("shape", SHAPES, ids=[f"{h}x{w}" for h, w in SHAPES])
@pytest.mark.parametrize("kappa", [0.5, 0.85, 0.95])
def test_the_thread_block_model_gives_the_array_api_bins(rng, shape, kappa):
    import scipy.fft

    h, w = shape
    x = _maps(rng, h, w)
    expected = np.asarray(rolloff_bins(x, kappa=kappa).bins)
    spectrum = scipy.fft.rfftn(x, axes=(-2, -1)).astype(np.complex64)
    got = fused_bins_model(spectrum, h, w, kappa)
    np.testing.assert_array_equal(got, expected)
    assert got[1] == DEAD and got[2] == NONFINITE and got[3] == NONFINITE and got[4] == 0


def test_device_arrays_are_reduced_by_shape_group_and_split_back_in_order(rng):
    """Device namespaces run one kernel call per map shape (array-api-strict stands in here)."""
    xps = pytest.importorskip("array_api_strict")
    arrays = [rng.standard_normal(s).astype(np.float32) for s in
              [(2, 3, 14, 14), (2, 5, 7, 7), (1, 4, 14, 14), (2, 2, 9, 13), (3, 1, 7, 7)]]
    expected = [np.asarray(rb.bins) for rb in rolloff_bins_many(arrays)]
    got = rolloff_bins_many([xps.asarray(a) for a in arrays])
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(np.asarray(g.bins), e)


@pytest.mark.gpu
@pytest.mark.skipif(not gpu_available(), reason="CuPy with a CUDA device is not available")
@pytest.mark.parametrize("shape", SHAPES, ids=[f"{h}x{w}" for h, w in SHAPES])
def test_the_cuda_fused_kernel_gives_the_array_api_bins(rng, shape, monkeypatch):
    import cupy

    h, w = shape
    x = _maps(rng, h, w)
    expected = np.asarray(rolloff_bins(x).bins)
    monkeypatch.setenv("SROP_ONNX_FUSED", "1")
    got = rolloff_bins(cupy.asarray(x)).bins.get()
    np.testing.assert_array_equal(got, expected)
    monkeypatch.delenv("SROP_ONNX_FUSED")
    unfused = rolloff_bins(cupy.asarray(x)).bins.get()
    np.testing.assert_array_equal(unfused, expected)


def test_fused_is_off_unless_asked(monkeypatch):
    from srop_onnx.core.fused import fused_enabled

    monkeypatch.delenv("SROP_ONNX_FUSED", raising=False)
    assert not fused_enabled()
    monkeypatch.setenv("SROP_ONNX_FUSED", "1")
    assert fused_enabled() and os.environ["SROP_ONNX_FUSED"] == "1"
