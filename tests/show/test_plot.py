"""Pictures and the HTML report render from real profiles of the shipped model."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from make_models import make_model
from conftest import EXAMPLE, EXAMPLE_IMAGES, EXAMPLE_RANDOM
from srop_onnx import UsageError, analyze
from srop_onnx.cli import main
from srop_onnx.show.htmlreport import html_report
from srop_onnx.plot import KINDS, plot, save_figure


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    d = tmp_path_factory.mktemp("plots")
    a = analyze(EXAMPLE, EXAMPLE_IMAGES)
    b = analyze(EXAMPLE_RANDOM, EXAMPLE_IMAGES)
    a.to_json(d / "a.json")
    b.to_json(d / "b.json")
    return a, b, d


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("count", [1, 2])
def test_each_kind_renders_a_real_png(two, tmp_path, kind, count):
    a, b, _ = two
    out = tmp_path / f"{kind}.png"
    save_figure(plot([a, b][:count], kind), out)
    with Image.open(out) as im:
        im.verify()
    with Image.open(out) as im:
        w, h = im.size
        px = np.asarray(im.convert("RGB").resize((200, 200))).reshape(-1, 3)
        colours = len(np.unique(px, axis=0))
    assert 500 <= w <= 3000 and 300 <= h <= 3000
    assert out.stat().st_size > 15_000 and colours > 20  # a drawn picture, not a blank canvas


@pytest.mark.parametrize("ext, magic", [(".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_vector_formats_by_extension(two, tmp_path, ext, magic):
    out = tmp_path / f"d{ext}"
    res = CliRunner().invoke(main, ["plot", str(two[2] / "a.json"), str(two[2] / "b.json"), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_bytes().startswith(magic)


def test_plot_cli_options_and_errors(two, tmp_path):
    res = CliRunner().invoke(main, ["plot", str(two[2] / "a.json"), "-o", str(tmp_path / "k.png"), "--kind", "kde",
                                    "--layers", "block", "--label", "trained"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["plot", str(two[2] / "a.json"), "-o", str(tmp_path / "k.gif")])
    assert res.exit_code == 2 and "must end in .png, .svg or .pdf" in res.output
    with pytest.raises(UsageError, match="matches no layer"):
        plot([two[0]], "kde", layers="^nothing$")


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs, self.imgs, self.tags = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if k in ("src", "href") and v is not None:
                (self.imgs if tag == "img" else self.refs).append(v)


@pytest.mark.parametrize("count", [1, 2])
def test_html_report_is_self_contained(two, tmp_path, count):
    from srop_onnx.results.comparison import compare

    profiles = list(two[:2])[:count]
    text = html_report(profiles, comparison=compare(*profiles) if count == 2 else None)
    parser = _Collect()
    parser.feed(text)
    assert parser.imgs and all(src.startswith("data:image/png;base64,") for src in parser.imgs)
    assert len(parser.imgs) == 4
    assert parser.refs == [] and "script" not in parser.tags and "link" not in parser.tags
    assert not re.search(r"(?:https?:)?//[\w.-]+\.\w", text.replace("data:image", ""))
    assert ("Comparison" in text) == (count == 2)
    assert "block3.0" in text


def test_analyze_report_option(tmp_path):
    res = CliRunner().invoke(main, ["analyze", str(EXAMPLE), str(EXAMPLE_IMAGES), "-q", "--report", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")


def test_many_layers_thin_the_ticks(two):
    import copy

    a = copy.deepcopy(two[0])
    base = a.layers
    a.layers = []
    for i in range(120):
        lay = copy.deepcopy(base[i % len(base)])
        lay.index, lay.name = i, f"very.long.module.path.number.{i}.conv"
        a.layers.append(lay)
    fig = plot([a], "depth")
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert 0 < len(labels) <= 40


def test_plotting_is_lazy():
    import subprocess
    import sys

    code = "import sys, srop_onnx.run.analysis, srop_onnx.cli; print('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_an_all_dead_layer_flows_through_every_output(tmp_path, rng):
    import warnings

    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from srop_onnx.results.comparison import check

    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "zero"], ["dead"], name="/dead/Conv", pads=[1] * 4),
             helper.make_node("Conv", ["x", "w"], ["live"], name="/live/Conv", pads=[1] * 4)]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 16, 16])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("dead", "live")],
        [numpy_helper.from_array(np.zeros_like(w), "zero"), numpy_helper.from_array(w, "w")])
    path = tmp_path / "m.onnx"
    onnx.save(make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    prof = analyze(path, rng.standard_normal((3, 3, 16, 16)).astype(np.float32))
    dead = prof.layer("dead")
    assert (dead.stats.count, dead.stats.dead) == (0, 12)
    back = type(prof).from_json(prof.to_json())
    assert back.to_dict()["layers"][0]["mean"] is None
    assert prof.to_csv().splitlines()[1].split(",")[12] == ""  # mean column empty
    assert check(prof, back).passed
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for kind in KINDS:
            save_figure(plot([prof, back], kind), tmp_path / f"{kind}.png")
        assert "dead" in html_report([prof, back])


@pytest.mark.parametrize("kind", ["depth", "box", "kernels"])
def test_layers_picks_what_every_kind_draws_each_at_its_place(two, kind):
    """``layers=`` was read by kde only; the other kinds drew every layer, silently."""
    a, b, _ = two
    fig = plot([a, b], kind, layers="block")
    wanted = [lay for lay in a.layers if "block" in lay.name]
    ax = fig.axes[0]
    if kind == "kernels":  # channel maps: one row per layer, named on the y axis
        assert [t.get_text() for t in ax.get_yticklabels()] == [lay.name for lay in wanted]
        return
    ticks = {t.get_text(): pos for t, pos in zip(ax.get_xticklabels(), ax.get_xticks())}
    assert ticks == {lay.name: lay.index for lay in wanted}  # a name sits over its own point
    if kind == "depth":
        line = ax.get_lines()[0]
        assert list(line.get_xdata()) == [lay.index for lay in wanted]
    with pytest.raises(UsageError, match=r"^layers 'zzz' matches no layer of"):
        plot([a], kind, layers="zzz")


def test_plot_refuses_options_its_files_do_not_use(two, tmp_path):
    _, _, d = two
    for args, message in ((["--level", "0.5"], "error: --level picks levels of a sweep"),
                          (["--layer", "stem.0"], "error: --layer draws a track"),
                          (["--change"], "error: --change draws a track")):
        res = CliRunner().invoke(main, ["plot", str(d / "a.json"), "-o", str(tmp_path / "x.png"), *args])
        assert res.exit_code == 2 and message in res.output and not (tmp_path / "x.png").exists()
    import srop_onnx

    with srop_onnx.Tracker(tmp_path / "track", EXAMPLE_IMAGES, progress=False) as tracker:
        tracker.add(0, EXAMPLE)
    for args in (["--layers", "block"], ["--level", "0.5"], ["--by", "class"], ["--label", "x"]):
        res = CliRunner().invoke(main, ["plot", str(tmp_path / "track"), "-o", str(tmp_path / "t.png"), *args])
        assert res.exit_code == 2 and f"error: {args[0]} draws profiles or sweeps; " in res.output, res.output
    assert CliRunner().invoke(main, ["plot", str(tmp_path / "track"), "-o", str(tmp_path / "t.png")]).exit_code == 0


@pytest.mark.parametrize("size", [{"width": -1}, {"w": 3}, [3, 4], {"dpi": float("nan")}, {"height": True}])
def test_a_figure_size_that_cannot_be_drawn_is_refused_in_one_line(two, size):
    from srop_onnx.show.plots import plot_depth

    with pytest.raises(UsageError, match=r"^size must be a dict of positive numbers with keys width, height"):
        plot_depth([two[0]], size=size)
    assert plot_depth([two[0]], size={"width": 6, "dpi": 80}).dpi == 80  # (the legend widens it beside the axes)


def test_labels_are_one_per_file_or_refused(two, tmp_path):
    """A legend label too few (or too many) named the rest by their files, silently."""
    a, b, d = two
    import srop_onnx

    with pytest.raises(UsageError, match=r"^labels: 1 given for 2 profiles; give one per profile$"):
        srop_onnx.plot.box([a, b], labels=["trained"])
    with pytest.raises(UsageError, match=r"^labels: 3 given for 2 profiles"):
        srop_onnx.plot.depth([a, b], "input", ["x", "y", "z"])  # labels given by position too
    assert srop_onnx.plot.depth([a, b], labels=["x", "y"]) is not None
    res = CliRunner().invoke(main, ["plot", str(d / "a.json"), str(d / "b.json"), "--label", "x", "-o",
                                    str(tmp_path / "p.png")])
    assert res.exit_code == 2 and "error: --label: 1 given for 2 files; give one per file" in res.output
    assert not (tmp_path / "p.png").exists()


def test_a_folder_of_profiles_is_plotted_in_the_order_of_the_numbers_in_their_names(two, tmp_path, monkeypatch):
    """A sweep's --profiles folder: `plot lv/` said "is a folder, not a profile file", and the shell's
    `lv/*.json` puts level-0.5 before level-0.25 (and level-10 before level-2)."""
    from srop_onnx.show import plots as P

    folder = tmp_path / "lv"
    folder.mkdir()
    for name in ("level-0.5", "level-10", "level-0.25", "level-2"):
        two[0].to_json(folder / f"{name}.json")
    (folder / "notes.txt").write_text("not a profile")
    drawn = []
    monkeypatch.setattr(P, "save_figure", lambda fig, path: drawn.append(fig))
    result = CliRunner().invoke(main, ["plot", str(folder), "-o", str(tmp_path / "d.png")])
    assert result.exit_code == 0, result.output
    names = [t.get_text() for t in drawn[0].legends[0].get_texts() if "baseline" not in t.get_text()]
    assert names == ["level-0.25", "level-0.5", "level-2", "level-10"]
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(main, ["plot", str(empty), "-o", str(tmp_path / "e.png")])
    assert result.exit_code == 2 and "empty: a folder with no .json profile in it" in result.output
    assert not (tmp_path / "e.png").exists()
