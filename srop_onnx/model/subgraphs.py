"""Layers inside control flow (``If``, ``Loop``, ``Scan``): tap what can be tapped, say why not.

A tensor computed inside a subgraph cannot become a graph output, so ONNX Runtime cannot hand it
back. Two passes, model in, data out:

- :func:`inline_constant_ifs`: an ``If`` whose condition is a constant always runs the same branch;
  the branch's nodes replace the ``If`` (its outputs renamed to the ``If``'s through Identity), so
  its convolutions are ordinary, tappable layers. Repeated until no constant ``If`` is left.
- :func:`subgraph_layers`: every tappable op left inside a subgraph, as a skipped layer with the
  reason it cannot be tapped (which node, which branch, and why).
"""

from __future__ import annotations

__all__ = ["inline_constant_ifs", "subgraph_layers"]

_CONTROL_FLOW = ("If", "Loop", "Scan")


#: ops a condition may be computed with from constants and fixed inputs (a sample rate compared)
_CONDITION_OPS = frozenset({"Identity", "Cast", "Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual",
                            "Not", "And", "Or", "Xor", "Add", "Sub", "Mul", "Div", "Mod", "Abs", "Neg",
                            "Reshape", "Squeeze", "Unsqueeze", "ReduceMin", "ReduceMax", "Constant"})


def _constant_condition(graph, name: str, known: dict | None = None, opsets=()) -> bool | None:
    """The value of boolean scalar ``name`` when it is a constant (through Identity), or is
    computed (by a few :data:`_CONDITION_OPS`) from constants and the ``known`` input values alone;
    else None."""
    from onnx import numpy_helper

    from .graph import resolve_stored, stored_tensors

    slots = stored_tensors(graph)
    producers = {o: n for n in graph.node for o in n.output}
    stored = resolve_stored(name, producers, slots)
    if stored is not None:
        value = numpy_helper.to_array(slots[stored])
    elif known:
        value = _evaluated(name, producers, slots, known, list(opsets))
    else:
        return None
    return bool(value.reshape(-1)[0]) if value is not None and value.size == 1 else None


def _cone(name: str, producers: dict, is_leaf, limit: int = 32) -> "tuple[list, set[str]] | None":
    """``(nodes, leaves)``: the at most ``limit`` nodes of :data:`_CONDITION_OPS` that compute
    ``name`` from tensors ``is_leaf`` accepts, or None when it needs anything else."""
    nodes, leaves, todo, seen = [], set(), [name], set()
    while todo:
        t = todo.pop()
        if t in seen or not t:
            continue
        seen.add(t)
        if is_leaf(t):
            leaves.add(t)
            continue
        node = producers.get(t)
        if node is None or node.op_type not in _CONDITION_OPS or len(nodes) >= limit:
            return None
        nodes.append(node)
        todo.extend(node.input)
    return nodes, leaves


def _evaluated(name: str, producers: dict, slots: dict, known: dict, opsets: list):
    """``name``'s value computed from stored tensors and ``known`` inputs by a few
    :data:`_CONDITION_OPS` (:func:`_cone`; ONNX's reference evaluator), or None."""
    import numpy as np
    from onnx import helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    cone = _cone(name, producers, lambda t: t in known or t in slots)
    if cone is None:
        return None
    nodes, leaves = cone
    inits = [numpy_helper.from_array(numpy_helper.to_array(slots[t]), t) for t in leaves if t not in known]
    order = {id(n): i for i, n in enumerate(producers.values())}  # the graph's order: inputs first
    sub = helper.make_graph(sorted(nodes, key=lambda n: order[id(n)]), "condition",
                            [helper.make_tensor_value_info(t, helper.np_dtype_to_tensor_dtype(known[t].dtype),
                                                           known[t].shape) for t in leaves if t in known],
                            [helper.make_tensor_value_info(name, 0, None)],
                            inits)
    model = helper.make_model(sub, opset_imports=opsets or None)
    try:
        return np.asarray(ReferenceEvaluator(model).run(None, {t: known[t] for t in leaves if t in known})[0])
    except Exception:  # noqa: BLE001 - not computable here: the If stays, its layers are listed as skipped
        return None


def _names(graph) -> set[str]:
    out = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {o.name for o in graph.output}
    for node in graph.node:
        out.update(node.output)
    return out


def _inline_one(graph, index: int, branch) -> bool:
    """Replace ``graph.node[index]`` (an If) by the nodes of ``branch``; False on a name clash."""
    from onnx import helper

    node = graph.node[index]
    inner = {o for n in branch.node for o in n.output} | {i.name for i in branch.initializer}
    if inner & (_names(graph) - set(node.output)):
        return False
    nodes = list(branch.node)
    for src, dst in zip([o.name for o in branch.output], node.output):
        nodes.append(helper.make_node("Identity", [src], [dst], name=f"{node.name or 'If'}/{dst}/out"))
    graph.initializer.extend(branch.initializer)
    del graph.node[index]
    for offset, n in enumerate(nodes):
        graph.node.insert(index + offset, n)
    return True


def inline_constant_ifs(model, known: dict | None = None, where: str = "") -> tuple[object, list[str]]:
    """A copy of ``model`` with every ``If`` of constant condition replaced by the branch that runs,
    and one note per inlined ``If`` (``model`` itself is returned, unchanged, when there is none).
    ``known``: values of model inputs fixed for the run (``{"sr": array(16000)}``, fed whole with
    every run from ``where``); a condition computed from them and constants alone is constant."""
    import onnx

    notes: list[str] = []
    if not any(n.op_type == "If" for n in model.graph.node):
        return model, notes
    out = onnx.ModelProto()
    out.CopyFrom(model)
    changed = True
    while changed:
        changed = False
        for i, node in enumerate(out.graph.node):
            if node.op_type != "If" or not node.input:
                continue
            cond = _constant_condition(out.graph, node.input[0], known, out.opset_import)
            if cond is None:
                continue
            which = "then_branch" if cond else "else_branch"
            branch = next(a.g for a in node.attribute if a.name == which)
            fixed = _fixed_by(out.graph, node.input[0], known or {})  # computed, so its cone is there
            if _inline_one(out.graph, i, branch):
                source = f" of {where}" if where else ""
                why = (f"a condition fixed by {fixed}{source} ({cond})" if fixed else f"a constant condition ({cond})")
                notes.append(f"If '{node.name}' has {why}: its {which.split('_')[0]} branch is tapped as ordinary "
                             "layers")
                changed = True
                break
    return (out if notes else model), notes


def _fixed_by(graph, name: str, known: dict) -> str:
    """``sr = 16000``: the known inputs the condition ``name`` is computed from, or ''."""
    from .graph import stored_tensors

    slots = stored_tensors(graph)
    cone = _cone(name, {o: n for n in graph.node for o in n.output}, lambda t: t in known or t in slots)
    leaves = cone[1] if cone else set()
    return ", ".join(sorted(f"{t} = {known[t].item()!r}" for t in leaves if t in known))


def _scalar_inputs(graph, name: str) -> list[str] | None:
    """The scalar (rank-0) model inputs that condition ``name`` is computed from, by a few
    :data:`_CONDITION_OPS`, with constants alone (:func:`_cone`); None when it needs anything else
    (or none)."""
    from .graph import stored_tensors

    slots = stored_tensors(graph)
    scalars = {i.name for i in graph.input if i.type.tensor_type.HasField("shape")
               and len(i.type.tensor_type.shape.dim) == 0 and i.name not in slots}
    cone = _cone(name, {o: n for n in graph.node for o in n.output}, lambda t: t in slots or t in scalars)
    return sorted(cone[1] & scalars) or None if cone else None


def _readable(node) -> str:
    """A subgraph layer's name by the naming rules (``stft``, not ``If_0_else_branch__Inline_0__/stft/Conv``)."""
    from .naming import name_choice

    weight = node.input[1] if node.op_type in ("Conv", "ConvTranspose") and len(node.input) > 1 else None
    try:
        return name_choice(node, weight).name or node.name or node.output[0]
    except Exception:  # noqa: BLE001 - a name is a courtesy here: the node's own serves
        return node.name or node.output[0]


def _walk(graph, where: str, ops: set, out: list, hints: dict | None = None) -> None:
    for node in graph.node:
        for attr in node.attribute:
            subgraphs = ([attr.g] if attr.HasField("g") else []) + list(attr.graphs)
            for g in subgraphs:
                inner = f"{where}the {attr.name} of {node.op_type} '{node.name or node.output[0]}'"
                hint = (hints or {}).get(tuple(node.output), "")
                for n in g.node:
                    if n.op_type in ops and n.output:
                        out.append({"tensor": n.output[0], "op": n.op_type, "name": _readable(n),
                                    "reason": f"inside {inner}: tensors of a subgraph cannot be graph outputs, so "
                                              "ONNX Runtime cannot return them (the branch or loop runs at run "
                                              f"time{hint})"})
                _walk(g, f"{inner}, ", ops, out)


def subgraph_layers(model, ops) -> list[dict]:
    """Skipped-layer entries for every op of ``ops`` left inside an If/Loop/Scan subgraph; an ``If``
    on scalar inputs says that an .npz feeding them fixes its branch."""
    hints = {}
    for node in model.graph.node:
        if node.op_type == "If" and node.input:
            names = _scalar_inputs(model.graph, node.input[0])
            if names:
                hints[tuple(node.output)] = (f"; an .npz that feeds {', '.join(names)} fixes the branch, and analyze then taps "
                                   "it")
    out: list[dict] = []
    _walk(model.graph, "", set(ops), out, hints)
    return out
