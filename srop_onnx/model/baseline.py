"""The pooling baseline of docs/baseline-and-twin.md (the paper's benchmark structure, Sec. 4.2).

The baseline of a resolution is the SROP of the preprocessed model input after
repeated 2x2, stride-2 max-pooling only: input, pool^1, pool^2, ... A layer of
side ``n`` is compared with the chain element whose side is nearest to ``n``
(ties: the larger side).

The chain itself is computed by the runtime, as extra outputs of the tapped
graph (:func:`srop_onnx.model.chain.add_pooling_chain`): on a GPU it stays on the
device and its roll-off bins come back with the layers' in one transfer. This
module keeps the statistics per chain level.
"""

from __future__ import annotations

import numpy as np

from ..core.spectral import num_bins, num_bins_1d, spectrum_ok
from ..core.stats import LayerStats

__all__ = ["chain_spatial", "nearest_side", "BaselineAccumulator"]


def chain_spatial(spatial: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Spatial shapes of the pooling chain of an input of spatial shape ``spatial``:
    the input's own, then floor-halved (2x2 or 2, stride 2) while the maps still have
    a spectrum (docs/method.md). E.g. ``(55, 55)`` -> 55, 27, 13, 6."""
    chain = []
    spatial = tuple(int(s) for s in spatial)
    while spectrum_ok(spatial) is None:
        chain.append(spatial)
        spatial = tuple(s // 2 for s in spatial)
    return chain


def nearest_side(sides: list[int], n: int) -> int:
    """Element of ``sides`` nearest to ``n``; ties go to the larger side."""
    return min(sides, key=lambda s: (abs(s - n), -s))


class BaselineAccumulator:
    """Baseline statistics over the input batches of one analysis, per chain level.

    ``outputs`` names the graph outputs that carry the chain (level 0 first); the
    reducer computes their roll-off bins and hands them to :meth:`add`.
    """

    def __init__(self, spec, kappa: float):
        self.spec = spec
        self.kappa = kappa
        self.dims = len(spec.spatial_axes)
        self.levels: dict[int, LayerStats] = {}
        self.m_input: int | None = None
        self.outputs: list[str] = []

    def start(self, spatial: tuple[int, ...]) -> int:
        """Fix the input resolution (``spatial``, without batch and channels); returns the
        number of chain levels to compute."""
        side = max(int(s) for s in spatial)
        self.m_input = num_bins(side) if self.dims == 2 else num_bins_1d(side)
        return len(chain_spatial(spatial))

    def add(self, level_shape: tuple[int, ...], bins: np.ndarray) -> None:
        """Count the host roll-off bins ``(N, C)`` of one chain level of shape ``(N, C, *spatial)``."""
        n = max(int(s) for s in level_shape[2:])
        st = self.levels.get(n)
        if st is None:
            m = num_bins(n) if self.dims == 2 else num_bins_1d(n)
            st = self.levels[n] = LayerStats(m=m, m_input=self.m_input, channels=int(level_shape[1]))
        st.update(bins)

    def state(self) -> list[dict]:
        """Exact, mergeable state: each chain level's statistics."""
        return [{"side": side, "m": st.m, "m_input": st.m_input, "channels": st.channels,
                 "histogram": st.histogram.tolist(), "dead": st.dead, "nonfinite": st.nonfinite}
                for side, st in sorted(self.levels.items(), reverse=True)]

    @classmethod
    def from_states(cls, states: list[list[dict]], spec=None, kappa: float = 0.85) -> "BaselineAccumulator":
        """An accumulator holding the sum of saved states (shards, checkpoints)."""
        acc = cls.__new__(cls)
        acc.spec, acc.kappa, acc.dims, acc.levels, acc.m_input, acc.outputs = spec, kappa, None, {}, None, []
        for state in states:
            for lv in state:
                st = LayerStats(m=lv["m"], m_input=lv["m_input"], channels=lv["channels"], histogram=lv["histogram"],
                                dead=lv["dead"], nonfinite=lv["nonfinite"])
                acc.m_input = lv["m_input"]
                side = int(lv["side"])
                acc.levels[side] = acc.levels[side] + st if side in acc.levels else st
        if spec is not None:
            acc.dims = len(spec.spatial_axes)
        return acc

    def chain(self) -> list[dict]:
        out = []
        for side in sorted(self.levels, reverse=True):
            st = self.levels[side]
            out.append({"side": side, "count": st.count, "mean_band": _f(st.summary("band").mean),
                        "mean_input": _f(st.summary("input").mean), "histogram": st.histogram.tolist(), "m": st.m})
        return out

    def attach(self, layers) -> None:
        """Set ``layer.baseline`` = ``{"side", "mean_band", "mean_input"}`` on every layer."""
        if not self.levels:
            return
        sides = sorted(self.levels)
        for lay in layers:
            if not lay.spatial_map:
                lay.baseline = None  # not a map of the input's space: no baseline to compare with
                continue
            side = nearest_side(sides, lay.side)
            st = self.levels[side]
            lay.baseline = {"side": side, "mean_band": _f(st.summary("band").mean),
                            "mean_input": _f(st.summary("input").mean)}

    def summary(self, layers, units: str) -> dict:
        """Per-resolution table in the spirit of the paper's Table 2."""
        table = []
        spatial = [lay for lay in layers if lay.spatial_map]
        for side in sorted({lay.side for lay in spatial}, reverse=True):
            group = [lay for lay in spatial if lay.side == side and lay.stats.count]
            if not group:
                continue
            best = min(group, key=lambda lay: lay.summary(units).mean)
            base = (best.baseline or {}).get(f"mean_{units}")
            low = best.summary(units).mean
            table.append({"side": side, "baseline_side": (best.baseline or {}).get("side"), "baseline": base,
                          "min_mean": _f(low), "layer": best.name,
                          "ratio": _f(low / base) if base else None})
        return {"chain": self.chain(), "table": table, "state": self.state()}


def _f(x) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None
