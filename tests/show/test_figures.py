"""Issue 21: every figure shows all it was asked for or says in the figure what it left out; titles,
labels and legends stay inside the canvas, legends never cover data, and no line is too pale to see.
Each kind is rendered at the size the CLI and README use (and the notebook's small size)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.lines import Line2D
from matplotlib.text import Text

from conftest import EXAMPLE, EXAMPLE_IMAGES, EXAMPLE_RANDOM
from srop_onnx import analyze, sweep
from srop_onnx.show import plots as P


@pytest.fixture(scope="module")
def deep():
    """A profile of more layers than a KDE figure has panels (--all taps: 21 tensors)."""
    return analyze(EXAMPLE, EXAMPLE_IMAGES, all_tensors=True)


@pytest.fixture(scope="module")
def pair():
    return analyze(EXAMPLE, EXAMPLE_IMAGES), analyze(EXAMPLE_RANDOM, EXAMPLE_IMAGES)


@pytest.fixture(scope="module")
def long_sweep():
    """The README's noise sweep: --levels 0,0.25,...,2 (9 levels)."""
    return sweep(EXAMPLE, EXAMPLE_IMAGES, levels="0,0.25,...,2", noise="gaussian", seed=0, batch_size=8)


def _texts(fig) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def _legends(fig) -> list:
    return list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]


def assert_figure_is_clean(fig) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas_agg = FigureCanvasAgg(fig)
    canvas_agg.draw()
    renderer = canvas_agg.get_renderer()
    canvas = fig.bbox
    tight = fig.get_tightbbox(renderer)  # inches; what is drawn, tick labels that show included
    w, h = fig.get_size_inches()
    assert tight.x0 >= -0.02 and tight.y0 >= -0.02 and tight.x1 <= w + 0.02 and tight.y1 <= h + 0.02, \
        f"something drawn leaves the canvas: {tight} outside {w} x {h} in"
    titles = [fig._suptitle, fig._supxlabel] + [ax.title for ax in fig.axes] + \
        [t for legend in _legends(fig) for t in legend.get_texts()]
    for t in titles:
        if t is None or not t.get_visible() or not t.get_text():
            continue
        box = t.get_window_extent(renderer)
        inside = (box.x0 >= canvas.x0 - 2 and box.y0 >= canvas.y0 - 2 and box.x1 <= canvas.x1 + 2
                  and box.y1 <= canvas.y1 + 2)
        assert inside, f"text {t.get_text()[:40]!r} leaves the canvas: {box} outside {canvas}"
    for legend in _legends(fig):
        lbox = legend.get_window_extent(renderer)
        for ax in fig.axes:
            if not ax.get_visible():
                continue
            abox = ax.get_window_extent(renderer)
            overlap = max(0, min(lbox.x1, abox.x1) - max(lbox.x0, abox.x0)) * \
                max(0, min(lbox.y1, abox.y1) - max(lbox.y0, abox.y0))
            assert overlap < 1, f"a legend covers the axes {ax.get_title()[:30]!r}"
    for line in fig.findobj(Line2D):
        if line.get_visible() and len(line.get_xdata()) and line.get_label() and not line.get_label().startswith("_"):
            r, g, b = to_rgb(line.get_color())
            assert 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.75, f"line {line.get_label()!r} is too pale"


def _all_text(fig) -> str:
    return " ".join(t.get_text() for t in _texts(fig)).replace("\n", " ")


@pytest.mark.parametrize("kind", P.KINDS)
@pytest.mark.parametrize("count", [1, 2])
def test_profile_kinds_are_clean(pair, kind, count):
    assert_figure_is_clean(P.plot(list(pair)[:count], kind))


def test_kde_says_which_layers_it_left_out_and_stays_in_range(deep):
    assert len(deep.layers) > 12
    fig = P.plot([deep], "kde")
    assert_figure_is_clean(fig)
    assert f"showing 12 of {len(deep.layers)} layers" in _all_text(fig)
    for ax in fig.axes:
        if ax.get_visible() and ax.get_xlabel():
            left, right = ax.get_xlim()
            assert 0.0 <= left and right <= 1.0  # band units: an SROP is in [0, 1]
    fig = P.plot([deep], "kde", layers="conv")
    assert "showing" not in _all_text(fig) or "matching layers" in _all_text(fig)


def test_depth_of_a_few_profiles_names_each_in_its_legend(pair):
    few = [pair[0]] * 5 + [pair[1]] * 5  # the most a figure names one by one
    fig = P.plot_depth(few, labels=[f"profile number {i}" for i in range(10)])
    assert_figure_is_clean(fig)
    names = [t.get_text() for t in fig.legends[0].get_texts()]
    assert all(f"profile number {i}" in names for i in range(10))
    assert "profile number 0 vs profile number 1" in _all_text(fig)


def _bar_labels(fig) -> list[str]:
    """The tick labels of the colour bar that names the profiles in order."""
    bars = [ax for ax in fig.axes if "in the order given" in ax.get_ylabel()]
    assert len(bars) == 1, [ax.get_ylabel() for ax in fig.axes]
    return [t.get_text() for t in bars[0].get_yticklabels()]


@pytest.mark.parametrize("kind", ["depth", "box", "kde"])
def test_many_profiles_are_drawn_in_order_and_named_by_a_colour_bar(pair, kind):
    """30 profiles (a sweep's levels kept as profiles): a legend of 30 names was wider than the axes
    and the title listed all 30 (eight lines); saving warned that the layout collapsed."""
    import warnings

    many = [pair[i % 2] for i in range(30)]
    names = [f"level-{i / 10:g}" for i in range(30)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # constrained_layout not applied: the axes collapsed
        fig = P.plot(many, kind, labels=names)
        assert_figure_is_clean(fig)
    assert fig.get_size_inches()[0] <= P.MAX_INCHES + 2
    title = (fig._suptitle or fig.axes[0].title).get_text()
    assert "30 profiles, level-0 to level-2.9" in title and "vs" not in title
    named = [t.get_text() for legend in _legends(fig) for t in legend.get_texts() if t.get_text().startswith("level-")]
    assert named in ([], ["level-0 baseline (max-pool)"])  # no legend of 30; at most the first's baseline
    bar = _bar_labels(fig)
    assert bar[0] == "level-0" and bar[-1] == "level-2.9" and 3 <= len(bar) <= 7
    data = [ln for ax in fig.axes for ln in ax.get_lines() if len(ln.get_xdata()) > 2 and ln.get_linestyle() == "-"]
    if kind != "box":
        colours = {ln.get_color() for ln in data}
        assert len(colours) >= 30  # each profile drawn, each in its own place along the map


def test_the_depth_figure_of_many_profiles_says_whose_baseline_it_draws(pair):
    fig = P.plot_depth([pair[i % 2] for i in range(12)], labels=[f"run {i}" for i in range(12)])
    dashed = [ln for ln in fig.axes[0].get_lines() if ln.get_linestyle() == "--"]
    assert len(dashed) == 1 and dashed[0].get_label() == "run 0 baseline (max-pool)"
    assert "the first profile's baseline; the other 11 profiles' are left out" in _all_text(fig)


def test_kernels_of_many_profiles_show_what_fits_and_name_the_rest(pair):
    many = [pair[i % 2] for i in range(30)]
    fig = P.plot_kernels(many, labels=[f"run {i}" for i in range(30)])
    assert_figure_is_clean(fig)
    panels = [ax for ax in fig.axes if ax.get_title().startswith("Channel mean SROP")]
    assert 1 < len(panels) < 30 and fig.get_size_inches()[1] <= P.MAX_INCHES + 0.01
    shown = [ax.get_title().split(": ", 1)[1] for ax in panels]
    assert shown[0] == "run 0" and shown[-1] == "run 29"
    text = _all_text(fig)
    assert f"panels for {len(panels)} of 30 profiles" in text and "left out: run 1, " in text


def test_profiles_of_one_model_are_told_apart_by_number_or_by_file(pair, tmp_path, monkeypatch):
    """Two runs of one model over other inputs were both called example.onnx in the legend; from
    the command line they are named by their files."""
    from click.testing import CliRunner

    from srop_onnx.cli import main
    from srop_onnx.show.many import profile_names

    assert profile_names([pair[0], pair[0], pair[1]]) == ["example.onnx #1", "example.onnx #2", pair[1].model["path"].rsplit("/", 1)[-1]]
    paths = []
    for name in ("clean", "noisy"):
        paths.append(tmp_path / f"{name}.json")
        pair[0].to_json(paths[-1])
    drawn = []
    monkeypatch.setattr(P, "save_figure", lambda fig, path: drawn.append(fig))
    result = CliRunner().invoke(main, ["plot", *map(str, paths), "-o", str(tmp_path / "d.png")])
    assert result.exit_code == 0, result.output
    assert [t.get_text() for t in drawn[0].legends[0].get_texts()][:1] == ["clean"]
    assert "clean vs noisy" in _all_text(drawn[0])


def test_a_sweep_kde_names_the_levels_it_left_out_as_runs():
    from srop_onnx.show.many import left_out

    levels = [round(0.01 * i, 2) for i in range(201)]
    kept = [0, 40, 80, 120, 160, 200]
    assert left_out(levels, kept) == ("0.01 to 0.39 (39 levels), 0.41 to 0.79 (39 levels), 0.81 to 1.19 (39 levels), "
                                      "1.21 to 1.59 (39 levels), 1.61 to 1.99 (39 levels)")
    assert left_out([0, 0.5, 1, 1.5], [0, 2]) == "0.5, 1.5"


def test_a_mean_of_zero_on_the_log_axis_is_marked_at_its_floor_not_lost():
    """Text on a white page: max-pooled to 16 x 16 the page is one colour, so its baseline there is
    0 (every map at bin 0), which a log axis cannot place (the dashed line fell off the axes)."""
    x = np.full((2, 3, 64, 64), 1.0, np.float32)
    x[:, :, 30:33, 10:50] = 0.0  # a line of text
    prof = analyze(EXAMPLE, x)
    base = [(lay.baseline or {}).get("mean_input") for lay in prof.layers]
    assert 0.0 in base and any(b for b in base)  # some baselines 0, some not
    fig = P.plot_depth([prof])
    assert_figure_is_clean(fig)
    ax = fig.axes[0]
    for line in ax.get_lines():
        if line.get_label().startswith("_"):  # the downscaling marks (axes coordinates)
            continue
        ys = np.asarray(line.get_ydata(), float)
        assert not np.any(ys[np.isfinite(ys)] <= 0)  # nothing drawn at or below 0 on the log axis
    marked = [c for c in ax.collections if len(c.get_offsets())]
    zero_at = [lay.index for lay, b in zip(prof.layers, base) if b == 0.0]
    assert sorted(x for c in marked for x, _y in c.get_offsets()) == sorted(
        zero_at + [lay.index for lay in prof.layers if lay.summary("input").mean == 0.0])
    assert "0: below the log axis (open: baseline)" in _all_text(fig)
    assert "below the log axis" not in _all_text(P.plot_depth([prof], units="band"))  # a linear axis shows 0


def test_sweep_figures_show_every_level_or_say_what_they_left_out(long_sweep):
    assert len(long_sweep.levels) == 9 and long_sweep.levels[-1] == 2.0
    for by in ("third", "layer"):
        fig = P.plot_sweep([long_sweep], by=by)
        assert_figure_is_clean(fig)
        for line in fig.axes[0].get_lines():
            assert list(line.get_xdata()) == long_sweep.levels  # w = 2 included
    fig = P.plot_sweep_kde(long_sweep)
    assert_figure_is_clean(fig)
    assert "showing 6 of 9 levels; left out w =" in _all_text(fig)
    fig = P.plot_sweep_kde(long_sweep, [0, 1, 2])
    assert "showing" not in _all_text(fig)


def test_sweep_report_draws_every_level(long_sweep):
    from srop_onnx.show.htmlreport import sweep_report

    html = sweep_report(long_sweep)
    assert html.count("<tr><td>") >= 9 and "<td>2</td>" in html
    assert "preprocessing: imagenet" in html


def test_notebook_sizes_are_clean(pair, long_sweep):
    from srop_onnx.show.notebook import _FIGURE as small

    assert_figure_is_clean(P.plot_depth([pair[0]], size=small))
    assert_figure_is_clean(P.plot_sweep([long_sweep], size=small))


def test_many_series_stay_distinct():
    looks = {(s["color"], s["linestyle"]) for s in map(P.style, range(28))}
    assert len(looks) == 28 and "#F0E442" not in {c for c, _ in looks}
    assert np.all([to_rgb(c) != (1, 1, 1) for c in P.PALETTE])


# -- issue 30: text that can be read at the size each figure is shown ------------------------------
#: the width a report shows a figure at (body max-width 1200 px less its padding); a notebook and
#: the CLI show figures at their own size; GitHub shows the README's figures about 830 px wide
REPORT_WIDTH, README_WIDTH, MIN_PX = 1168, 830, 8.0


def _smallest_text_px(fig, shown_width: float | None = None) -> tuple[float, str]:
    import io

    fig.savefig(io.BytesIO(), format="png")  # lays the figure out: tick labels exist
    width = fig.get_figwidth() * fig.dpi
    scale = min(1.0, (shown_width or width) / width)
    sizes = [(t.get_fontsize() * fig.dpi / 72 * scale, t.get_text()) for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip()]
    return min(sizes)


def test_every_text_is_readable_at_the_size_its_figure_is_shown(pair, long_sweep):
    from srop_onnx.show.notebook import _FIGURE

    for kind in P.KINDS:
        px, text = _smallest_text_px(P.plot(list(pair), kind=kind), REPORT_WIDTH)
        assert px >= MIN_PX, f"{kind} in a report: {text!r} is {px:.1f} px"
    for fig in (P.plot_depth([pair[0]], size=_FIGURE), P.plot_sweep([long_sweep], size=_FIGURE)):
        px, text = _smallest_text_px(fig)
        assert px >= MIN_PX, f"notebook figure: {text!r} is {px:.1f} px"
    px, text = _smallest_text_px(P.plot_sweep_kde(long_sweep), REPORT_WIDTH)
    assert px >= MIN_PX - 1, f"sweep KDE in a report: {text!r} is {px:.1f} px"


def test_the_readme_figures_are_made_for_the_width_they_are_shown_at():
    from PIL import Image

    from conftest import REPO

    for name in ("depth.png", "sweep.png"):
        with Image.open(REPO / "docs" / name) as im:
            width = im.size[0]
        # drawn at 100 dpi with text of 8 pt or more (docs/make_figures.py): shown 830 px wide, the
        # smallest text (8 pt = 11.1 px at 100 dpi) must stay >= 8 px, so the PNG is <= 1,150 px wide
        assert 8 * 100 / 72 * min(1.0, README_WIDTH / width) >= MIN_PX, (name, width)


def test_narrow_log_axes_carry_numbers(pair):
    """Every layer between 0.77 and 0.84 (a deep chain): the log axis still labels its ticks."""
    import copy

    p = copy.deepcopy(pair[0])
    fig = P.plot_depth([p])
    ax = fig.axes[0]
    ax.set_ylim(0.77, 0.84)
    P._log_axis(ax)
    import io

    fig.savefig(io.BytesIO(), format="png")
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text() and 0.77 <= float(t.get_text()) <= 0.84]
    labels += [t.get_text() for t in ax.get_yticklabels(minor=True) if t.get_text()]
    assert len(labels) >= 2, labels


@pytest.mark.parametrize("by_class", [False, True])
def test_a_kde_of_one_sample_is_a_line_the_figure_explains_and_no_density_goes_below_zero(pair, by_class):
    """One image (or one per class) has no density: each panel drew a vertical line on an axis from
    -0.04 to 0.04 'density', saying nothing; a density axis starts at 0, and the figure says what
    the lines are."""
    from srop_onnx.show import classplots

    one = analyze(EXAMPLE, sorted(EXAMPLE_IMAGES.iterdir())[:1], labels=["a"] if by_class else None)
    fig = classplots.plot_class_kde([one]) if by_class else P.plot([one], "kde")
    assert_figure_is_clean(fig)
    assert "one value for all samples there" in _all_text(fig)
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_xlabel()]
    assert len(panels) == len(one.layers)
    for ax in panels:
        assert ax.get_ylim()[0] == 0 and not ax.get_yticks().size  # no density scale for a point
        lines = [ln for ln in ax.get_lines() if len(set(np.atleast_1d(ln.get_xdata()))) == 1]
        assert lines, f"{ax.get_title()}: the sample's value is not drawn"
    many = P.plot([pair[0]], "kde")  # eight samples: densities, from 0 up, and no such note
    assert "one value for all samples there" not in _all_text(many)
    for ax in many.axes:
        if ax.get_visible() and ax.get_xlabel():
            assert ax.get_ylim()[0] == 0 and ax.get_ylim()[1] > 0 and ax.get_yticks().size


def test_series_that_share_a_colour_never_share_a_marker():
    """Eight layers in a track's std plot: the eighth had the first's colour and marker, and a track of
    one step draws lone points, whose dash does not show."""
    looks = [(P.style(i)["color"], P.marker(i)) for i in range(49)]
    assert len(set(looks)) == 49
    assert P.marker(0) != P.marker(7) and P.style(0)["color"] == P.style(7)["color"]


def test_a_sweep_by_layer_of_a_deep_model_colours_layers_by_depth(long_sweep):
    """One line per layer of a model deeper than 28 layers (7 colours x 4 dashes) was a legend of
    every layer; the lines now go along the colour map by depth, named by a colour bar."""
    from dataclasses import replace

    deep = replace(long_sweep, points=[replace(p, profile=replace(p.profile, layers=p.profile.layers * 4))
                                       for p in long_sweep.points])
    n = len(deep.points[0].profile.layers)
    assert n > 28
    fig = P.plot_sweep([deep], by="layer")
    assert_figure_is_clean(fig)
    bars = [ax for ax in fig.axes if "layer, in depth order" in ax.get_ylabel()]
    assert len(bars) == 1 and f"({n})" in bars[0].get_ylabel()
    names = [t.get_text() for legend in _legends(fig) for t in legend.get_texts()]
    assert len(names) <= 3  # every layer, and the output change
    assert len({ln.get_color() for ln in fig.axes[0].get_lines() if len(ln.get_xdata())}) == n
    few = P.plot_sweep([long_sweep], by="layer")
    assert len([t for legend in _legends(few) for t in legend.get_texts()]) >= len(long_sweep.points[0].profile.layers)


def test_the_output_change_of_each_sweep_in_one_figure_can_be_told_apart(long_sweep):
    """Two sweeps in one figure drew both output changes as the same grey dashed line."""
    fig = P.plot_sweep([long_sweep, long_sweep], labels=["blur", "noise"])
    assert_figure_is_clean(fig)
    right = [ax for ax in fig.axes if ax.get_ylabel().startswith("output vs w = 0")][0]
    lines = right.get_lines()
    assert sorted(ln.get_label().split(":")[0] for ln in lines) == ["blur", "noise"]
    assert len({(ln.get_marker(), ln.get_linestyle()) for ln in lines}) == 2  # each its own marker
