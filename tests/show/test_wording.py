"""Issue 30: one wording per fact across the CLI, Python, notebooks and reports; one DataFrame
schema; no raw Python reprs in what people read; comparisons labelled by their files."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

import srop_onnx
from conftest import EXAMPLE, EXAMPLE_IMAGES, EXAMPLE_RANDOM
from srop_onnx.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("wording")
    for name, model in (("p1.json", EXAMPLE), ("twin.json", EXAMPLE_RANDOM)):
        res = CliRunner().invoke(main, ["analyze", str(model), str(EXAMPLE_IMAGES), "-q", "--json", str(d / name)])
        assert res.exit_code == 0, res.output
    sw = srop_onnx.sweep(str(EXAMPLE), str(EXAMPLE_IMAGES), noise="gaussian", levels=[0, 0.5], limit=2)
    return d, sw


def test_the_check_verdict_reads_the_same_in_the_cli_and_in_python(files):
    d, _ = files
    res = CliRunner().invoke(main, ["check", str(d / "twin.json"), "--against", str(d / "p1.json"), "--tol", "0.02"])
    result = srop_onnx.check(srop_onnx.Profile.load(d / "twin.json"), srop_onnx.Profile.load(d / "p1.json"), tol=0.02)
    assert res.exit_code == 1
    cli_line = res.output.strip().splitlines()[-1]
    assert cli_line == result.verdict().replace(str(d / "p1.json"), str(d / "p1.json"))[: len(cli_line)]
    assert cli_line.startswith("FAILED: ") and " layer(s) drifted (mean, tol 0.02, band units) from " in cli_line
    assert str(result).splitlines()[0] == result.verdict() + ":"


def test_dead_maps_are_written_one_way_everywhere(files):
    d, _ = files
    p = srop_onnx.Profile.load(d / "p1.json")
    st = p.layers[0].stats
    want = f"{st.dead}/{st.count + st.dead + st.nonfinite}"
    term = CliRunner().invoke(main, ["analyze", str(EXAMPLE), str(EXAMPLE_IMAGES)]).output
    assert re.search(rf"\b{re.escape(want)}\b", term)
    assert f"<td>{want}</td>" in p._repr_html_()
    report = d / "r.html"
    assert CliRunner().invoke(main, ["report", str(d / "p1.json"), "-o", str(report)]).exit_code == 0
    assert f"<td>{want}</td>" in report.read_text()


def test_no_python_reprs_in_reports_or_notebooks(files):
    d, sw = files
    from srop_onnx.show.htmlreport import sweep_report

    for html in (sweep_report(sw), sw._repr_html_()):
        text = re.sub(r"data:image/png;base64,[^\"]+", "", html)
        assert "{'" not in text and "['" not in text, text[:400]
        assert "gaussian noise (seed 0)" in text
    report = d / "r2.html"
    CliRunner().invoke(main, ["report", str(d / "p1.json"), "-o", str(report)])
    assert "['Conv'" not in report.read_text() and "Conv, ConvTranspose" in report.read_text()


def test_a_comparison_is_labelled_by_its_files_and_has_a_short_repr(files):
    d, _ = files
    comp = srop_onnx.compare(srop_onnx.Profile.load(d / "p1.json"), srop_onnx.Profile.load(d / "twin.json"))
    assert comp.names == ("p1.json", "twin.json")
    assert len(repr(comp)) < 200 and repr(comp).startswith("<Comparison A=p1.json B=twin.json: 8 pairs")
    same = srop_onnx.compare(srop_onnx.Profile.load(d / "p1.json"), srop_onnx.Profile.load(d / "p1.json"))
    assert same.names == ("p1.json (A)", "p1.json (B)")


def test_every_frame_speaks_one_schema(files):
    pytest.importorskip("pandas")
    from srop_onnx.results.frames import SCHEMA

    d, sw = files
    p, twin = srop_onnx.Profile.load(d / "p1.json"), srop_onnx.Profile.load(d / "twin.json")
    frames = [p.to_dataframe(), p.to_dataframe(per="sample"), p.to_dataframe(per="channel"), sw.to_dataframe(),
              srop_onnx.check(twin, p).to_dataframe(), srop_onnx.compare(p, twin).to_dataframe()]
    seen: dict[str, set] = {}
    for frame in frames:
        assert "name" not in frame.columns  # the layer is "layer" in every frame
        assert "layer" in frame.columns or "layer_a" in frame.columns
        for col in frame.columns:
            seen.setdefault(col, set()).add(str(frame[col].dtype))
            assert col in SCHEMA, f"{col} is not in the documented schema"
    assert {c: t for c, t in seen.items() if len(t) > 1} == {}
    assert seen["height"] == {"Int64"} and seen["index"] == {"Int64"} and seen["mean"] == {"float64"}
    import srop_onnx as s

    doc = (s.__file__ and __import__("pathlib").Path(s.__file__).resolve().parents[1] / "docs" / "python.md").read_text()
    for col in SCHEMA:
        assert f"`{col}`" in doc, f"{col} is not documented in docs/python.md"
