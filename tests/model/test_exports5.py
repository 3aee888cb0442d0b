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
