"""Per-class views of a labelled profile (``analyze --labels``; docs/datasets.md).

:func:`class_stats` gives, per layer and class, the distribution of the per-sample mean SROP
(count, dead samples, mean, std, quartiles, a histogram with the layer's own bins) and the peaks
of each layer's distribution with the classes that make them; :func:`outliers` scores every
sample against its own class. Everything takes a :class:`~srop_onnx.results.profile.Profile` in
memory and returns plain objects; tables and plots are the show layer's.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..errors import UsageError, option
from ..core.samplestats import kde_modes, robust_z

if TYPE_CHECKING:
    import pandas
    from .profile import LayerProfile, Profile

__all__ = ["ClassCell", "Peak", "ClassStats", "class_stats", "Outlier", "Outliers", "outliers", "live_values",
           "labels_of", "select_layers", "shown_labels", "UNLABELLED"]

#: how an unlabelled sample is shown in a peak's composition
UNLABELLED = "(no label)"
#: the Python spellings of a labels rule, for messages
_LABELS_PY = "'folders'|'FILE.csv'|'npz:KEY'|{path: label}"


def shown_labels(labels) -> np.ndarray:
    """Labels as an object array of class names, an unlabelled sample as :data:`UNLABELLED`."""
    return np.asarray([UNLABELLED if v is None else v for v in labels], dtype=object)


def labels_of(profile: "Profile", what: str = "this profile") -> list:
    """The profile's labels, or one line saying how to record them."""
    if profile.labels is None:
        where = profile.origin or what
        raise UsageError(f"{where}: has no labels; analyse with {option('labels', 'folders|FILE.csv|npz:KEY', py=_LABELS_PY)} "
                         "(docs/datasets.md) to record each sample's class")
    return profile.labels


def select_layers(profile: "Profile", pattern: str | None) -> list["LayerProfile"]:
    """The profile's layers whose name, tensor or node matches the regex ``pattern`` (all when None)."""
    if not pattern:
        return list(profile.layers)
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise UsageError(f"{option('layers')} {pattern!r} is not a regular expression ({exc})") from None
    chosen = [lay for lay in profile.layers if rx.search(lay.name) or rx.search(lay.tensor) or rx.search(lay.node)]
    if not chosen:
        raise UsageError(f"{option('layers')} {pattern!r} matches no layer; the profile's layers are "
                         f"{', '.join(lay.name for lay in profile.layers[:6])}{', ...' if len(profile.layers) > 6 else ''}")
    return chosen


def live_values(lay: "LayerProfile", units: str = "band") -> tuple[np.ndarray, np.ndarray]:
    """``(values, live)``: the per-sample mean SROP of every sample (NaN where every map was dead)
    and the mask of samples with a live map in the layer."""
    live = lay.stats.sample_count > 0
    return lay.stats.per_sample_mean(units), live


def _bins(lay: "LayerProfile", mask: np.ndarray) -> np.ndarray:
    """Histogram of the selected samples' per-sample means on the layer's grid ``k / m`` (band):
    a mean ``S / (c m)`` falls in bin ``round(S / c)``, halves up, in exact integers."""
    s, c = lay.stats.sample_bin_sum[mask], lay.stats.sample_count[mask]
    k = (2 * s + c) // (2 * c)
    return np.bincount(k, minlength=lay.stats.m + 1).astype(np.int64)


@dataclass
class ClassCell:
    """One layer and class: how many samples, how many dead there, and their distribution."""

    layer: str
    index: int
    label: str
    count: int  # samples of the class live in the layer
    dead: int  # samples of the class with no live map in the layer (never counted as 0)
    mean: float
    std: float  # population std (ddof 0)
    median: float
    q1: float
    q3: float
    histogram: np.ndarray = field(repr=False)  # on the layer's bins k / m, band units


@dataclass
class Peak:
    """A mode of a layer's per-sample mean distribution (band units) and who makes it."""

    layer: str
    at: float
    lo: float
    hi: float
    height: float
    composition: dict[str, int]  # class -> samples in the basin, largest first
    #: class -> its live samples in the layer (what each count is a share of)
    sizes: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def total(self) -> int:
        return sum(self.composition.values())

    def describe(self, top: int = 3) -> str:
        """``peak at 0.830: 893 of '1' (97%), 41 others``: the largest classes in the peak's basin,
        each with the share of its class that lies there; a peak that holds every sample says so."""
        if self.lo == -math.inf and self.hi == math.inf:
            return f"one peak at {self.at:.3f}: all {self.total} samples"
        items = list(self.composition.items())
        shown = ", ".join(f"{n} of '{lab}'" + (f" ({100 * n / self.sizes[lab]:.0f}%)" if self.sizes.get(lab) else "")
                          for lab, n in items[:top])
        rest = sum(n for _, n in items[top:])
        return f"peak at {self.at:.3f}: {shown}" + (f", {rest} others" if rest else "")


@dataclass
class ClassStats:
    """Per-layer, per-class statistics of a labelled profile, and each layer's peaks."""

    units: str
    classes: list[str]
    layers: list[str]
    cells: list[ClassCell]
    peaks: dict[str, list[Peak]]
    unlabelled: int = 0

    def cell(self, layer: str, label: str) -> ClassCell:
        for c in self.cells:
            if c.layer == layer and c.label == label:
                return c
        raise KeyError((layer, label))

    def to_dataframe(self) -> "pandas.DataFrame":
        """One row per layer and class: index, layer, label, count, dead, mean, std, median, q1, q3, units."""
        from .frames import pandas, typed

        rows = [{"index": c.index, "layer": c.layer, "label": c.label, "count": c.count, "dead": c.dead,
                 "mean": c.mean, "std": c.std, "median": c.median, "q1": c.q1, "q3": c.q3, "units": self.units}
                for c in self.cells]
        cols = ["index", "layer", "label", "count", "dead", "mean", "std", "median", "q1", "q3", "units"]
        return typed(pandas().DataFrame(rows, columns=cols))

    def peaks_frame(self) -> "pandas.DataFrame":
        """One row per peak and class in its basin: layer, peak (its position), lo, hi, label, count."""
        from .frames import pandas, typed

        rows = [{"layer": p.layer, "peak": p.at, "lo": p.lo, "hi": p.hi, "label": lab, "count": n}
                for ps in self.peaks.values() for p in ps for lab, n in p.composition.items()]
        return typed(pandas().DataFrame(rows, columns=["layer", "peak", "lo", "hi", "label", "count"]))

    def _repr_html_(self) -> str:
        from ..show.classhtml import classes_html

        return classes_html(self)

    def __repr__(self) -> str:
        return (f"<ClassStats {len(self.classes)} classes x {len(self.layers)} layers, "
                f"{sum(len(p) for p in self.peaks.values())} peaks, {self.units} units>")


def _stats(values: np.ndarray) -> tuple[float, float, float, float, float]:
    if values.size == 0:
        return (math.nan,) * 5
    q1, med, q3 = np.quantile(values, [0.25, 0.5, 0.75], method="linear")
    return float(values.mean()), float(values.std()), float(med), float(q1), float(q3)


def class_stats(profile: "Profile", *, units: str | None = None, layers: str | None = None) -> ClassStats:
    """Per layer and class: count, dead, mean, std, median, q1, q3 and histogram of the per-sample
    mean SROP (``units``: the profile's by default), and each layer's peaks (band units) with their
    composition by class."""
    units = units or profile.units
    if units not in ("band", "input"):
        raise UsageError(f"units must be 'band' or 'input', got {units!r}")
    labels = shown_labels(labels_of(profile))
    classes = sorted({v for v in labels_of(profile) if v is not None}, key=_natural)
    chosen = select_layers(profile, layers)
    cells, peaks = [], {}
    for lay in chosen:
        values, live = live_values(lay, units)
        for label in classes:
            mine = labels == label
            use = mine & live
            cells.append(ClassCell(lay.name, lay.index, label, int(use.sum()), int((mine & ~live).sum()),
                                   *_stats(values[use]), histogram=_bins(lay, use)))
        peaks[lay.name] = layer_peaks(lay, labels)
    return ClassStats(units, classes, [lay.name for lay in chosen], cells, peaks,
                      unlabelled=int(sum(v is None for v in labels_of(profile))))


def layer_peaks(lay: "LayerProfile", labels: np.ndarray) -> list[Peak]:
    """The modes of the layer's per-sample means (band units, :func:`kde_modes`) and, for each,
    the count of samples of each class in its basin."""
    band, live = live_values(lay, "band")
    if not live.any():
        return []
    v, lab = band[live], labels[live].astype(str)
    names_all, sizes_all = np.unique(lab, return_counts=True)
    sizes = dict(zip(names_all.tolist(), sizes_all.tolist()))
    out = []
    for mode in kde_modes(v):
        inside = (v >= mode.lo) & (v < mode.hi)
        names, counts = np.unique(lab[inside], return_counts=True)
        comp = sorted(zip(names.tolist(), counts.tolist()), key=lambda t: (-t[1], _natural(t[0])))
        out.append(Peak(lay.name, mode.at, mode.lo, mode.hi, mode.height, dict(comp), sizes))
    return out


def _natural(text: str):
    """Sort key: numbers by value (class '10' after '9'), then text."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", str(text)) if t]


@dataclass
class Outlier:
    """A sample far from its own class: its score and the layers that make it odd."""

    sample: int
    source: str
    label: str
    score: float  # root mean square of its robust z over the layers it is scored in
    layers: list[tuple[str, float]]  # (layer, z), largest |z| first


@dataclass
class Outliers:
    """Every scored sample, highest score first (``top``: how many were asked for)."""

    rows: list[Outlier]
    top: int
    unscored: int = 0  # samples with no label or no scored layer
    #: the classes of fewer than :data:`MIN_CLASS_SAMPLES` samples, with their counts: none is scored
    small: dict = field(default_factory=dict)

    def to_dataframe(self) -> "pandas.DataFrame":
        """One row per sample: rank, sample, source, label, score, worst layer and its z."""
        from .frames import pandas, typed

        rows = [{"rank": i + 1, "sample": o.sample, "source": o.source, "label": o.label, "score": o.score,
                 "layer": o.layers[0][0] if o.layers else None, "z": o.layers[0][1] if o.layers else math.nan}
                for i, o in enumerate(self.rows[: self.top])]
        return typed(pandas().DataFrame(rows, columns=["rank", "sample", "source", "label", "score", "layer", "z"]))

    def _repr_html_(self) -> str:
        from ..show.classhtml import outliers_html

        return outliers_html(self)

    def __repr__(self) -> str:
        small = f", {len(self.small)} class(es) too small to score" if self.small else ""
        return f"<Outliers top {min(self.top, len(self.rows))} of {len(self.rows)} scored samples{small}>"


#: the fewest samples a class needs, in a layer, for its samples to be scored there: two are always
#: +-0.67 robust z from their median, whatever their values, which says nothing
MIN_CLASS_SAMPLES = 3


def outliers(profile: "Profile", *, top: int = 20, layers: str | None = None, units: str | None = None,
             shown_layers: int = 3) -> Outliers:
    """Samples whose per-layer SROPs are far from their own class's: per layer and class, the robust
    z-score of the sample's per-sample mean (median and MAD * 1.4826 of the class; a layer whose
    MAD is 0, or where the class has fewer than :data:`MIN_CLASS_SAMPLES` live samples, is skipped
    for that class), combined as the root mean square over the layers where the sample is live and
    scored."""
    if int(top) < 1:
        raise UsageError(f"{option('top')} must be at least 1, got {top}")
    labels = labels_of(profile)
    chosen = select_layers(profile, layers)
    n = len(labels)
    z = np.full((len(chosen), n), np.nan)
    lab = np.asarray([v if v is not None else "" for v in labels], dtype=object)
    for li, lay in enumerate(chosen):
        values, live = live_values(lay, units or profile.units)
        for label in sorted(set(v for v in labels if v is not None)):
            mine = (lab == label) & live
            if mine.sum() >= MIN_CLASS_SAMPLES:
                z[li, mine] = robust_z(values[mine])
    rows, unscored = [], 0
    for i in range(n):
        col = z[:, i]
        ok = np.isfinite(col)
        if labels[i] is None or not ok.any():
            unscored += 1
            continue
        score = float(np.sqrt(np.mean(col[ok] ** 2)))
        worst = sorted(((chosen[k].name, float(col[k])) for k in np.flatnonzero(ok)), key=lambda t: -abs(t[1]))
        source = profile.sources[i] if i < len(profile.sources) else f"sample {i}"
        rows.append(Outlier(i, source, labels[i], score, worst[:shown_layers]))
    rows.sort(key=lambda o: (-o.score, o.sample))
    counts = Counter(v for v in labels if v is not None)
    small = {c: counts[c] for c in sorted(counts, key=_natural) if counts[c] < MIN_CLASS_SAMPLES}
    return Outliers(rows, int(top), unscored, small)
