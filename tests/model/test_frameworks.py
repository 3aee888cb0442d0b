"""Real exporter outputs (tests/models/make_framework_models.py): names and layouts per docs/models.md."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conftest import assert_matches_reference
from srop_onnx import analyze

MODELS = Path(__file__).resolve().parents[1] / "models"


def test_pytorch_legacy_export_names_and_results(rng):
    model = MODELS / "torch_legacy.onnx"
    x = rng.standard_normal((3, 3, 32, 32)).astype(np.float32)
    prof = analyze(model, x)
    assert [lay.name for lay in prof.layers] == [
        "stem.0", "stem.2", "layer1.0.conv1", "layer1.0.conv2", "layer1.1.conv1", "layer1.1.conv2"]
    assert prof.layers[0].node == "/stem/stem.0/Conv"
    assert_matches_reference(prof, model, x, "x")


def test_keras_tf2onnx_export_nhwc_names_and_results(rng):
    model = MODELS / "keras_small.onnx"
    x = rng.standard_normal((3, 32, 32, 3)).astype(np.float32)
    prof = analyze(model, x)
    assert prof.model["input"]["layout"] == "NHWC"
    assert [(lay.name, lay.shape) for lay in prof.layers] == [
        ("conv_a", [8, 32, 32]), ("pool_a", [8, 16, 16]), ("conv_b", [8, 16, 16])]
    assert_matches_reference(prof, model, x, "image")


def test_keras_all_taps_keep_channels_apart(rng):
    """--all on a tf2onnx graph: activations after the NHWC->NCHW Transpose are channels-first;
    every tapped map is 32x32 or 16x16 with 8 channels, never a channel axis taken as space."""
    x = rng.standard_normal((2, 32, 32, 3)).astype(np.float32)
    prof = analyze(MODELS / "keras_small.onnx", x, all_tensors=True)
    shapes = {lay.tensor: lay.shape for lay in prof.layers}
    assert shapes["small_1/conv_a_1/Relu:0"] == [8, 32, 32]
    assert shapes["small_1/bn_a_1/batchnorm/mul_1:0"] == [8, 32, 32]
    # the input transposed to NCHW is a 3-channel 32x32 map set, also analysed
    assert shapes["small_1/conv_a_1/convolution__6:0"] == [3, 32, 32]


def test_keras_images_use_the_nhwc_layout(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    prof = analyze(MODELS / "keras_small.onnx", tmp_path)
    assert prof.analyzed == 2 and prof.layers[0].shape == [8, 32, 32]


def test_paddle_export_names_results_and_twin(rng):
    """paddle2onnx 2.x names nodes generically (Conv.0) and tensors p2o.pd_op.conv2d.0.0;
    convolutions take their Paddle parameter's name (conv2d_0.w_0 -> conv2d_0)."""
    import onnx
    from onnx import numpy_helper

    from srop_onnx.model.twin import randomize

    model = MODELS / "paddle_small.onnx"
    x = rng.standard_normal((3, 3, 32, 32)).astype(np.float32)
    prof = analyze(model, x)
    assert [lay.name for lay in prof.layers] == ["conv2d_0", "pool2d_0", "conv2d_1"]
    assert_matches_reference(prof, model, x, "x")
    twin, report = randomize(onnx.load(str(model)), seed=0)
    inits = {i.name: numpy_helper.to_array(i) for i in twin.graph.initializer}
    bn = next(n for n in twin.graph.node if n.op_type == "BatchNormalization")
    assert np.all(inits[bn.input[1]] == 1) and np.all(inits[bn.input[2]] == 0)
    assert np.all(inits[bn.input[3]] == 0) and np.all(inits[bn.input[4]] == 1)
    assert {"conv2d_0.w_0", "conv2d_1.w_0"} <= set(report.weights)
    # docs/baseline-and-twin.md (extended): paddle2onnx exports Linear as MatMul + Add; its constant 2-D weight is
    # re-drawn He-normal (fan_in = K) and the Add's constant (the bias) zeroed
    original = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(model)).graph.initializer}
    assert "linear_0.w_0" in report.weights and not np.array_equal(inits["linear_0.w_0"], original["linear_0.w_0"])
    k = original["linear_0.w_0"].shape[0]
    assert abs(float(np.std(inits["linear_0.w_0"])) - np.sqrt(2 / k)) < 0.5 * np.sqrt(2 / k)
    if "linear_0.b_0" in inits:
        assert "linear_0.b_0" in report.biases and np.all(inits["linear_0.b_0"] == 0)
