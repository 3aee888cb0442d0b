"""Issue 32, item 6: a model of volumes (a 3-D U-Net: rank-5 input, Conv3d, MaxPool3d,
ConvTranspose3d) is read, its layers are listed as skipped with the reason (docs/method.md), and
analyze says in one line why nothing can be measured - not a refusal at the input check."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from srop_onnx.cli import main


@pytest.fixture(scope="module")
def unet3d(tmp_path_factory):
    d = tmp_path_factory.mktemp("vol")
    rng = np.random.default_rng(0)
    init = [numpy_helper.from_array(rng.standard_normal((4, 1, 3, 3, 3)).astype(np.float32), "w1"),
            numpy_helper.from_array(rng.standard_normal((4, 4, 2, 2, 2)).astype(np.float32), "w2")]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], name="enc.conv", pads=[1] * 6),
             helper.make_node("MaxPool", ["c1"], ["p1"], name="enc.pool", kernel_shape=[2, 2, 2], strides=[2, 2, 2]),
             helper.make_node("ConvTranspose", ["p1", "w2"], ["up"], name="dec.up", strides=[2, 2, 2])]
    graph = helper.make_graph(nodes, "unet3d", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1, 16, 16, 16])],
                              [helper.make_tensor_value_info("up", TensorProto.FLOAT, [None, 4, 16, 16, 16])], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)
    onnx.checker.check_model(model)
    onnx.save(model, str(d / "unet3d.onnx"))
    np.save(d / "vol.npy", rng.standard_normal((2, 1, 16, 16, 16)).astype(np.float32))
    return d


def test_layers_lists_every_3d_layer_with_its_reason(unet3d):
    res = CliRunner().invoke(main, ["layers", str(unet3d / "unet3d.onnx")])
    skipped = [ln for ln in res.output.splitlines() if ln.startswith("skipped ")]
    assert len(skipped) == 3 and all("a 3-D feature map (volume or clip)" in ln for ln in skipped)
    assert {"(Conv):", "(MaxPool):", "(ConvTranspose):"} == {ln.split()[2] for ln in skipped}
    assert res.exit_code == 2 and res.output.count("error:") == 1
    assert "rank 5: volumes or clips" in res.output and "has rank 5; srop-onnx feeds" not in res.output


def test_analyze_says_why_nothing_is_measured_in_one_line(unet3d):
    res = CliRunner().invoke(main, ["analyze", str(unet3d / "unet3d.onnx"), str(unet3d / "vol.npy")])
    errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert res.exit_code == 2 and len(errors) == 1 and "Traceback" not in res.output
    assert "its 3 tapped layer(s) are 3-D feature maps" in errors[0]


def test_a_volume_input_is_read_as_ncdhw():
    from srop_onnx.inputs.inputspec import detect_layout

    assert detect_layout((None, 1, 16, 16, 16)) == "NCDHW"
