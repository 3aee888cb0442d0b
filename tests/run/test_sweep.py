"""The paper's input sanity checks as one command (issue 17): blend and noise sweeps."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import EXAMPLE, EXAMPLE_IMAGES
from srop_onnx import InputDataError, Profile, UsageError, analyze
from srop_onnx.cli import main
from srop_onnx.results.comparison import check
from srop_onnx.run.sweeps import Sweep, load_result, merge_sweeps, parse_levels, sweep

BLEND = EXAMPLE_IMAGES / "disk_0.png"


def _stats(p: Profile):
    return [(lay.tensor, lay.stats) for lay in p.layers]


@pytest.fixture(scope="module")
def blend_sweep():
    return sweep(EXAMPLE, EXAMPLE_IMAGES, levels="0,0.5,1", blend=BLEND, batch_size=3)


def test_levels_parse_lists_and_progressions():
    assert parse_levels("0,0.1,...,0.5") == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    assert parse_levels("1, 0, 0.5, 0.5") == [0.0, 0.5, 1.0]
    for bad in ("", "a,b", "0,0.1,...", "0,...,1", "-1,0", "0,0.1,...,-1", "nan"):
        with pytest.raises(UsageError, match="^levels"):
            parse_levels(bad)


@pytest.mark.parametrize("levels", [None, ["a"], 5])
def test_levels_that_are_not_numbers_are_one_line_from_python(levels):
    with pytest.raises(UsageError, match=r"levels must be numbers like \[0, 0.5, 1\] or text like '0,0.1,...,1'"):
        sweep(EXAMPLE, EXAMPLE_IMAGES, levels=levels, noise="gaussian")


def test_level_zero_equals_a_plain_analyze_exactly(blend_sweep):
    plain = analyze(EXAMPLE, EXAMPLE_IMAGES, batch_size=3)
    level0 = blend_sweep.profile(0)
    assert _stats(level0) == _stats(plain)
    assert level0.extra["baseline"] == plain.extra["baseline"]
    assert level0.settings == plain.settings  # a level profile is a profile check/compare accept
    assert check(level0, plain, tol=0.0).passed


def test_blend_weight_one_gives_the_profile_of_the_blended_image_alone(blend_sweep, tmp_path):
    """At w = 1 every input is the blend image: the same statistics as analysing it 8 times."""
    copies = tmp_path / "copies"
    copies.mkdir()
    for i in range(8):
        shutil.copy(BLEND, copies / f"c{i}.png")
    alone = analyze(EXAMPLE, copies, batch_size=3)
    assert _stats(blend_sweep.profile(1)) == _stats(alone)
    assert blend_sweep.profile(1).extra["baseline"]["chain"] == alone.extra["baseline"]["chain"]
    # and in between, something else: the blend really mixes
    assert _stats(blend_sweep.profile(0.5)) != _stats(alone)


def test_output_change_is_zero_at_level_zero(blend_sweep, fixtures):
    first = blend_sweep.points[0].change
    # the example's output is (8, 4) logits: both measures recorded, the relative change shown (not a
    # probability vector); at level 0 nothing changed
    assert (first.top1, first.rows, first.relative, first.cells) == (1.0, 8, 0.0, 32)
    assert (first.shown, first.value) == ("relative_change", 0.0)
    assert [p.change.rows for p in blend_sweep.points] == [8, 8, 8]
    # a non-classifier output (an NHWC feature map): relative change only, 0 at level 0
    x = np.random.default_rng(0).standard_normal((4, 16, 16, 3)).astype(np.float32)
    sw = sweep(fixtures["nhwc"], x, levels=[0.5, 1.0], noise="uniform", output="r1_nhwc_relu")
    assert sw.levels == [0.0, 0.5, 1.0]  # level 0 added as the reference
    assert sw.points[0].change.shown == "relative_change" and sw.points[0].change.value == 0.0
    assert sw.points[0].change.top1 is None  # not rank 2: no top-1 agreement at all
    assert 0 < sw.points[1].change.value < sw.points[2].change.value


def test_seeded_noise_repeats_and_another_seed_differs():
    def run(seed):
        sw = sweep(EXAMPLE, EXAMPLE_IMAGES, levels="0,1", noise="gaussian", seed=seed, batch_size=4)
        d = sw.to_dict()
        for p in d["points"]:
            p["profile"]["extra"].pop("run", None)
        return d

    a, b = run(7), run(7)
    assert a == b
    c = run(8)
    assert c["points"][0]["profile"]["layers"] == a["points"][0]["profile"]["layers"]  # level 0 has no noise
    assert c["points"][0]["profile"]["extra"]["sweep"]["seed"] == 8
    assert c["points"][1]["profile"]["layers"] != a["points"][1]["profile"]["layers"]


def test_noise_does_not_depend_on_batching_and_shards_merge_exactly():
    whole = sweep(EXAMPLE, EXAMPLE_IMAGES, levels="0,0.5", noise="gaussian", seed=1, batch_size=8)
    parts = [sweep(EXAMPLE, EXAMPLE_IMAGES, levels="0,0.5", noise="gaussian", seed=1, batch_size=3, shard=(i, 3))
             for i in (1, 2, 3)]
    merged = merge_sweeps(parts)
    for a, b in zip(merged.points, whole.points):
        assert _stats(a.profile) == _stats(b.profile)
        assert (a.change.agree, a.change.rows, a.change.cells) == (b.change.agree, b.change.rows, b.change.cells)
        assert a.change.relative == pytest.approx(b.change.relative, rel=1e-12)


def test_sweep_json_round_trips_and_levels_are_profiles(blend_sweep, tmp_path):
    path = tmp_path / "s.json"
    blend_sweep.to_json(path)
    again = load_result(path)
    assert isinstance(again, Sweep) and again.levels == blend_sweep.levels
    assert _stats(again.profile(0.5)) == _stats(blend_sweep.profile(0.5))
    verdict = json.loads(path.read_text())["verdict"]
    assert verdict["summary"].startswith("mean SROP from w=0 to w=1 (band units): shallow ")
    assert len(verdict["thirds"]) == 3 and verdict["output_change"][0] == 0.0
    assert verdict["measure"] == "relative_change"
    with pytest.raises(InputDataError, match="is a sweep of 3 levels, not one profile; .*--profiles DIR"):
        Profile.load(path)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_sweep_cli_writes_everything_and_the_files_work_with_the_other_commands(tmp_path):
    out = tmp_path / "s.json"
    res = run("sweep", EXAMPLE, EXAMPLE_IMAGES, "--blend", BLEND, "--levels", "0,0.5,...,1", "-o", out,
              "--profiles", tmp_path / "levels", "--plot", tmp_path / "s.png", "--report", tmp_path / "s.html")
    assert res.exit_code == 0, res.output
    assert "rel. change" in res.output and "mean SROP from w=0 to w=1" in res.output
    assert sorted(p.name for p in (tmp_path / "levels").iterdir()) == ["level-0.5.json", "level-0.json", "level-1.json"]
    plain = tmp_path / "plain.json"
    assert run("analyze", EXAMPLE, EXAMPLE_IMAGES, "-q", "--json", plain).exit_code == 0
    res = run("check", tmp_path / "levels" / "level-0.json", "--against", plain, "--tol", "0")
    assert res.exit_code == 0, res.output
    assert run("compare", plain, tmp_path / "levels" / "level-1.json").exit_code == 0
    for args in (("--kind", "sweep"), ("--kind", "sweep", "--by", "layer"), ("--kind", "kde", "--level", "0,1"),
                 ("--kind", "depth", "--level", "0.5")):
        res = run("plot", out, "-o", tmp_path / "p.png", *args)
        assert res.exit_code == 0, res.output
        assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    res = run("report", out, "-o", tmp_path / "r.html")
    assert res.exit_code == 0, res.output
    tags = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag, attrs):
            tags.append(tag)

    Tags().feed((tmp_path / "r.html").read_text())
    assert "script" not in tags and tags.count("img") == 3 and "table" in tags
    res = run("merge", out, "-o", tmp_path / "m.json")
    assert res.exit_code == 2 and "not a partial profile" in res.output  # made without --shard


@pytest.mark.parametrize("args, message", [
    (("--blend", BLEND, "--noise", "gaussian", "--levels", "0,1"), "exactly one of --blend IMAGE or --noise"),
    (("--levels", "0,1"), "exactly one of --blend IMAGE or --noise"),
    (("--noise", "gaussian", "--levels", "0,x"), "--levels must be numbers"),
    (("--blend", "missing.png", "--levels", "0,1"), "--blend missing.png: no such file"),
    (("--noise", "gaussian", "--levels", "0,1", "--output", "nope"), "--output: the model has no output 'nope'"),
    (("--kind", "depth"), None),
])
def test_sweep_cli_errors_are_one_line(args, message, tmp_path):
    if message is None:  # a sweep file drawn as a profile kind without --level
        sw = tmp_path / "s.json"
        sweep(EXAMPLE, EXAMPLE_IMAGES, levels="0,1", noise="uniform").to_json(sw)
        res = run("plot", sw, "-o", tmp_path / "p.png", *args)
        message = "of a sweep draws one level: add --level W"
    else:
        res = run("sweep", EXAMPLE, EXAMPLE_IMAGES, *args)
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert [ln for ln in res.output.splitlines() if ln.startswith("error:")] == [res.output.strip().splitlines()[-1]]
    assert message in res.output


def test_a_plot_path_the_sweep_cannot_draw_is_refused_before_the_sweep(tmp_path, monkeypatch):
    import srop_onnx.run.sweeps as sweeps

    ran = []
    monkeypatch.setattr(sweeps, "run_sweep", lambda *a, **k: ran.append(1))
    res = run("sweep", EXAMPLE, EXAMPLE_IMAGES, "--noise", "gaussian", "--levels", "0,1", "-o", tmp_path / "s.json",
              "--plot", tmp_path / "s.jpg")
    assert res.exit_code == 2 and f"error: --plot {tmp_path / 's.jpg'}: plot file must end in .png, .svg or .pdf" \
        in res.output
    assert ran == [] and not (tmp_path / "s.json").exists()


def test_max_memory_tap_groups_give_the_same_sweep():
    """--max-memory splits the taps into passes: every level and the output change are unchanged."""
    whole = sweep(EXAMPLE, EXAMPLE_IMAGES, levels="0,1", noise="gaussian", batch_size=4)
    notes: list[str] = []
    split = sweep(EXAMPLE, EXAMPLE_IMAGES, levels="0,1", noise="gaussian", batch_size=4, max_memory=600_000,
                  notify=notes.append)
    assert any("passes per batch" in n for n in notes)
    for a, b in zip(split.points, whole.points):
        assert _stats(a.profile) == _stats(b.profile)
        assert a.change.to_dict() == b.change.to_dict()
