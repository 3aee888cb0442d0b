"""Issue 38: per-class statistics, peaks and outlier scores of a labelled profile, against a slow,
literal float64 computation of SPEC-style definitions from the profile's exact integers."""

from __future__ import annotations

import math
import statistics
from fractions import Fraction

import numpy as np
import pytest

from srop_onnx.core.stats import LayerStats
from srop_onnx.errors import UsageError
from srop_onnx.results.profile import LayerProfile, Profile


def make_profile(layers: dict, labels, m: int = 20, sources=None) -> Profile:
    """A profile whose layers hold the given per-sample (bin sum, live count) pairs."""
    lays = []
    for i, (name, pairs) in enumerate(layers.items()):
        s = np.asarray([p[0] for p in pairs], dtype=np.int64)
        c = np.asarray([p[1] for p in pairs], dtype=np.int64)
        hist = np.zeros(m + 1, dtype=np.int64)
        hist[0] = int(c.sum())  # the map histogram is not what the per-class view reads
        stats = LayerStats(m=m, m_input=2 * m, channels=4, histogram=hist, dead=0, nonfinite=0, samples=(s, c),
                           kernels=(np.zeros(4, np.int64), np.zeros(4, np.int64)))
        lays.append(LayerProfile(i, name, f"t{i}", f"n{i}", "Conv", [4, 8, 8], stats))
    n = len(labels)
    return Profile(model={"path": "m.onnx", "sha256": "0" * 64, "input": {"name": "x", "shape": [1, 1, 8, 8],
                                                                            "layout": "NCHW"}},
                   settings={"kappa": 0.85, "units": "band"}, analyzed=n, skipped_inputs=[], layers=lays,
                   skipped_layers=[], sources=sources or [f"{lab}/{i}.png" for i, lab in enumerate(labels)],
                   labels=list(labels))


def literal_cells(profile: Profile, units: str = "band") -> dict:
    """(layer, class) -> (count, dead, mean, pstdev, median, q1, q3), from the integers, in Python floats."""
    out = {}
    for lay in profile.layers:
        denom = lay.stats.m if units == "band" else lay.stats.m_input
        for label in {v for v in profile.labels if v is not None}:
            vals, dead = [], 0
            for i, lab in enumerate(profile.labels):
                if lab != label:
                    continue
                s, c = int(lay.stats.sample_bin_sum[i]), int(lay.stats.sample_count[i])
                if c == 0:
                    dead += 1
                else:
                    vals.append(s / (c * denom))
            vals.sort()

            def q(p):  # numpy's 'linear': position (n - 1) p
                pos = (len(vals) - 1) * p
                lo = math.floor(pos)
                hi = min(lo + 1, len(vals) - 1)
                return vals[lo] + (vals[hi] - vals[lo]) * (pos - lo)

            out[(lay.name, label)] = (len(vals), dead, statistics.fmean(vals), statistics.pstdev(vals),
                                      statistics.median(vals), q(0.25), q(0.75))
    return out


@pytest.fixture
def labelled(rng):
    n = 60
    labels = [str(i % 3) for i in range(n)]
    layers = {}
    for name, scale in (("conv1", 1), ("conv2", 2)):
        pairs = []
        for i in range(n):
            c = int(rng.integers(1, 5))
            base = {"0": 5, "1": 9, "2": 14}[labels[i]] * scale % 20
            pairs.append((int(sum(rng.integers(max(0, base - 2), min(20, base + 3)) for _ in range(c))), c))
        layers[name] = pairs
    layers["conv2"][4] = (0, 0)  # sample 4 ('1') has no live map in conv2: dead there, never 0
    return make_profile(layers, labels)


def test_per_class_statistics_match_the_literal_computation(labelled):
    stats = labelled.by_class()
    ref = literal_cells(labelled)
    assert stats.classes == ["0", "1", "2"] and stats.layers == ["conv1", "conv2"]
    for cell in stats.cells:
        count, dead, mean, std, med, q1, q3 = ref[(cell.layer, cell.label)]
        assert (cell.count, cell.dead) == (count, dead)
        assert np.allclose([cell.mean, cell.std, cell.median, cell.q1, cell.q3], [mean, std, med, q1, q3],
                           rtol=0, atol=1e-12)
    assert stats.cell("conv2", "1").dead == 1 and stats.cell("conv2", "1").count == 19


def test_input_units_divide_by_the_input_grid(labelled):
    ref = literal_cells(labelled, "input")
    for cell in labelled.by_class("input").cells:
        assert cell.mean == pytest.approx(ref[(cell.layer, cell.label)][2], abs=1e-12)


def test_histograms_use_the_layers_bins_exactly(labelled):
    stats = labelled.by_class()
    lay = labelled.layer("conv1")
    for label in stats.classes:
        want = [0] * (lay.stats.m + 1)
        for i, lab in enumerate(labelled.labels):
            s, c = int(lay.stats.sample_bin_sum[i]), int(lay.stats.sample_count[i])
            if lab == label and c:
                k = math.floor(Fraction(s, c) + Fraction(1, 2))  # nearest bin k / m, halves up
                want[k] += 1
        assert stats.cell("conv1", label).histogram.tolist() == want


def test_peaks_are_found_and_say_which_classes_make_them():
    # class 'a' at 0.2, class 'b' at 0.7, three 'b' among the 'a' peak: two peaks, compositions exact
    pairs, labels = [], []
    for i in range(40):
        pairs.append((4 + (i % 3 == 0), 1))  # 0.20 or 0.25 of a 20-bin band
        labels.append("a" if i >= 3 else "b")
    for i in range(20):
        pairs.append((14 + (i % 2), 1))  # 0.70 or 0.75
        labels.append("b")
    profile = make_profile({"conv": pairs}, labels)
    peaks = profile.by_class().peaks["conv"]
    assert len(peaks) == 2
    low, high = peaks
    assert 0.19 < low.at < 0.27 and 0.69 < high.at < 0.77
    assert low.composition == {"a": 37, "b": 3} and high.composition == {"b": 20}
    assert low.describe() == f"peak at {low.at:.3f}: 37 of 'a' (100%), 3 of 'b' (13%)"
    single = make_profile({"conv": [(5, 1), (6, 1), (5, 1)]}, ["a", "b", "a"]).by_class().peaks["conv"]
    assert [p.describe() for p in single] == [f"one peak at {single[0].at:.3f}: all 3 samples"]


def test_unlabelled_samples_stay_out_of_classes_and_show_in_peaks():
    profile = make_profile({"conv": [(5, 1), (6, 1), (5, 1), (15, 1)]}, ["x", "x", None, "y"])
    stats = profile.by_class()
    assert stats.classes == ["x", "y"] and stats.unlabelled == 1
    assert sum(stats.cell("conv", c).count for c in stats.classes) == 3
    assert sum(p.composition.get("(no label)", 0) for p in stats.peaks["conv"]) == 1


def test_a_profile_without_labels_says_how_to_record_them(labelled):
    labelled.labels = None
    with pytest.raises(UsageError, match=r"has no labels; analyse with labels='folders'\|'FILE.csv'\|'npz:KEY'"):
        labelled.by_class()
    with pytest.raises(UsageError, match="has no labels"):
        labelled.outliers()


def test_layers_are_chosen_by_regex(labelled):
    assert labelled.by_class(layers="2$").layers == ["conv2"]
    with pytest.raises(UsageError, match="matches no layer"):
        labelled.by_class(layers="nothing")


def test_a_class_of_fewer_than_three_samples_is_not_scored_and_is_named(rng):
    """Two samples are always +-0.67 robust z from their median, whatever their values: a class of two
    scored every sample of it 0.67 and ranked them among real outliers. Such classes are left out and
    named; a class of three is scored (its far sample stands out)."""
    labels = ["pair", "pair", "trio", "trio", "trio", "solo", None]
    one = [(10, 1), (90, 1), (10, 1), (11, 1), (19, 1), (50, 1), (30, 1)]
    profile = make_profile({"conv1": one}, labels)
    out = profile.outliers()
    assert [r.label for r in out.rows] == ["trio"] * 3 and out.rows[0].source == profile.sources[4]
    assert out.rows[0].score > 5  # (19 - 11) / (1.4826 * 1) bins of 20: far, as it should be
    assert out.small == {"pair": 2, "solo": 1} and out.unscored == 4
    assert repr(out) == "<Outliers top 3 of 3 scored samples, 2 class(es) too small to score>"
    import io

    from rich.console import Console

    from srop_onnx.show.classview import render_outliers

    def shown(result) -> str:  # what `srop-onnx outliers` prints
        console = Console(file=io.StringIO(), width=300)
        render_outliers(result, console)
        return console.file.getvalue()

    assert ("4 sample(s) not scored (2 class(es) of fewer than 3 samples, too few to score against: 'pair' (2), "
            "'solo' (1); 1 other(s): no label, or no layer where their class has a spread)") in shown(out)
    alone = make_profile({"conv1": one[:2]}, ["pair", "pair"]).outliers()
    assert alone.rows == [] and alone.small == {"pair": 2}
    text = shown(alone)
    assert text.startswith("no sample could be scored\n") and "farthest" not in text
    html = out._repr_html_()  # a notebook shows the list, not <Outliers ...>
    assert "Samples farthest from their own class</b> (top 3 of 3 scored)" in html and "<table>" in html
    assert html.count("<tr>") == 4 and "too few to score against: &#x27;pair&#x27; (2)" in html
    assert "<b>No sample could be scored</b>" in alone._repr_html_() and "<table>" not in alone._repr_html_()


def test_the_outlier_score_is_the_rms_of_robust_z_against_the_own_class(rng):
    n = 30
    labels = ["p" if i < 15 else "q" for i in range(n)]
    one = [(int(rng.integers(8, 12)), 1) for _ in range(n)]
    two = [(int(rng.integers(20, 40)), 2) for _ in range(n)]
    one[7] = (19, 1)  # far above its class in conv1
    profile = make_profile({"conv1": one, "conv2": two}, labels)
    out = profile.outliers(top=3)
    assert out.rows[0].source == profile.sources[7] and out.rows[0].layers[0][0] == "conv1"
    # literal: per layer and class, (v - median) / (1.4826 MAD); RMS over the layers
    for row in out.rows:
        zs = []
        for lay in profile.layers:
            mine = [i for i in range(n) if labels[i] == row.label]
            vals = [int(lay.stats.sample_bin_sum[i]) / (int(lay.stats.sample_count[i]) * lay.stats.m) for i in mine]
            med = statistics.median(vals)
            mad = statistics.median([abs(v - med) for v in vals]) * 1.4826
            if mad > 0:
                v = int(lay.stats.sample_bin_sum[row.sample]) / (int(lay.stats.sample_count[row.sample]) * lay.stats.m)
                zs.append((v - med) / mad)
        assert row.score == pytest.approx(math.sqrt(sum(z * z for z in zs) / len(zs)), rel=1e-12)
    frame = out.to_dataframe()
    assert list(frame["rank"]) == [1, 2, 3] and frame.loc[0, "source"] == profile.sources[7]
    with pytest.raises(UsageError, match="^top must be at least 1"):
        profile.outliers(top=0)


def test_class_frames_have_the_documented_columns(labelled):
    frame = labelled.by_class().to_dataframe()
    assert list(frame.columns) == ["index", "layer", "label", "count", "dead", "mean", "std", "median", "q1", "q3",
                                   "units"]
    assert len(frame) == 6 and str(frame["count"].dtype) == "Int64"
    samples = labelled.to_dataframe(per="sample")
    assert list(samples[samples.layer == "conv1"]["label"]) == labelled.labels
    peaks = labelled.by_class().peaks_frame()
    assert set(peaks.columns) == {"layer", "peak", "lo", "hi", "label", "count"}


def test_a_deep_model_prints_a_row_per_layer_and_a_column_per_class():
    from rich.console import Console

    from srop_onnx.show.classview import WIDE_LAYERS, render_classes

    pairs = [(5, 1), (6, 1), (15, 1), (16, 1)]
    deep = make_profile({f"conv{i}": pairs for i in range(WIDE_LAYERS + 1)}, ["a", "a", "b", "b"])
    console = Console(record=True, width=200)
    render_classes(deep.by_class(), console, peaks=False)
    text = console.export_text()
    assert "a (2)" in text and "b (2)" in text and text.count("conv") == WIDE_LAYERS + 1
    shallow = make_profile({"conv0": pairs}, ["a", "a", "b", "b"])
    console = Console(record=True, width=200)
    render_classes(shallow.by_class(), console, peaks=False)
    assert "samples" in console.export_text()
