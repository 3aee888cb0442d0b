"""Issue 38 end to end: ``analyze --labels`` (folders, CSV, npz:KEY, Python), labels through shards,
merge and checkpoints, and the commands over labelled profiles: classes, outliers, compare --by
class (exit codes, JUnit, job summary) and the class plots."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import srop_onnx
from conftest import EXAMPLE, interrupted_at_batch, sha256
from srop_onnx.cli import main
from srop_onnx.errors import InputDataError, UsageError


def run(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def _image(rng, kind: str) -> Image.Image:
    """64x64 RGB: 'smooth' is a blurred blob field (low frequencies), 'sharp' fine noise."""
    if kind == "smooth":
        y, x = np.mgrid[0:64, 0:64] / 64.0
        f = rng.uniform(0.5, 1.5, 3)
        img = 0.5 + 0.5 * np.sin(2 * np.pi * (f[:, None, None] * x + rng.uniform(0, 1, (3, 1, 1))))
        img = img * (0.5 + 0.5 * y)
    else:
        img = rng.uniform(0, 1, (3, 64, 64))
    return Image.fromarray((np.moveaxis(img, 0, -1) * 255).astype(np.uint8))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """``data/smooth/*.png`` and ``data/sharp/*.png`` (6 each) and ``data/loose.png`` (no class)."""
    rng = np.random.default_rng(38)
    root = tmp_path_factory.mktemp("classes") / "data"
    for kind in ("smooth", "sharp"):
        (root / kind).mkdir(parents=True)
        for i in range(6):
            _image(rng, kind).save(root / kind / f"{i}.png")
    _image(rng, "smooth").save(root / "loose.png")
    return root


@pytest.fixture(scope="module")
def labelled(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("labelled") / "p.json"
    res = run("analyze", EXAMPLE, dataset, "--labels", "folders", "--json", out, "--batch-size", "4")
    assert res.exit_code == 0, res.output
    assert "1 of 13 sample(s) have no label, not in a class folder under the input argument" in res.output
    return out


def test_folders_label_each_sample_by_its_first_folder(labelled):
    d = json.loads(labelled.read_text())
    assert dict(zip(d["inputs"]["sources"], d["inputs"]["labels"])) == {
        **{f"sharp/{i}.png": "sharp" for i in range(6)}, **{f"smooth/{i}.png": "smooth" for i in range(6)},
        "loose.png": None}
    assert srop_onnx.Profile.load(labelled).labels == d["inputs"]["labels"]  # schema-valid and read back


def test_labels_change_no_number_of_the_profile(dataset, labelled):
    bare = srop_onnx.analyze(EXAMPLE, dataset, batch_size=4).to_dict()
    d = json.loads(labelled.read_text())
    assert d["inputs"].pop("labels") and d == json.loads(json.dumps(bare))


def test_a_csv_table_gives_the_same_labels_and_names_what_it_does_not_know(dataset, labelled, tmp_path):
    table = tmp_path / "labels.csv"
    rows = [f"{s},{lab}" for s, lab in zip(json.loads(labelled.read_text())["inputs"]["sources"],
                                             json.loads(labelled.read_text())["inputs"]["labels"]) if lab]
    table.write_text("path,label\n" + "\n".join(rows) + "\nghost/1.png,smooth\n")
    res = run("analyze", EXAMPLE, dataset, "--labels", table, "--json", tmp_path / "p.json", "--batch-size", "4")
    assert res.exit_code == 0, res.output
    assert f"{table}: 1 path(s) name no analysed sample: ghost/1.png" in res.output
    assert (tmp_path / "p.json").read_bytes() == labelled.read_bytes()


@pytest.mark.parametrize("text, message", [
    ("file,label\na.png,x\n", "no 'path' and 'label' columns"),
    ("path,label\na.png,x\na.png,y\n", "labelled both 'x' and 'y'"),
    ("path,label\na.png,\n", "'a.png' has an empty label"),
    ("path,label\n", "no rows under the header"),
])
def test_a_bad_label_table_is_one_line_naming_the_file(dataset, tmp_path, text, message):
    table = tmp_path / "bad.csv"
    table.write_text(text)
    res = run("analyze", EXAMPLE, dataset, "--labels", table)
    assert res.exit_code == 2 and message in res.output and str(table) in res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1


def test_an_unknown_labels_value_is_refused(dataset):
    res = run("analyze", EXAMPLE, dataset, "--labels", "classes")
    assert res.exit_code == 2 and "--labels takes 'folders', a CSV file (columns path,label) or npz:KEY" in res.output


def test_npz_labels_come_from_an_array_never_fed_to_the_model(tmp_path, rng):
    x = rng.uniform(0, 1, (5, 3, 64, 64)).astype(np.float32)
    np.savez(tmp_path / "batch.npz", images=x, y=np.array([3, 1, 3, 2, 1]))
    np.savez(tmp_path / "other.npz", images=x[:2])  # no labels' array: skipped, said why
    prof = srop_onnx.analyze(EXAMPLE, [tmp_path / "batch.npz"], labels="npz:y")
    assert prof.labels == ["3", "1", "3", "2", "1"] and prof.analyzed == 5
    assert prof.sources == [f"batch.npz[{i}]" for i in range(5)]
    plain = srop_onnx.analyze(EXAMPLE, x)
    assert [lay.stats.histogram.tolist() for lay in prof.layers] == [lay.stats.histogram.tolist() for lay in plain.layers]
    notes = []
    both = srop_onnx.analyze(EXAMPLE, [tmp_path / "batch.npz", tmp_path / "other.npz"], labels="npz:y",
                             notify=notes.append)
    assert both.analyzed == 5 and "no array 'y' for labels='npz:y' (it holds images)" in both.skipped_inputs[0]["reason"]
    np.savez(tmp_path / "short.npz", images=x, y=np.array([1, 2]))
    with pytest.raises(InputDataError, match=r"array 'y' has shape \(2,\), not one label per sample \(5\)"):
        srop_onnx.analyze(EXAMPLE, [tmp_path / "short.npz"], labels="npz:y", strict=True)


def test_python_takes_one_label_per_row_or_a_mapping(rng):
    x = rng.uniform(0, 1, (4, 3, 64, 64)).astype(np.float32)
    assert srop_onnx.analyze(EXAMPLE, x, labels=np.array([0, 1, 1, 0])).labels == ["0", "1", "1", "0"]
    assert srop_onnx.analyze(EXAMPLE, x, labels={"array[2]": "cat"}).labels == [None, None, "cat", None]
    with pytest.raises(UsageError, match="3 given for an array of 4 rows"):
        srop_onnx.analyze(EXAMPLE, x, labels=["a", "b", "c"])
    with pytest.raises(UsageError, match="for inputs in memory give one label per row"):
        srop_onnx.analyze(EXAMPLE, x, labels="folders")


def test_shards_merge_to_the_single_run_byte_for_byte(dataset, labelled, tmp_path):
    parts = []
    for i in (1, 2, 3):
        parts.append(tmp_path / f"s{i}.json")
        res = run("analyze", EXAMPLE, dataset, "--labels", "folders", "--shard", f"{i}/3", "--json", parts[-1], "-q",
                  "--batch-size", "4")
        assert res.exit_code == 0, res.output
    res = run("merge", *reversed(parts), "-o", tmp_path / "merged.json")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "merged.json").read_bytes() == labelled.read_bytes()
    bare = tmp_path / "bare.json"
    assert run("analyze", EXAMPLE, dataset, "--shard", "2/3", "--json", bare, "-q").exit_code == 0
    res = run("merge", parts[0], bare, parts[2], "-o", tmp_path / "mixed.json")
    assert res.exit_code == 2 and "has no labels and other shards have them" in res.output


def test_a_resumed_run_keeps_the_labels_of_what_it_restored(dataset, labelled, tmp_path, monkeypatch):
    ckpt = tmp_path / "c.ckpt"
    with interrupted_at_batch(monkeypatch):
        srop_onnx.analyze(EXAMPLE, dataset, labels="folders", batch_size=4, checkpoint=ckpt, checkpoint_every=1)
    assert json.loads(ckpt.read_text())["partial"]["inputs"]["labels"][:5] == [None] + ["sharp"] * 4
    resumed = srop_onnx.analyze(EXAMPLE, dataset, labels="folders", batch_size=4, checkpoint=ckpt)
    assert resumed.to_json() == labelled.read_text()
    with pytest.raises(UsageError, match="saved by a run with other arguments"):
        srop_onnx.analyze(EXAMPLE, dataset, batch_size=4, checkpoint=ckpt, labels={"loose.png": "x"})


def test_classes_prints_the_table_and_the_peaks(labelled, tmp_path):
    res = run("classes", labelled, "--csv", tmp_path / "c.csv")
    assert res.exit_code == 0, res.output
    for text in ("Mean SROP per class and layer", "sharp", "smooth", "stem.0", "block3.0", "peak at", "of 'sharp'",
                 "1 sample(s) without a label"):
        assert text in res.output
    lines = (tmp_path / "c.csv").read_text().splitlines()
    assert lines[0] == "index,layer,label,count,dead,mean,std,median,q1,q3,units" and len(lines) == 1 + 2 * 8


def test_outliers_lists_samples_by_score(labelled, tmp_path):
    res = run("outliers", labelled, "--top", "3", "--csv", tmp_path / "o.csv")
    assert res.exit_code == 0, res.output
    assert "Samples farthest from their own class (top 3 of 12 scored)" in res.output
    assert (tmp_path / "o.csv").read_text().splitlines()[0] == "rank,sample,source,label,score,layer,z"


def test_compare_by_class_passes_on_itself_and_fails_on_a_missing_class(dataset, labelled, tmp_path):
    junit = tmp_path / "j.xml"
    summary = tmp_path / "summary.md"
    # 6 vs 6 samples a class: two layers x two classes can reach Holm's p < 0.01, all 8 layers cannot
    res = run("compare", labelled, labelled, "--by", "class", "--layers", "^(stem.0|block3.0)$", "--junit", junit,
              env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert res.exit_code == 0 and "SAME:" in res.output and "in all 4 layer x class test(s)" in " ".join(res.output.split())
    assert ET.parse(junit).getroot().get("failures") == "0"
    res = run("compare", labelled, labelled, "--by", "class", "--junit", junit,
              env={"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_ACTIONS": "true"})
    assert res.exit_code == 2, res.output
    assert any(line.startswith("::error title=SROP class comparison%3A cannot tell::CANNOT TELL: none of the 16")
               for line in res.output.splitlines())
    assert ("CANNOT TELL: none of the 16 layer x class test(s) of " in " ".join(res.output.split())
            and "too few samples in 2 class(es): 'sharp' (6 vs 6), 'smooth' (6 vs 6)" in " ".join(res.output.split()))
    assert "no test could show a difference, which is not a pass (CANNOT TELL above)" in " ".join(res.output.split())
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite.get("skipped") == "2" and suite.get("failures") == "0"
    assert "cannot tell in 8 layer(s)" in suite.find(".//testcase[@name='class sharp']/skipped").get("message")
    assert "### srop-onnx compare --by class: CANNOT TELL" in summary.read_text()
    only = tmp_path / "smooth-only.json"
    res = run("analyze", EXAMPLE, dataset / "smooth", dataset / "sharp" / "0.png", "--labels",
              _table(tmp_path, ["0.png"] + [f"{i}.png" for i in range(6)], "smooth"), "--json", only, "-q")
    assert res.exit_code == 0, res.output
    res = run("compare", labelled, only, "--by", "class", "--permutations", "199", "--junit", junit,
              env={"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_ACTIONS": "true"})
    assert res.exit_code == 1, res.output
    assert "::error title=SROP class difference%3A sharp::class 'sharp' is in the benchmark and missing" in res.output
    assert "missing from the custom set: sharp" in res.output or "missing from the custom set: 'sharp'" in res.output
    root = ET.parse(junit).getroot()
    assert root.get("failures") == "1" and root.find(".//testcase[@name='class sharp']/failure") is not None
    assert "DIFFERENT" in summary.read_text()
    res = run("compare", labelled, only, "--alpha", "0.1")
    assert res.exit_code == 2 and "--alpha go(es) with --by class" in res.output


def _table(tmp_path, names, label) -> str:
    path = tmp_path / "one.csv"
    path.write_text("path,label\n" + "".join(f"{n},{label}\n" for n in names))
    return str(path)


def test_commands_over_a_profile_without_labels_say_how_to_get_them(tmp_path):
    bare = tmp_path / "bare.json"
    assert run("analyze", EXAMPLE, EXAMPLE.parent / "images", "--json", bare, "-q").exit_code == 0
    for args in (("classes", bare), ("outliers", bare), ("compare", bare, bare, "--by", "class")):
        res = run(*args)
        assert res.exit_code == 2 and "has no labels; analyse with --labels" in res.output, args


def test_class_plots_draw_one_curve_per_class_and_the_heatmap(labelled, tmp_path):
    before = sha256(labelled)
    for args in (("--kind", "kde", "--by", "class"), ("--kind", "classes")):
        out = tmp_path / f"{args[1]}.png"
        res = run("plot", labelled, *args, "-o", out)
        assert res.exit_code == 0, res.output
        assert Image.open(out).size[0] > 300
    res = run("plot", labelled, labelled, "--kind", "kde", "--by", "class", "-o", tmp_path / "two.svg")
    assert res.exit_code == 0 and "benchmark: " in (tmp_path / "two.svg").read_text()
    res = run("plot", labelled, "--kind", "box", "--by", "class", "-o", tmp_path / "x.png")
    assert res.exit_code == 2 and "--by class draws labelled profiles with --kind kde" in res.output
    assert sha256(labelled) == before


def test_notebook_views_and_the_report_show_the_classes(labelled, tmp_path):
    prof = srop_onnx.Profile.load(labelled)
    html = prof.by_class()._repr_html_()
    assert "Mean SROP per class and layer" in html and "<td class=\"l\">sharp</td>" in html and "peak at" in html
    result = srop_onnx.compare(prof, prof, by="class", layers="^(stem.0|block3.0)$")
    assert "SAME" in result._repr_html_() and "<table>" in result._repr_html_()
    result = srop_onnx.compare(prof, prof, by="class", permutations=99)  # 99 splits: no p below 0.01
    assert result.outcome == "CANNOT TELL" and not result.decided and "CANNOT TELL" in result._repr_html_()
    assert "too few samples" in result.verdict() and "permutations" not in result.verdict()  # 6 vs 6 is the limit
    few = srop_onnx.compare(prof, prof, by="class", permutations=99, layers="^(stem.0|block3.0)$")
    assert few.outcome == "CANNOT TELL" and few.verdict().endswith(
        "permutations=99 gives no p below 0.01, and 4 tests need one below 0.0025: give permutations=9999, or test "
        "fewer layers with layers='REGEX'")
    assert srop_onnx.compare(prof, prof, by="class", permutations=9999, layers="^(stem.0|block3.0)$").decided
    res = run("report", labelled, labelled, "-o", tmp_path / "r.html")
    assert res.exit_code == 0, res.output
    text = (tmp_path / "r.html").read_text()
    assert "<h2>Per class (labels)</h2>" in text and text.count("Mean SROP per class and layer") == 2
    bare = tmp_path / "bare.json"
    assert run("analyze", EXAMPLE, EXAMPLE.parent / "images", "--json", bare, "-q", "--report",
               tmp_path / "b.html").exit_code == 0
    assert "Per class" not in (tmp_path / "b.html").read_text()
