"""Real exports, fifth round (issue 39): old opsets, multi-input models in `layers`."""

from __future__ import annotations

import json
import os

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


MODELS = __import__("pathlib").Path(__file__).resolve().parent.parent / "models"


def _names(path) -> list[str]:
    from srop_onnx.model.graph import find_taps

    taps, _ = find_taps(onnx.load(str(path)))
    return [t.name for t in taps]


def test_tf2onnx_convs_with_a_fused_pad_are_named_from_their_output():
    """tf2onnx renames a conv it fused a Pad (and a BatchNorm) into ``Conv__NN``; its output keeps the
    Keras name. Keras 2 scopes are the layers' own names: ``bn_1`` stays ``bn_1``."""
    model = onnx.load(str(MODELS / "tf2onnx_fused_pad.onnx"))
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    assert sum(n.name.startswith("Conv__") for n in convs) == 2  # what the exporter does
    assert _names(MODELS / "tf2onnx_fused_pad.onnx") == ["bn_1", "pool1", "conv_stage0_block0_branch2a",
                                                         "bn_stage0_block0_branch2b"]


def test_keras3_tflite_separable_convs_are_never_named_after_a_batchnorm_op():
    """A weight-quantized TFLite mini-Xception from Keras 3: the pointwise convs' names end in a
    BatchNorm's ``batchnorm/sub``; the layer is the SeparableConv2D, with Keras 3's ``_1`` gone."""
    names = _names(MODELS / "tflite_k3_separable.onnx")
    assert not [n for n in names if "batch" in n]
    assert names == ["conv2d",
                     "separable_conv2d.depthwise", "separable_conv2d.pointwise", "conv2d_1",
                     "separable_conv2d_1.depthwise", "separable_conv2d_1.pointwise", "max_pooling2d",
                     "separable_conv2d_2.depthwise", "separable_conv2d_2.pointwise",
                     "separable_conv2d_3.depthwise", "separable_conv2d_3.pointwise", "max_pooling2d_1",
                     "conv2d_2", "conv2d_3"]


@pytest.mark.parametrize("name, shape", [("tf2onnx_fused_pad.onnx", (3, 32, 32, 3)),
                                         ("tflite_k3_separable.onnx", (3, 48, 48, 1))])
def test_round5_exports_match_the_reference(name, shape, rng):
    import srop_onnx
    from conftest import assert_matches_reference

    x = rng.random(shape, dtype=np.float32)
    profile = srop_onnx.analyze(MODELS / name, x)
    input_name = onnx.load(str(MODELS / name)).graph.input[0].name
    assert_matches_reference(profile, MODELS / name, x, input_name)


def test_layers_whose_node_names_share_one_scope_take_their_weights_names():
    """A full-int8 TFLite model can give several depthwise convs one scope in their node names; each
    weight's own scope names its layer (never ``depthwise_conv2d_3:Conv#2``)."""
    rng = np.random.default_rng(0)
    nodes, inits, prev = [], [], "x"
    for i in range(3):
        w = f"model/depthwise_conv2d_{i}/depthwise_dequant"
        inits.append(numpy_helper.from_array(rng.standard_normal((4, 1, 3, 3)).astype(np.float32), w))
        out = f"t{i}"
        nodes.append(helper.make_node("Conv", [prev, w], [out], group=4, pads=[1, 1, 1, 1],
                                      name="model/re_lu_7/Relu6;model/depthwise_conv2d_3/depthwise1_prequant"))
        prev = out
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
                              [helper.make_tensor_value_info(prev, TensorProto.FLOAT, None)], inits)
    path = __import__("tempfile").mkdtemp() + "/m.onnx"
    onnx.save(make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    assert _names(path) == ["depthwise_conv2d_0", "depthwise_conv2d_1", "depthwise_conv2d_2"]


def test_onnxmltools_layers_take_the_names_their_tensors_keep():
    """ONNXMLTools (CoreML: waifu2x UpConv7) names operators ``convolution1``, ``pooling1``...; the
    tensors keep the source model's layer names."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "convolution1_W"),
             numpy_helper.from_array(rng.standard_normal((4, 4, 3, 3)).astype(np.float32), "convolution2_W")]
    nodes = [helper.make_node("Conv", ["input", "convolution1_W"], ["conv1"], name="convolution1", pads=[1] * 4),
             helper.make_node("MaxPool", ["conv1"], ["pool1"], name="pooling1", kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Conv", ["pool1", "convolution2_W"], ["conv2_out"], name="convolution2", pads=[1] * 4)]
    graph = helper.make_graph(nodes, "upconv", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                              [1, 3, 16, 16])],
                              [helper.make_tensor_value_info("conv2_out", TensorProto.FLOAT, [1, 4, 8, 8])], inits)
    path = __import__("tempfile").mkdtemp() + "/upconv.onnx"
    onnx.save(make_model(graph, opset_imports=[helper.make_opsetid("", 8)]), path)
    assert _names(path) == ["conv1", "pool1", "conv2_out"]


def test_layers_shows_shapes_as_they_are():
    """A fixed batch of 1 is ``1``, a symbolic one ``N``; a dim named ``None`` or ``unk__3`` is ``?``."""
    from srop_onnx.show.report import shape_text

    assert shape_text((1, 3, 800, 800)) == "1x3x800x800"
    assert shape_text(("None", 8, "None", "None")) == "Nx8x?x?"
    assert shape_text(("batch", 64, "unk__3", "height")) == "Nx64x?xheight"
    assert shape_text((None, 3, "floor(s1/2)", 7)) == "Nx3x?x7"
    assert shape_text(("s77", 8, "s40", "(s39//2)", "frames")) == "Nx8x?x?xframes"  # PyTorch's symbols are counters
    res = CliRunner().invoke(main, ["layers", str(MODELS / "tf2onnx_fused_pad.onnx")])
    assert res.exit_code == 0 and "Nx8x16x16" in res.output and "None" not in res.output


def test_layers_lists_a_multi_input_model_and_says_how_analyze_chooses():
    res = CliRunner().invoke(main, ["layers", str(MODELS / "torch_two_inputs.onnx")])
    assert res.exit_code == 0, res.output
    assert "2 inputs analyze could feed (x, mask)" in res.output and "--input NAME" in res.output
    assert "input x (" in res.output and "Conv" in res.output
    chosen = CliRunner().invoke(main, ["layers", str(MODELS / "torch_two_inputs.onnx"), "--input", "mask"])
    assert chosen.exit_code == 0 and "input mask (" in chosen.output and "could feed" not in chosen.output


def _keras2onnx_dnsmos(path, producer="keras2onnx"):
    """DNSMOS ``model_v8.onnx`` (keras2onnx 1.7.0, opset 12) as its nodes are named, smaller: one
    MaxPooling2D layer (``max_pooling2d_1``) called three times under a root Keras numbered
    (``mos_estimator_small_1``); keras2onnx names the first call after the activation it pools."""
    rng = np.random.default_rng(0)
    root, inits, nodes = "mos_estimator_small_1", [], []
    nodes.append(helper.make_node("Unsqueeze", ["input_1"], [f"{root}/ExpandDims:0"], name=f"{root}/ExpandDims",
                                  axes=[3]))
    nodes.append(helper.make_node("Transpose", [f"{root}/ExpandDims:0"], ["adjusted_input4"], name="Transpose9",
                                  perm=[0, 3, 1, 2]))
    prev, chans = "adjusted_input4", 1
    plan = [(5, None), (6, "conv2d_5/Relu:0_pooling"), (7, "max_pooling2d_1/MaxPool_1_conv"), (8, None),
            (9, "max_pooling2d_1/MaxPool_2_conv")]
    for k, (i, pool_before) in enumerate(plan):
        if pool_before:
            out = f"{root}/{pool_before}0"
            nodes.append(helper.make_node("MaxPool", [prev], [out], name=f"{root}/{pool_before}", kernel_shape=[2, 2],
                                          strides=[2, 2]))
            prev = out
        w, b = f"conv2d_{i}/kernel:0", f"conv2d_{i}/bias:0"
        inits += [numpy_helper.from_array((rng.standard_normal((4, chans, 3, 3)) * 0.4).astype(np.float32), w),
                  numpy_helper.from_array(np.zeros(4, np.float32), b)]
        conv_out = f"convolution_output{len(plan) - 1 - k}"
        nodes.append(helper.make_node("Conv", [prev, w, b], [conv_out], name=f"conv2d_{i}", pads=[1, 1, 1, 1]))
        prev, chans = f"{root}/conv2d_{i}/Relu:0", 4
        nodes.append(helper.make_node("Relu", [conv_out], [prev], name=f"Relu{len(plan) - 1 - k}"))
    graph = helper.make_graph(nodes, root, [helper.make_tensor_value_info("input_1", TensorProto.FLOAT, ["N", 32, 24])],
                              [helper.make_tensor_value_info(prev, TensorProto.FLOAT, None)], inits)
    model = make_model(graph, opset_imports=[helper.make_opsetid("", 12)], producer_name=producer,
                       producer_version="1.7.0")
    onnx.save(model, str(path))
    return path


def test_keras2onnx_pools_are_named_after_what_they_pool_and_a_shared_layer_counts_its_calls(tmp_path, rng):
    """DNSMOS (keras2onnx): the first call of a pooling layer is named after its activation
    (``.../conv2d_5/Relu:0_pooling``): ``conv2d_5.pool``, never ``conv2d`` (a suffix stripped) nor
    ``mos_estimator_small_1.conv2d_5`` (the conv's own name, told apart by its root). The later
    calls of the one layer keep its name, ``_1`` included (a Keras 2 layer's own name), and are
    counted, never marked with the op type they share (``max_pooling2d:MaxPool``)."""
    import srop_onnx
    from conftest import assert_matches_reference

    path = _keras2onnx_dnsmos(tmp_path / "model_v8.onnx")
    assert _names(path) == ["conv2d_5", "conv2d_5.pool", "conv2d_6", "max_pooling2d_1", "conv2d_7", "conv2d_8",
                            "max_pooling2d_1#2", "conv2d_9"]
    x = rng.standard_normal((3, 32, 24)).astype(np.float32)
    assert_matches_reference(srop_onnx.analyze(path, x), path, x, "input_1")


def test_the_op_type_marks_only_layers_it_tells_apart():
    from types import SimpleNamespace

    from srop_onnx.model.naming import disambiguate

    def entry(name, op):
        return SimpleNamespace(name=name, parents=(), kind=None, op=op)

    assert disambiguate([entry("block", "Conv"), entry("block", "MaxPool"), entry("pool", "MaxPool"),
                         entry("pool", "MaxPool"), entry("pool", "MaxPool")]) == \
        ["block:Conv", "block:MaxPool", "pool", "pool#2", "pool#3"]
    assert disambiguate([entry("b", "Conv"), entry("b", "MaxPool"), entry("b", "MaxPool")]) == \
        ["b:Conv", "b:MaxPool", "b:MaxPool#2"]


def _pytorch_1_11_flatten_into_conv1d(path):
    """PLCMOS (PyTorch 1.11, opset 11) as exported: ``x.permute(0, 2, 3, 1).reshape(n, t, -1)`` with
    ``n`` and ``t`` read by ``Shape``/``Gather``, then a Conv1d. ONNX's shape inference loses the
    reshape's rank; ONNX Runtime's symbolic inference follows the arithmetic."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array((rng.standard_normal((8, 1, 3, 3)) * 0.4).astype(np.float32), "conv1.weight"),
             numpy_helper.from_array((rng.standard_normal((6, 32, 1)) * 0.3).astype(np.float32),
                                     "conv_project.weight"),
             numpy_helper.from_array(np.array([-1], np.int64), "onnx::Concat_368")]

    def const(name, value):
        return helper.make_node("Constant", [], [name], name=name.replace("onnx::", "Constant_"),
                                value=numpy_helper.from_array(np.array(value, np.int64)))

    nodes = [helper.make_node("Conv", ["degraded_audio", "conv1.weight"], ["input.4"], name="Conv_0",
                              pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["input.4"], ["onnx::MaxPool_58"], name="Relu_1"),
             helper.make_node("MaxPool", ["onnx::MaxPool_58"], ["input.20"], name="MaxPool_8", kernel_shape=[1, 4],
                              strides=[1, 4]),
             helper.make_node("Transpose", ["input.20"], ["onnx::Shape_60"], name="Transpose_9", perm=[0, 2, 3, 1]),
             helper.make_node("Shape", ["onnx::Shape_60"], ["onnx::Gather_61"], name="Shape_10"),
             const("onnx::Gather_62", 0),
             helper.make_node("Gather", ["onnx::Gather_61", "onnx::Gather_62"], ["onnx::Unsqueeze_63"],
                              name="Gather_12", axis=0),
             helper.make_node("Shape", ["onnx::Shape_60"], ["onnx::Gather_64"], name="Shape_13"),
             const("onnx::Gather_65", 1),
             helper.make_node("Gather", ["onnx::Gather_64", "onnx::Gather_65"], ["onnx::Unsqueeze_66"],
                              name="Gather_15", axis=0),
             helper.make_node("Unsqueeze", ["onnx::Unsqueeze_63"], ["onnx::Concat_68"], name="Unsqueeze_16", axes=[0]),
             helper.make_node("Unsqueeze", ["onnx::Unsqueeze_66"], ["onnx::Concat_69"], name="Unsqueeze_17", axes=[0]),
             helper.make_node("Concat", ["onnx::Concat_68", "onnx::Concat_69", "onnx::Concat_368"],
                              ["onnx::Reshape_71"], name="Concat_18", axis=0),
             helper.make_node("Reshape", ["onnx::Shape_60", "onnx::Reshape_71"], ["onnx::Transpose_72"],
                              name="Reshape_19"),
             helper.make_node("Transpose", ["onnx::Transpose_72"], ["input.24"], name="Transpose_20", perm=[0, 2, 1]),
             helper.make_node("Conv", ["input.24", "conv_project.weight"], ["onnx::Transpose_74"], name="Conv_21",
                              kernel_shape=[1])]
    graph = helper.make_graph(
        nodes, "torch-jit-export",
        [helper.make_tensor_value_info("degraded_audio", TensorProto.FLOAT, ["batch_size", 1, "frames", 16])],
        [helper.make_tensor_value_info("onnx::Transpose_74", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)], producer_name="pytorch",
                              producer_version="1.11.0")
    model.ir_version = 6
    onnx.save(model, str(path))
    return path


def test_shapes_onnx_inference_loses_are_taken_from_onnxruntime_symbolic_inference(tmp_path, monkeypatch):
    from srop_onnx.model.graph import find_taps, infer_value_types

    path = _pytorch_1_11_flatten_into_conv1d(tmp_path / "plcmos.onnx")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # ONNX Runtime's own entry point saves a model here when a shape stays unknown
    model = onnx.load(str(path))
    lost = onnx.shape_inference.infer_shapes(model).graph.value_info
    assert not [d for v in lost if v.name == "onnx::Transpose_74" for d in v.type.tensor_type.shape.dim]
    assert infer_value_types(model)["onnx::Transpose_74"][1] is None  # a run does not pay for it
    pytest.importorskip("sympy", reason="ONNX Runtime's symbolic shape inference needs sympy (torch brings it): "
                                        "pip install sympy")
    types = infer_value_types(model, symbolic=True)
    assert types["onnx::Transpose_74"][0] == TensorProto.FLOAT
    shape = types["onnx::Transpose_74"][1]
    assert shape is not None and shape[:2] == ("batch_size", 6) and len(shape) == 3
    taps, _ = find_taps(model, types=types)
    assert [t.shape_hint for t in taps] == [("batch_size", 8, "frames", 16), ("batch_size", 8, "frames", 4),
                                            ("batch_size", 6, "frames")]
    res = CliRunner().invoke(main, ["layers", str(path)], env={"COLUMNS": "150"})
    assert res.exit_code == 0 and "Nx6xframes " in res.output and "Nx8xframesx4 " in res.output, res.output
    assert "pip install" not in res.output and list(cwd.iterdir()) == []


def test_a_listing_without_sympy_says_which_shapes_it_could_not_work_out(tmp_path):
    """ONNX Runtime no longer installs sympy, which its symbolic shape inference imports: without it
    the listing shows ``?`` where ONNX's own inference stops, and says what to install."""
    import subprocess
    import sys

    path = _pytorch_1_11_flatten_into_conv1d(tmp_path / "plcmos.onnx")
    code = ("import sys; sys.modules['sympy'] = None; from srop_onnx.cli import main; "
            f"main(['layers', {str(path)!r}])")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                         env={**os.environ, "COLUMNS": "200"})
    assert res.returncode == 0, res.stderr
    assert "Nx8x?x4 " in res.stdout and "pip install sympy" in res.stdout, res.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plcmos.onnx"]  # nothing saved beside it
    from srop_onnx.model.graph import symbolic_inference_missing

    assert symbolic_inference_missing() in (None, "sympy")


def test_a_paddle2onnx_pool_after_a_learned_affine_is_named_after_its_conv(tmp_path):
    """PP-OCRv4 rec (paddle2onnx): PP-LCNet's pool ``p2o.AveragePool.0`` pools a learned affine
    after HardSwish, ``Add(Mul(w, x), b)`` with the weight first: it is ``conv2d_184.pool``, never
    the exporter's counter."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "conv2d_184.w_0"),
             numpy_helper.from_array(np.array([1.5], np.float32), "whswish_b_28.w_1")]
    nodes = [helper.make_node("Conv", ["x", "conv2d_184.w_0"], ["conv2d_203.tmp_0"], name="p2o.Conv.57",
                              pads=[1, 1, 1, 1]),
             helper.make_node("HardSwish", ["conv2d_203.tmp_0"], ["hardswish_57.tmp_0"], name="p2o.HardSwish.57"),
             helper.make_node("Constant", [], ["whswish_b_28.w_0"], name="p2o.Constant.340",
                              value=numpy_helper.from_array(np.array([0.8], np.float32))),
             helper.make_node("Mul", ["whswish_b_28.w_0", "hardswish_57.tmp_0"], ["p2o.Mul.171"], name="p2o.Mul.170"),
             helper.make_node("Add", ["p2o.Mul.171", "whswish_b_28.w_1"], ["p2o.Add.231"], name="p2o.Add.230"),
             helper.make_node("AveragePool", ["p2o.Add.231"], ["p2o.AveragePool.1"], name="p2o.AveragePool.0",
                              kernel_shape=[2, 2], strides=[2, 2])]
    graph = helper.make_graph(nodes, "paddle", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
                              [helper.make_tensor_value_info("p2o.AveragePool.1", TensorProto.FLOAT, None)], inits)
    path = tmp_path / "rec.onnx"
    onnx.save(make_model(graph, opset_imports=[helper.make_opsetid("", 12)]), str(path))
    assert _names(path) == ["conv2d_184", "conv2d_184.pool"]


def test_names_an_inliner_prefixed_are_read_past_the_prefix(tmp_path):
    """Silero VAD for OpenVINO: a PyTorch legacy export whose If branch was inlined, every name
    prefixed ``F0::If_0_then_branch__Inline_0__``: the layers are ``stft`` and
    ``encoder.0.reparam_conv``, as the model's modules are named."""
    pre = "F0::If_0_then_branch__Inline_0__"
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((6, 1, 8)).astype(np.float32), f"{pre}stft.forward_basis_buffer"),
             numpy_helper.from_array(rng.standard_normal((4, 6, 3)).astype(np.float32),
                                     f"{pre}encoder.0.reparam_conv.weight")]
    nodes = [helper.make_node("Conv", ["input", f"{pre}stft.forward_basis_buffer"], [f"{pre}/stft/Conv_output_0"],
                              name=f"{pre}/stft/Conv", strides=[4]),
             helper.make_node("Conv", [f"{pre}/stft/Conv_output_0", f"{pre}encoder.0.reparam_conv.weight"],
                              [f"{pre}/encoder/0/reparam_conv/Conv_output_0"], name=f"{pre}/encoder/0/reparam_conv/Conv",
                              pads=[1, 1])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 64])],
                              [helper.make_tensor_value_info(f"{pre}/encoder/0/reparam_conv/Conv_output_0",
                                                             TensorProto.FLOAT, None)], inits)
    path = tmp_path / "silero.onnx"
    onnx.save(make_model(graph, opset_imports=[helper.make_opsetid("", 16)]), str(path))
    assert _names(path) == ["stft", "encoder.0.reparam_conv"]


def test_a_model_converted_by_onnx2torch_and_exported_again_keeps_its_layer_names(tmp_path):
    """Issue 39's OpenNSFW was converted to PyTorch (onnx2torch names each module after its ONNX
    node, '.' turned '/') and exported again by PyTorch 2.13's dynamo exporter: the name scopes
    ``layer1/layer1/0/conv1/Conv`` give ``layer1.0.conv1``, the names the first export has."""
    rng = np.random.default_rng(0)
    scopes = ["conv1/Conv", "layer1/layer1/0/conv1/Conv", "layer2/layer2/0/downsample/downsample/0/Conv"]
    nodes, inits, prev = [], [], "input_1"
    for i, scope in enumerate(scopes):
        w = f"{scope}.weight"
        inits.append(numpy_helper.from_array(rng.standard_normal((4, 4 if i else 3, 3, 3)).astype(np.float32), w))
        node = helper.make_node("Conv", [prev, w], [f"conv2d_{i}" if i else "conv2d"],
                                name=f"node_conv2d_{i}" if i else "node_conv2d", pads=[1, 1, 1, 1])
        entry = node.metadata_props.add()
        entry.key, entry.value = "pkg.torch.onnx.name_scopes", repr(["", scope, node.output[0]])
        nodes.append(node)
        prev = node.output[0]
    graph = helper.make_graph(nodes, "main_graph",
                              [helper.make_tensor_value_info("input_1", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info(prev, TensorProto.FLOAT, None)], inits)
    path = tmp_path / "reexported.onnx"
    onnx.save(make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    assert _names(path) == ["conv1", "layer1.0.conv1", "layer2.0.downsample.0"]


def test_a_listing_writes_nothing_where_it_runs_when_a_shape_stays_unknown(tmp_path, monkeypatch):
    """A custom-domain op ahead of a conv: neither inference knows the conv's shape. ONNX Runtime's
    own entry point would save ``sym_shape_infer_temp.onnx`` into the working directory; the listing
    writes nothing there (a user's folder, a read-only disk) and shows the shape as unknown."""
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("Mystery", ["r"], ["m"], name="mystery", domain="example.custom"),
             helper.make_node("Conv", ["m", "w"], ["c"], name="/conv/Conv", pads=[1, 1, 1, 1])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
                              [helper.make_tensor_value_info("c", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")])
    path = tmp_path / "custom.onnx"
    onnx.save(make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("example.custom", 1)]),
              str(path))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    res = CliRunner().invoke(main, ["layers", str(path)], env={"COLUMNS": "150"})
    assert res.exit_code == 0 and "│ conv " in res.output, res.output
    assert list(cwd.iterdir()) == []
