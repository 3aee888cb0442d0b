"""The randomized twin of SPEC 7 (the paper's model-randomization sanity check).

Every Conv/ConvTranspose/Gemm weight is re-drawn He-normal
(``std = sqrt(2 / fan_in)``) from a seeded generator, their biases set to 0,
and every BatchNormalization set to identity (scale 1, bias 0, mean 0, var 1),
wherever those tensors live: initializers or ``Constant`` nodes. A tensor
shared by several nodes is re-initialised once; everything else is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import ModelError
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


def _resolve(name: str, producers: dict[str, object], slots: dict[str, object]) -> str | None:
    """Follow Identity chains back to a stored tensor."""
    seen = set()
    while name not in slots:
        node = producers.get(name)
        if node is None or node.op_type != "Identity" or name in seen:
            return None
        seen.add(name)
        name = node.input[0]
    return name


def randomize(model, seed: int = 0):
    """A randomized copy of ``model`` (an ``onnx.ModelProto`` with weights loaded).

    Returns ``(twin, report)``; ``model`` itself is not modified.
    """
    import onnx
    from onnx import numpy_helper

    twin = onnx.ModelProto()
    twin.CopyFrom(model)
    graph = twin.graph
    slots = stored_tensors(graph)
    producers = {o: n for n in graph.node for o in n.output}
    rng = np.random.default_rng(seed)
    report = RandomizeReport()
    done: set[str] = set()

    def store(name: str, arr: np.ndarray) -> None:
        proto = slots[name]
        if proto.data_location == onnx.TensorProto.EXTERNAL:
            raise ModelError(f"tensor '{name}' is stored as external data that was not loaded")
        new = numpy_helper.from_array(arr.astype(numpy_helper.to_array(proto).dtype, copy=False), proto.name)
        proto.CopyFrom(new)

    for node in topological_order(graph):
        op = node.op_type
        if op in _WEIGHTED and len(node.input) > 1:
            trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
            wname = _resolve(node.input[1], producers, slots)
            if wname is None:
                report.not_found.append(node.input[1])
            elif wname not in done:
                shape = tuple(numpy_helper.to_array(slots[wname]).shape) if slots[wname].data_location != 1 else tuple(slots[wname].dims)
                std = float(np.sqrt(2.0 / fan_in(op, shape, trans_b)))
                store(wname, rng.standard_normal(shape) * std)
                done.add(wname)
                report.weights.append(wname)
            bias_idx = 2
            if len(node.input) > bias_idx and node.input[bias_idx]:
                bname = _resolve(node.input[bias_idx], producers, slots)
                if bname is None:
                    report.not_found.append(node.input[bias_idx])
                elif bname not in done:
                    store(bname, np.zeros(tuple(slots[bname].dims)))
                    done.add(bname)
                    report.biases.append(bname)
        elif op == "BatchNormalization":
            for idx, value in ((1, 1.0), (2, 0.0), (3, 0.0), (4, 1.0)):
                if len(node.input) <= idx or not node.input[idx]:
                    continue
                name = _resolve(node.input[idx], producers, slots)
                if name is None:
                    report.not_found.append(node.input[idx])
                elif name not in done:
                    store(name, np.full(tuple(slots[name].dims), value))
                    done.add(name)
                    report.batchnorm.append(name)
    return twin, report
