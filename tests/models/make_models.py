"""Tiny ONNX fixtures for the tests, built with onnx.helper only (no framework).

    python tests/models/make_models.py OUTDIR

Each builder returns a ModelProto; :func:`build_all` writes them all to a folder.
The tests call :func:`build_all` on a temporary folder, so fixtures never go stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 17)]
#: IR version of every generated fixture: one that every supported onnxruntime reads (>= 1.18 reads
#: IR 10). onnx >= 1.23 writes IR 14 by default, which onnxruntime(-gpu) 1.31 refuses.
IR_VERSION = 10


def make_model(graph, **kwargs):
    """``helper.make_model`` at :data:`IR_VERSION`."""
    model = helper.make_model(graph, **kwargs)
    model.ir_version = IR_VERSION
    return model


def _init(name, arr):
    return numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name)


def _weights(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "w1": rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.4,
        "b1": rng.standard_normal(4).astype(np.float32) * 0.1,
        "w2": rng.standard_normal((6, 4, 3, 3)).astype(np.float32) * 0.3,
        "b2": np.zeros(6, np.float32),
        "fc": rng.standard_normal((6, 5)).astype(np.float32),
    }


def _body(prefix_names, x_name, w):
    """Conv -> Relu -> MaxPool -> Conv -> Relu -> GlobalAveragePool -> Flatten -> Gemm."""
    n = prefix_names
    nodes = [
        helper.make_node("Conv", [x_name, "w1", "b1"], ["c1"], name=n["conv1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name=n["relu1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], name=n["pool1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], name=n["conv2"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"], name=n["relu2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"], name=n["gap"]),
        helper.make_node("Flatten", ["g"], ["f"], name=n["flat"]),
        helper.make_node("Gemm", ["f", "fc"], ["logits"], name=n["fc"]),
    ]
    inits = [_init(k, v) for k, v in w.items()]
    return nodes, inits


TORCH_NAMES = {"conv1": "/features/features.0/Conv", "relu1": "/features/features.1/Relu",
               "pool1": "/features/features.2/MaxPool", "conv2": "/features/features.3/Conv",
               "relu2": "/features/features.4/Relu", "gap": "/GlobalAveragePool", "flat": "/Flatten", "fc": "/fc/Gemm"}
TF_NAMES = {"conv1": "small_1/conv_a_1/convolution", "relu1": "small_1/conv_a_1/Relu",
            "pool1": "small_1/pool_a_1/MaxPool2d", "conv2": "Conv__26", "relu2": "small_1/conv_b_1/Relu",
            "gap": "small_1/gap_1/Mean", "flat": "small_1/flatten_1/Reshape", "fc": "small_1/dense_1/MatMul"}


def nchw_model(size=16, batch="N"):
    nodes, inits = _body(TORCH_NAMES, "x", _weights())
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, size, size])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 5])
    return make_model(helper.make_graph(nodes, "nchw", [x], [y], inits), opset_imports=OPSET)


def nhwc_model(size=16):
    """Same weights, NHWC input with a Transpose in front (what tf2onnx makes), tf-style names."""
    nodes, inits = _body(TF_NAMES, "x_nchw", _weights())
    # the generic Conv__26 takes its weight through a scoped ReadVariableOp-like name
    inits = [i for i in inits if i.name != "w2"] + [_init("small_1/conv_b_1/convolution/ReadVariableOp:0", _weights()["w2"])]
    nodes[3].input[1] = "small_1/conv_b_1/convolution/ReadVariableOp:0"
    nodes.insert(0, helper.make_node("Transpose", ["x"], ["x_nchw"], name="Transpose__8", perm=[0, 3, 1, 2]))
    # an explicit NHWC activation for --all: Transpose back after the first ReLU, then a Relu on it
    nodes.append(helper.make_node("Transpose", ["r1"], ["r1_nhwc"], name="small_1/to_nhwc", perm=[0, 2, 3, 1]))
    nodes.append(helper.make_node("Relu", ["r1_nhwc"], ["r1_nhwc_relu"], name="small_1/act_nhwc/Relu"))
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", size, size, 3])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 5])
    aux = helper.make_tensor_value_info("r1_nhwc_relu", TensorProto.FLOAT, None)
    return make_model(helper.make_graph(nodes, "nhwc", [x], [y, aux], inits), opset_imports=OPSET)


def unnamed_model(size=16):
    """Paddle-like: nodes without names, tensors named like conv2d_450.tmp_0, no shape info."""
    m = nchw_model(size)
    ren = {"c1": "conv2d_450.tmp_0", "p1": "pool2d_3.tmp_0", "c2": "conv2d_451.tmp_0"}
    for node in m.graph.node:
        node.name = ""
        for i, v in enumerate(node.input):
            node.input[i] = ren.get(v, v)
        for i, v in enumerate(node.output):
            node.output[i] = ren.get(v, v)
    m.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "H"
    m.graph.input[0].type.tensor_type.shape.dim[3].dim_param = "W"
    return m


def conv1d_model(length=64):
    rng = np.random.default_rng(3)
    w1 = rng.standard_normal((8, 2, 5)).astype(np.float32) * 0.3
    w2 = rng.standard_normal((4, 8, 3)).astype(np.float32) * 0.3
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], name="/conv1/Conv", pads=[2, 2]),
        helper.make_node("Relu", ["c1"], ["r1"], name="/relu/Relu"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="/pool/MaxPool", kernel_shape=[2], strides=[2]),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], name="/conv2/Conv", pads=[1, 1]),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, length])
    y = helper.make_tensor_value_info("c2", TensorProto.FLOAT, None)
    return make_model(helper.make_graph(nodes, "c1d", [x], [y], [_init("w1", w1), _init("w2", w2)]), opset_imports=OPSET)


def two_input_model(size=16):
    m = nchw_model(size)
    m.graph.input.append(helper.make_tensor_value_info("aux", TensorProto.FLOAT, [1, 3, size, size]))
    m.graph.node[0].input[0] = "xa"
    m.graph.node.insert(0, helper.make_node("Add", ["x", "aux"], ["xa"], name="add_aux"))
    return m


def no_taps_model():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, 8, 8])
    return make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "notaps", [x], [y]),
                             opset_imports=OPSET)


def fixed_batch_model(size=16):
    return nchw_model(size, batch=1)


def nan_model(size=16):
    """Log of the input before the first conv: negative inputs give NaN maps."""
    m = nchw_model(size)
    m.graph.node[0].input[0] = "lx"
    m.graph.node.insert(0, helper.make_node("Log", ["x"], ["lx"], name="log"))
    return m


def qlinear_model(size=16):
    """QuantizeLinear -> QLinearConv (uint8 out) -> DequantizeLinear."""
    rng = np.random.default_rng(5)
    w = rng.integers(-60, 60, size=(4, 3, 3, 3)).astype(np.int8)
    inits = [
        _init("xs", 0.02), numpy_helper.from_array(np.array(128, np.uint8), "xz"),
        _init("ws", 0.01), numpy_helper.from_array(np.array(0, np.int8), "wz"),
        numpy_helper.from_array(w, "w"), _init("ys", 0.05), numpy_helper.from_array(np.array(100, np.uint8), "yz"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"], name="q"),
        helper.make_node("QLinearConv", ["xq", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["yq"], name="/qconv/QLinearConv", pads=[1, 1, 1, 1]),
        helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y"], name="dq"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, size, size])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    return make_model(helper.make_graph(nodes, "q", [x], [y], inits), opset_imports=[helper.make_opsetid("", 13)])


def torch_dynamo_style_model(size=16):
    """Generic node names with pkg.torch.onnx.name_scopes metadata (PyTorch >= 2.9 exporter)."""
    m = nchw_model(size)
    scopes = {0: "['', 'features', 'features.0', 'convolution']",
              3: "['', 'layer1', 'layer1.0', 'layer1.0.bn2', '_native_batch_norm_legit_no_training_2']"}
    for i, node in enumerate(m.graph.node):
        node.name = f"node_{node.op_type}_{150 + i}"
        if i in scopes:
            p = node.metadata_props.add()
            p.key, p.value = "pkg.torch.onnx.name_scopes", scopes[i]
    return m


def two_channel_model(size=16):
    rng = np.random.default_rng(7)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, size, size])
    y = helper.make_tensor_value_info("c", TensorProto.FLOAT, None)
    node = helper.make_node("Conv", ["x", "w"], ["c"], name="/conv/Conv", pads=[1, 1, 1, 1])
    return make_model(helper.make_graph([node], "c2", [x], [y], [_init("w", w)]), opset_imports=OPSET)


def conv3d_model():
    rng = np.random.default_rng(8)
    w = rng.standard_normal((2, 1, 3, 3, 3)).astype(np.float32)
    w2 = rng.standard_normal((3, 1, 3, 3)).astype(np.float32)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 16, 16])
    nodes = [
        helper.make_node("Unsqueeze", ["x", "ax"], ["x5"], name="unsq"),
        helper.make_node("Conv", ["x5", "w"], ["c3"], name="/conv3d/Conv", pads=[1] * 6),
        helper.make_node("Conv", ["x", "w2"], ["c2"], name="/conv2d/Conv", pads=[1] * 4),
    ]
    inits = [_init("w", w), _init("w2", w2), numpy_helper.from_array(np.array([2], np.int64), "ax")]
    outs = [helper.make_tensor_value_info("c3", TensorProto.FLOAT, None), helper.make_tensor_value_info("c2", TensorProto.FLOAT, None)]
    return make_model(helper.make_graph(nodes, "c3d", [x], outs, inits), opset_imports=OPSET)


def if_model(constant: "bool | str" = True, size=16):
    """Convs inside the branches of an If: with a constant condition (tappable once inlined), or a
    condition computed from the input at run time (not tappable; listed with the reason), or
    (``constant="rate"``) a condition on a scalar input ``sr`` that an .npz feeds whole, as Silero
    VAD branches on its sample rate: ``sr == 16000``."""
    rng = np.random.default_rng(3)
    w_then = _init("w_then", rng.standard_normal((4, 3, 3, 3)) * 0.4)
    w_else = _init("w_else", rng.standard_normal((4, 3, 3, 3)) * 0.4)

    def branch(name, w):
        out = helper.make_tensor_value_info(f"{name}_out", TensorProto.FLOAT, None)
        conv = helper.make_node("Conv", ["x", w.name], [f"{name}_c"], name=f"{name}/conv", pads=[1, 1, 1, 1])
        relu = helper.make_node("Relu", [f"{name}_c"], [f"{name}_out"], name=f"{name}/relu")
        return helper.make_graph([conv, relu], name, [], [out], [w])

    nodes, inputs = [], []
    if constant == "rate":
        nodes += [helper.make_node("Constant", [], ["rate16k"], name="Constant_0",
                                   value=numpy_helper.from_array(np.array(16000, np.int64))),
                  helper.make_node("Equal", ["sr", "rate16k"], ["cond"], name="Equal_0")]
        inputs.append(helper.make_tensor_value_info("sr", TensorProto.INT64, []))
    elif constant:
        nodes.append(helper.make_node("Constant", [], ["cond"], name="cond",
                                      value=helper.make_tensor("cond", TensorProto.BOOL, [], [True])))
    else:
        nodes += [helper.make_node("ReduceMean", ["x"], ["m"], name="mean", keepdims=0),
                  helper.make_node("Greater", ["m", "zero"], ["cond"], name="positive")]
    nodes.append(helper.make_node("If", ["cond"], ["y"], name="branchy", then_branch=branch("then", w_then),
                                  else_branch=branch("else", w_else)))
    nodes.append(helper.make_node("MaxPool", ["y"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]))
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, size, size])
    p = helper.make_tensor_value_info("p", TensorProto.FLOAT, ["N", 4, size // 2, size // 2])
    inits = [] if constant else [_init("zero", np.zeros((), np.float32))]
    return make_model(helper.make_graph(nodes, "if", [x, *inputs], [p], inits), opset_imports=OPSET)


def detector_model(size=16):
    """A conv and a detector head's box tensor (N, 4, 2100): rank 3 in an image model and longer
    than the input's side, so not a map of the input's space."""
    rng = np.random.default_rng(4)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="backbone/conv", pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["c", "wb"], ["boxes_map"], name="head/boxes"),
        helper.make_node("Tile", ["boxes_map", "reps"], ["tiled"], name="head/tile"),
        helper.make_node("Reshape", ["tiled", "shape"], ["tiled_r"], name="head/reshape"),
        helper.make_node("Slice", ["tiled_r", "starts", "ends", "axes"], ["boxes"], name="head/slice"),
    ]
    inits = [_init("w", rng.standard_normal((8, 3, 3, 3)) * 0.3), _init("wb", rng.standard_normal((4, 8, 1, 1))),
             numpy_helper.from_array(np.array([1, 1, 9, 1], np.int64), "reps"),
             numpy_helper.from_array(np.array([0, 4, -1], np.int64), "shape"),
             numpy_helper.from_array(np.array([0], np.int64), "starts"),
             numpy_helper.from_array(np.array([2100], np.int64), "ends"),
             numpy_helper.from_array(np.array([2], np.int64), "axes")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, size, size])
    y = helper.make_tensor_value_info("boxes", TensorProto.FLOAT, ["N", 4, 2100])
    return make_model(helper.make_graph(nodes, "detector", [x], [y], inits), opset_imports=OPSET)


BUILDERS = {
    "nchw": nchw_model, "nhwc": nhwc_model, "unnamed": unnamed_model, "conv1d": conv1d_model,
    "two_inputs": two_input_model, "no_taps": no_taps_model, "fixed_batch": fixed_batch_model,
    "nan": nan_model, "qlinear": qlinear_model, "torch_dynamo": torch_dynamo_style_model,
    "two_channel": two_channel_model, "conv3d": conv3d_model,
    "if_constant": if_model, "if_runtime": lambda: if_model(constant=False), "detector": detector_model,
}


def build_all(outdir: Path) -> dict[str, Path]:
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, fn in BUILDERS.items():
        p = outdir / f"{name}.onnx"
        onnx.save(fn(), str(p))
        paths[name] = p
    # external data: weights in a side file next to the model
    ext_dir = outdir / "external"
    ext_dir.mkdir(exist_ok=True)
    m = nchw_model()
    onnx.save(m, str(ext_dir / "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="model.weights", size_threshold=0)
    paths["external"] = ext_dir / "model.onnx"
    return paths


if __name__ == "__main__":
    for k, v in build_all(Path(sys.argv[1] if len(sys.argv) > 1 else "fixtures")).items():
        print(k, v)
