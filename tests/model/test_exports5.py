"""Real exports, fifth round (issue 39): old opsets, multi-input models in `layers`."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from make_models import make_model
from srop_onnx.cli import main


def _conv_pool_model(opset: int, seed: int = 0):
    """Conv -> Relu -> MaxPool -> Conv, as OnnxMLTools/CoreML and the ONNX Model Zoo wrote them at
    opsets 7 and 8 (weights as initializers, no value_info)."""
    rng = np.random.default_rng(seed)
    w1 = (rng.standard_normal((4, 3, 3, 3)) * 0.3).astype(np.float32)
    w2 = (rng.standard_normal((6, 4, 3, 3)) * 0.3).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["data", "w1"], ["conv1_out"], name="convolution1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv1_out"], ["relu1_out"], name="relu1"),
        helper.make_node("MaxPool", ["relu1_out"], ["pool1_out"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["pool1_out", "w2"], ["conv2_out"], name="convolution2", pads=[1, 1, 1, 1]),
    ]
    graph = helper.make_graph(
        nodes, "old", [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("conv2_out", TensorProto.FLOAT, [1, 6, 16, 16])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")])
    model = make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model, full_check=True)
    return model


@pytest.mark.parametrize("opset", [7, 8])
def test_opset_7_and_8_models_analyse_with_the_baseline_by_default(tmp_path, opset, rng):
    old, new = tmp_path / f"old{opset}.onnx", tmp_path / "new.onnx"
    onnx.save(_conv_pool_model(opset), old)
    onnx.save(_conv_pool_model(17), new)
    x = rng.standard_normal((5, 3, 32, 32)).astype(np.float32)
    x[1, 0, 3, 5] = np.nan  # the chain's NaN mask is the part that needed IsNaN and Where
    np.save(tmp_path / "x.npy", x)
    profiles = []
    for model, out in ((old, "old.json"), (new, "new.json")):
        res = CliRunner().invoke(main, ["analyze", str(model), str(tmp_path / "x.npy"), "-q", "--json",
                                        str(tmp_path / out)])
        assert res.exit_code == 0, res.output
        profiles.append(json.loads((tmp_path / out).read_text()))
    old_p, new_p = profiles
    assert old_p["extra"]["baseline"] and old_p["extra"]["baseline"] == new_p["extra"]["baseline"]
    for a, b in zip(old_p["layers"], new_p["layers"]):
        assert a["histogram"] == b["histogram"] and a["nonfinite"] == b["nonfinite"]
        assert a["baseline"] is not None and a["baseline"] == b["baseline"]
    assert any(lay["nonfinite"] for lay in old_p["layers"])


def _sequence_model(dims, opset=17):
    """A rank-3 input read by MatMul (FSMN-VAD's layers): nothing in the graph says which axis is time."""
    w = numpy_helper.from_array(np.ones((400, 8), np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["speech", "w"], ["y"], name="fsmn")], "vad",
                              [helper.make_tensor_value_info("speech", TensorProto.FLOAT, dims)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    return make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize("dims, layout", [
    ([1, "feats_length", 400], "NLC"),      # FSMN-VAD: 400 features over time
    (["batch", "frames", 400], "NLC"),
    (["N", "seq_len", 400], "NLC"),
    (["N", 400, "time"], "NCL"),
    (["N", 400, "sequence_length"], "NCL"),
    (["N", 400, "feats"], "NCL"),           # no time name: the shape rule (400 is no channel count: NCL)
    (["N", "length", "time"], "NCL"),       # both named like time: the names do not tell
])
def test_a_time_axis_known_by_its_name_decides_the_layout(dims, layout):
    from srop_onnx.inputs.inputspec import input_spec

    assert input_spec(_sequence_model(dims)).layout == layout


def _fp16_model():
    rng = np.random.default_rng(3)
    w = numpy_helper.from_array((rng.standard_normal((6, 3, 3, 3)) * 0.3).astype(np.float16), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("MaxPool", ["c"], ["p"], name="pool1", kernel_shape=[2, 2], strides=[2, 2])]
    graph = helper.make_graph(nodes, "half", [helper.make_tensor_value_info("x", TensorProto.FLOAT16, ["N", 3, 32, 32])],
                              [helper.make_tensor_value_info("p", TensorProto.FLOAT16, ["N", 6, 16, 16])], [w])
    return make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_a_float16_model_is_fed_float16_as_given_and_matches_the_reference(tmp_path, monkeypatch):
    import onnxruntime as ort

    import srop_onnx
    from conftest import assert_matches_reference

    path = tmp_path / "half.onnx"
    onnx.save(_fp16_model(), path)
    x = (np.random.default_rng(0).standard_normal((4, 3, 32, 32)) * 3).astype(np.float16)
    np.save(tmp_path / "x.npy", x)
    fed = []
    real_run = ort.InferenceSession.run

    def spy(self, outputs, feeds, *a, **k):
        fed.extend(np.asarray(v) for v in feeds.values())
        return real_run(self, outputs, feeds, *a, **k)

    monkeypatch.setattr(ort.InferenceSession, "run", spy)
    profile = srop_onnx.analyze(path, tmp_path / "x.npy", batch_size=4)
    assert fed and all(a.dtype == np.float16 for a in fed)
    np.testing.assert_array_equal(fed[0], x)  # the very values, never through another type
    monkeypatch.setattr(ort.InferenceSession, "run", real_run)
    assert_matches_reference(profile, path, x, "x")


def test_values_a_float16_input_cannot_hold_are_refused_in_one_line(tmp_path):
    path = tmp_path / "half.onnx"
    onnx.save(_fp16_model(), path)
    np.save(tmp_path / "big.npy", np.full((2, 3, 32, 32), 1e6, np.float32))
    res = CliRunner().invoke(main, ["analyze", str(path), str(tmp_path / "big.npy")])
    assert res.exit_code == 2
    assert "float32 values up to 1e+06 do not fit model input 'x' (float16: at most 65504)" in res.output
