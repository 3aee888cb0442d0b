"""Profiles: the result of an analysis, and their files (JSON, CSV, kernels NPZ: docs/format.md).

A :class:`Profile` holds exact :class:`~srop_onnx.core.stats.LayerStats` per layer;
summary numbers are derived on demand in band or input units.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputDataError, UsageError, option
from ..core.stats import LayerStats, Summary
from .cells import spreadsheet_cell

if TYPE_CHECKING:
    import pandas
    from .classes import ClassStats, Outliers

__all__ = ["FORMAT", "VERSION", "LayerProfile", "Profile", "read_json"]

FORMAT = "srop-onnx-profile"
VERSION = 1
#: what writes a profile, for messages about files that are not one
_WRITTEN_BY = "srop-onnx analyze --json or Profile.to_json()"
_SUMMARY_FIELDS = ("mean", "std", "median", "q1", "q3", "min", "max")


def _num(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else float(x)


@dataclass
class LayerProfile:
    """One analysed layer: identity, shape, exact statistics, optional baseline."""

    index: int
    name: str
    tensor: str
    node: str
    op: str
    shape: list[int]  # [C, H, W] or [C, L]
    stats: LayerStats
    baseline: dict | None = None
    bins: np.ndarray | None = field(default=None, repr=False)  # (inputs, C) roll-off bins, when kept
    #: a map of the input's space (False: e.g. a detector's (4, 2100) box tensor; no baseline, not in Table 2)
    spatial_map: bool = True

    @property
    def spatial(self) -> tuple[int, ...]:
        return tuple(self.shape[1:])

    @property
    def side(self) -> int:
        return max(self.spatial)

    def summary(self, units: str = "band") -> Summary:
        return self.stats.summary(units)

    def __repr__(self) -> str:
        return (f"<LayerProfile {self.index} {self.name} ({self.op}, {'x'.join(map(str, self.shape))}): "
                f"{self.stats.count} live maps, mean {self.summary('band').mean:.4f} band>")

    def to_dict(self, units: str) -> dict:
        st = self.stats
        s = st.summary(units)
        denom = float(st.denom(units))
        d = {
            "index": self.index,
            "name": self.name,
            "tensor": self.tensor,
            "node": self.node,
            "op": self.op,
            "shape": list(self.shape),
            "m": st.m,
            "m_input": st.m_input,
            "histogram": st.histogram.tolist(),
            "count": st.count,
            "dead": st.dead,
            "nonfinite": st.nonfinite,
            **{k: _num(getattr(s, k)) for k in _SUMMARY_FIELDS},
            "per_sample_mean": [_num(v) for v in st.per_sample_mean(units)],
            "kernel_sum": [float(v) / denom for v in st.kernel_bin_sum],
            "kernel_count": st.kernel_count.tolist(),
            # exact integer forms (merge and unit changes without rounding)
            "per_sample_bin_sum": st.sample_bin_sum.tolist(),
            "per_sample_count": st.sample_count.tolist(),
            "kernel_bin_sum": st.kernel_bin_sum.tolist(),
            "baseline": dict(self.baseline, mean=self.baseline.get(f"mean_{units}")) if self.baseline else None,
            "spatial_map": self.spatial_map,
        }
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "LayerProfile":
        m, m_in = int(d["m"]), int(d["m_input"])
        stats = LayerStats(
            m=m,
            m_input=m_in,
            channels=len(d["kernel_count"]),
            histogram=np.asarray(d["histogram"], dtype=np.int64),
            dead=int(d["dead"]),
            nonfinite=int(d["nonfinite"]),
            samples=(np.asarray(d["per_sample_bin_sum"], dtype=np.int64),
                     np.asarray(d["per_sample_count"], dtype=np.int64)),
            kernels=(np.asarray(d["kernel_bin_sum"], dtype=np.int64), np.asarray(d["kernel_count"], dtype=np.int64)),
        )
        return cls(
            index=int(d["index"]), name=d["name"], tensor=d["tensor"], node=d.get("node", ""), op=d["op"],
            shape=[int(v) for v in d["shape"]], stats=stats, baseline=d.get("baseline"),
            spatial_map=bool(d.get("spatial_map", True)),
        )


@dataclass
class Profile:
    """SROP profile of one model over a set of inputs (docs/format.md)."""

    model: dict  # {"path", "sha256", "input": {"name", "shape", "layout"}}
    settings: dict[str, Any]  # kappa, units, taps, preprocess, provider, batch_size
    analyzed: int
    skipped_inputs: list[dict]
    layers: list[LayerProfile]
    skipped_layers: list[dict]
    tool_version: str = ""
    #: analysed samples in order, by identity: a file's path inside the input argument it was found
    #: under (its name when given directly), plus [row] in a multi-row array
    sources: list[str] = field(default_factory=list, repr=False)
    extra: dict = field(default_factory=dict, repr=False)  # e.g. baseline summary, comparison, verdicts
    #: facts about the run that made this profile (batch, peak memory, time): shown by ``--debug``,
    #: written to the file only when asked (``record_run``), so two runs give identical files
    run: dict = field(default_factory=dict, repr=False, compare=False)
    #: the file this profile was loaded from (None when made in memory); labels it in comparisons
    origin: str | None = field(default=None, repr=False, compare=False)
    #: the class of each source (``--labels``; None for an unlabelled sample); None: a run without labels
    labels: list | None = field(default=None, repr=False)

    @property
    def units(self) -> str:
        return self.settings.get("units", "band")

    def __repr__(self) -> str:
        name = Path(str(self.model.get("path", "?"))).name
        return (f"<Profile {name}: {len(self.layers)} layers, {self.analyzed} inputs, "
                f"kappa {self.settings.get('kappa')}, {self.units} units>")

    def to_dataframe(self, units: str | None = None, *, per: str = "layer") -> "pandas.DataFrame":
        """The profile as a pandas DataFrame (needs pandas: ``pip install 'srop-onnx[pandas]'``).

        ``per="layer"``: one row per layer, flat columns (identity, shape, counts, summary, baseline
        mean and ratio, ``spatial_map``, ``units``); ``per="sample"``: long form of the per-sample
        layer means (layer, sample, source, value); ``per="channel"``: per-channel means (layer,
        channel, value, count). Numbers are in ``units`` (default: the profile's), exactly those of
        :meth:`to_dict`.
        """
        from .frames import profile_frame

        return profile_frame(self, units or self.units, per)

    def by_class(self, units: str | None = None, *, layers: str | None = None) -> "ClassStats":
        """Per layer and class (``analyze --labels``): count, dead samples, mean, std, median,
        quartiles and histogram of the per-sample mean SROP, and each layer's peaks with the classes
        that make them (:mod:`srop_onnx.results.classes`, docs/datasets.md). ``layers``: a regex."""
        from .classes import class_stats

        return class_stats(self, units=units, layers=layers)

    def outliers(self, top: int = 20, *, layers: str | None = None) -> "Outliers":
        """Samples far from their own class across layers, highest score first (a robust z-score per
        layer against the class, combined as a root mean square; docs/datasets.md)."""
        from .classes import outliers

        return outliers(self, top=top, layers=layers)

    def _repr_html_(self) -> str:
        from ..show.notebook import profile_html

        return profile_html(self)

    def layer(self, key: str | int) -> LayerProfile:
        for lay in self.layers:
            if key in (lay.index, lay.name, lay.tensor):
                return lay
        raise KeyError(key)

    # -- JSON -------------------------------------------------------------------
    def to_dict(self, units: str | None = None) -> dict:
        units = units or self.units
        if units not in ("band", "input"):
            raise UsageError(f"units must be 'band' or 'input', got {units!r}")
        settings = dict(self.settings, units=units)
        d = {
            "format": FORMAT,
            "version": VERSION,
            "tool": {"name": "srop-onnx", "version": self.tool_version},
            "model": self.model,
            "settings": settings,
            "inputs": {"analyzed": self.analyzed, "skipped": self.skipped_inputs, "sources": self.sources,
                       **({"labels": self.labels} if self.labels is not None else {})},
            "layers": [lay.to_dict(units) for lay in self.layers],
            "skipped_layers": self.skipped_layers,
        }
        if self.extra:
            d["extra"] = self.extra
        return d

    def to_json(self, path: str | Path | None = None, *, units: str | None = None, indent: int | None = 1,
                storage_options: dict | None = None) -> str:
        """The profile as JSON text (docs/format.md); also written atomically to ``path`` when given
        (a URL too: ``storage_options`` as :func:`srop_onnx.analyze` takes them)."""
        text = json.dumps(self.to_dict(units), indent=indent, allow_nan=False) + "\n"
        if path is not None:
            from ..files.remote import using_storage_options
            from ..files.writes import atomic_write_text

            with using_storage_options(storage_options):
                atomic_write_text(path, text)
        return text

    @classmethod
    def from_dict(cls, d: dict, where: str = "profile") -> "Profile":
        if isinstance(d, dict) and d.get("format") == "srop-onnx-sweep":
            raise InputDataError(f"{where}: is a sweep of {len(d.get('points', []))} levels, not one profile; write one "
                                 "profile per level with 'srop-onnx sweep ... --profiles DIR'")
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise InputDataError(f"{where}: not a srop-onnx profile (no \"format\": \"{FORMAT}\")")
        if int(d.get("version", 0)) > VERSION:
            raise InputDataError(f"{where}: profile format version {d['version']} is newer than this srop-onnx reads ({VERSION}); upgrade srop-onnx")
        try:
            layers = [LayerProfile.from_dict(x) for x in d["layers"]]
            inputs = d["inputs"]
            return cls(
                model=d["model"], settings=d["settings"], analyzed=int(inputs["analyzed"]),
                skipped_inputs=list(inputs.get("skipped", [])), layers=layers,
                skipped_layers=list(d.get("skipped_layers", [])), tool_version=d.get("tool", {}).get("version", ""),
                sources=list(inputs.get("sources", [])), extra=dict(d.get("extra", {})),
                labels=_labels_of(inputs),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputDataError(f"{where}: malformed srop-onnx profile ({type(exc).__name__}: {exc}); regenerate it with 'srop-onnx analyze --json'") from exc

    @classmethod
    def from_json(cls, text: str, where: str = "profile") -> "Profile":
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputDataError(f"{where}: not JSON ({exc.msg} at line {exc.lineno}); give a profile written by {_WRITTEN_BY}") from exc
        return cls.from_dict(d, where)

    @classmethod
    def load(cls, path: str | Path, *, storage_options: dict | None = None) -> "Profile":
        """A profile file (or URL: ``storage_options`` as :func:`srop_onnx.analyze` takes them),
        validated once against the documented format (:mod:`srop_onnx.results.validate`)."""
        from ..files.remote import using_storage_options
        from .validate import validate_profile

        with using_storage_options(storage_options):
            d = read_json(path)
        if isinstance(d, dict) and d.get("format") != "srop-onnx-sweep":
            validate_profile(d, str(path))
        profile = cls.from_dict(d, str(path))
        profile.origin = str(path)
        return profile

    # -- other files -------------------------------------------------------------
    CSV_FIELDS = ("index", "name", "op", "tensor", "channels", "height", "width", "m", "m_input", "count", "dead",
                  "nonfinite", *_SUMMARY_FIELDS, "iqr", "baseline_mean", "vs_baseline", "units", "kappa")

    def to_csv(self, path: str | Path | None = None, units: str | None = None) -> str:
        """One row per layer (summary in ``units``, which every row names with kappa); also written
        atomically to ``path``. A 1-D layer has its length in ``height`` and no ``width``."""
        units = units or self.units
        kappa = self.settings.get("kappa")
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.CSV_FIELDS)
        for lay in self.layers:
            s = lay.summary(units)
            c, *sp = lay.shape
            h, wd = (sp + [None])[:2]  # [H, W], or [L, None] for 1-D layers
            base = (lay.baseline or {}).get(f"mean_{units}")
            w.writerow([lay.index, spreadsheet_cell(lay.name), spreadsheet_cell(lay.op), spreadsheet_cell(lay.tensor), c, h, "" if wd is None else wd, lay.stats.m,
                        lay.stats.m_input, lay.stats.count, lay.stats.dead, lay.stats.nonfinite,
                        *(_fmt(getattr(s, k)) for k in _SUMMARY_FIELDS), _fmt(s.iqr),
                        _fmt(base), _fmt(s.mean / base if base else None), units, kappa])
        text = buf.getvalue()
        if path is not None:
            from ..files.writes import atomic_write_text

            atomic_write_text(path, text)
        return text

    def kernels_arrays(self) -> dict[str, np.ndarray]:
        """Per-map roll-off bins of every layer (kept with ``keep_bins=True``)."""
        out: dict[str, np.ndarray] = {"sources": np.asarray(self.sources)}
        for lay in self.layers:
            if lay.bins is None:
                raise UsageError(f"per-map bins were not kept; run analyze with {option('kernels')}")
            key = f"{lay.index:03d}_{lay.name}"
            out[key + "_bins"] = lay.bins
            out[key + "_m"] = np.asarray(lay.stats.m)
        return out

    def write_kernels(self, path: str | Path) -> None:
        """NPZ of per-map roll-off bins, (inputs x channels) per layer; -1 dead, -2 non-finite."""
        from ..files.writes import atomic_write

        with atomic_write(path, "wb") as f:
            np.savez_compressed(f, **self.kernels_arrays())


def _labels_of(inputs: dict) -> list | None:
    """The recorded labels, one per source (a mismatch is a malformed profile)."""
    labels = inputs.get("labels")
    if labels is None:
        return None
    if len(labels) != len(inputs.get("sources", [])):
        raise ValueError(f"{len(labels)} labels for {len(inputs.get('sources', []))} sources")
    return [None if v is None else str(v) for v in labels]


def read_json(path: str | Path):
    """The JSON document of a profile (or sweep) file; one-line errors for unreadable or non-JSON files."""
    from ..files.reading import MAX_JSON_BYTES, read_checked
    from ..files.remote import is_url

    p = path if is_url(path) else Path(path)
    data = read_checked(p, "profile", MAX_JSON_BYTES, InputDataError, f"give the path of a profile written by {_WRITTEN_BY}",
                        pipes=True)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputDataError(f"{p}: not UTF-8 text; give a profile written by {_WRITTEN_BY}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputDataError(f"{p}: not JSON ({exc.msg} at line {exc.lineno}); give a profile written by {_WRITTEN_BY}") from exc
    except RecursionError:
        raise InputDataError(f"{p}: JSON nested too deeply to be a profile; give a profile written by {_WRITTEN_BY}") from None


def _fmt(x: Any) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return ""
    return f"{x:.6g}"
