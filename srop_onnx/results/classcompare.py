"""A dataset against a benchmark, class by class (``compare BENCHMARK CUSTOM --by class``).

Per paired layer and per class present in both labelled profiles: the 1-Wasserstein distance
between the two sets of per-sample mean SROPs (band units) and a seeded two-sample permutation
test on it; the p-values of every layer and class are corrected together (Holm). A cell differs
when its corrected p-value is below ``alpha`` and its W1 is at least ``min_effect``. Classes in
one profile only are reported as missing, never tested; the benchmark's peaks are looked for in
the custom set (missing, shifted), and the custom set's new peaks are listed. docs/datasets.md.
"""

from __future__ import annotations

import math
import os
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np

from ..errors import UsageError, option
from ..core.samplestats import extreme_share, holm, permutation_w1, smallest_p
from .classes import Peak, layer_peaks, labels_of, live_values, shown_labels, _natural
from .comparison import Comparison, label_of
from .comparison import compare as compare_layers

if TYPE_CHECKING:
    import pandas
    from .profile import Profile

__all__ = ["compare", "ClassDifference", "PeakChange", "ClassComparison", "compare_classes", "ALPHA", "MIN_EFFECT",
           "PERMUTATIONS"]

ALPHA = 0.01
MIN_EFFECT = 0.01  # band units
PERMUTATIONS = 9999


@dataclass
class ClassDifference:
    """One layer and class: sizes, means, W1 (band units), p-values and the decision."""

    layer: str
    label: str
    n_reference: int
    n_custom: int
    mean_reference: float
    mean_custom: float
    w1: float
    p: float
    p_holm: float = math.nan
    differs: bool = False
    #: whether this test could show a difference at all: the smallest p its sizes and the splits allow
    #: (:func:`~srop_onnx.core.samplestats.smallest_p`), times the number of tests, is below alpha
    reachable: bool = True


@dataclass
class PeakChange:
    """A benchmark peak the custom set lacks (``missing``) or has moved (``shifted``), or a peak
    of the custom set the benchmark does not have (``new``)."""

    layer: str
    kind: str
    peak: Peak  # the benchmark's (missing, shifted) or the custom set's (new)
    moved_to: float | None = None  # shifted: where the custom set's peak is

    def describe(self) -> str:
        if self.kind == "shifted":
            return f"{self.layer}: benchmark {self.peak.describe()} moved to {self.moved_to:.3f}"
        if self.kind == "missing":
            return f"{self.layer}: benchmark {self.peak.describe()} is missing"
        return f"{self.layer}: new {self.peak.describe()}"


@dataclass
class ClassComparison:
    """The result of :func:`compare_classes`; ``passed`` is False when any class differs or is missing,
    or when no test could show a difference (``outcome``: ``CANNOT TELL``)."""

    names: tuple[str, str]
    cells: list[ClassDifference]
    missing_in_custom: list[str]
    missing_in_reference: list[str]
    peak_changes: list[PeakChange]
    alpha: float
    min_effect: float
    permutations: int
    seed: int
    layers: list[str] = field(default_factory=list)

    @property
    def differences(self) -> list[ClassDifference]:
        return [c for c in self.cells if c.differs]

    @property
    def differ(self) -> bool:
        """Whether a class differs in some layer, or is missing from either set."""
        return bool(self.differences or self.missing_in_custom or self.missing_in_reference)

    @property
    def passed(self) -> bool:
        """SAME: nothing differs, and some test could have shown a difference (``assert result``
        fails on CANNOT TELL too, as CI does)."""
        return not self.differ and self.decided

    def __bool__(self) -> bool:
        return self.passed

    @property
    def decided(self) -> bool:
        """False when nothing differs only because no test could show a difference (classes too
        small, or too few splits for the number of tests): the verdict is then CANNOT TELL."""
        return self.differ or any(c.reachable for c in self.cells)

    @property
    def outcome(self) -> str:
        """``SAME``, ``DIFFERENT`` or ``CANNOT TELL``."""
        return "DIFFERENT" if self.differ else "SAME" if self.decided else "CANNOT TELL"

    def limits(self) -> str:
        """Why some tests cannot show a difference (empty when all can): the classes too small (their
        fewest samples, benchmark vs custom) and what the number of splits allows, with the fix."""
        out, m = [], len(self.cells)
        small: dict[str, tuple[int, int]] = {}
        for c in self.cells:
            if not c.reachable and m * extreme_share(c.n_reference, c.n_custom) >= self.alpha:  # whatever the splits
                small[c.label] = min(small.get(c.label, (c.n_reference, c.n_custom)), (c.n_reference, c.n_custom))
        if small:
            shown = ", ".join(f"'{k}' ({a} vs {b})" for k, (a, b) in sorted(small.items(), key=lambda t: _natural(t[0])))
            out.append(f"too few samples in {len(small)} class(es): {shown}")
        slow = [c for c in self.cells if not c.reachable and c.label not in small]
        if slow:  # splits for m * smallest_p halfway from what the sizes allow to alpha, as 10**k - 1
            floor = m * max(extreme_share(c.n_reference, c.n_custom) for c in slow)
            target = (self.alpha + floor) / 2
            need = 10 ** math.ceil(math.log10((m - target) / (target - floor) + 1)) - 1
            out.append(f"{option('permutations', self.permutations)} gives no p below {1 / (self.permutations + 1):.2g}, "
                       f"and {m} tests need one below {self.alpha / m:.2g}: give {option('permutations', need)}, or "
                       f"test fewer layers with {option('layers', 'REGEX')}")
        return "; ".join(out)

    def classes_that_differ(self) -> list[str]:
        """Classes with at least one differing layer, then classes missing on either side."""
        seen = sorted({c.label for c in self.differences}, key=_natural)
        return seen + [c for c in self.missing_in_custom + self.missing_in_reference if c not in seen]

    def verdict(self) -> str:
        """One line: SAME, DIFFERENT (with the classes and layers that make the difference) or CANNOT
        TELL (with why no test could show a difference)."""
        rule = f"Holm-corrected p < {self.alpha:g} and W1 >= {self.min_effect:g} band"
        if not self.decided:
            return (f"CANNOT TELL: none of the {len(self.cells)} layer x class test(s) of {self.names[1]} against "
                    f"{self.names[0]} can reach a Holm-corrected p < {self.alpha:g}: "
                    + (self.limits() or "no layer has live samples of a class in both sets"))
        if self.passed:
            short = sum(not c.reachable for c in self.cells)
            return (f"SAME: {self.names[1]} looks like {self.names[0]} to this model in all {len(self.cells)} "
                    f"layer x class test(s) (none with {rule})"
                    + (f"; {short} of them cannot show a difference: {self.limits()}" if short else ""))
        parts = []
        for label in sorted({c.label for c in self.differences}, key=_natural):
            n = sum(1 for c in self.differences if c.label == label)
            parts.append(f"'{label}' in {n} layer(s)")
        if self.missing_in_custom:
            parts.append("missing from the custom set: " + ", ".join(f"'{c}'" for c in self.missing_in_custom))
        if self.missing_in_reference:
            parts.append("not in the benchmark: " + ", ".join(f"'{c}'" for c in self.missing_in_reference))
        return f"DIFFERENT: {'; '.join(parts)} ({rule})"

    def to_dataframe(self) -> "pandas.DataFrame":
        """One row per layer and class tested: sizes, means, W1, p, Holm's p, ``differs`` and ``reachable``."""
        from .frames import pandas, typed

        cols = ["layer", "label", "n_reference", "n_custom", "mean_reference", "mean_custom", "w1", "p", "p_holm",
                "differs", "reachable"]
        return typed(pandas().DataFrame([{k: getattr(c, k) for k in cols} for c in self.cells], columns=cols))

    def _repr_html_(self) -> str:
        from ..show.classhtml import class_comparison_html

        return class_comparison_html(self)

    def __repr__(self) -> str:
        return f"<ClassComparison {self.outcome}: {len(self.differences)} of {len(self.cells)} differ>"


@overload
def compare(a: "Profile | str | os.PathLike[str]", b: "Profile | str | os.PathLike[str]", *, by: None = None, **options: Any) -> Comparison: ...


@overload
def compare(a: "Profile | str | os.PathLike[str]", b: "Profile | str | os.PathLike[str]", *, by: Literal["class"], **options: Any) -> "ClassComparison": ...


def compare(a: "Profile | str | os.PathLike[str]", b: "Profile | str | os.PathLike[str]", *, by: str | None = None, **options: Any) -> "Comparison | ClassComparison":
    """Compare two profiles: layer by layer (``by=None``: :func:`srop_onnx.results.comparison.compare`,
    options ``check_settings``, ``names``, ``match``), or class by class (``by="class"``: ``a`` the
    benchmark and ``b`` the custom set, both labelled; :func:`compare_classes`, options ``alpha``,
    ``min_effect``, ``permutations``, ``seed``, ``layers``, ``names``). Either may be the path of its file."""
    from .given import given

    storage = options.pop("storage_options", None)
    a, b = given(a, "profile", "a", storage), given(b, "profile", "b", storage)
    if by is None:
        layer_options = {"check_settings", "names", "match"}
        if set(options) - layer_options:
            raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(set(options) - layer_options))} "
                            "(they go with by='class')")
        return compare_layers(a, b, **options)
    if by != "class":
        raise UsageError(f"by must be 'class' (or None for a layer comparison), got {by!r}")
    return compare_classes(a, b, **options)


def _cell_rng(seed: int, layer: str, label: str) -> np.random.Generator:
    """Each cell's own stream: the same cell gets the same splits whatever else is tested."""
    return np.random.default_rng([int(seed), zlib.crc32(layer.encode("utf-8", "surrogateescape")),
                                  zlib.crc32(label.encode("utf-8", "surrogateescape"))])


def _check_options(alpha: float, min_effect: float, permutations: int, seed: int) -> None:
    if not (0 < float(alpha) < 1):
        raise UsageError(f"{option('alpha')} must be between 0 and 1, got {alpha}")
    if not (float(min_effect) >= 0 and math.isfinite(float(min_effect))):
        raise UsageError(f"{option('min-effect')} must be a finite number >= 0 (band units), got {min_effect}")
    if int(permutations) < 1:
        raise UsageError(f"{option('permutations')} must be at least 1, got {permutations}")
    if int(seed) < 0:
        raise UsageError(f"{option('seed')} must be >= 0, got {seed}")


def compare_classes(reference: "Profile", custom: "Profile", *, alpha: float = ALPHA, min_effect: float = MIN_EFFECT,
                    permutations: int = PERMUTATIONS, seed: int = 0, layers: str | None = None,
                    names: tuple[str, str] | None = None) -> ClassComparison:
    """Compare a labelled ``custom`` profile with a labelled ``reference`` (the benchmark) class by
    class (module docstring); layers pair as :func:`~srop_onnx.results.comparison.compare` pairs them."""
    _check_options(alpha, min_effect, permutations, seed)
    names = names or (label_of(reference, "benchmark"), label_of(custom, "custom"))
    lab_r = np.asarray(labels_of(reference, names[0]), dtype=object)
    lab_c = np.asarray(labels_of(custom, names[1]), dtype=object)
    comp = compare_layers(reference, custom, names=names)
    pairs = comp.pairs
    if layers:
        from .classes import select_layers

        keep = {lay.tensor for lay in select_layers(reference, layers)}
        pairs = [p for p in pairs if p.a.tensor in keep]
    classes_r = {v for v in lab_r if v is not None}
    classes_c = {v for v in lab_c if v is not None}
    for side, found in ((names[0], classes_r), (names[1], classes_c)):
        if not found:
            raise UsageError(f"{side}: no sample has a label; check {option('labels')} (every sample was unlabelled)")
    both = sorted(classes_r & classes_c, key=_natural)
    cells, changes = [], []
    for pair in pairs:
        vr, live_r = live_values(pair.a, "band")
        vc, live_c = live_values(pair.b, "band")
        for label in both:
            a, b = vr[live_r & (lab_r == label)], vc[live_c & (lab_c == label)]
            if a.size == 0 or b.size == 0:
                continue
            w1, p = permutation_w1(a, b, permutations=permutations, rng=_cell_rng(seed, pair.a.name, label), stop_at=alpha)
            cells.append(ClassDifference(pair.a.name, label, a.size, b.size, float(a.mean()), float(b.mean()), w1, p))
        changes += peak_changes(layer_peaks(pair.a, shown_labels(lab_r)), layer_peaks(pair.b, shown_labels(lab_c)), min_effect,
                                vr[live_r], vc[live_c])
    for c, ph in zip(cells, holm([c.p for c in cells])):
        c.p_holm = float(ph)
        c.differs = bool(ph < alpha and c.w1 >= min_effect)
        c.reachable = bool(len(cells) * smallest_p(c.n_reference, c.n_custom, permutations) < alpha)
    return ClassComparison(names, cells, sorted(classes_r - classes_c, key=_natural),
                           sorted(classes_c - classes_r, key=_natural), changes, float(alpha), float(min_effect),
                           int(permutations), int(seed), [p.a.name for p in pairs])


def _share(values: np.ndarray, lo: float, hi: float) -> float:
    return float(np.mean((values >= lo) & (values < hi))) if values.size else 0.0


def peak_changes(ref: list[Peak], new: list[Peak], min_effect: float, ref_values: np.ndarray | None = None,
                 new_values: np.ndarray | None = None) -> list[PeakChange]:
    """How the benchmark's peaks fare in the custom set (band units). A benchmark peak is
    ``missing`` when the custom set puts less than half the benchmark's share of samples in the
    peak's basin (or, without the values, has no peak there); else ``shifted`` when the custom
    set's nearest peak in the basin is at least ``min_effect`` away. A custom peak is ``new`` when
    the benchmark puts less than half the custom set's share in its basin."""
    out = []
    have = ref_values is not None and new_values is not None
    for p in ref:
        inside = [q for q in new if p.lo <= q.at < p.hi]
        gone = (_share(new_values, p.lo, p.hi) < 0.5 * _share(ref_values, p.lo, p.hi)) if have else not inside
        if gone or not inside:
            if gone:
                out.append(PeakChange(p.layer, "missing", p))
            continue
        near = min(inside, key=lambda q: abs(q.at - p.at))
        if abs(near.at - p.at) >= max(min_effect, 1e-12):
            out.append(PeakChange(p.layer, "shifted", p, near.at))
    for q in new:
        fresh = (_share(ref_values, q.lo, q.hi) < 0.5 * _share(new_values, q.lo, q.hi)) if have else \
            not any(q.lo <= p.at < q.hi for p in ref)
        if fresh:
            out.append(PeakChange(q.layer, "new", q))
    return out
