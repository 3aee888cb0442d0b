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


def test_a_sweep_verdict_shows_as_many_decimals_as_the_change_needs(monkeypatch):
    """Issue 32: "middle rose 0.857 -> 0.857" for 0.8565 -> 0.8574 said nothing; an equal pair stays."""
    from types import SimpleNamespace

    import srop_onnx.results.sweepresult as sr

    series = {0: [0.6751, 0.8565, 0.8930], 1: [0.7812, 0.8574, 0.8930]}
    points = [SimpleNamespace(profile=i, level=float(i), change=SimpleNamespace(value=None, shown=None))
              for i in (0, 1)]
    monkeypatch.setattr(sr, "third_means", lambda profile, units="band": series[profile])
    text = sr.sweep_verdict(SimpleNamespace(points=points, levels=[0.0, 1.0]))["summary"]
    assert "shallow rose 0.675 -> 0.781" in text
    assert "middle rose 0.8565 -> 0.8574" in text and "0.857 -> 0.857" not in text
    assert "deep stayed at 0.893" in text


def test_the_twin_says_that_recurrent_layers_keep_their_weights():
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    init = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), n)
            for n, s in (("w", (4, 1, 3, 3)), ("gw", (1, 12, 4)), ("gr", (1, 12, 4)))]
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("GRU", ["seq", "gw", "gr"], ["y", "h"], name="gru", hidden_size=4)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8]),
                                           helper.make_tensor_value_info("seq", TensorProto.FLOAT, [5, 1, 4])],
                              [helper.make_tensor_value_info("c", TensorProto.FLOAT, None),
                               helper.make_tensor_value_info("h", TensorProto.FLOAT, None)], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    twin, report = srop_onnx.randomize(model)
    text = report.describe()
    assert text.startswith("1 of 1 weight-bearing layer(s) re-initialised")
    assert "1 recurrent layer(s) (gru) keep their trained weights" in text
    assert report.to_dict()["recurrent"] == ["gru"]
    gru_w = {t.name: t for t in twin.graph.initializer}["gw"]
    assert np.array_equal(numpy_helper.to_array(gru_w), numpy_helper.to_array(init[1]))


def test_a_mistyped_command_points_at_the_group_help():
    res = CliRunner().invoke(main, ["analyse", "x"])
    assert res.exit_code == 2 and "(see 'srop-onnx --help')" in res.output
    assert "srop-onnx srop-onnx" not in res.output
    res = CliRunner().invoke(main, ["check", "--tol", "x"])
    assert "(see 'srop-onnx check --help')" in res.output


@pytest.mark.parametrize("args, line", [
    (["analyze", "m.onnx", "imgs", "--json"], "error: Option '--json' requires an argument (see 'srop-onnx analyze --help')"),
    (["plot", "p.json", "-o"], "error: Option '-o' requires an argument (see 'srop-onnx plot --help')"),
    (["--storage-option"], "error: Option '--storage-option' requires an argument (see 'srop-onnx --help')"),
    (["--bogus", "analyze"], "error: No such option '--bogus' (see 'srop-onnx --help')"),
])
def test_an_option_without_its_value_or_unknown_to_the_group_is_one_line_naming_the_right_help(args, line):
    """An option given last without its value pointed at the group's help, not its command's (click's
    parser gives no context); the group's own bad options printed click's usage block and 'Error:'."""
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2 and res.output.strip() == line
