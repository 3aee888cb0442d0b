"""Issue 38: a dataset against a benchmark, class by class: W1 per layer and class, the seeded
permutation test, Holm over layers x classes, the effect floor, missing classes and peaks."""

from __future__ import annotations

import pytest
from scipy.stats import wasserstein_distance

import srop_onnx
from srop_onnx.errors import UsageError
from srop_onnx.results.classcompare import compare_classes

from test_classes import make_profile


def _set(rng, centres: dict, n: int = 30, m: int = 200):
    """Per-sample (bin sum, count) pairs for classes centred at the given band fractions."""
    pairs, labels = [], []
    for label, centre in centres.items():
        for _ in range(n):
            c = int(rng.integers(1, 4))
            pairs.append((int(round(rng.normal(centre, 0.02) * m)) * c, c))
            labels.append(label)
    return pairs, labels


def _profiles(rng, ref: dict, new: dict, n: int = 30):
    m = 200
    pa, la = _set(rng, ref, n, m)
    pb, lb = _set(rng, new, n, m)
    qa, _ = _set(rng, ref, n, m)
    qb, _ = _set(rng, new, n, m)
    return make_profile({"conv1": pa, "conv2": qa}, la, m), make_profile({"conv1": pb, "conv2": qb}, lb, m)


def test_the_same_distribution_passes_and_a_moved_class_is_flagged_at_that_class(rng):
    bench, same = _profiles(rng, {"0": 0.3, "1": 0.5, "2": 0.7}, {"0": 0.3, "1": 0.5, "2": 0.7})
    result = compare_classes(bench, same, permutations=999)
    assert result.passed and result.verdict().startswith("SAME") and len(result.cells) == 6
    # the rule in a SAME verdict is what no test met (it read as if every test had met it)
    assert result.verdict().endswith("in all 6 layer x class test(s) (none with Holm-corrected p < 0.01 and W1 >= "
                                     "0.01 band)")
    bench, moved = _profiles(rng, {"0": 0.3, "1": 0.5, "2": 0.7}, {"0": 0.3, "1": 0.6, "2": 0.7})
    result = compare_classes(bench, moved, permutations=999)
    assert not result.passed and {c.label for c in result.differences} == {"1"}
    assert result.classes_that_differ() == ["1"]
    assert result.verdict().startswith("DIFFERENT: '1' in 2 layer(s)")


def test_w1_and_p_values_agree_with_a_literal_computation(rng):
    bench, new = _profiles(rng, {"a": 0.4, "b": 0.6}, {"a": 0.42, "b": 0.6}, n=12)
    result = compare_classes(bench, new, permutations=499, seed=5)
    for cell in result.cells:
        la, lb = bench.layer(cell.layer), new.layer(cell.layer)
        a = [int(s) / (int(c) * la.stats.m) for s, c, lab in zip(la.stats.sample_bin_sum, la.stats.sample_count,
                                                                   bench.labels) if lab == cell.label]
        b = [int(s) / (int(c) * lb.stats.m) for s, c, lab in zip(lb.stats.sample_bin_sum, lb.stats.sample_count,
                                                                   new.labels) if lab == cell.label]
        assert cell.w1 == pytest.approx(wasserstein_distance(a, b), abs=1e-12)
        assert (cell.n_reference, cell.n_custom) == (len(a), len(b))
        assert 1 / 500 <= cell.p <= 1
    # Holm over the whole family, in a literal step-down
    ps = [c.p for c in result.cells]
    order = sorted(range(len(ps)), key=lambda i: ps[i])
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(ps) - rank) * ps[i]))
        assert result.cells[i].p_holm == pytest.approx(running, abs=1e-15)
    again = compare_classes(bench, new, permutations=499, seed=5)
    assert [c.p for c in again.cells] == ps  # seeded


def test_a_tiny_effect_is_not_a_difference_however_small_its_p(rng):
    bench, new = _profiles(rng, {"a": 0.4}, {"a": 0.405}, n=400)
    result = compare_classes(bench, new, permutations=999, min_effect=0.05)
    assert any(c.p_holm < 0.01 for c in result.cells) and result.passed
    assert not compare_classes(bench, new, permutations=999, min_effect=0.001).passed


def test_classes_in_one_set_only_are_missing_never_tested(rng):
    bench, new = _profiles(rng, {"0": 0.3, "1": 0.5, "2": 0.7}, {"0": 0.3, "2": 0.7, "9": 0.9})
    result = compare_classes(bench, new, permutations=199)
    assert result.missing_in_custom == ["1"] and result.missing_in_reference == ["9"]
    assert {c.label for c in result.cells} == {"0", "2"} and not result.passed
    assert "missing from the custom set: '1'" in result.verdict() and "not in the benchmark: '9'" in result.verdict()


def test_a_benchmark_peak_the_custom_set_lacks_is_reported_with_its_classes(rng):
    bench, new = _profiles(rng, {"low": 0.2, "high": 0.8}, {"low": 0.2}, n=40)
    result = compare_classes(bench, new, permutations=99)
    missing = [c for c in result.peak_changes if c.kind == "missing"]
    assert missing and all(c.peak.composition == {"high": 40} for c in missing)
    assert "is missing" in missing[0].describe()


def test_the_public_facade_and_options(rng):
    bench, new = _profiles(rng, {"a": 0.4}, {"a": 0.4})
    result = srop_onnx.compare(bench, new, by="class", permutations=99, alpha=0.05)
    assert isinstance(result, srop_onnx.ClassComparison) and result.alpha == 0.05
    assert list(result.to_dataframe().columns) == ["layer", "label", "n_reference", "n_custom", "mean_reference",
                                                   "mean_custom", "w1", "p", "p_holm", "differs", "reachable"]
    with pytest.raises(UsageError, match="by must be 'class'"):
        srop_onnx.compare(bench, new, by="sample")
    with pytest.raises(TypeError, match="they go with by='class'"):
        srop_onnx.compare(bench, new, alpha=0.05)
    with pytest.raises(UsageError, match="^alpha must be between 0 and 1"):
        compare_classes(bench, new, alpha=1.5)
    bench.labels = None
    with pytest.raises(UsageError, match="has no labels"):
        compare_classes(bench, new)


def test_a_class_too_small_to_show_a_difference_is_said_and_alone_it_cannot_pass(rng):
    """Two samples against two can never give p below 1/3: such a class read SAME however far apart
    its samples were (and a comparison of only such classes passed CI). Its tests are named as ones
    that cannot show a difference; when no test can, the verdict is CANNOT TELL, not SAME."""
    m = 200

    def side(centre_b):
        pairs = [(int(round(rng.normal(0.4, 0.02) * m)), 1) for _ in range(30)]
        pairs += [(int(round(centre_b * m)) + i, 1) for i in range(2)]
        return pairs, ["a"] * 30 + ["b"] * 2

    (pa, la), (qa, _) = side(0.2), side(0.2)
    (pb, lb), (qb, _) = side(0.9), side(0.9)  # class 'b' moved from 0.2 to 0.9: as far as it can
    bench = make_profile({"conv1": pa, "conv2": qa}, la, m)
    new = make_profile({"conv1": pb, "conv2": qb}, lb, m)
    result = compare_classes(bench, new)
    assert result.passed and result.decided and result.outcome == "SAME"
    assert [c.reachable for c in result.cells if c.label == "b"] == [False, False]
    assert all(c.reachable for c in result.cells if c.label == "a")
    assert result.verdict().endswith("; 2 of them cannot show a difference: too few samples in 1 class(es): 'b' "
                                     "(2 vs 2)")
    alone = compare_classes(bench, new, layers="conv1")  # 'a' and 'b' in one layer: 'a' can still tell
    assert alone.decided
    only_b = [make_profile({"conv1": p[30:]}, ["b", "b"], m) for p in (pa, pb)]
    result = compare_classes(*only_b)
    assert not result.passed and not result and not result.decided and result.outcome == "CANNOT TELL"
    assert result.verdict().startswith("CANNOT TELL: none of the 1 layer x class test(s) of ")
    assert repr(result) == "<ClassComparison CANNOT TELL: 0 of 1 differ>"
    frame = result.to_dataframe()
    assert list(frame["reachable"]) == [False]
    dead = make_profile({"conv1": [(0, 0), (0, 0)]}, ["b", "b"], m)  # no live map: nothing to test
    nothing = compare_classes(only_b[0], dead)
    assert nothing.cells == [] and nothing.outcome == "CANNOT TELL"
    assert nothing.verdict().endswith("can reach a Holm-corrected p < 0.01: no layer has live samples of a class in "
                                      "both sets")
