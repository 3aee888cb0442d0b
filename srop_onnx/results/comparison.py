"""Comparing profiles: layer matching, side-by-side numbers, drift checks, twin verdicts.

Everything here takes :class:`~srop_onnx.results.profile.Profile` objects and returns
plain result objects; printing and files are the CLI's and report module's job.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping

import numpy as np

from ..errors import UsageError, option, spell
from .profile import LayerProfile, Profile
from ..config.settings import describe_differences, settings_differences
from ..core.stats import wasserstein1

if TYPE_CHECKING:
    import pandas

__all__ = [
    "METRICS",
    "MATCHES",
    "LayerPair",
    "Comparison",
    "CheckResult",
    "ensure_comparable",
    "compare",
    "check",
    "random_verdict",
]

METRICS = ("mean", "median", "w1")
#: how layers of two profiles may be paired: by name only, or by name and then by position
MATCHES = ("name", "position")


@dataclass
class LayerPair:
    a: LayerProfile
    b: LayerProfile
    matched_by: str  # "tensor", "name" or "position"

    def delta(self, metric: str, units: str) -> float:
        """|difference| of ``metric`` (mean/median in ``units``; w1 in band units, exact)."""
        if metric == "w1":
            return self.w1
        va, vb = getattr(self.a.summary(units), metric), getattr(self.b.summary(units), metric)
        return abs(va - vb)

    @property
    def w1(self) -> float:
        return wasserstein1(self.a.stats.histogram, self.a.stats.m, self.b.stats.histogram, self.b.stats.m)


@dataclass
class Comparison:
    """Two profiles' layers side by side: ``pairs`` (by tensor, module name, then position when
    allowed), the layers only one side has, and warnings. ``names`` label A and B (the profile
    files, or the models)."""

    a: Profile
    b: Profile
    pairs: list[LayerPair]
    only_a: list[LayerProfile]
    only_b: list[LayerProfile]
    warnings: list[str] = field(default_factory=list)
    names: tuple[str, str] = ("A", "B")

    @property
    def positional(self) -> list[LayerPair]:
        """The pairs made by position only (their names differ)."""
        return [p for p in self.pairs if p.matched_by == "position"]

    def to_dataframe(self, units: str = "band") -> "pandas.DataFrame":
        """One row per pair (``delta = B - A``) and per unpaired layer (pandas)."""
        from .frames import comparison_frame

        return comparison_frame(self, units)

    def _repr_html_(self) -> str:
        from ..show.notebook import comparison_html

        return comparison_html(self)

    def __repr__(self) -> str:
        deltas = [p.b.summary("band").mean - p.a.summary("band").mean for p in self.pairs]
        finite = [d for d in deltas if math.isfinite(d)]
        mean = f", mean delta (B - A) {sum(finite) / len(finite):+.4f} band" if finite else ""
        return (f"<Comparison A={self.names[0]} B={self.names[1]}: {len(self.pairs)} pairs, "
                f"{len(self.only_a)} only in A, {len(self.only_b)} only in B{mean}>")


def short_labels(a: Profile, b: Profile) -> tuple[str, str]:
    """A and B named as a person would: the file each profile was loaded from (its name), else its
    model's file name; two equal names are told apart as ``name (A)`` and ``name (B)``."""
    def one(p: Profile) -> str:
        return Path(p.origin).name if p.origin else Path(str(p.model.get("path", "?"))).name

    la, lb = one(a), one(b)
    return (f"{la} (A)", f"{lb} (B)") if la == lb else (la, lb)


def label_of(p: Profile, default: str) -> str:
    """How a profile is named in a comparison: the file it came from, else its model."""
    return p.origin or f"{default} of {p.model.get('path', '?')}"


def describe_pairs(pairs: list[LayerPair], limit: int = 8) -> str:
    """``"conv1 ~ conv2d, conv2 ~ conv2d_1 (and 3 more)"``: pairs for a one-line message."""
    text = ", ".join(f"{p.a.name} ~ {p.b.name}" for p in pairs[:limit])
    return text + (f" (and {len(pairs) - limit} more)" if len(pairs) > limit else "")


def ensure_comparable(a: Profile, b: Profile, names: tuple[str, str] = ("A", "B")) -> None:
    """Refuse profiles whose SROPs mean different things (kappa, taps, preprocessing, TF32).

    Units are not refused: summaries are recomputed exactly from the histograms
    in whichever unit the comparison uses.
    """
    diffs = settings_differences(a.settings, b.settings, ignore=("units",))
    if diffs:
        raise UsageError(
            f"{names[0]} and {names[1]} were analysed with different settings ({describe_differences(diffs)}); "
            "re-run analyze with the same " + "/".join(spell(f"--{o}") for o in ("kappa", "ops", "all", "layers", "preprocess", "tf32"))
            + " to compare them"
        )


def _pair_by(key: str, left: list, right: list, pairs: list[LayerPair]) -> list:
    """Pair ``left`` layers with ``right`` ones of the same ``key``; returns the unpaired left."""
    index: dict = {}
    for lay in right:
        index.setdefault(getattr(lay, key), lay)
    rest = []
    for lay in left:
        match = index.get(getattr(lay, key))
        if match is not None and match in right:
            pairs.append(LayerPair(lay, match, key))
            right.remove(match)
        else:
            rest.append(lay)
    return rest


def compare(a: "Profile | str | os.PathLike[str]", b: "Profile | str | os.PathLike[str]", *, check_settings: bool = True, names: tuple[str, str] | None = None,
            match: str = "position", storage_options: dict | None = None) -> Comparison:
    """Match the layers of ``a`` and ``b``: by tensor name, then module name, then (``match="position"``)
    by position among the rest, where shapes agree; pairs made by position are warned about.
    ``names`` label A and B (default: the files they were loaded from, else their models); either may
    be given as the path (or URL: ``storage_options``) of its file."""
    from .given import given

    a, b = given(a, "profile", "a", storage_options), given(b, "profile", "b", storage_options)
    names = names or short_labels(a, b)
    if match not in MATCHES:
        raise UsageError(f"{option('match')} must be one of {', '.join(MATCHES)}, got {match!r}")
    if check_settings:
        ensure_comparable(a, b, names)
    left, right = list(a.layers), list(b.layers)
    pairs: list[LayerPair] = []
    warnings: list[str] = []
    for key in ("tensor", "name"):
        left = _pair_by(key, left, right, pairs)
    if match == "position" and left and right:
        for la, lb in zip(left, right):
            if la.shape == lb.shape:
                pairs.append(LayerPair(la, lb, "position"))
        paired = {id(p.a) for p in pairs} | {id(p.b) for p in pairs}
        positional = [p for p in pairs if p.matched_by == "position"]
        if positional:
            warnings.append(f"{len(positional)} layer(s) paired by position only (names differ): "
                            f"{describe_pairs(positional)}; check the pairing")
        left = [lay for lay in left if id(lay) not in paired]
        right = [lay for lay in right if id(lay) not in paired]
    pairs.sort(key=lambda p: p.a.index)
    return Comparison(a=a, b=b, pairs=pairs, only_a=left, only_b=right, warnings=warnings, names=names)


@dataclass
class LayerCheck:
    pair: LayerPair | None
    name: str
    value: float | None
    ok: bool
    message: str
    #: the tolerance this layer was held to
    tol: float | None = None


@dataclass
class CheckResult:
    """The outcome of :func:`check`: truthy exactly when every layer passed, so
    ``assert check(profile, golden)`` fails a test on drift. ``str()`` is a short summary (which
    layers drifted, by how much, against which tolerance); :meth:`table` is every layer."""

    metric: str
    tol: float
    units: str
    layers: list[LayerCheck]
    comparison: Comparison
    #: per-layer tolerances as given (``{"layer4": 0.05}``); ``tol`` is the one for every other layer
    tols: dict[str, float] = field(default_factory=dict)
    #: how the profile's inputs differ from the golden's (None when they are the same samples): then a
    #: drift may be the inputs', not the model's (:func:`inputs_note`)
    inputs_note: str | None = None

    @property
    def passed(self) -> bool:
        return all(lc.ok for lc in self.layers)

    @property
    def failures(self) -> list[LayerCheck]:
        return [lc for lc in self.layers if not lc.ok]

    @property
    def names(self) -> tuple[str, str]:
        """What was checked against what: the profile and golden files (or models)."""
        return self.comparison.names

    def __bool__(self) -> bool:
        return self.passed

    def verdict(self) -> str:
        """The one-line verdict, worded the same in Python, the CLI, the notebook and CI:
        ``PASS: 8 layer(s) within tolerance (mean, tol 0.02, band units) of golden.json`` or
        ``FAILED: 2 of 8 layer(s) drifted (mean, tol 0.02, band units) from golden.json``."""
        n, bad = len(self.layers), self.failures
        rule = f"{self.metric}, tol {self.tol:g}, {self.units} units"
        if self.tols:
            rule += "; " + ", ".join(f"{k}: {v:g}" for k, v in self.tols.items())
        if not bad:
            return f"PASS: {n} layer(s) within tolerance ({rule}) of {self.names[1]}"
        return f"FAILED: {len(bad)} of {n} layer(s) drifted ({rule}) from {self.names[1]}"

    def summary(self, limit: int = 5) -> str:
        """A few lines: the verdict, then up to ``limit`` drifting layers."""
        bad = self.failures
        note = [f"  note: {self.inputs_note}"] if self.inputs_note else []
        if not bad:
            return "\n".join([self.verdict()] + note)
        lines = [self.verdict() + ":"]
        lines += [f"  {lc.name}: {lc.message}" for lc in bad[:limit]]
        if len(bad) > limit:
            lines.append(f"  ... and {len(bad) - limit} more (result.table() lists every layer)")
        return "\n".join(lines + note)

    __str__ = summary

    def __repr__(self) -> str:
        state = "passed" if self.passed else f"{len(self.failures)} of {len(self.layers)} failed"
        return f"<CheckResult {state}: {self.metric}, tol {self.tol:g}, {self.units} units>"

    def table(self) -> str:
        """Every checked layer, one line each: PASS/FAIL, the layer and the numbers."""
        return "\n".join(f"{'PASS' if lc.ok else 'FAIL'} {lc.name}: {lc.message}" for lc in self.layers)

    def to_dataframe(self) -> "pandas.DataFrame":
        """One row per checked layer (pandas)."""
        from .frames import check_frame

        return check_frame(self)

    def _repr_html_(self) -> str:
        from ..show.notebook import check_html

        return check_html(self)


def _tolerance_rule(tol: "float | Mapping[str, float]") -> tuple[float, dict[str, float]]:
    """``tol`` as (the default, the per-layer ones): a number is every layer's; a mapping holds layer
    names or shell patterns (``layer4``, ``block3.*``) and ``"*"`` for every other layer (0.02
    when absent)."""
    items = dict(tol) if isinstance(tol, Mapping) else {"*": tol}
    for key, value in items.items():
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
        if not ok:
            where = option("tol") if key == "*" else option("tol", f"{key}=", py=f"{{{key!r}: ...}}")
            raise UsageError(f"{where} must be a finite number >= 0, got {value!r}")
    default = float(items.pop("*", 0.02))
    return default, {str(k): float(v) for k, v in items.items()}


def _tolerance_of(name: str, default: float, per: dict[str, float]) -> float:
    from fnmatch import fnmatchcase

    if name in per:
        return per[name]
    return next((v for k, v in per.items() if fnmatchcase(name, k)), default)


def check(profile: "Profile | str | os.PathLike[str]", golden: "Profile | str | os.PathLike[str]", *, tol: "float | Mapping[str, float]" = 0.02, metric: str = "mean",
          units: str | None = None, match: str = "name", names: tuple[str, str] | None = None,
          storage_options: dict | None = None) -> CheckResult:
    """Every layer of ``profile`` within ``tol`` of ``golden`` by ``metric``, and the same layer set.

    ``tol`` is a number for every layer, or per layer: ``{"layer4": 0.05, "block3.*": 0.03, "*": 0.02}``
    (a layer name or shell pattern each; ``"*"`` for the rest); a key that names no layer is refused.
    Layers pair by tensor, then module name. Layers that would pair only by position (their names
    differ, e.g. the same network from two exporters) are refused with one line listing them,
    unless ``match="position"`` accepts that pairing. ``names`` label the two sides (files).
    Either profile may be given as the path (or URL: ``storage_options``) of its file.
    """
    from .given import given

    profile = given(profile, "profile", "profile", storage_options)
    golden = given(golden, "profile", "golden", storage_options)
    if metric not in METRICS:
        raise UsageError(f"{option('metric')} must be one of {', '.join(METRICS)}, got {metric!r}")
    if match not in MATCHES:
        raise UsageError(f"{option('match')} must be one of {', '.join(MATCHES)}, got {match!r}")
    default, per = _tolerance_rule(tol)
    units = units or golden.units
    names = names or (label_of(profile, "the profile"), label_of(golden, "the golden profile"))
    comp = compare(profile, golden, names=names, match="position")
    if comp.positional and match != "position":
        raise UsageError(f"{len(comp.positional)} layer(s) of {names[0]} pair with {names[1]} only by position "
                         f"(their names differ): {describe_pairs(comp.positional)}; check that the pairing is right "
                         f"and rerun with {option('match', 'position')}")
    from fnmatch import fnmatchcase

    known = [lay.name for lay in golden.layers] + [lay.name for lay in profile.layers]
    unknown = [k for k in per if not any(k == n or fnmatchcase(n, k) for n in known)]
    if unknown:
        raise UsageError(f"{option('tol', f'{unknown[0]}=...', py=f'{{{unknown[0]!r}: ...}}')}: no layer of {names[1]} is called that (or matches it); "
                         f"the layers are {describe_names(golden)}")
    out = [_layer_check(pair, metric, units, _tolerance_of(pair.a.name, default, per)) for pair in comp.pairs]
    for lay in comp.only_a:
        out.append(LayerCheck(None, lay.name, None, False, "layer is not in the golden profile"))
    for lay in comp.only_b:
        out.append(LayerCheck(None, lay.name, None, False, "golden layer is missing from the profile"))
    return CheckResult(metric=metric, tol=default, units=units, layers=out, comparison=comp, tols=per,
                       inputs_note=inputs_note(profile, golden))


def inputs_note(profile: Profile, golden: Profile) -> str | None:
    """How ``profile``'s samples differ from ``golden``'s, by their identities (``sources``) and
    count; None when they are the same samples (in any order) or a side does not list them."""
    mine, theirs = list(profile.sources or ()), list(golden.sources or ())
    if not mine or not theirs or sorted(mine) == sorted(theirs):
        return None
    missing, extra = len(set(theirs) - set(mine)), len(set(mine) - set(theirs))
    parts = [f"{missing} of the golden's are not in it"] if missing else []
    parts += [f"{extra} of its own are not in the golden"] if extra else []
    what = "; ".join(parts) if parts else "the same names, counted differently"
    return (f"the profile is of {profile.analyzed} input(s) and the golden of {golden.analyzed} ({what}): a "
            "drift may be the inputs', not the model's; check the same inputs the golden was made from")


def describe_names(p: Profile, limit: int = 6) -> str:
    names = [lay.name for lay in p.layers]
    return ", ".join(names[:limit]) + (f" (and {len(names) - limit} more)" if len(names) > limit else "")


def _layer_check(pair: LayerPair, metric: str, units: str, tol: float) -> LayerCheck:
    value = pair.delta(metric, units)
    if math.isnan(value):
        ok = pair.a.stats.count == 0 and pair.b.stats.count == 0
        msg = "no live maps on either side" if ok else "no live maps on one side"
    else:
        ok = value <= tol
        if metric == "w1":
            msg = f"W1 {value:.4f} {'<=' if ok else '>'} tol {tol:g} (band units)"
        else:
            va, vb = getattr(pair.a.summary(units), metric), getattr(pair.b.summary(units), metric)
            msg = (f"{metric} {va:.4f} vs golden {vb:.4f}: |delta| {value:.4f} {'<=' if ok else '>'} tol {tol:g} "
                   f"({units} units)")
    if pair.matched_by == "position":
        msg += f" [paired by position with golden layer '{pair.b.name}']"
    return LayerCheck(pair, pair.a.name, value, ok, msg, tol)


def random_verdict(trained: Profile, twin: Profile, *, deep_fraction: float = 1 / 3) -> dict:
    """The paper's finding, tested on this data: do deep layers of the trained model
    sit lower than its randomized twin (Sec. 4.2, Fig. 5)?

    Deep layers are the last ``deep_fraction`` of the analysed layers by depth
    (at least one). Per deep layer: both means (band units), their difference,
    and the fraction of inputs whose per-sample mean is lower in the trained model.
    """
    comp = compare(trained, twin, check_settings=False)
    pairs = [p for p in comp.pairs if p.a.stats.count and p.b.stats.count]
    if not pairs:
        return {"verdict": "undetermined", "reason": "no layer has live maps in both models", "layers": []}
    n_deep = max(1, math.ceil(len(pairs) * deep_fraction))
    rows = []
    for i, p in enumerate(pairs):
        ma, mb = p.a.summary("band").mean, p.b.summary("band").mean
        sa, sb = p.a.stats.per_sample_mean(), p.b.stats.per_sample_mean()
        both = np.isfinite(sa) & np.isfinite(sb) if sa.shape == sb.shape else np.zeros(0, bool)
        lower = float(np.mean(sa[both] < sb[both])) if both.any() else None
        rows.append({"layer": p.a.name, "deep": i >= len(pairs) - n_deep, "trained_mean": ma, "random_mean": mb,
                     "difference": ma - mb, "inputs_lower": lower})
    deep = [r for r in rows if r["deep"]]
    diffs = np.array([r["difference"] for r in deep])
    n_lower = int(np.sum(diffs < 0))
    mean_diff = float(diffs.mean())
    if n_lower == len(deep) and mean_diff < 0:
        verdict = "consistent"
        text = f"all {len(deep)} deep layer(s) of the trained model have a lower mean SROP than its randomized twin"
    elif n_lower == 0 and mean_diff > 0:
        verdict = "inconsistent"
        text = "no deep layer of the trained model sits lower than its randomized twin"
    else:
        verdict = "mixed"
        text = f"{n_lower} of {len(deep)} deep layer(s) of the trained model sit lower than its randomized twin"
    return {"verdict": verdict, "summary": text + f" (mean difference {mean_diff:+.4f}, band units)",
            "deep_layers": len(deep), "deep_lower": n_lower, "mean_difference": mean_diff, "layers": rows}
