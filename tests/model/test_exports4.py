"""Issue 32: real exports, fourth round - inputs of every kind, layouts read from the graph, and the
author's layer names from every exporter. The exporter-made fixtures come from
tests/models/make_exporter_models4.py (PyTorch's two exporters, Keras 2 through tf2onnx, Keras 3's
own ONNX export, a full-int8 TFLite conversion, onnxruntime's QOperator quantization); name
patterns of exporters that do not install here (keras2onnx, jax2tf, tf2onnx 1.15) are single nodes
named as those exporters name them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from onnx import helper

from conftest import assert_matches_reference, ort_outputs
from reference import ref_bins, ref_m
from srop_onnx import analyze
from srop_onnx.cli import main
from srop_onnx.config.settings import Measurement
from srop_onnx.model.graph import conv_kind
from srop_onnx.model.naming import name_choice
from srop_onnx.run.stages import load_stage, plan_model

MODELS = Path(__file__).resolve().parents[1] / "models"


def _plan(model):
    return plan_model(load_stage(MODELS / f"{model}.onnx"), Measurement())


# -- names --------------------------------------------------------------------------------------
@pytest.mark.parametrize("model, expected", [
    ("torch_pools_legacy", ["features.0", "features.0.pool", "conv", "conv.pool"]),
    ("torch_pools_dynamo", ["features.0", "features.0.pool", "conv", "conv.pool"]),
    ("torch_mel_nlc", ["conv1", "conv1.pool", "conv2"]),
    ("keras_spec_nhw", ["conv2d", "max_pooling2d", "conv2d_1"]),
    ("tflite_int8", ["conv2d", "depthwise_conv2d", "conv2d_1", "conv2d_2", "depthwise_conv2d_1", "conv2d_3",
                     "max_pooling2d", "conv2d_4"]),
    ("keras3_export", ["conv2d", "depthwise_conv2d", "conv2d_1", "conv2d_2", "depthwise_conv2d_1", "conv2d_3",
                       "max_pooling2d", "conv2d_4"]),
    ("keras3_qop", ["conv2d", "depthwise_conv2d", "conv2d_1", "conv2d_2", "depthwise_conv2d_1", "conv2d_3",
                    "max_pooling2d", "conv2d_4"]),
])
def test_every_exporter_gives_the_authors_layer_names(model, expected):
    names = [t.name for t in _plan(model).taps]
    assert names == expected
    assert not any(c in n for n in names for c in (";", "#", ":", "/", "__", "quant"))


@pytest.mark.parametrize("node_name, inputs, group, weight_shape, expected", [
    # full-int8 TFLite: '_prequant' on the plain conv's segment must not hide it
    ("model_1/depthwise_conv2d/depthwise;model_1/conv2d_5/Conv2D1_prequant", ["x", "w"], 1, (8, 8, 3, 3),
     "conv2d_5"),
    # onnxruntime QOperator on a Keras 3 export: the conv is a counter, the weight constant-folded,
    # the bias names the layer
    ("Conv__175_quant", ["x", "xs", "xz", "const_fold_opt__12", "ws", "wz", "ys", "yz",
                         "model_1/depthwise_conv2d_1/Squeeze:0_quantized"], 8, (8, 1, 3, 3), "depthwise_conv2d_1"),
    # Keras 3 export: the same without quantization
    ("Conv__175", ["x", "const_fold_opt__12", "model_1/conv2d_7/Squeeze:0"], 1, (8, 8, 3, 3), "conv2d_7"),
    # jax2tf: the Flax module path below the pjit wrapper
    ("jax2tf_infer/pjit_get_logits_/MagikaV2/Conv_0/Conv2D", ["x", "w"], 1, (8, 8, 3, 3), "MagikaV2.Conv_0"),
    # tf2onnx 1.15 (Basic Pitch): nodes named after their Keras layer, ';'-joined with itself
    ("model_1/cq_t2010v2_1/conv1d_3;model_1/cq_t2010v2_1/conv1d_3", ["x", "w"], 1, (8, 1, 1, 9), "conv1d_3"),
])
def test_name_rules_of_exporters_that_do_not_install_here(node_name, inputs, group, weight_shape, expected):
    op = "QLinearConv" if node_name.endswith("_quant") else "Conv"
    node = helper.make_node(op, inputs, ["y"], name=node_name, group=group)
    weight = inputs[3] if op == "QLinearConv" else inputs[1]
    choice = name_choice(node, weight, conv_kind(node, weight_shape))
    assert (choice.tf_raw or choice.name) == expected


def _graph_with(nodes, inputs, outputs, inits=()):
    import onnx
    from onnx import TensorProto, numpy_helper

    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name) for name, shape in inits]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs], weights)
    return onnx.helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)


def test_keras2onnx_pools_named_after_the_conv_they_pool_are_told_apart_from_it(tmp_path):
    """keras2onnx names a pool after its conv's activation (``.../conv2d_3/Relu:0_pooling``): it is
    ``conv2d_3.pool``, never the conv's own name, and no conv name that the model does not have."""
    import onnx

    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], name="mos/conv2d_3/convolution", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="mos/conv2d_3/Relu"),
             helper.make_node("MaxPool", ["r1"], ["p1"], name="mos/conv2d_3/Relu:0_pooling", kernel_shape=[2, 2],
                              strides=[2, 2]),
             helper.make_node("Conv", ["p1", "w2"], ["c2"], name="mos/conv2d_4/convolution", pads=[1, 1, 1, 1])]
    model = _graph_with(nodes, [("x", ["N", 2, 8, 8])], ["c2"], [("w1", (3, 2, 3, 3)), ("w2", (3, 3, 3, 3))])
    onnx.save(model, str(tmp_path / "k2o.onnx"))
    names = [t.name for t in plan_model(load_stage(tmp_path / "k2o.onnx"), Measurement()).taps]
    assert names == ["conv2d_3", "conv2d_3.pool", "conv2d_4"]


# -- layouts read from the graph --------------------------------------------------------------------
def test_a_channels_last_mel_input_transposed_into_conv1d_is_nlc_and_matches_the_reference(rng):
    model = MODELS / "torch_mel_nlc.onnx"
    assert _plan("torch_mel_nlc").spec.layout == "NLC"  # 40 frames of 16 mel bins, not 40 channels
    mel = rng.standard_normal((5, 40, 16)).astype(np.float32)
    prof = analyze(model, mel, batch_size=2)
    assert [lay.shape for lay in prof.layers] == [[8, 40], [8, 20], [8, 20]] and prof.skipped_layers == []
    assert_matches_reference(prof, model, mel, "mel", dims=1)
    assert prof.layers[0].stats.m_input == 40 // 2  # input units from the 40 frames
    assert [row["side"] for row in prof.extra["baseline"]["table"]][:2] == [40, 20]


def test_a_rank3_spectrogram_unsqueezed_into_conv2d_is_a_one_channel_image(rng, tmp_path):
    model = MODELS / "keras_spec_nhw.onnx"
    spec = _plan("keras_spec_nhw").spec
    assert (spec.layout, spec.channel_axis, spec.spatial_axes) == ("NHW", None, (1, 2))
    x = rng.standard_normal((4, 40, 12)).astype(np.float32)
    prof = analyze(model, x, batch_size=3)
    assert_matches_reference(prof, model, x, "spec")
    chain = prof.extra["baseline"]["table"]  # the input's own 2-D pooling chain: 40x12, then 20x6
    assert [row["side"] for row in chain][:2] == [40, 20]
    base = ref_bins(x.astype(np.float64)[:, None], 0.85)  # the input as a one-channel image
    assert chain[0]["baseline"] == pytest.approx(float(np.mean(base[base >= 0])) / ref_m(40), rel=1e-9)
    res = CliRunner().invoke(main, ["layers", str(model)])
    assert res.exit_code == 0 and "input spec (Nx40x12, float32) read as NHW (a one-channel image)" in res.output


def test_images_feed_a_one_channel_image_model_and_layout_nhw_can_be_forced(tmp_path):
    from PIL import Image

    folder = tmp_path / "img"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (40, 12), dtype=np.uint8)).save(folder / f"{i}.png")
    res = CliRunner().invoke(main, ["analyze", str(MODELS / "keras_spec_nhw.onnx"), str(folder), "-q",
                                    "--json", str(tmp_path / "a.json")])
    assert res.exit_code == 0, res.output
    import json

    got = json.loads((tmp_path / "a.json").read_text())
    assert got["model"]["input"]["layout"] == "NHW" and got["inputs"]["analyzed"] == 3
    x = np.stack([np.asarray(Image.open(folder / f"{i}.png"), np.float32) / 255 for i in range(3)])
    acts = ort_outputs(MODELS / "keras_spec_nhw.onnx", {"spec": x}, [lay["tensor"] for lay in got["layers"]])
    for lay in got["layers"]:
        ref = ref_bins(acts[lay["tensor"]].astype(np.float64), 0.85)
        assert lay["histogram"] == np.bincount(ref[ref >= 0], minlength=len(lay["histogram"])).tolist()
    forced = CliRunner().invoke(main, ["layers", str(MODELS / "torch_mel_nlc.onnx"), "--layout", "NCL"])
    assert forced.exit_code == 0, forced.output


# -- inputs of every kind, exporter-made ----------------------------------------------------------
def test_a_pytorch_two_input_model_splits_its_mask_with_the_batch(tmp_path, rng):
    model = MODELS / "torch_two_inputs.onnx"
    arrays = {"x": rng.standard_normal((5, 2, 12, 12)).astype(np.float32),
              "mask": (rng.random((5, 2, 12, 12)) > 0.5).astype(np.float32),
              "table": rng.standard_normal(12).astype(np.float32)}
    np.savez(tmp_path / "in.npz", **arrays)
    res = CliRunner().invoke(main, ["analyze", str(model), str(tmp_path / "in.npz"), "-b", "2", "-q",
                                    "--json", str(tmp_path / "a.json")])
    assert res.exit_code == 0, res.output
    prof = analyze(model, tmp_path / "in.npz", batch_size=3)
    assert_matches_reference(prof, model, arrays["x"], "x", others={"mask": arrays["mask"], "table": arrays["table"]})


def test_a_pytorch_int32_bytes_model_is_fed_integers_and_matches_the_reference(tmp_path, rng):
    model = MODELS / "torch_int_bytes.onnx"
    data = rng.integers(0, 256, (4, 64)).astype(np.int32)
    np.save(tmp_path / "b.npy", data)
    prof = analyze(model, tmp_path / "b.npy", batch_size=3)
    assert prof.model["input"]["layout"] == "NL" and prof.analyzed == 4
    assert_matches_reference(prof, model, data, "data", dims=1)


def test_a_full_int8_tflite_model_takes_int8_arrays_and_matches_the_reference(tmp_path, rng):
    model = MODELS / "tflite_int8.onnx"
    plan = _plan("tflite_int8")
    assert plan.spec.dtype == "int8" and plan.spec.layout == "NHWC"
    x = rng.integers(-128, 128, (1, 16, 16, 3)).astype(np.int8)  # the converter fixed the batch at 1
    np.save(tmp_path / "x.npy", np.concatenate([x] * 3))
    prof = analyze(model, tmp_path / "x.npy")
    assert prof.analyzed == 3
    acts = ort_outputs(model, {plan.spec.name: x}, [lay.tensor for lay in prof.layers])
    for lay in prof.layers:
        ref = ref_bins(np.concatenate([acts[lay.tensor]] * 3).astype(np.float64), 0.85)
        np.testing.assert_array_equal(lay.stats.histogram, np.bincount(ref[ref >= 0], minlength=lay.stats.m + 1))


@pytest.mark.parametrize("model, shape", [
    ("torch_pools_legacy", (3, 3, 16, 16)), ("torch_pools_dynamo", (3, 3, 16, 16)),
    ("keras3_export", (3, 16, 16, 3)),
])
def test_pools_and_keras3_exports_match_the_reference(model, shape, rng):
    path = MODELS / f"{model}.onnx"
    x = rng.standard_normal(shape).astype(np.float32)
    prof = analyze(path, x, batch_size=2)
    assert len(prof.layers) + len(prof.skipped_layers) == len(_plan(model).taps)
    assert all("too small" in s["reason"] for s in prof.skipped_layers)  # 4 x 4 maps have no spectrum to speak of
    assert_matches_reference(prof, path, x, _plan(model).spec.name)
