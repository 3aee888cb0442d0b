"""Graph passes on tiny hand-built graphs, and module naming (docs/models.md)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from reference import ref_max_pool2

from make_models import make_model
from srop_onnx.errors import ModelError, UsageError
from srop_onnx.model.chain import add_pooling_chain
from srop_onnx.model.graph import expose_outputs, find_taps, topological_order
from srop_onnx.model.layouts import propagate_layouts
from srop_onnx.model.naming import is_generic_name, module_name, scope_from_metadata, scope_from_name


def _load(fixtures, name):
    return onnx.load(str(fixtures[name]))


def test_topological_order_sorts_an_unsorted_graph(fixtures):
    m = _load(fixtures, "nchw")
    nodes = list(m.graph.node)
    del m.graph.node[:]
    m.graph.node.extend(reversed(nodes))
    order = [n.name for n in topological_order(m.graph)]
    assert order == [n.name for n in nodes]


def test_topological_order_rejects_cycles():
    a = helper.make_node("Relu", ["y"], ["x"], name="a")
    b = helper.make_node("Relu", ["x"], ["y"], name="b")
    g = helper.make_graph([a, b], "cyc", [], [])
    with pytest.raises(ModelError, match="cycle"):
        topological_order(g)


def test_default_taps_are_conv_and_pool_outputs_in_depth_order(fixtures):
    taps, skipped = find_taps(_load(fixtures, "nchw"))
    assert [(t.index, t.tensor, t.op, t.name) for t in taps] == [
        (0, "c1", "Conv", "features.0"), (1, "p1", "MaxPool", "features.2"), (2, "c2", "Conv", "features.3")]
    assert skipped == []


def test_ops_and_layers_filters(fixtures):
    m = _load(fixtures, "nchw")
    assert [t.tensor for t in find_taps(m, ops=["MaxPool"])[0]] == ["p1"]
    assert [t.tensor for t in find_taps(m, layers=r"features\.3")[0]] == ["c2"]
    assert [t.tensor for t in find_taps(m, layers="^c1$")[0]] == ["c1"]
    with pytest.raises(UsageError, match="^layers: invalid regular expression"):
        find_taps(m, layers="(")


def test_all_taps_every_rank34_float_tensor(fixtures):
    taps, _ = find_taps(_load(fixtures, "nchw"), all_tensors=True)
    assert [t.tensor for t in taps] == ["c1", "r1", "p1", "c2", "r2", "g"]  # not Flatten/Gemm (rank 2)


def test_layouts_follow_transposes(fixtures):
    m = _load(fixtures, "nhwc")
    axes = propagate_layouts(m, {"x": 3})
    assert axes["x_nchw"] == 1 and axes["c1"] == 1 and axes["r1"] == 1
    assert axes["r1_nhwc"] == 3 and axes["r1_nhwc_relu"] == 3


def test_expose_outputs_adds_and_keeps(fixtures):
    m = _load(fixtures, "nhwc")
    before = m.SerializeToString()
    taps, _ = find_taps(m, all_tensors=True)
    out = expose_outputs(m, taps)
    names = [o.name for o in out.graph.output]
    assert names[:2] == ["logits", "r1_nhwc_relu"]  # existing outputs first and unchanged
    assert set(t.tensor for t in taps) <= set(names)
    assert len(names) == len(set(names))
    assert m.SerializeToString() == before  # input model untouched


def test_rank5_and_quantized_taps(fixtures):
    taps, skipped = find_taps(_load(fixtures, "conv3d"))
    assert [t.tensor for t in taps] == ["c2"]
    assert skipped and skipped[0]["tensor"] == "c3" and "rank 5" in skipped[0]["reason"]
    qtaps, _ = find_taps(_load(fixtures, "qlinear"))
    assert qtaps[0].op == "QLinearConv" and qtaps[0].dequant == pytest.approx((0.05, 100.0))


# -- naming -------------------------------------------------------------------
def _node(name, op="Conv", scopes=None, out="t"):
    n = helper.make_node(op, ["x", "w"], [out], name=name)
    if scopes is not None:
        p = n.metadata_props.add()
        p.key, p.value = "pkg.torch.onnx.name_scopes", scopes
    return n


@pytest.mark.parametrize("scopes, expected", [
    ("['', 'layer1', 'layer1.0', 'layer1.0.bn2', '_native_batch_norm_legit_no_training_2']", "layer1.0.bn2"),
    ("['', 'stem', 'stem.1', '_native_batch_norm_legit_no_training']", "stem.1"),
    ("['', 'pool1', 'max_pool2d']", "pool1"),
    ("['', 'features', '0', 'conv2d']", "features.0"),
    ("not a list", None),
])
def test_torch_name_scopes(scopes, expected):
    assert scope_from_metadata(_node("node_Conv_153", scopes=scopes)) == expected


@pytest.mark.parametrize("name, expected", [
    ("/layer1/layer1.0/conv1/Conv", "layer1.0.conv1"),
    ("/features/features.0/Conv", "features.0"),
    ("/conv1/Conv", "conv1"),
    ("small_1/conv_b_1/convolution", "conv_b"),
    ("small_1/conv_b_1/convolution/ReadVariableOp:0", "conv_b"),
    ("sequential_1/max_pooling2d_1/MaxPool2d", "max_pooling2d"),
    ("conv_b/BiasAdd", "conv_b"),
    ("Conv__26", None),
])
def test_scoped_names(name, expected):
    assert scope_from_name(name) == expected


def test_module_name_fallbacks():
    # generic tf2onnx name: the weight's scope
    assert module_name(_node("Conv__26"), "small_1/conv_b_1/convolution/ReadVariableOp:0") == "conv_b"
    # conv named after a BN folded into it: the weight's scope
    assert module_name(_node("small_1/bn_b_1/FusedBatchNormV3"), "small_1/conv_b_1/Conv2D/ReadVariableOp:0") == "conv_b"
    # plain name
    assert module_name(_node("my_conv"), None) == "my_conv"
    # unnamed node (Paddle): output tensor name
    assert module_name(_node("", out="conv2d_450.tmp_0"), "conv2d_450.w_0") == "conv2d_450.tmp_0"
    assert is_generic_name("node_Conv_153", "Conv") and is_generic_name("Conv__26", "Conv")
    assert not is_generic_name("/features/features.0/Conv", "Conv")


def test_names_in_fixture_models(fixtures):
    def names(key):
        return [t.name for t in find_taps(_load(fixtures, key))[0]]

    assert names("nhwc") == ["conv_a", "pool_a", "conv_b"]
    assert names("torch_dynamo") == ["features.0", "features.0.pool", "layer1.0.bn2"]
    assert names("unnamed") == ["conv2d_450.tmp_0", "pool2d_3.tmp_0", "conv2d_451.tmp_0"]


def test_a_tap_without_inferred_type_still_runs(fixtures):
    import numpy as np
    import onnxruntime as ort

    m = _load(fixtures, "nchw")
    taps, _ = find_taps(m, types={})  # as if shape inference had found nothing
    assert all(t.elem_type is None and t.shape_hint is None for t in taps)
    out = expose_outputs(m, taps)
    added = [o for o in out.graph.output if o.name in {t.tensor for t in taps}]
    assert added and all(not o.type.HasField("tensor_type") for o in added)
    sess = ort.InferenceSession(out.SerializeToString(), providers=["CPUExecutionProvider"])
    arrays = sess.run([t.tensor for t in taps], {"x": np.ones((2, 3, 16, 16), np.float32)})
    assert [a.shape for a in arrays] == [(2, 4, 16, 16), (2, 4, 8, 8), (2, 6, 8, 8)]


# -- add_pooling_chain (docs/baseline-and-twin.md baseline computed by the runtime) ----------------------
def _relu_model(shape, elem=TensorProto.FLOAT, out_name="y", opset=17):
    x = helper.make_tensor_value_info("x", elem, shape)
    y = helper.make_tensor_value_info(out_name, elem, shape)
    g = helper.make_graph([helper.make_node("Relu", ["x"], [out_name], name="relu")], "g", [x], [y])
    return make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _run(model, feeds):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))


@pytest.mark.parametrize("layout, shape, axis, elem, dtype, dims, opset", [
    ("NCHW", [2, 3, 23, 17], 1, TensorProto.FLOAT, np.float32, 2, 17),
    ("NHWC", [2, 23, 17, 3], 3, TensorProto.FLOAT16, np.float16, 2, 17),
    ("NCL", [2, 3, 37], 1, TensorProto.DOUBLE, np.float64, 1, 17),
    ("NLC", [2, 37, 3], 2, TensorProto.FLOAT, np.float32, 1, 17),
    # old exports (ONNX Model Zoo, OnnxMLTools/CoreML): what the chain adds is valid at their opset
    ("NCHW", [2, 3, 23, 17], 1, TensorProto.FLOAT, np.float32, 2, 7),
    ("NHWC", [2, 23, 17, 3], 3, TensorProto.FLOAT16, np.float16, 2, 8),
    ("NCL", [2, 3, 37], 1, TensorProto.FLOAT, np.float32, 1, 8),
])
def test_pooling_chain_outputs_equal_literal_max_pooling(rng, layout, shape, axis, elem, dtype, dims, opset):
    model = _relu_model(shape, elem, opset=opset)
    chained, names = add_pooling_chain(model, "x", axis, 3)
    onnx.checker.check_model(chained, full_check=True)
    first = np.moveaxis(np.empty(shape), axis, 1).shape  # the channels-first view of the input
    x_cf = rng.standard_normal(first)
    # NaN at each place of a pooling window (runtimes' MaxPool keeps or drops it by place), and +-inf
    offsets = [(0, 0), (0, 1), (1, 0), (1, 1)] if dims == 2 else [(0,), (1,)]
    for i, off in enumerate(offsets):
        x_cf[(0, i % first[1]) + tuple(4 * i + o for o in off)] = np.nan
    x_cf[(1, 1) + (2,) * dims] = np.inf
    x_cf[(1, 2) + (6,) * dims] = -np.inf
    x = np.ascontiguousarray(np.moveaxis(x_cf, 1, axis)).astype(dtype)
    got = _run(chained, {"x": x})
    np.testing.assert_array_equal(got["y"], np.maximum(x, 0))  # the model's own output is kept
    level = np.moveaxis(x, axis, 1).astype(np.float32)  # float32, channels first
    assert len(names) == 3
    for name in names:
        assert got[name].dtype == np.float32
        np.testing.assert_array_equal(got[name], level)
        level = ref_max_pool2(level, dims)


def test_pooling_chain_names_do_not_collide_and_model_is_not_changed():
    model = _relu_model([1, 1, 8, 8], out_name="srop_onnx/baseline/0")
    before = model.SerializeToString()
    chained, names = add_pooling_chain(model, "x", 1, 2)
    assert model.SerializeToString() == before
    assert names[0] != "srop_onnx/baseline/0" and len(set(names)) == 2
    outs = [o.name for o in chained.graph.output]
    assert outs[0] == "srop_onnx/baseline/0" and outs[1:] == names
    same, same_names = add_pooling_chain(model, "x", 1, 2, copy=False)  # the caller's own copy
    assert same is model and model.SerializeToString() == chained.SerializeToString() and same_names == names


def test_pooling_chain_refuses_bad_requests():
    model = _relu_model([1, 1, 8, 8])
    with pytest.raises(ModelError, match="no input 'z'"):
        add_pooling_chain(model, "z", 1, 2)
    with pytest.raises(UsageError, match="at least one level"):
        add_pooling_chain(model, "x", 1, 0)


def _conv_with_weight(raw_bytes_delta: int):
    """A Conv whose 32x1x3x3 float weight (1,152 bytes, large enough to travel beside the graph)
    holds ``raw_bytes_delta`` bytes more (or fewer) than its shape needs."""
    from onnx import numpy_helper

    w = numpy_helper.from_array(np.arange(288, dtype=np.float32).reshape(32, 1, 3, 3), "w")
    w.raw_data = w.raw_data[:raw_bytes_delta] if raw_bytes_delta < 0 else w.raw_data + b"\0" * raw_bytes_delta
    g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def test_split_weights_moves_large_weights_and_hands_them_over_as_arrays():
    from srop_onnx.model.graph import MEMORY_LOCATION, split_weights, weight_arrays

    model = _conv_with_weight(0)
    light, heavy = split_weights(model)
    assert [t.name for t in heavy] == ["w"] and heavy[0] is model.graph.initializer[0]
    stub = light.graph.initializer[0]
    assert (stub.name, list(stub.dims), stub.HasField("raw_data")) == ("w", [32, 1, 3, 3], False)
    assert stub.external_data[0].value == MEMORY_LOCATION
    assert model.graph.initializer[0].HasField("raw_data")  # the original keeps its data
    names, arrays = weight_arrays(heavy)
    assert names == ["w"]
    np.testing.assert_array_equal(arrays[0], np.arange(288, dtype=np.float32).reshape(32, 1, 3, 3))


@pytest.mark.parametrize("delta", [-1052, 8])
def test_a_weight_whose_data_disagrees_with_its_shape_is_a_damaged_model(delta):
    from srop_onnx.model.graph import split_weights, weight_arrays

    _light, heavy = split_weights(_conv_with_weight(delta))
    with pytest.raises(ModelError, match=rf"weight 'w' holds {1152 + delta} bytes, but its shape \(32, 1, 3, 3\) "
                                         "needs 1152; the model file is damaged"):
        weight_arrays(heavy)
