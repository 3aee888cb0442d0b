"""Comparing profiles: layer matching, side-by-side numbers, drift checks, twin verdicts.

Everything here takes :class:`~srop_onnx.profile.Profile` objects and returns
plain result objects; printing and files are the CLI's and report module's job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .errors import UsageError
from .profile import LayerProfile, Profile
from .settings import describe_differences, settings_differences
from .stats import wasserstein1

__all__ = [
    "METRICS",
    "LayerPair",
    "Comparison",
    "CheckResult",
    "ensure_comparable",
    "compare",
    "check",
    "random_verdict",
]

METRICS = ("mean", "median", "w1")


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
    a: Profile
    b: Profile
    pairs: list[LayerPair]
    only_a: list[LayerProfile]
    only_b: list[LayerProfile]
    warnings: list[str] = field(default_factory=list)


def ensure_comparable(a: Profile, b: Profile, names: tuple[str, str] = ("A", "B")) -> None:
    """Refuse profiles whose SROPs mean different things (kappa, taps, preprocessing, TF32).

    Units are not refused: summaries are recomputed exactly from the histograms
    in whichever unit the comparison uses.
    """
    diffs = settings_differences(a.settings, b.settings, ignore=("units",))
    if diffs:
        raise UsageError(
            f"{names[0]} and {names[1]} were analysed with different settings ({describe_differences(diffs)}); "
            "re-run analyze with the same --kappa/--ops/--all/--layers/--preprocess/--tf32 to compare them"
        )


def compare(a: Profile, b: Profile, *, check_settings: bool = True, names: tuple[str, str] = ("A", "B")) -> Comparison:
    """Match the layers of ``a`` and ``b``: by tensor name, then module name, then position."""
    if check_settings:
        ensure_comparable(a, b, names)
    left = list(a.layers)
    right = list(b.layers)
    pairs: list[LayerPair] = []
    warnings: list[str] = []
    for key in ("tensor", "name"):
        index = {}
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
        left = rest
    if left and right:
        n = min(len(left), len(right))
        for la, lb in zip(left[:n], right[:n]):
            if la.shape != lb.shape:
                continue
            pairs.append(LayerPair(la, lb, "position"))
        matched = {id(p.a) for p in pairs} | {id(p.b) for p in pairs}
        positional = [p for p in pairs if p.matched_by == "position"]
        if positional:
            warnings.append(f"{len(positional)} layer(s) matched by position only (names differ); check the pairing")
        left = [lay for lay in left if id(lay) not in matched]
        right = [lay for lay in right if id(lay) not in matched]
    pairs.sort(key=lambda p: p.a.index)
    return Comparison(a=a, b=b, pairs=pairs, only_a=left, only_b=right, warnings=warnings)


@dataclass
class LayerCheck:
    pair: LayerPair | None
    name: str
    value: float | None
    ok: bool
    message: str


@dataclass
class CheckResult:
    metric: str
    tol: float
    units: str
    layers: list[LayerCheck]
    comparison: Comparison

    @property
    def passed(self) -> bool:
        return all(lc.ok for lc in self.layers)

    @property
    def failures(self) -> list[LayerCheck]:
        return [lc for lc in self.layers if not lc.ok]


def check(profile: Profile, golden: Profile, *, tol: float = 0.02, metric: str = "mean",
          units: str | None = None) -> CheckResult:
    """Every layer of ``profile`` within ``tol`` of ``golden`` by ``metric``, and the same layer set."""
    if metric not in METRICS:
        raise UsageError(f"--metric must be one of {', '.join(METRICS)}, got {metric!r}")
    if not (tol >= 0 and math.isfinite(tol)):
        raise UsageError(f"--tol must be a finite number >= 0, got {tol}")
    units = units or golden.units
    comp = compare(profile, golden, names=("the profile", "the golden profile"))
    out: list[LayerCheck] = []
    for pair in comp.pairs:
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
                msg = f"{metric} {va:.4f} vs golden {vb:.4f}: |delta| {value:.4f} {'<=' if ok else '>'} tol {tol:g} ({units} units)"
        if pair.matched_by == "position":
            msg += f" [matched by position to golden layer '{pair.b.name}']"
        out.append(LayerCheck(pair, pair.a.name, value, ok, msg))
    for lay in comp.only_a:
        out.append(LayerCheck(None, lay.name, None, False, "layer is not in the golden profile"))
    for lay in comp.only_b:
        out.append(LayerCheck(None, lay.name, None, False, "golden layer is missing from the profile"))
    return CheckResult(metric=metric, tol=float(tol), units=units, layers=out, comparison=comp)


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
