"""The randomized twin (the paper's model-randomization sanity check; docs/baseline-and-twin.md).

Every Conv/ConvTranspose/Gemm weight and every constant 2-D weight of a MatMul (dense layers as
tf2onnx and paddle2onnx export them) is re-drawn He-normal (``std = sqrt(2 / fan_in)``) from a
seeded generator, their biases set to 0 (a MatMul's bias: the constant of the Add after it),
and every BatchNormalization set to identity (scale 1, bias 0, mean 0, var 1), wherever those
tensors live: initializers or ``Constant`` nodes. Quantized weights are weights too: an integer
constant behind a ``DequantizeLinear`` (QDQ models) and the weight of ``ConvInteger`` or
``QLinearConv`` are drawn He-normal in float, then quantized with that tensor's own scale and zero
point (per tensor or per axis) and clipped to its type. A tensor shared by several nodes is
re-initialised once; everything else is unchanged.

The report counts the model's weight-bearing layers and how many were re-initialised, and says
why any was left as it was; a twin that changed none is refused by :func:`require_changed`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataclasses import dataclass, field

import numpy as np

from ..errors import ModelError
from .graph import resolve_stored as _resolve
from .graph import stored_tensors, topological_order

if TYPE_CHECKING:
    import onnx

__all__ = ["randomize", "RandomizeReport", "fan_in", "require_changed"]

_WEIGHTED = ("Conv", "ConvTranspose", "Gemm")
_QUANT_CONVS = ("ConvInteger", "QLinearConv")


@dataclass
class RandomizeReport:
    weights: list[str] = field(default_factory=list)
    biases: list[str] = field(default_factory=list)
    batchnorm: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)  # tensors computed at run time: left alone
    layers: int = 0  # weight-bearing layers of the model (convolutions, Gemm, dense MatMul)
    left: list[str] = field(default_factory=list)  # "layer: why" for each one left as it was
    #: recurrent layers (GRU, LSTM, RNN): not re-drawn, so they keep their trained weights
    recurrent: list[str] = field(default_factory=list)

    @property
    def changed(self) -> int:
        """Weight-bearing layers whose weight was re-initialised."""
        return self.layers - len(self.left)

    def describe(self) -> str:
        text = f"{self.changed} of {self.layers} weight-bearing layer(s) re-initialised"
        if self.left:
            shown = "; ".join(self.left[:3]) + (f"; and {len(self.left) - 3} more" if len(self.left) > 3 else "")
            text += f" ({len(self.left)} left as they were: {shown})"
        if self.recurrent:
            names = ", ".join(self.recurrent[:3]) + (f" and {len(self.recurrent) - 3} more" if len(self.recurrent) > 3 else "")
            text += (f"; {len(self.recurrent)} recurrent layer(s) ({names}) keep their trained weights: the twin "
                     "randomizes convolutions and dense layers only")
        return text

    def to_dict(self) -> dict:
        return {"layers": self.layers, "changed": self.changed, "left": list(self.left), "recurrent": list(self.recurrent),
                "weights": len(self.weights),
                "biases": len(self.biases), "batchnorm": len(self.batchnorm), "not_found": list(self.not_found)}


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


@dataclass(frozen=True)
class _Quant:
    """How an integer tensor maps to float: ``(q - zero_point) * scale`` along ``axis``."""

    scale: np.ndarray
    zero_point: np.ndarray
    axis: int = 1

    def quantize(self, values: np.ndarray, dtype: np.dtype) -> np.ndarray:
        shape = [1] * values.ndim
        scale, zp = self.scale.astype(np.float64), self.zero_point.astype(np.float64)
        if scale.size > 1:
            if scale.size != values.shape[self.axis]:
                raise ValueError(f"a per-axis scale of {scale.size} values does not fit axis {self.axis} "
                                 f"of shape {values.shape}")
            shape[self.axis] = scale.size
        scale, zp = scale.reshape(shape if scale.size > 1 else ()), zp.reshape(shape if zp.size > 1 else ())
        info = np.iinfo(dtype)
        return np.clip(np.rint(values / scale) + zp, info.min, info.max).astype(dtype)


class _Twin:
    """Re-initialises stored tensors of one model copy, each at most once (see :func:`randomize`)."""

    def __init__(self, graph, seed: int):
        from onnx import numpy_helper

        self.to_array = numpy_helper.to_array
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
        new = numpy_helper.from_array(arr.astype(self.to_array(proto).dtype, copy=False), proto.name)
        proto.CopyFrom(new)

    def _stored(self, name: str) -> str | None:
        found = _resolve(name, self.producers, self.slots)
        if found is None:
            self.report.not_found.append(name)
        return found

    def _constant(self, name: str) -> np.ndarray | None:
        found = _resolve(name, self.producers, self.slots) if name else None
        return None if found is None else self.to_array(self.slots[found])

    def _he_normal(self, shape: tuple, op: str, trans_b: int) -> np.ndarray:
        return self.rng.standard_normal(shape) * float(np.sqrt(2.0 / fan_in(op, shape, trans_b)))

    def weight(self, name: str, op: str, trans_b: int = 0, quant: _Quant | None = None) -> str | None:
        """Re-draw one weight; None when done, else why it was left as it was."""
        found = self._stored(name)
        if found is None:
            return "its weight is computed at run time"
        if found in self.done:
            return None
        shape = tuple(self.slots[found].dims)
        values = self._he_normal(shape, op, trans_b)
        if quant is not None:
            dtype = self.to_array(self.slots[found]).dtype
            try:
                values = quant.quantize(values, dtype)
            except ValueError as exc:
                return f"its quantized weight does not fit its scale ({exc})"
        self._store(found, values)
        self.done.add(found)
        self.report.weights.append(found)
        return None

    def fill(self, name: str, value: float, kind: list[str]) -> None:
        found = self._stored(name)
        if found is None or found in self.done:
            return
        self._store(found, np.full(tuple(self.slots[found].dims), value))
        self.done.add(found)
        kind.append(found)

    def dequantized(self, name: str) -> tuple[str, _Quant] | None:
        """``(integer tensor, its quantization)`` when ``name`` is a ``DequantizeLinear`` of a stored
        integer constant (a QDQ model's weight), else None."""
        node = self.producers.get(name)
        if node is None or node.op_type != "DequantizeLinear":
            return None
        stored = _resolve(node.input[0], self.producers, self.slots)
        if stored is None or self.to_array(self.slots[stored]).dtype.kind not in "iu":
            return None
        scale = self._constant(node.input[1])
        zp = self._constant(node.input[2]) if len(node.input) > 2 and node.input[2] else np.zeros(1)
        if scale is None:
            return None
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        return node.input[0], _Quant(scale.reshape(-1), np.asarray(zp).reshape(-1), axis)

    def convinteger_chain(self, node) -> tuple[np.ndarray | None, str | None]:
        """``(weight scale, bias)`` of a dynamically quantized ``ConvInteger``: ONNX Runtime multiplies
        the (cast) output by ``x_scale * w_scale`` (``w_scale`` is the constant factor of that product)
        and then adds the float bias (a constant ``Add``)."""
        for cast in self.consumers.get(node.output[0], []):
            for mul in self.consumers.get(cast.output[0], []) if cast.op_type == "Cast" else [cast]:
                other = next((i for i in mul.input if i != cast.output[0]), None)
                maker = self.producers.get(other) if other and mul.op_type == "Mul" else None
                if maker is None or maker.op_type != "Mul":
                    continue
                scale = next((v for v in map(self._constant, maker.input) if v is not None), None)
                bias = next((self.reshaped(i) for add in self.consumers.get(mul.output[0], []) if add.op_type == "Add"
                             for i in add.input if i != mul.output[0] and self.reshaped(i) is not None), None)
                return scale, bias
        return None, None

    def reshaped(self, name: str) -> str | None:
        """The stored tensor ``name`` is, through Identity, Reshape, Unsqueeze, Squeeze and Cast of it
        (ONNX Runtime reshapes a quantized conv's float bias before adding it), else None."""
        for _ in range(8):
            found = _resolve(name, self.producers, self.slots)
            if found is not None:
                return found
            node = self.producers.get(name)
            if node is None or node.op_type not in ("Reshape", "Unsqueeze", "Squeeze", "Cast") or not node.input:
                return None
            name = node.input[0]
        return None

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


def _float_layer(t: _Twin, node) -> str | None:
    """A Conv/ConvTranspose/Gemm, its weight float or behind a DequantizeLinear (QDQ)."""
    trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
    qdq = t.dequantized(node.input[1])
    why = t.weight(qdq[0], node.op_type, trans_b, qdq[1]) if qdq else t.weight(node.input[1], node.op_type, trans_b)
    if len(node.input) > 2 and node.input[2]:
        bias = t.dequantized(node.input[2])
        if bias is not None:  # a quantized bias: its zero point is the float 0
            _fill_quantized(t, *bias)
        else:
            t.fill(node.input[2], 0.0, t.report.biases)
    return why


def _fill_quantized(t: _Twin, name: str, quant: _Quant) -> None:
    found = _resolve(name, t.producers, t.slots)
    if found is None or found in t.done:
        return
    dtype = t.to_array(t.slots[found]).dtype
    t._store(found, quant.quantize(np.zeros(tuple(t.slots[found].dims)), dtype))
    t.done.add(found)
    t.report.biases.append(found)


def _quant_conv(t: _Twin, node) -> str | None:
    """ConvInteger (dynamic quantization) or QLinearConv: the integer weight with its own scale."""
    if node.op_type == "QLinearConv":
        if len(node.input) < 6:
            return "its weight scale is missing"
        scale, zp, weight = t._constant(node.input[4]), t._constant(node.input[5]), node.input[3]
        if len(node.input) > 8 and node.input[8]:
            t.fill(node.input[8], 0.0, t.report.biases)  # int32 bias: 0 is 0 at any scale
    else:
        scale, bias = t.convinteger_chain(node)
        if bias is not None:
            t.fill(bias, 0.0, t.report.biases)
        zp = t._constant(node.input[3]) if len(node.input) > 3 and node.input[3] else np.zeros(1)
        weight = node.input[1]
    if scale is None or zp is None:
        return "its weight scale could not be found (not a constant)"
    return t.weight(weight, "Conv", 0, _Quant(np.asarray(scale).reshape(-1), np.asarray(zp).reshape(-1), 0))


def randomize(model: "onnx.ModelProto", seed: int = 0) -> "onnx.ModelProto":
    """A randomized copy of ``model`` (an ``onnx.ModelProto`` with weights loaded), per the rules of
    docs/baseline-and-twin.md: Conv/ConvTranspose/Gemm weights and the constant 2-D weights of MatMul (dense
    layers) He-normal, quantized weights (QDQ, ConvInteger, QLinearConv) drawn in float and quantized
    with their own scale and zero point, biases zero, BatchNorm identity.

    Returns ``(twin, report)``; ``model`` itself is not modified. ``report`` counts the model's
    weight-bearing layers and says why any was left as it was.
    """
    import onnx

    twin = onnx.ModelProto()
    twin.CopyFrom(model)
    t = _Twin(twin.graph, seed)
    for node in topological_order(twin.graph):
        op, why, layer = node.op_type, None, True
        if op in _WEIGHTED and len(node.input) > 1:
            why = _float_layer(t, node)
        elif op in _QUANT_CONVS and len(node.input) > 1:
            why = _quant_conv(t, node)
        elif op == "MatMul" and (t.dense_weight(node) is not None or t.dequantized(node.input[1]) is not None):
            qdq = t.dequantized(node.input[1])
            why = t.weight(qdq[0], "Gemm", 0, qdq[1]) if qdq else t.weight(node.input[1], "Gemm")
            bias = t.dense_bias(node)
            if bias is not None:
                t.fill(bias, 0.0, t.report.biases)
        else:
            layer = False
            if op in ("GRU", "LSTM", "RNN"):
                t.report.recurrent.append(node.name or node.output[0] or op)
            if op == "BatchNormalization":
                for idx, value in ((1, 1.0), (2, 0.0), (3, 0.0), (4, 1.0)):
                    if len(node.input) > idx and node.input[idx]:
                        t.fill(node.input[idx], value, t.report.batchnorm)
        if layer:
            t.report.layers += 1
            if why:
                t.report.left.append(f"{node.name or node.output[0]}: {why}")
    return twin, t.report


def require_changed(report: RandomizeReport, where: str) -> None:
    """Refuse a twin that re-initialised none of the model's weight-bearing layers: compared with the
    model it would be the model itself, presented as a sanity check."""
    if report.layers and report.changed == 0:
        why = report.left[0].split(": ", 1)[-1] if report.left else "no weight could be re-initialised"
        raise ModelError(f"{where}: the randomized twin would change none of the model's {report.layers} "
                         f"weight-bearing layer(s) ({why}); it cannot stand in for a random model")
    if report.layers == 0:
        raise ModelError(f"{where}: the model has no weight-bearing layers (Conv, Gemm, MatMul with a constant "
                         "weight, quantized convolutions) to re-initialise; a randomized twin means nothing here")
