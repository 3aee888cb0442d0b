"""Names of pooling layers that have none of their own (docs/models.md).

A pool written as a function call (``F.max_pool2d`` in PyTorch, a pool that keras2onnx attached to
a conv's activation) has no module: its node is named by the exporter's counter (``/MaxPool_1``,
``node_max_pool2d_1``, ``MaxPool_2``) or after the scope of the layer before it
(``conv2d_3/Relu:0_pooling``), which reads as that conv. Such a pool is named after what it pools:
the nearest convolution upstream, through activations, normalisations and reshapes, plus
``.pool`` (``conv.pool``, ``features.0.pool``, ``conv2d_3.pool``); a pool with a module of its own
keeps its name.
"""

from __future__ import annotations

import re
from typing import Callable

__all__ = ["POOL_OPS", "is_counter_pool", "pooled_layer", "name_pool", "follow_pooled"]

POOL_OPS = frozenset({"MaxPool", "AveragePool", "LpPool"})
#: ops a pool looks through to find the layer it pools (one data input each)
_THROUGH = frozenset({
    "Relu", "LeakyRelu", "PRelu", "Sigmoid", "Tanh", "Elu", "Selu", "Celu", "Gelu", "HardSigmoid", "HardSwish",
    "Mish", "Softplus", "Clip", "Identity", "Dropout", "Cast", "BatchNormalization", "InstanceNormalization",
    "QuantizeLinear", "DequantizeLinear", "Transpose", "Reshape", "Squeeze", "Unsqueeze", "Pad", "Swish",
    "Add", "Sub", "Mul", "Div",  # a bias or a scale after the conv (the first computed input is followed)
})
_POOL_WORDS = frozenset({"maxpool", "maxpool1d", "maxpool2d", "averagepool", "avgpool", "avgpool1d", "avgpool2d",
                         "lppool"})
_COUNTER = re.compile(r"[_.:#@-]+\d+$")


def is_counter_pool(name: str) -> bool:
    """A pool's name made by an exporter's counter, not by its author: ``/MaxPool_1``,
    ``node_max_pool2d_1``, ``MaxPool_2``, ``AveragePool``."""
    base = re.sub(r"^(?:/|node_|p2o\.)", "", name or "")
    base = _COUNTER.sub("", base)
    return "/" not in base and base.replace("_", "").lower() in _POOL_WORDS


def pooled_layer(node, producers: dict, is_layer: Callable[[object], bool], limit: int = 16):
    """The node whose output ``node`` pools: the nearest ``is_layer`` node upstream of its first
    input, through :data:`_THROUGH` ops (at most ``limit`` of them); None when there is none."""
    current = producers.get(node.input[0]) if node.input else None
    for _ in range(limit):
        if current is None:
            return None
        if is_layer(current):
            return current
        if current.op_type not in _THROUGH or not current.input:
            return None
        # the data input: the first one a node computes (a learned scale or bias, ``Mul(w, x)`` as
        # paddle2onnx writes PP-LCNet's affine after HardSwish, is a weight or a Constant)
        data = [producers[i] for i in current.input if i in producers and producers[i].op_type != "Constant"]
        current = data[0] if data else None
    return None


def name_pool(taps: list, node, producers: dict, is_layer: Callable[[object], bool],
              describe: Callable[[object], object]) -> None:
    """Rename in place the taps of pool ``node`` that have no name of their own (an exporter
    counter, or the very name of the layer they pool) to ``<layer>.pool``; ``describe(layer)``
    gives the pooled layer's tap (its name, TensorFlow scope and parents)."""
    layer = pooled_layer(node, producers, is_layer)
    if layer is None:
        return
    conv = describe(layer)
    for t in taps:
        if is_counter_pool(t.name) or t.name == conv.name or (t.tf_raw and t.tf_raw in (conv.tf_raw, conv.name)):
            t.name, t.parents = f"{conv.name}.pool", conv.parents
            t.tf_raw = f"{conv.tf_raw}.pool" if conv.tf_raw else None
            t.pool_of = conv


def follow_pooled(taps: list) -> None:
    """After the model-level TensorFlow suffix rule: a pool named after its layer takes that
    layer's final name (``conv2d_3`` may have become ``conv2d``)."""
    final = {t.tf_raw: t.name for t in taps if t.tf_raw and t.pool_of is None}
    for t in taps:
        if t.pool_of is not None and t.pool_of.tf_raw in final:
            t.name = f"{final[t.pool_of.tf_raw]}.pool"
