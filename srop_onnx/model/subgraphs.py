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


def _constant_condition(graph, name: str) -> bool | None:
    """The value of a constant boolean scalar ``name`` (through Identity), else None."""
    from onnx import numpy_helper

    from .graph import resolve_stored, stored_tensors

    slots = stored_tensors(graph)
    name = resolve_stored(name, {o: n for n in graph.node for o in n.output}, slots)
    if name is None:
        return None
    value = numpy_helper.to_array(slots[name])
    return bool(value.reshape(-1)[0]) if value.size == 1 else None


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


def inline_constant_ifs(model) -> tuple[object, list[str]]:
    """A copy of ``model`` with every ``If`` of constant condition replaced by the branch that runs,
    and one note per inlined ``If`` (``model`` itself is returned, unchanged, when there is none)."""
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
            cond = _constant_condition(out.graph, node.input[0])
            if cond is None:
                continue
            which = "then_branch" if cond else "else_branch"
            branch = next(a.g for a in node.attribute if a.name == which)
            if _inline_one(out.graph, i, branch):
                notes.append(f"If '{node.name}' has a constant condition ({cond}): its {which.split('_')[0]} branch "
                             "is tapped as ordinary layers")
                changed = True
                break
    return (out if notes else model), notes


def _walk(graph, where: str, ops: set, out: list) -> None:
    for node in graph.node:
        for attr in node.attribute:
            subgraphs = ([attr.g] if attr.HasField("g") else []) + list(attr.graphs)
            for g in subgraphs:
                inner = f"{where}the {attr.name} of {node.op_type} '{node.name or node.output[0]}'"
                for n in g.node:
                    if n.op_type in ops and n.output:
                        out.append({"tensor": n.output[0], "op": n.op_type, "name": n.name or n.output[0],
                                    "reason": f"inside {inner}: tensors of a subgraph cannot be graph outputs, so "
                                              "ONNX Runtime cannot return them (the branch or loop runs at run time)"})
                _walk(g, f"{inner}, ", ops, out)


def subgraph_layers(model, ops) -> list[dict]:
    """Skipped-layer entries for every op of ``ops`` left inside an If/Loop/Scan subgraph."""
    out: list[dict] = []
    _walk(model.graph, "", set(ops), out)
    return out
