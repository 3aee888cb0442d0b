"""Results as pandas DataFrames, for notebooks and scripts (``pip install 'srop-onnx[pandas]'``).

Every function takes a result object (profile, sweep, check, comparison) and returns a flat frame
whose numbers are exactly the ones the JSON files hold: one row per layer, long forms for
per-sample and per-channel means, level x layer for sweeps. pandas is imported on first use; without
it each function raises one line naming the extra to install.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..errors import UsageError

if TYPE_CHECKING:
    import pandas
    from .comparison import CheckResult, Comparison
    from .profile import Profile
    from .sweepresult import Sweep
    from .track import Track

__all__ = ["pandas", "SCHEMA", "typed", "spreadsheet_safe", "profile_frame", "layer_rows", "sweep_frame", "check_frame", "comparison_frame",
           "track_frame", "track_metrics_frame"]

PER = ("layer", "sample", "channel")
_SUMMARY = ("mean", "std", "median", "q1", "q3", "min", "max")


def pandas() -> Any:
    """The pandas module, or one line saying how to install it."""
    try:
        import pandas as pd
    except ImportError:
        raise UsageError("DataFrames need pandas, which is not installed; pip install 'srop-onnx[pandas]'") from None
    return pd


def _num(x: Any) -> float:
    """A summary number as a float (NaN where there is none)."""
    return math.nan if x is None else float(x)


def layer_rows(profile: "Profile", units: str) -> list[dict]:
    """One flat dict per layer: what :func:`profile_frame` tabulates (no pandas needed)."""
    rows = []
    for lay in profile.layers:
        s = lay.summary(units)
        base = (lay.baseline or {}).get(f"mean_{units}")
        c, *sp = lay.shape
        one_d = len(sp) == 1
        rows.append({
            "index": lay.index, "layer": lay.name, "op": lay.op, "tensor": lay.tensor, "channels": c,
            "height": None if one_d else sp[0], "width": None if one_d else sp[1], "length": sp[0] if one_d else None,
            "m": lay.stats.m, "m_input": lay.stats.m_input, "count": lay.stats.count, "dead": lay.stats.dead,
            "nonfinite": lay.stats.nonfinite, **{k: _num(getattr(s, k)) for k in _SUMMARY},
            "baseline_mean": _num(base), "ratio": s.mean / base if base else math.nan,
            "spatial_map": lay.spatial_map, "units": units,
        })
    return rows


def _check_units(units: str) -> None:
    if units not in ("band", "input"):
        raise UsageError(f"units must be 'band' or 'input', got {units!r}")


def _sample_rows(profile: "Profile", units: str) -> list[dict]:
    rows = []
    for lay in profile.layers:
        for i, value in enumerate(lay.stats.per_sample_mean(units)):
            source = profile.sources[i] if i < len(profile.sources) else None
            label = profile.labels[i] if profile.labels is not None and i < len(profile.labels) else None
            rows.append({"index": lay.index, "layer": lay.name, "sample": i, "source": source, "label": label,
                         "value": float(value), "units": units})
    return rows


def _channel_rows(profile: "Profile", units: str) -> list[dict]:
    rows = []
    for lay in profile.layers:
        means = lay.stats.kernel_mean(units)
        for c, (value, count) in enumerate(zip(means, lay.stats.kernel_count)):
            rows.append({"index": lay.index, "layer": lay.name, "channel": c, "value": float(value),
                         "count": int(count), "units": units})
    return rows


#: one schema for every frame: a column of a given name has the same meaning and dtype wherever it
#: appears (docs/python.md lists them). Whole numbers are pandas' nullable ``Int64`` (a 1-D layer
#: has no height); names and labels are ``object`` strings, kept exactly as the model has them.
SCHEMA = {
    **dict.fromkeys(("index", "channels", "height", "width", "length", "m", "m_input", "count", "dead",
                     "nonfinite", "sample", "channel", "step", "depth", "rank", "n_reference", "n_custom"), "Int64"),
    **dict.fromkeys(("level", "value", "tol", "baseline_mean", "ratio", "change", "top1_agreement",
                     "relative_change", "delta", "w1", "w1_prev", *_SUMMARY, "a_mean", "b_mean", "a_median", "b_median",
                     "a_iqr", "b_iqr", "peak", "lo", "hi", "score", "z", "mean_reference", "mean_custom", "p",
                     "p_holm"), "float64"),
    **dict.fromkeys(("spatial_map", "ok", "differs"), "boolean"),
    **dict.fromkeys(("layer", "golden_layer", "layer_a", "layer_b", "op", "tensor", "source", "units", "metric",
                     "matched_by", "change_measure", "message", "label"), "object"),
}


def typed(frame: Any) -> Any:
    """``frame`` with every column of :data:`SCHEMA` in its dtype."""
    for col in frame.columns:
        if col in SCHEMA and len(frame):
            frame[col] = frame[col].astype(SCHEMA[col])
    return frame


def profile_frame(profile: "Profile", units: str, per: str = "layer") -> Any:
    """A profile's table: ``per`` is ``layer`` (one row each), ``sample`` or ``channel`` (long forms)."""
    _check_units(units)
    if per not in PER:
        raise UsageError(f"per must be one of {', '.join(PER)}, got {per!r}")
    pd = pandas()
    rows = {"layer": layer_rows, "sample": _sample_rows, "channel": _channel_rows}[per](profile, units)
    return typed(pd.DataFrame(rows))


def sweep_frame(sw: "Sweep", units: str = "band") -> Any:
    """One row per level and layer: the layer's summary at that level, and the model's output
    change at that level (the measure shown, and both recorded measures)."""
    _check_units(units)
    pd = pandas()
    rows = []
    for point in sw.points:
        change = point.change
        for row in layer_rows(point.profile, units):
            rows.append({"level": point.level, **row, "change_measure": change.shown,
                         "change": _num(change.value), "top1_agreement": _num(change.top1),
                         "relative_change": _num(change.relative)})
    return typed(pd.DataFrame(rows))


def track_frame(track: "Track", units: str) -> Any:
    """One row per step and layer of a track: step, layer, depth (its index), mean, std, median,
    q1, q3, count, w1_prev (the 1-Wasserstein distance to the previous step; NaN at the first),
    units."""
    _check_units(units)
    pd = pandas()
    rows = []
    for step, prof, entry in zip(track.steps, track.profiles, track.entries(units)):
        depth = {lay.name: lay.index for lay in prof.layers}
        for row in entry["layers"]:
            rows.append({"step": step, "layer": row["name"], "depth": depth[row["name"]],
                         **{k: _num(row[k]) for k in ("mean", "std", "median", "q1", "q3")},
                         "count": row["count"], "w1_prev": _num(row["w1_prev"]), "units": units})
    return typed(pd.DataFrame(rows, columns=["step", "layer", "depth", "mean", "std", "median", "q1", "q3",
                                             "count", "w1_prev", "units"]))


def track_metrics_frame(track: "Track") -> Any:
    """One row per step and recorded metric of a track: step, metric, value."""
    pd = pandas()
    rows = [{"step": int(e["step"]), "metric": name, "value": float(value)}
            for e in track.index["steps"] for name, value in sorted((e.get("metrics") or {}).items())]
    return typed(pd.DataFrame(rows, columns=["step", "metric", "value"]))


def check_frame(result: "CheckResult") -> Any:
    """One row per checked layer: the golden layer it was paired with and how, the metric's value,
    the tolerance and whether it passed."""
    pd = pandas()
    rows = []
    for lc in result.layers:
        pair = lc.pair
        rows.append({"layer": lc.name, "golden_layer": pair.b.name if pair else None,
                     "matched_by": pair.matched_by if pair else None, "metric": result.metric,
                     "value": _num(lc.value), "tol": result.tol if lc.tol is None else lc.tol, "units": result.units, "ok": lc.ok,
                     "message": lc.message})
    return typed(pd.DataFrame(rows))


def comparison_frame(comp: "Comparison", units: str = "band") -> Any:
    """One row per layer pair: both means, medians and IQRs, ``delta = B - A`` of the means, W1."""
    _check_units(units)
    pd = pandas()
    rows = []
    for p in comp.pairs:
        sa, sb = p.a.summary(units), p.b.summary(units)
        rows.append({"layer_a": p.a.name, "layer_b": p.b.name, "matched_by": p.matched_by,
                     "a_mean": sa.mean, "b_mean": sb.mean, "delta": sb.mean - sa.mean, "a_median": sa.median,
                     "b_median": sb.median, "a_iqr": sa.iqr, "b_iqr": sb.iqr, "w1": p.w1, "units": units})
    for side, layers in (("a", comp.only_a), ("b", comp.only_b)):
        for lay in layers:
            rows.append({f"layer_{side}": lay.name, "matched_by": f"only in {side.upper()}", "units": units})
    return typed(pd.DataFrame(rows))



def spreadsheet_safe(frame: "pandas.DataFrame") -> "pandas.DataFrame":
    """A copy of ``frame`` safe to open in a spreadsheet after ``to_csv``: every text cell that a
    spreadsheet would run as a formula (starting with ``= + - @``, a tab or a carriage return: a
    layer named ``=HYPERLINK(...)``) gets a leading ``'``, the rule of ``Profile.to_csv``. The
    frames themselves keep names exactly as the model has them (they are data, and ``--layers`` or
    ``frame[frame.layer == name]`` must find them), so neutralise only what goes to a spreadsheet::

        srop_onnx.spreadsheet_safe(profile.to_dataframe()).to_csv("layers.csv")
    """
    from .cells import spreadsheet_cell

    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or str(out[col].dtype) in ("string", "str"):
            out[col] = out[col].map(lambda v: spreadsheet_cell(v) if isinstance(v, str) else v)
    if out.index.dtype == object:
        out.index = out.index.map(lambda v: spreadsheet_cell(v) if isinstance(v, str) else v)
    return out
