"""The public functions that take results take the paths of their files too, as the command line
does: ``check(profile, "golden.json")``, ``compare("a.json", "b.json")``, ``plot.depth(["a.json"])``."""

from __future__ import annotations

import pytest

import srop_onnx
from conftest import EXAMPLE, EXAMPLE_IMAGES, EXAMPLE_RANDOM
from srop_onnx import UsageError


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("results")
    trained = srop_onnx.analyze(EXAMPLE, EXAMPLE_IMAGES)
    twin = srop_onnx.analyze(EXAMPLE_RANDOM, EXAMPLE_IMAGES)
    trained.to_json(d / "trained.json")
    twin.to_json(d / "twin.json")
    for i in (1, 2):
        srop_onnx.analyze(EXAMPLE, EXAMPLE_IMAGES, shard=(i, 2)).to_json(d / f"part{i}.json")
    sweep = srop_onnx.sweep(EXAMPLE, EXAMPLE_IMAGES, levels="0,1", noise="gaussian")
    sweep.to_json(d / "sweep.json")
    return {"dir": d, "trained": trained, "twin": twin, "sweep": sweep}


def test_check_and_compare_read_the_files_they_are_given(files):
    d = files["dir"]
    by_path = srop_onnx.check(d / "twin.json", str(d / "trained.json"), tol=0.02)
    by_object = srop_onnx.check(files["twin"], files["trained"], tol=0.02)
    assert bool(by_path) == bool(by_object) and by_path.table().split("\n")[1:] == by_object.table().split("\n")[1:]
    assert "trained.json" in str(by_path)  # the golden named by its file
    comp = srop_onnx.compare(d / "trained.json", files["twin"])
    same = srop_onnx.compare(files["trained"], files["twin"])
    assert [(p.a.name, p.b.name) for p in comp.pairs] == [(p.a.name, p.b.name) for p in same.pairs]
    assert comp.a.to_dict()["layers"] == files["trained"].to_dict()["layers"] and comp.names[0] == "trained.json"


def test_merge_reads_the_parts_it_is_given(files):
    d = files["dir"]
    merged = srop_onnx.merge_profiles([d / "part2.json", str(d / "part1.json")])
    assert merged.to_dict()["layers"] == files["trained"].to_dict()["layers"]


def test_plots_read_one_file_or_a_list(files):
    d = files["dir"]
    fig = srop_onnx.plot.depth([d / "trained.json", files["twin"]], labels=["trained", "twin"])
    assert len(fig.axes[0].get_lines()) >= 2
    assert srop_onnx.plot.depth(d / "trained.json").axes  # one file, no list
    assert srop_onnx.plot.sweep(d / "sweep.json").axes and srop_onnx.plot.sweep_kde(str(d / "sweep.json")).axes
    assert srop_onnx.plot.plot([str(d / "trained.json")], kind="box").axes


@pytest.mark.parametrize("call, message", [
    (lambda f: srop_onnx.check(f["trained"], 5), r"^golden: a Profile or the path of its file, got int$"),
    (lambda f: srop_onnx.compare(None, f["trained"]), r"^a: a Profile or the path of its file, got NoneType$"),
    (lambda f: srop_onnx.plot.depth([f["trained"], 3]), r"^profiles\[1\]: a Profile or the path of its file, got int$"),
    (lambda f: srop_onnx.plot.sweep_kde(f["trained"]), r"^sw: a Sweep or the path of its file, got Profile$"),
    (lambda f: srop_onnx.merge_profiles(7), r"^parts: Profiles or the paths of their files, got int$"),
])
def test_what_is_not_a_result_is_refused_in_one_line(files, call, message):
    with pytest.raises(UsageError, match=message):
        call(files)


def test_a_missing_file_says_so(files):
    with pytest.raises(srop_onnx.SropError, match=r"nope\.json"):
        srop_onnx.check(files["trained"], files["dir"] / "nope.json")
