"""The randomized twin of SPEC 7 (the paper's model-randomization sanity check).

Every Conv/ConvTranspose/Gemm weight and every constant 2-D weight of a MatMul (dense layers as
tf2onnx and paddle2onnx export them) is re-drawn He-normal (``std = sqrt(2 / fan_in)``) from a
seeded generator, their biases set to 0 (a MatMul's bias: the constant of the Add after it),
and every BatchNormalization set to identity (scale 1, bias 0, mean 0, var 1),
wherever those tensors live: initializers or ``Constant`` nodes. A tensor
shared by several nodes is re-initialised once; everything else is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import ModelError
from .graph import resolve_stored as _resolve
from .graph import stored_tensors, topological_order

__all__ = ["randomize", "RandomizeReport", "fan_in"]

_WEIGHTED = ("Conv", "ConvTranspose", "Gemm")


@dataclass
class RandomizeReport:
    weights: list[str] = field(default_factory=list)
    biases: list[str] = field(default_factory=list)
    batchnorm: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)  # tensors computed at run time: left alone


def fan_in(op: str, shape: tuple[int, ...], trans_b: int = 0) -> int:
    """Fan-in of a weight: ``shape[1] * prod(kernel)`` for convolutions (PyTorch's
    convention, also for ConvTranspose), the reduced dimension ``K`` for Gemm."""
    if op == "Gemm":
        if len(shape) != 2:
            raise ModelError(f"Gemm weight of shape {shape} is not 2-D")
        return int(shape[1] if trans_b else shape[0])
    if len(shape) < 3:
        raise ModelError(f"{op} weight of shape {shape} has no kernel axes")
    return int(shape[1] * np.prod(shape[2:]))


class _Twin:
    """Re-initialises stored tensors of one model copy, each at most once (see :func:`randomize`)."""

    def __init__(self, graph, seed: int):
        self.slots = stored_tensors(graph)
        self.producers = {o: n for n in graph.node for o in n.output}
        self.consumers: dict[str, list] = {}
        for n in graph.node:
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)
        self.rng = np.random.default_rng(seed)
        self.report = RandomizeReport()
        self.done: set[str] = set()

    def _store(self, name: str, arr: np.ndarray) -> None:
        import onnx
        from onnx import numpy_helper

        proto = self.slots[name]
        if proto.data_location == onnx.TensorProto.EXTERNAL:
            raise ModelError(f"tensor '{name}' is stored as external data that was not loaded")
        new = numpy_helper.from_array(arr.astype(numpy_helper.to_array(proto).dtype, copy=False), proto.name)
        proto.CopyFrom(new)

    def _stored(self, name: str) -> str | None:
        found = _resolve(name, self.producers, self.slots)
        if found is None:
            self.report.not_found.append(name)
        return found

    def weight(self, name: str, op: str, trans_b: int = 0) -> None:
        found = self._stored(name)
        if found is None or found in self.done:
            return
        shape = tuple(self.slots[found].dims)
        std = float(np.sqrt(2.0 / fan_in(op, shape, trans_b)))
        self._store(found, self.rng.standard_normal(shape) * std)
        self.done.add(found)
        self.report.weights.append(found)

    def fill(self, name: str, value: float, kind: list[str]) -> None:
        found = self._stored(name)
        if found is None or found in self.done:
            return
        self._store(found, np.full(tuple(self.slots[found].dims), value))
        self.done.add(found)
        kind.append(found)

    def dense_weight(self, node) -> str | None:
        """The constant 2-D weight of a ``MatMul`` (``x @ W``, as tf2onnx and paddle2onnx export dense
        layers), or None when the MatMul multiplies two computed tensors."""
        if len(node.input) < 2:
            return None
        found = _resolve(node.input[1], self.producers, self.slots)
        return found if found is not None and len(self.slots[found].dims) == 2 else None

    def dense_bias(self, node) -> str | None:
        """The constant added right after a dense ``MatMul`` (its bias), if any."""
        for user in self.consumers.get(node.output[0], []):
            if user.op_type == "Add":
                other = [i for i in user.input if i != node.output[0]]
                if other and _resolve(other[0], self.producers, self.slots) is not None:
                    return other[0]
        return None


def randomize(model, seed: int = 0):
    """A randomized copy of ``model`` (an ``onnx.ModelProto`` with weights loaded), per SPEC 7:
    Conv/ConvTranspose/Gemm weights and the constant 2-D weights of MatMul (dense layers) He-normal,
    their biases (a MatMul's: the constant of the Add right after it) zero, BatchNorm identity.

    Returns ``(twin, report)``; ``model`` itself is not modified.
    """
    import onnx

    twin = onnx.ModelProto()
    twin.CopyFrom(model)
    t = _Twin(twin.graph, seed)
    for node in topological_order(twin.graph):
        op = node.op_type
        if op in _WEIGHTED and len(node.input) > 1:
            t.weight(node.input[1], op, next((a.i for a in node.attribute if a.name == "transB"), 0))
            if len(node.input) > 2 and node.input[2]:
                t.fill(node.input[2], 0.0, t.report.biases)
        elif op == "MatMul" and t.dense_weight(node) is not None:
            t.weight(node.input[1], "Gemm")  # x @ W: fan_in = K = W.shape[0]
            bias = t.dense_bias(node)
            if bias is not None:
                t.fill(bias, 0.0, t.report.biases)
        elif op == "BatchNormalization":
            for idx, value in ((1, 1.0), (2, 0.0), (3, 0.0), (4, 1.0)):
                if len(node.input) > idx and node.input[idx]:
                    t.fill(node.input[idx], value, t.report.batchnorm)
    return twin, t.report
