"""The max-pooling baseline's pooling chain, added to a model's graph as outputs.

The runtime computes the chain where it runs the model (docs/baseline-and-twin.md): the
baseline needs no second upload of the input, and its statistics are reduced next to the taps'.
What the chain adds is valid at the model's own opset (opset 7 up).
"""

from __future__ import annotations

from ..errors import ModelError, UsageError

__all__ = ["add_pooling_chain"]


def _fresh(used: set[str], base: str) -> str:
    """``base``, or ``base`` with underscores appended, not in ``used`` (which it joins)."""
    name = base
    while name in used:
        name += "_"
    used.add(name)
    return name


def _used_names(graph) -> set[str]:
    names = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {o.name for o in graph.output}
    for node in graph.node:
        names.update(node.output)
        names.add(node.name)
    return names


def _nan_propagating_max_pool(used: set[str], src: str, dst: str, dims: int, consts: dict[str, str]) -> list:
    """Nodes for ``dst = maxpool2(src)`` where a window holding a NaN gives NaN (as NumPy's
    ``maximum`` does). ONNX leaves NaN in MaxPool unspecified and runtimes keep or drop it
    by its place in the window; the explicit mask makes every device agree. From opset 9 the mask
    is ``IsNaN`` and the NaN goes in with ``Where`` (``consts["nan"]``); below, with opset 7
    operators only (:func:`_nan_mask_opset7`)."""
    from onnx import TensorProto, helper

    window = [2] * dims
    pooled, mask, hit = (_fresh(used, f"{dst}/{part}") for part in ("max", "mask", "hit"))
    head = [helper.make_node("MaxPool", [src], [pooled], name=pooled, kernel_shape=window, strides=window)]
    if "nan" not in consts:
        return head + _nan_mask_opset7(used, src, dst, mask, consts) + [
            helper.make_node("MaxPool", [mask], [hit], name=hit, kernel_shape=window, strides=window),
            *_poison_opset7(used, pooled, hit, dst)]
    isnan, any_nan = (_fresh(used, f"{dst}/{part}") for part in ("isnan", "any"))
    return head + [
        helper.make_node("IsNaN", [src], [isnan], name=isnan),
        helper.make_node("Cast", [isnan], [mask], name=mask, to=TensorProto.FLOAT),
        helper.make_node("MaxPool", [mask], [hit], name=hit, kernel_shape=window, strides=window),
        helper.make_node("Cast", [hit], [any_nan], name=any_nan, to=TensorProto.BOOL),
        helper.make_node("Where", [any_nan, consts["nan"], pooled], [dst], name=dst),
    ]


def _nan_mask_opset7(used: set[str], src: str, dst: str, mask: str, consts: dict[str, str]) -> list:
    """``mask = float(isnan(src))`` without ``IsNaN`` (opset 9): NaN is the one value for which both
    ``x > 0`` and ``x < 1`` are false."""
    from onnx import TensorProto, helper

    above, below, number, isnan = (_fresh(used, f"{dst}/{part}") for part in ("gt", "lt", "num", "isnan"))
    return [
        helper.make_node("Greater", [src, consts["zero"]], [above], name=above),
        helper.make_node("Less", [src, consts["one"]], [below], name=below),
        helper.make_node("Or", [above, below], [number], name=number),
        helper.make_node("Not", [number], [isnan], name=isnan),
        helper.make_node("Cast", [isnan], [mask], name=mask, to=TensorProto.FLOAT),
    ]


def _poison_opset7(used: set[str], pooled: str, hit: str, dst: str) -> list:
    """``dst = pooled + sqrt(-hit)`` without ``Where`` (opset 9): ``sqrt(-0.0)`` is ``-0.0``, which
    changes no number it is added to, and ``sqrt(-1)`` is NaN."""
    from onnx import helper

    neg, poison = (_fresh(used, f"{dst}/{part}") for part in ("neg", "sqrt"))
    return [
        helper.make_node("Neg", [hit], [neg], name=neg),
        helper.make_node("Sqrt", [neg], [poison], name=poison),
        helper.make_node("Add", [pooled, poison], [dst], name=dst),
    ]


def _opset(model) -> int:
    """The model's default-domain opset (13 when it declares none)."""
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)


def _unsqueeze_channel(model, used: set[str], nodes: list, current: str) -> str:
    """Append an Unsqueeze of axis 1 to ``nodes`` (axes as an input from opset 13, else an attribute)."""
    from onnx import TensorProto, helper

    opset = _opset(model)
    out = _fresh(used, "srop_onnx/baseline/unsqueeze")
    if opset >= 13:
        axes = _fresh(used, "srop_onnx/baseline/axes")
        nodes.append(helper.make_node("Constant", [], [axes], name=axes,
                                      value=helper.make_tensor(axes, TensorProto.INT64, [1], [1])))
        nodes.append(helper.make_node("Unsqueeze", [current, axes], [out], name=out))
    else:
        nodes.append(helper.make_node("Unsqueeze", [current], [out], name=out, axes=[1]))
    return out


def add_pooling_chain(model, input_name: str, channel_axis: int | None, levels: int, *,
                      copy: bool = True) -> tuple[object, list[str]]:
    """Copy of ``model`` whose extra outputs are the max-pooling chain of input ``input_name``
    (with ``copy=False``, ``model`` itself, changed in place: for a model the caller already
    copied, e.g. the output of :func:`expose_outputs`, so its weights are not copied twice).

    Output ``i`` is the input after ``i`` rounds of 2x2 (2 for 1-D), stride-2, floor-mode
    max-pooling, as float32 and channels-first (docs/baseline-and-twin.md): level 0 is the input itself. A
    window with a NaN pools to NaN, so a map with NaN stays non-finite down the chain. The
    runtime computes the chain where it runs the model, so the baseline needs no second
    upload of the input and its statistics are reduced next to the taps'.

    Returns the new model and the ``levels`` output names, level 0 first.
    """
    import onnx
    from onnx import TensorProto, helper

    if levels < 1:
        raise UsageError(f"a pooling chain needs at least one level, got {levels}")
    source = next((i for i in model.graph.input if i.name == input_name), None)
    if source is None:
        raise ModelError(f"model has no input '{input_name}'")
    rank = len(source.type.tensor_type.shape.dim)
    if rank not in (2, 3, 4):
        raise ModelError(f"input '{input_name}' has rank {rank}; a pooling chain needs rank 2, 3 or 4")
    out = model
    if copy:
        out = onnx.ModelProto()
        out.CopyFrom(model)
    used = _used_names(out.graph)
    nodes, current = [], input_name
    if source.type.tensor_type.elem_type != TensorProto.FLOAT:
        cast = _fresh(used, "srop_onnx/baseline/cast")
        nodes.append(helper.make_node("Cast", [current], [cast], name=cast, to=TensorProto.FLOAT))
        current = cast
    if channel_axis is None:  # one channel: a waveform (N, samples), an image (N, H, W): (N, 1, ...)
        current, channel_axis, rank = _unsqueeze_channel(out, used, nodes, current), 1, rank + 1
    if channel_axis != 1:
        perm = [0, channel_axis] + [a for a in range(1, rank) if a != channel_axis]
        moved = _fresh(used, "srop_onnx/baseline/channels_first")
        nodes.append(helper.make_node("Transpose", [current], [moved], name=moved, perm=perm))
        current = moved
    names = [_fresh(used, "srop_onnx/baseline/0")]
    nodes.append(helper.make_node("Identity", [current], [names[0]], name=names[0]))
    values = {"nan": float("nan")} if _opset(out) >= 9 else {"zero": 0.0, "one": 1.0}  # IsNaN/Where: opset 9
    consts = {key: _fresh(used, f"srop_onnx/baseline/{key}") for key in values}
    for key, name in consts.items():
        nodes.append(helper.make_node("Constant", [], [name], name=name,
                                      value=helper.make_tensor(name, TensorProto.FLOAT, [], [values[key]])))
    for level in range(1, levels):
        names.append(_fresh(used, f"srop_onnx/baseline/{level}"))
        nodes.extend(_nan_propagating_max_pool(used, names[-2], names[-1], rank - 2, consts))
    out.graph.node.extend(nodes)
    out.graph.output.extend(helper.make_tensor_value_info(n, TensorProto.FLOAT, [None] * rank) for n in names)
    return out, names
