"""Where the channel axis is: in each tensor of a graph (followed from the inputs), and in the
model input itself, read from what the graph's first ops do with it (docs/models.md).

- :func:`propagate_layouts` - the channel axis of every tensor that can be followed from the inputs;
- :func:`graph_layout` - the layout a model input has, judged from the ops between it and the
  first convolution or pool: a transpose that moves its last axis to axis 1 (channels-last), or an
  unsqueeze/reshape that gives a rank-3 input a new axis that becomes the channel axis (a
  one-channel image ``(N, H, W)``, layout NHW).
"""

from __future__ import annotations

from .graph import DEFAULT_OPS, constant_values, topological_order

__all__ = ["propagate_layouts", "graph_layout"]

_CHANNELS_FIRST_OPS = frozenset(DEFAULT_OPS) | {
    "BatchNormalization", "InstanceNormalization", "GlobalAveragePool", "GlobalMaxPool", "Resize",
    "Upsample", "LRN", "DepthToSpace", "SpaceToDepth", "MaxUnpool", "MaxRoiPool", "DeformConv",
}
_LAYOUT_KEEPING = frozenset({
    "Relu", "LeakyRelu", "PRelu", "Sigmoid", "Tanh", "Elu", "Selu", "Celu", "Gelu", "HardSigmoid",
    "HardSwish", "Mish", "Softplus", "Softsign", "Clip", "Add", "Sub", "Mul", "Div", "Max", "Min",
    "Sum", "Mean", "Pow", "Sqrt", "Abs", "Neg", "Exp", "Log", "Erf", "Identity", "Dropout", "Cast",
    "QuantizeLinear", "DequantizeLinear", "Where", "Pad", "Concat", "Slice", "Split", "Sin", "Cos",
    "Reciprocal", "Floor", "Ceil", "Round", "Sign", "ThresholdedRelu", "Shrink", "Swish",
})


def propagate_layouts(model, input_channel_axis: dict[str, int]) -> dict[str, int]:
    """Channel axis of every tensor whose layout can be followed from the inputs.

    Rank-4 and rank-3 tensors start from the graph inputs' layouts; ONNX
    conv/pool/norm outputs are channels-first by the operator spec;
    Transpose permutes the channel axis; element-wise ops keep it. Tensors not
    in the result are assumed channels-first (the ONNX convention).
    """
    axis: dict[str, int] = dict(input_channel_axis)
    for node in topological_order(model.graph):
        op = node.op_type
        if op in _CHANNELS_FIRST_OPS:
            for o in node.output:
                axis[o] = 1
        elif op == "Transpose":
            src = axis.get(node.input[0]) if node.input else None
            perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), None)
            if src is not None and perm and src < len(perm):
                axis[node.output[0]] = perm.index(src)
        elif op in _LAYOUT_KEEPING:
            src = next((axis[i] for i in node.input if i in axis), None)
            if src is not None:
                for o in node.output:
                    axis[o] = src
    return axis


def _ints(model, node, slot: int, attr: str) -> list[int] | None:
    """An int list given as attribute ``attr`` (older opsets) or as constant input ``slot``."""
    for a in node.attribute:
        if a.name == attr:
            return list(a.ints)
    if len(node.input) > slot and node.input[slot]:
        value = constant_values(model, {node.input[slot]}).get(node.input[slot])
        if value is not None:
            return [int(v) for v in value.reshape(-1)]
    return None


_AMBIGUOUS = "?"  # a size-1 axis that a reshape may have taken from the input or added


def _moved(model, node, axes: list) -> list | None:
    """Where the input's axes are in ``node``'s output. ``axes[i]`` is ``(origin, size)`` for axis
    ``i`` of ``node``'s first input: the input axis now there (None for an axis the graph added,
    :data:`_AMBIGUOUS` when that cannot be told) and its static size (None when unknown). None when
    ``node`` does something this does not follow."""
    op, rank = node.op_type, len(axes)
    if op in _LAYOUT_KEEPING:
        return axes
    if op == "Transpose":
        perm = _ints(model, node, 99, "perm") or list(range(rank))[::-1]
        return [axes[p] for p in perm] if sorted(perm) == list(range(rank)) else None
    if op == "Unsqueeze":
        new = _ints(model, node, 1, "axes")
        if not new:
            return None
        out = list(axes)
        for a in sorted(a % (rank + len(new)) for a in new):
            out.insert(a, (None, 1))
        return out
    if op == "Reshape":
        return _reshaped(_ints(model, node, 1, "shape"), axes)
    return None


def _reshaped(shape: list[int] | None, axes: list) -> list | None:
    """A reshape keeps the order of the axes that are not size 1; size-1 axes may appear, vanish
    or move: they are the graph's (None) when the input gave none, else :data:`_AMBIGUOUS`."""
    if shape is None:
        return None
    real = [a for a in axes if a[1] != 1]
    units = {a[0] for a in axes if a[1] == 1}
    slots = [i for i, d in enumerate(shape) if d != 1]
    if len(slots) != len(real):
        return None
    unit = (None, 1) if units <= {None} else (_AMBIGUOUS, 1)
    out = [unit] * len(shape)
    for i, a in zip(slots, real):
        out[i] = a
    return out


def graph_layout(model, name: str, rank: int, shape: tuple = ()) -> str | None:
    """The layout of model input ``name`` (rank 3 or 4, static ``shape`` when known) as the graph
    uses it: follow it through element-wise ops, transposes, unsqueezes and reshapes to the first
    convolution or pool, and see which of its axes arrives as that op's channel axis. Returns
    ``NLC``/``NHWC`` (its last axis), ``NCL``/``NCHW`` (axis 1), ``NHW`` (a rank-3 input whose
    channel axis the graph adds), or None when the graph says nothing clear (the caller reads the
    shape)."""
    if rank not in (3, 4):
        return None
    consumers: dict[str, list] = {}
    for node in model.graph.node:  # file order: who reads a tensor, not when
        for i in node.input:
            consumers.setdefault(i, []).append(node)
    sizes = list(shape) if len(shape) == rank else [None] * rank
    todo, seen = [(name, [(i, sizes[i]) for i in range(rank)])], set()
    while todo:
        tensor, axes = todo.pop(0)
        for node in consumers.get(tensor, []):
            if id(node) in seen or not node.input or node.input[0] != tensor and node.op_type not in _LAYOUT_KEEPING:
                continue
            seen.add(id(node))
            if node.op_type in _CHANNELS_FIRST_OPS and node.input[0] == tensor and len(axes) >= 3:
                return _layout_of(axes[1][0], rank)
            moved = _moved(model, node, axes)
            if moved is not None and node.output and len(seen) < 64:
                todo.append((node.output[0], moved))
    return None


def _layout_of(channel, rank: int) -> str | None:
    if channel == _AMBIGUOUS:
        return None
    if channel is None:
        return "NHW" if rank == 3 else None
    if channel == rank - 1:
        return "NLC" if rank == 3 else "NHWC"
    if channel == 1:
        return "NCL" if rank == 3 else "NCHW"
    return None
