"""Profiles in CI: compare, check, JUnit, annotations, baseline, randomized twin."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from make_models import make_model
from conftest import EXAMPLE, EXAMPLE_IMAGES, EXAMPLE_RANDOM, sha256
from reference import ref_bins, ref_max_pool2
from srop_onnx import Profile, UsageError, analyze
from srop_onnx.model.baseline import chain_spatial, nearest_side
from srop_onnx.cli import main
from srop_onnx.results.comparison import check, compare
from srop_onnx.model.twin import fan_in, randomize


def run(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


@pytest.fixture(scope="module")
def profiles(tmp_path_factory):
    d = tmp_path_factory.mktemp("profiles")
    paths = {"golden": d / "golden.json", "random": d / "random.json", "kappa": d / "kappa.json"}
    analyze(EXAMPLE, EXAMPLE_IMAGES).to_json(paths["golden"])
    analyze(EXAMPLE_RANDOM, EXAMPLE_IMAGES).to_json(paths["random"])
    analyze(EXAMPLE, EXAMPLE_IMAGES, kappa=0.9).to_json(paths["kappa"])
    return paths


def test_check_against_itself_passes(profiles, tmp_path):
    res = run("check", profiles["golden"], "--against", profiles["golden"], "--junit", tmp_path / "j.xml")
    assert res.exit_code == 0, res.output
    assert "PASS: 8 layer(s) within tolerance (mean, tol 0.02, band units) of" in res.output
    cases = ET.parse(tmp_path / "j.xml").getroot().findall(".//testcase")
    assert len(cases) == 8 and not ET.parse(tmp_path / "j.xml").getroot().findall(".//failure")


def test_check_against_randomized_twin_fails_naming_layers(profiles, tmp_path):
    golden = Profile.load(profiles["golden"])
    rand = Profile.load(profiles["random"])
    expected = sorted(lay.name for lay, twin in zip(golden.layers, rand.layers)
                      if abs(lay.summary().mean - twin.summary().mean) > 0.02)
    assert expected  # the twin really drifts somewhere
    res = run("check", profiles["random"], "--against", profiles["golden"], "--junit", tmp_path / "j.xml")
    assert res.exit_code == 1
    failed = sorted(line.split()[1].rstrip(":") for line in res.output.splitlines() if line.startswith("FAIL "))
    assert failed == expected
    root = ET.parse(tmp_path / "j.xml").getroot()
    names = [tc.get("name") for tc in root.findall(".//testcase")]
    assert names == [lay.name for lay in golden.layers]
    assert sorted(tc.get("name") for tc in root.findall(".//testcase") if tc.find("failure") is not None) == expected
    assert root.get("failures") == str(len(expected))


def test_github_annotations_for_failures(profiles):
    res = run("check", profiles["random"], "--against", profiles["golden"], env={"GITHUB_ACTIONS": "true"})
    errors = [line for line in res.output.splitlines() if line.startswith("::error ")]
    assert res.exit_code == 1 and errors and all("SROP drift" in e for e in errors)


def test_analyze_check_in_one_run(profiles):
    res = run("analyze", EXAMPLE, EXAMPLE_IMAGES, "-q", "--check", profiles["golden"])
    assert res.exit_code == 0 and "PASS" in res.output
    res = run("analyze", EXAMPLE_RANDOM, EXAMPLE_IMAGES, "-q", "--check", profiles["golden"], "--metric", "w1", "--tol", "0.001")
    assert res.exit_code == 1 and "W1" in res.output


def test_a_check_on_other_inputs_than_the_golden_s_says_so(profiles, tmp_path):
    """A golden of 8 images checked against a run of 2 (``--limit 2`` in a quick CI job) drifted with
    nothing to say that the inputs, not the model, had changed; the same inputs in another order or
    folder say nothing."""
    files = sorted(EXAMPLE_IMAGES.glob("*.png"))
    few = tmp_path / "few.json"
    assert run("analyze", EXAMPLE, EXAMPLE_IMAGES, "--limit", "2", "--json", few, "-q").exit_code == 0
    summary = tmp_path / "summary.md"
    res = run("check", few, "--against", profiles["golden"], env={"GITHUB_STEP_SUMMARY": str(summary)})
    note = ("the profile is of 2 input(s) and the golden of 8 (6 of the golden's are not in it): a drift may be the "
            "inputs', not the model's; check the same inputs the golden was made from")
    assert f"note: {note}" in " ".join(res.output.split())
    assert note in summary.read_text()
    result = check(few, profiles["golden"], tol=1.0)  # passes, and still says it
    assert result.passed and result.inputs_note == note and str(result).endswith(f"note: {note}")
    other = analyze(EXAMPLE, files[:7])
    assert "(1 of the golden's are not in it)" in check(other, profiles["golden"], tol=1.0).inputs_note
    moved = tmp_path / "moved"
    moved.mkdir()
    for f in files:
        (moved / f.name).write_bytes(f.read_bytes())
    same = analyze(EXAMPLE, moved)
    assert check(same, profiles["golden"]).inputs_note is None and "note:" not in str(check(same, profiles["golden"]))


def test_mismatched_settings_are_refused(profiles):
    res = run("check", profiles["kappa"], "--against", profiles["golden"])
    assert res.exit_code == 2 and "different settings (kappa: 0.9 vs 0.85)" in res.output
    with pytest.raises(UsageError, match="different settings"):
        compare(Profile.load(profiles["kappa"]), Profile.load(profiles["golden"]))


def test_units_are_recomputed_not_refused(profiles, tmp_path):
    prof = analyze(EXAMPLE, EXAMPLE_IMAGES, units="input")
    res = check(prof, Profile.load(profiles["golden"]), tol=1e-12)
    assert res.passed and res.units == "band"


def test_compare_matching_by_tensor_name_and_position(profiles):
    a = Profile.load(profiles["golden"])
    b = copy.deepcopy(a)
    for lay in b.layers:
        lay.tensor = "renamed_" + lay.tensor  # tensor names differ: module names match
    comp = compare(a, b)
    assert [p.matched_by for p in comp.pairs] == ["name"] * 8 and not comp.warnings
    c = copy.deepcopy(b)
    for lay in c.layers:
        lay.name = "other_" + lay.name
    comp = compare(a, c)
    assert [p.matched_by for p in comp.pairs] == ["position"] * 8 and comp.warnings
    d = copy.deepcopy(a)
    del d.layers[3]
    comp = compare(a, d)
    assert [lay.name for lay in comp.only_a] == [a.layers[3].name] and not comp.only_b
    res = check(d, a)
    assert not res.passed and any("missing from the profile" in lc.message for lc in res.failures)


def test_compare_cli_table(profiles):
    res = run("compare", profiles["golden"], profiles["random"])
    assert res.exit_code == 0 and "W1 (band)" in res.output and "block3.0" in res.output


def test_profile_file_errors(tmp_path):
    (tmp_path / "x.json").write_text("{not json")
    res = run("check", tmp_path / "x.json", "--against", tmp_path / "x.json")
    assert res.exit_code == 2 and "not JSON" in res.output
    (tmp_path / "y.json").write_text(json.dumps({"hello": 1}))
    res = run("compare", tmp_path / "y.json", tmp_path / "y.json")
    assert res.exit_code == 2 and "not a srop-onnx profile" in res.output


# -- baseline (docs/baseline-and-twin.md) -------------------------------------------------------------
@pytest.mark.parametrize("n, sides, expected", [
    (55, [224, 112, 56, 28, 14, 7], 56), (27, [224, 112, 56, 28, 14, 7], 28), (13, [224, 112, 56, 28, 14, 7], 14),
    (21, [28, 14], 28), (42, [56, 28], 56), (10, [14, 6], 14), (7, [7], 7),
])
def test_nearest_side_ties_go_to_the_larger(n, sides, expected):
    assert nearest_side(sides, n) == expected


def test_chain_spatial_halves_while_maps_have_a_spectrum():
    assert chain_spatial((64, 64)) == [(64, 64), (32, 32), (16, 16), (8, 8)]  # 4x4: m = 1
    assert chain_spatial((55, 55)) == [(55, 55), (27, 27), (13, 13), (6, 6)]  # floor mode
    assert chain_spatial((7, 40)) == [(7, 40), (3, 20)]  # then (1, 10): a side of 1 has no spectrum
    assert chain_spatial((64,)) == [(64,), (32,), (16,), (8,), (4,)]  # 1-D: L // 2 >= 2
    assert chain_spatial((5, 5)) == []


def test_baseline_on_white_noise_matches_reference(rng):
    x = rng.standard_normal((4, 3, 64, 64)).astype(np.float32)
    x[2, 1, 9, 10] = np.nan  # this map is non-finite at every level of the chain
    prof = analyze(EXAMPLE, x)
    chain = {c["side"]: c for c in prof.extra["baseline"]["chain"]}
    states = {st["side"]: st for st in prof.extra["baseline"]["state"]}
    level = x.astype(np.float64)
    for side in (64, 32, 16, 8):
        ref = ref_bins(level)
        live = ref[ref >= 0]
        assert chain[side]["count"] == live.size == ref.size - 1
        assert states[side]["nonfinite"] == 1
        assert chain[side]["mean_band"] == pytest.approx(live.mean() / chain[side]["m"], abs=1e-12)
        level = ref_max_pool2(level)
    for lay in prof.layers:
        assert lay.baseline["side"] == lay.side
    table = prof.extra["baseline"]["table"]
    assert [row["side"] for row in table] == [64, 32, 16, 8]


# -- randomized twin (docs/baseline-and-twin.md) --------------------------------------------------------
def _twin_fixture():
    rng = np.random.default_rng(0)
    w_big = rng.standard_normal((64, 32, 3, 3)).astype(np.float32)
    w_shared = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)
    fc = rng.standard_normal((512, 100)).astype(np.float32)
    inits = [numpy_helper.from_array(a, n) for n, a in (
        ("w_big", w_big), ("b_big", np.ones(64, np.float32)), ("w_shared", w_shared), ("fc", fc),
        ("fc_t", rng.standard_normal((10, 100)).astype(np.float32)),
        ("s", np.full(64, 3.0, np.float32)), ("bb", np.full(64, 2.0, np.float32)),
        ("mu", np.full(64, 5.0, np.float32)), ("var", np.full(64, 9.0, np.float32)),
        ("other", np.full(3, 7.0, np.float32)))]
    w_const = rng.standard_normal((32, 3, 3, 3)).astype(np.float32)
    nodes = [
        helper.make_node("Constant", [], ["w_const"], value=numpy_helper.from_array(w_const, "w_const")),
        helper.make_node("Conv", ["x", "w_const"], ["a"], name="c0", pads=[1] * 4),
        helper.make_node("Conv", ["a", "w_shared"], ["b"], name="c1", pads=[1] * 4),
        helper.make_node("Conv", ["b", "w_shared"], ["c"], name="c2", pads=[1] * 4),
        helper.make_node("Conv", ["c", "w_big", "b_big"], ["d"], name="c3", pads=[1] * 4),
        helper.make_node("BatchNormalization", ["d", "s", "bb", "mu", "var"], ["e"], name="bn"),
        helper.make_node("GlobalAveragePool", ["e"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "fc"], ["h"], name="fc1"),
        helper.make_node("Gemm", ["h", "fc_t"], ["y"], name="fc2", transB=1),
        helper.make_node("Identity", ["y"], ["z"]),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 16, 16])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, None)
    return make_model(helper.make_graph(nodes, "twin", [x], [z], inits), opset_imports=[helper.make_opsetid("", 17)])


def _arrays(model):
    out = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "Constant":
            out[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    return out


def test_twin_statistics_and_invariants():
    model = _twin_fixture()
    before = model.SerializeToString()
    twin, report = randomize(model, seed=7)
    assert model.SerializeToString() == before
    a = _arrays(twin)
    # large tensors: within a few percent; the small Constant weight (864 values): within sampling noise
    for name, op, tb, rel in (("w_big", "Conv", 0, 0.03), ("w_shared", "Conv", 0, 0.03), ("fc", "Gemm", 0, 0.03),
                              ("w_const", "Conv", 0, 0.15)):
        expected = np.sqrt(2 / fan_in(op, a[name].shape, tb))
        assert a[name].std() == pytest.approx(expected, rel=rel), name
        assert abs(a[name].mean()) < 5 * expected / np.sqrt(a[name].size)  # 5 standard errors
    assert fan_in("Gemm", (10, 100), 1) == 100 and fan_in("Conv", (64, 32, 3, 3)) == 288
    assert np.all(a["b_big"] == 0)
    assert np.all(a["s"] == 1) and np.all(a["bb"] == 0) and np.all(a["mu"] == 0) and np.all(a["var"] == 1)
    assert np.all(a["other"] == 7.0)  # not a weight: untouched
    assert report.weights.count("w_shared") == 1  # shared weight re-initialised once
    # the graph is otherwise unchanged
    strip = lambda m: [(n.op_type, list(n.input), list(n.output)) for n in m.graph.node]  # noqa: E731
    assert strip(twin) == strip(model)
    assert [i.name for i in twin.graph.initializer] == [i.name for i in model.graph.initializer]
    # reproducible with the seed, different with another
    again, _ = randomize(model, seed=7)
    other, _ = randomize(model, seed=8)
    assert again.SerializeToString() == twin.SerializeToString()
    assert not np.array_equal(_arrays(other)["w_big"], a["w_big"])


def test_randomize_cli_writes_twin_and_protects_input(tmp_path):
    before = sha256(EXAMPLE)
    res = run("randomize", EXAMPLE, "-o", tmp_path / "twin.onnx", "--seed", "0")
    assert res.exit_code == 0, res.output
    assert onnx.load(str(tmp_path / "twin.onnx")).graph.node
    assert sha256(tmp_path / "twin.onnx") == sha256(EXAMPLE_RANDOM)  # the shipped twin is this, seed 0
    res = run("randomize", EXAMPLE, "-o", EXAMPLE)
    assert res.exit_code == 2 and "that is the model" in res.output and "refusing to overwrite it" in res.output
    assert sha256(EXAMPLE) == before


def test_vs_random_json_holds_both_and_a_verdict(tmp_path):
    res = run("analyze", EXAMPLE, EXAMPLE_IMAGES, "--vs-random", "--json", tmp_path / "v.json")
    assert res.exit_code == 0, res.output
    assert "verdict:" in res.output
    d = json.loads((tmp_path / "v.json").read_text())
    vr = d["extra"]["vs_random"]
    assert vr["verdict"]["verdict"] in ("consistent", "inconsistent", "mixed")
    assert vr["twin"]["format"] == "srop-onnx-profile" and len(vr["twin"]["layers"]) == len(d["layers"])
    golden_twin = analyze(EXAMPLE_RANDOM, EXAMPLE_IMAGES).to_dict()
    assert [lay["histogram"] for lay in vr["twin"]["layers"]] == [lay["histogram"] for lay in golden_twin["layers"]]
    rows = vr["verdict"]["layers"]
    for r, lay, tw in zip(rows, d["layers"], vr["twin"]["layers"]):
        assert r["difference"] == pytest.approx(lay["mean"] - tw["mean"])


def test_tf32_is_recorded_and_a_tf32_profile_is_refused_by_check_and_compare(profiles, tmp_path):
    """docs/method.md: TF32 is an opt-in the settings record; check/compare treat it as any setting."""
    tf32 = tmp_path / "tf32.json"
    res = run("analyze", EXAMPLE, EXAMPLE_IMAGES, "--provider", "cpu", "--tf32", "-q", "--json", tf32)
    assert res.exit_code == 0, res.output
    assert json.loads(tf32.read_text())["settings"]["tf32"] is True
    assert json.loads(profiles["golden"].read_text())["settings"]["tf32"] is False
    for args in (("check", tf32, "--against", profiles["golden"]), ("compare", profiles["golden"], tf32)):
        res = run(*args)
        assert res.exit_code == 2 and "Traceback" not in res.output
        assert [ln for ln in res.output.splitlines() if ln.startswith("error:")] == [res.output.strip()]
        assert "tf32: True vs False" in res.output or "tf32: False vs True" in res.output
    with pytest.raises(UsageError, match="tf32"):
        check(Profile.load(tf32), Profile.load(profiles["golden"]))
    # a golden written before --tf32 existed (no key) means full float32: it compares
    old = json.loads(profiles["golden"].read_text())
    del old["settings"]["tf32"]
    assert check(Profile.from_dict(old), Profile.load(profiles["golden"])).passed


def test_per_layer_tolerances_in_python_and_on_the_command_line(profiles, tmp_path):
    """Issue 30: ``tol={"layer": x, "pattern*": y, "*": z}`` and ``--tol LAYER=X`` (repeatable)."""
    from srop_onnx.errors import UsageError
    from srop_onnx.results.profile import Profile

    random, golden = Profile.load(profiles["random"]), Profile.load(profiles["golden"])
    deltas = {lc.name: lc.value for lc in check(random, golden, tol=0.0).layers}
    worst = max(deltas, key=deltas.get)
    loose = {worst: deltas[worst] + 1e-9, "*": 1.0}
    result = check(random, golden, tol=loose)
    assert result.passed and {lc.name: lc.tol for lc in result.layers}[worst] == loose[worst]
    tight = check(random, golden, tol={worst: deltas[worst] / 2, "*": 1.0})
    assert [lc.name for lc in tight.failures] == [worst] and f"{worst}: " in tight.verdict()
    pattern = check(random, golden, tol={"block*": 0.0, "*": 1.0})
    assert {lc.name for lc in pattern.failures} == {n for n, d in deltas.items() if n.startswith("block") and d > 0}
    with pytest.raises(UsageError, match=r"^tol=\{'layer99': \.\.\.\}: no layer of .* is called that"):
        check(random, golden, tol={"layer99": 0.1})
    with pytest.raises(UsageError, match=r"^tol=\{'stem.0': \.\.\.\} must be a finite number >= 0"):
        check(random, golden, tol={"stem.0": float("nan")})
    res = run("check", profiles["random"], "--against", profiles["golden"], "--tol", "1", "--tol",
              f"{worst}={deltas[worst] / 2}")
    assert res.exit_code == 1 and f"FAIL {worst}:" in res.output and "FAILED: 1 of 8" in res.output
    res = run("check", profiles["random"], "--against", profiles["golden"], "--tol", "1", "--tol", "nolayer=0.1")
    assert res.exit_code == 2 and res.output.count("error:") == 1
    frame_tols = None
    try:
        frame_tols = dict(zip(*[tight.to_dataframe()[c] for c in ("layer", "tol")]))
    except Exception:  # pandas missing: the frame is tested elsewhere
        pass
    if frame_tols is not None:
        assert frame_tols[worst] == deltas[worst] / 2
