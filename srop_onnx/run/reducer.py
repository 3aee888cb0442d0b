"""Reducing tap outputs to exact per-layer statistics, batch by batch (docs/method.md).

The reducer takes arrays of any array-API namespace (NumPy on CPU, CuPy on a
GPU), computes roll-off bins where the arrays live, and keeps only integer
statistics on the host. The baseline's pooling chain (docs/baseline-and-twin.md), when the graph
carries it, is reduced in the same pass: one device-to-host copy per batch.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from ..errors import ModelError
from ..model.graph import Tap
from ..results.profile import LayerProfile, Profile
from ..core.spectral import num_bins, num_bins_1d, rolloff_bins_many, spectrum_ok
from ..core.stats import LayerStats

__all__ = ["LayerReducer"]


@dataclass
class _TapState:
    tap: Tap
    shape: list[int] | None = None
    dims: int = 2
    stats: LayerStats | None = None
    skip: str | None = None
    bins: list[np.ndarray] = field(default_factory=list)
    unit_axis: int | None = None  # 2 for (N, C, 1, L), 3 for (N, C, L, 1): analysed as 1-D


class LayerReducer:
    """Turns tap outputs of successive batches into per-layer statistics."""

    def __init__(self, taps: list[Tap], input_spatial: tuple[int, ...], kappa: float, keep_bins: bool = False,
                 baseline=None):
        self.states = [_TapState(t) for t in taps]
        self.input_spatial = tuple(int(d) for d in input_spatial)
        self.input_side = max(input_spatial)
        self.input_dims = len(input_spatial)
        self.kappa = kappa
        self.keep_bins = keep_bins
        #: a BaselineAccumulator whose ``outputs`` (the pooling chain) are reduced with the taps
        self.baseline = baseline

    def _prepare(self, st: _TapState, arr, n: int):
        """Channels-first float view of one tap output, or None (and st.skip) when unusable."""
        from ..core._xp import namespace

        xp = namespace(arr)
        tap = st.tap
        if not xp.isdtype(arr.dtype, "real floating"):
            if tap.dequant is None:
                st.skip = f"non-float tensor ({arr.dtype}) at run time"
                return None
            scale, zp = tap.dequant
            arr = (xp.astype(arr, xp.float32) - zp) * scale
        rank = arr.ndim
        if rank not in (3, 4):
            st.skip = f"rank {rank} tensor at run time: not a feature map" if rank < 5 else f"rank {rank} tensor (3-D convolution): not supported"
            return None
        if arr.shape[0] != n:
            st.skip = f"leading axis {arr.shape[0]} does not follow the batch of {n}"
            return None
        axis = tap.channel_axis if tap.channel_axis < rank else 1
        if axis != 1:
            perm = (0, axis) + tuple(a for a in range(1, rank) if a != axis)
            arr = xp.permute_dims(arr, perm)
        if rank == 4 and (arr.shape[2] == 1) != (arr.shape[3] == 1):
            # a 1-D signal in a 2-D conv (TensorFlow's Conv1D, OCR's 1 x W maps): analysed as 1-D
            st.unit_axis = 2 if arr.shape[2] == 1 else 3
            arr = xp.reshape(arr, (arr.shape[0], arr.shape[1], arr.shape[5 - st.unit_axis]))
        return arr

    def _first(self, st: _TapState, shape: list[int]) -> bool:
        """Fix a layer's shape and statistics from its first output; False when skipped."""
        reason = spectrum_ok(tuple(shape[1:]))
        if reason:
            st.skip = f"{reason} ({'x'.join(map(str, shape[1:]))} per channel)"
            return False
        st.shape = shape
        st.dims = len(shape) - 1
        if st.dims == 2:
            m_in = num_bins(self.input_side) if self.input_dims == 2 else num_bins_1d(self.input_side)
            m = num_bins(max(shape[1:]))
        else:
            m_in = num_bins_1d(self._input_length(st.unit_axis))
            m = num_bins_1d(shape[1])
        st.stats = LayerStats(m=m, m_input=max(m_in, 1), channels=shape[0])
        return True

    def _input_length(self, unit_axis: int | None) -> int:
        """The model input's length along a 1-D signal's axis: a 1-D input's length; for a 1 x W map
        of an image model ``W_in`` (``H_in`` for an H x 1 map); else the input's longer side."""
        if self.input_dims == 2 and unit_axis in (2, 3):
            return self.input_spatial[1 if unit_axis == 2 else 0]
        return self.input_side

    def update(self, outputs: dict, n: int) -> None:
        """Reduce and commit one batch of tap outputs."""
        self.commit(self.reduce(outputs, n))

    def reduce(self, outputs: dict, n: int) -> list:
        """Roll-off bins of the taps present in ``outputs``, not yet counted.

        With :meth:`commit` this makes a batch transactional: when a later step
        fails (e.g. out of memory), nothing of the batch has been counted.
        """
        from ..core._xp import namespace, to_numpy

        work: list = []  # (commit function, array, spatial dims) of every layer and chain level
        for st in self.states:
            if st.skip or st.tap.tensor not in outputs:
                continue
            arr = self._prepare(st, outputs[st.tap.tensor], n)
            if arr is None:
                continue
            shape = [int(d) for d in arr.shape[1:]]
            if st.shape is None:
                if not self._first(st, shape):
                    continue
            elif shape != st.shape:
                raise ModelError(f"tap '{st.tap.tensor}' changed shape between batches ({st.shape} -> {shape})")
            work.append((functools.partial(self._add, st), arr, st.dims))
        work.extend(self._baseline_work(outputs))
        if not work:
            return []
        # every layer's chunks in one call (one queue of CPU threads), then one
        # device-to-host copy for the whole batch (on a GPU: one transfer, not one per layer)
        done = rolloff_bins_many([a for _, a, _ in work], kappa=self.kappa, dims=[d for _, _, d in work])
        xp = namespace(done[0].bins)
        host = np.asarray(to_numpy(xp.concat([xp.reshape(rb.bins, (-1,)) for rb in done])))
        out, start = [], 0
        for (add, _, _), rb in zip(work, done):
            size = int(np.prod(rb.bins.shape))
            out.append((add, host[start : start + size].reshape(tuple(rb.bins.shape))))
            start += size
        return out

    def _baseline_work(self, outputs: dict) -> list:
        """The pooling-chain levels in ``outputs`` (float32, channels first), for :meth:`reduce`."""
        base = self.baseline
        if base is None:
            return []
        return [(functools.partial(base.add, tuple(int(d) for d in outputs[name].shape)), outputs[name], base.dims)
                for name in base.outputs if name in outputs]

    def _add(self, st: _TapState, bins: np.ndarray) -> None:
        st.stats.update(bins)
        if self.keep_bins:
            st.bins.append(bins.astype(np.int16 if st.stats.m < 32000 else np.int32))

    def commit(self, pending: list) -> None:
        """Count the host bins of :meth:`reduce` (layers and baseline levels)."""
        for add, bins in pending:
            add(bins)

    def restore(self, partial: Profile) -> None:
        """Continue from a checkpoint's partial profile (statistics and runtime skips)."""
        by_tensor = {lay.tensor: lay for lay in partial.layers}
        skipped = {s["tensor"]: s["reason"] for s in partial.skipped_layers}
        for st in self.states:
            lay = by_tensor.get(st.tap.tensor)
            if lay is not None:
                st.shape, st.dims, st.stats = list(lay.shape), len(lay.shape) - 1, lay.stats
            elif st.tap.tensor in skipped:
                st.skip = skipped[st.tap.tensor]

    def layers(self) -> tuple[list[LayerProfile], list[dict]]:
        layers, skipped = [], []
        for st in self.states:
            t = st.tap
            if st.skip or st.stats is None:
                skipped.append({"tensor": t.tensor, "op": t.op, "name": t.name, "reason": st.skip or "never produced"})
                continue
            bins = np.concatenate(st.bins) if self.keep_bins and st.bins else None
            layers.append(LayerProfile(index=len(layers), name=t.name, tensor=t.tensor, node=t.node, op=t.op,
                                       shape=st.shape, stats=st.stats, bins=bins, spatial_map=self.is_spatial(st.shape)))
        return layers, skipped

    def is_spatial(self, shape: list[int]) -> bool:
        """A map of the input's space: as many spatial axes as the input, none longer than its
        side. A detector head's (4, 2100) box tensor in an image model is not one."""
        return len(shape) - 1 == self.input_dims and max(shape[1:]) <= self.input_side
