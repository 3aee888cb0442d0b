"""ResNet-18 / ResNet-50 shaped ONNX models with random weights (BN folded into conv biases).

    python benchmarks/resnet_onnx.py resnet18 /tmp/resnet18.onnx

Node names follow PyTorch's legacy exporter (/layer1/layer1.0/conv1/Conv), so tap names read well.
"""

from __future__ import annotations

import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CONFIGS = {"resnet18": ("basic", [2, 2, 2, 2]), "resnet34": ("basic", [3, 4, 6, 3]), "resnet50": ("bottleneck", [3, 4, 6, 3])}


class _Builder:
    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.count = [], [], 0

    def conv(self, x, cin, cout, k, stride, scope, relu=True):
        self.count += 1
        w = (self.rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k))).astype(np.float32)
        wn, bn, out = f"{scope}.weight", f"{scope}.bias", f"{scope}_out"
        self.inits += [numpy_helper.from_array(w, wn), numpy_helper.from_array(np.zeros(cout, np.float32), bn)]
        path = "/" + "/".join(_scopes(scope))
        self.nodes.append(helper.make_node("Conv", [x, wn, bn], [out], name=f"{path}/Conv", kernel_shape=[k, k],
                                           strides=[stride, stride], pads=[k // 2] * 4))
        if relu:
            self.nodes.append(helper.make_node("Relu", [out], [out + "_relu"], name=f"{path}/Relu"))
            return out + "_relu"
        return out

    def add_relu(self, a, b, scope):
        path = "/" + "/".join(_scopes(scope))
        self.nodes.append(helper.make_node("Add", [a, b], [scope + "_add"], name=f"{path}/Add"))
        self.nodes.append(helper.make_node("Relu", [scope + "_add"], [scope + "_out"], name=f"{path}/Relu"))
        return scope + "_out"


def _scopes(dotted: str) -> list[str]:
    parts = dotted.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def build(name: str = "resnet18", classes: int = 1000):
    kind, layers = CONFIGS[name]
    b = _Builder()
    x = b.conv("input", 3, 64, 7, 2, "conv1")
    b.nodes.append(helper.make_node("MaxPool", [x], ["maxpool_out"], name="/maxpool/MaxPool", kernel_shape=[3, 3],
                                    strides=[2, 2], pads=[1, 1, 1, 1]))
    x, cin = "maxpool_out", 64
    for stage, (blocks, width) in enumerate(zip(layers, (64, 128, 256, 512)), start=1):
        for i in range(blocks):
            stride = 2 if (i == 0 and stage > 1) else 1
            s = f"layer{stage}.{i}"
            if kind == "basic":
                cout = width
                y = b.conv(x, cin, width, 3, stride, f"{s}.conv1")
                y = b.conv(y, width, width, 3, 1, f"{s}.conv2", relu=False)
            else:
                cout = width * 4
                y = b.conv(x, cin, width, 1, 1, f"{s}.conv1")
                y = b.conv(y, width, width, 3, stride, f"{s}.conv2")
                y = b.conv(y, width, cout, 1, 1, f"{s}.conv3", relu=False)
            short = b.conv(x, cin, cout, 1, stride, f"{s}.downsample.0", relu=False) if (stride != 1 or cin != cout) else x
            x, cin = b.add_relu(y, short, s), cout
    b.nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"], name="/avgpool/GlobalAveragePool"))
    b.nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], name="/Flatten"))
    fc = (b.rng.standard_normal((classes, cin)) * np.sqrt(1.0 / cin)).astype(np.float32)
    b.inits.append(numpy_helper.from_array(fc, "fc.weight"))
    b.nodes.append(helper.make_node("Gemm", ["flat", "fc.weight"], ["logits"], name="/fc/Gemm", transB=1))
    graph = helper.make_graph(b.nodes, name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 224, 224])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes])], b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10  # every supported onnxruntime reads it (onnx >= 1.23 writes 14)
    return model


if __name__ == "__main__":
    onnx.save(build(sys.argv[1]), sys.argv[2])
