"""Graph passes over ONNX models: one concern per function, model in, data out.

- :func:`topological_order` - nodes in dependency order (exports are not always sorted);
- :func:`infer_value_types` - tensor element types and shapes from shape inference (hints);
  :func:`symbolic_inference_missing` says what its symbolic half lacks here;
- :func:`find_taps` - which tensors to analyse (docs/models.md), with readable names;
- :func:`expose_outputs` - a copy of the model with extra graph outputs;
- :func:`recurrent_states` - inputs that hold a GRU/LSTM/RNN's state (they fix the batch);
- :func:`constant_values` - values of initializers and ``Constant`` nodes by name;
- :func:`split_weights` - a copy without the data of large weights (they go to the runtime from memory).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import math
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from ..errors import ModelError, UsageError, option
from .naming import NameChoice, disambiguate, name_choice, resolve_tf_suffixes, weight_choice
from .poolnames import POOL_OPS, follow_pooled, name_pool

if TYPE_CHECKING:
    import onnx

__all__ = [
    "DEFAULT_OPS",
    "recurrent_states",
    "Tap",
    "iter_tensors",
    "topological_order",
    "infer_value_types",
    "symbolic_inference_missing",
    "channels_unknown",
    "graph_inputs",
    "find_taps",
    "expose_outputs",
    "constant_values",
    "stored_tensors",
    "resolve_stored",
    "split_weights",
    "weight_arrays",
    "MEMORY_LOCATION",
]

DEFAULT_OPS = ("Conv", "ConvTranspose", "ConvInteger", "QLinearConv", "MaxPool", "AveragePool", "LpPool")
_QUANT_OPS = frozenset({"QLinearConv", "ConvInteger"})
_WEIGHT_OPS = frozenset({"Conv", "ConvTranspose", "ConvInteger", "QLinearConv"})


@dataclass
class Tap:
    """One tensor to analyse.

    ``channel_axis`` is 1 for NCHW / NCL tensors, 3 (or 2 for rank 3) for channels-last.
    ``dequant`` is ``(scale, zero_point)`` for quantized outputs, else None.
    """

    index: int
    tensor: str
    node: str
    op: str
    name: str
    elem_type: int | None = None
    shape_hint: tuple | None = None
    channel_axis: int = 1
    dequant: tuple[float, float] | None = None
    notes: list[str] = field(default_factory=list)
    tf_raw: str | None = field(default=None, repr=False)  # TensorFlow scope before `_N` stripping
    parents: tuple[str, ...] = field(default=(), repr=False)  # scopes above the name (tell clashes apart)
    kind: str | None = field(default=None, repr=False)  # conv kind: depthwise, pointwise or conv
    pool_of: "Tap | None" = field(default=None, repr=False)  # the layer a nameless pool pools (its name follows)
    by_weight: "NameChoice | None" = field(default=None, repr=False)  # the layer its weight's name names


def iter_tensors(graph) -> Iterator:
    """Every TensorProto of ``graph``: initializers, Constant attributes, subgraphs."""
    yield from graph.initializer
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from iter_tensors(attr.g)
            for g in attr.graphs:
                yield from iter_tensors(g)


def topological_order(graph) -> list:
    """Nodes of ``graph`` in a dependency order, stable with respect to file order."""
    nodes = list(graph.node)
    producer = {}
    for i, n in enumerate(nodes):
        for o in n.output:
            if o:
                producer[o] = i
    deps = [set() for _ in nodes]
    users: list[list[int]] = [[] for _ in nodes]
    for i, n in enumerate(nodes):
        for inp in n.input:
            j = producer.get(inp)
            if j is not None and j != i and j not in deps[i]:
                deps[i].add(j)
                users[j].append(i)
    indeg = [len(d) for d in deps]
    ready = deque(i for i, d in enumerate(indeg) if d == 0)
    order: list[int] = []
    import heapq

    heap = list(ready)
    heapq.heapify(heap)
    while heap:
        i = heapq.heappop(heap)
        order.append(i)
        for u in users[i]:
            indeg[u] -= 1
            if indeg[u] == 0:
                heapq.heappush(heap, u)
    if len(order) != len(nodes):
        raise ModelError("the model graph has a cycle; it is not a valid ONNX model")
    return [nodes[i] for i in order]


#: embedded initializers above this many bytes travel beside the graph, not inside it
_HEAVY_BYTES = 1024
#: ONNX element types whose raw data NumPy (and so an OrtValue) reads directly
_NUMPY_TYPES = {1: np.float32, 10: np.float16, 11: np.float64, 2: np.uint8, 3: np.int8, 5: np.int16, 6: np.int32,
                7: np.int64, 9: np.bool_}
#: the location of a weight that is handed to ONNX Runtime from memory (see :func:`split_weights`)
MEMORY_LOCATION = "srop-onnx-memory"


def split_weights(model) -> tuple[object, list]:
    """A copy of ``model`` without the data of its large embedded initializers, and those
    initializers (TensorProtos of the original, not copied).

    In the copy each moved initializer is a stub with its name, type and dims and an external
    data location :data:`MEMORY_LOCATION`: shape inference still sees every weight's type and
    shape, and ONNX Runtime takes the data from memory
    (:func:`weight_arrays`, ``SessionOptions.add_external_initializers``). Copying, inferring
    and serializing the graph then cost what the graph costs, not what the weights weigh
    (ResNet-50: 42 kB instead of 102 MB). Initializers inside subgraphs stay where they are.
    """
    import onnx

    g = model.graph
    # sized from its dims (reading raw_data would copy every weight; ByteSize() encodes it: 9 ms for ResNet-18)
    heavy = [t for t in g.initializer if t.data_type in _NUMPY_TYPES and t.HasField("raw_data")
             and math.prod(t.dims) * np.dtype(_NUMPY_TYPES[t.data_type]).itemsize > _HEAVY_BYTES]
    moved = {t.name for t in heavy}
    out = onnx.ModelProto()
    for name in ("ir_version", "producer_name", "producer_version", "domain", "model_version", "doc_string"):
        setattr(out, name, getattr(model, name))
    out.opset_import.extend(model.opset_import)
    out.metadata_props.extend(model.metadata_props)
    out.functions.extend(model.functions)
    graph = out.graph
    graph.name, graph.doc_string = g.name, g.doc_string
    for field_name in ("node", "input", "output", "value_info", "sparse_initializer", "quantization_annotation"):
        getattr(graph, field_name).extend(getattr(g, field_name))
    for t in g.initializer:
        graph.initializer.append(_stub(t) if t.name in moved else t)
    return out, heavy


def _stub(tensor):
    from onnx import TensorProto

    stub = TensorProto(name=tensor.name, data_type=tensor.data_type, dims=list(tensor.dims))
    stub.data_location = TensorProto.EXTERNAL
    entry = stub.external_data.add()
    entry.key, entry.value = "location", MEMORY_LOCATION
    return stub


def weight_arrays(tensors: list) -> tuple[list[str], list[np.ndarray]]:
    """Names and NumPy arrays of initializers moved by :func:`split_weights` (one copy each)."""
    names, arrays = [], []
    for t in tensors:
        dtype = np.dtype(_NUMPY_TYPES[t.data_type]).newbyteorder("<")
        names.append(t.name)
        raw = t.raw_data  # each read of the field copies the bytes out of the message
        flat = np.frombuffer(raw, dtype=dtype) if len(raw) % dtype.itemsize == 0 else None
        if flat is None or flat.size != math.prod(t.dims):
            raise ModelError(f"weight '{t.name}' holds {len(raw)} bytes, but its shape {tuple(t.dims)} needs "
                             f"{math.prod(t.dims) * dtype.itemsize}; the model file is damaged, export it again")
        arrays.append(flat.astype(dtype.newbyteorder("="), copy=False).reshape(tuple(t.dims)))
    return names, arrays


def infer_value_types(model, symbolic: bool = False) -> dict[str, tuple[int, tuple | None]]:
    """``{tensor: (elem_type, shape)}`` from ONNX shape inference; best effort.

    Shapes are hints (dims are ints, symbol strings or None); element types
    are 0 when unknown. Shape inference failures leave what is declared. With ``symbolic``, a conv
    or pool output that ONNX's inference leaves without a rank or channel count is taken from ONNX
    Runtime's symbolic shape inference (a few tenths of a second: for listings, which show shapes;
    a run reads them from the tensors).
    """
    import onnx

    light, _heavy = split_weights(model)  # the weights' data is not needed, only their types and shapes
    try:
        inferred = onnx.shape_inference.infer_shapes(light, check_type=False, strict_mode=False, data_prop=False)
    except Exception:
        inferred = light
    out = _declared_types(inferred.graph)
    if symbolic and _taps_unknown(light.graph, out):
        _fill_from(out, _symbolic_types(light))
    return out


def _declared_types(g) -> dict[str, tuple[int, tuple | None]]:
    out: dict[str, tuple[int, tuple | None]] = {}
    for vi in list(g.value_info) + list(g.input) + list(g.output):
        tt = vi.type.tensor_type
        shape = None
        if tt.HasField("shape"):
            shape = tuple(
                d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tt.shape.dim
            )
        out[vi.name] = (tt.elem_type, shape)
    for init in g.initializer:
        out[init.name] = (init.data_type, tuple(init.dims))
    return out


def _taps_unknown(graph, types: dict) -> bool:
    """Whether ONNX's shape inference left a conv or pool output without a rank or channel count
    (it stops at a ``Reshape`` of a computed shape, which PyTorch exports write often)."""
    return any(node.op_type in DEFAULT_OPS and node.output and channels_unknown(types.get(node.output[0], (0, None))[1])
               for node in graph.node)


def channels_unknown(shape) -> bool:
    """Whether a tap's inferred ``shape`` lacks its rank or its channel count (what symbolic shape
    inference is asked for)."""
    return shape is None or len(shape) < 2 or not isinstance(shape[1], int)


def _symbolic_types(light) -> dict[str, tuple[int, tuple | None]]:
    """Types from ONNX Runtime's symbolic shape inference, which follows shape arithmetic (``Shape``,
    ``Gather``, ``Concat`` into ``Reshape``) that ONNX's own inference does not; {} when it fails."""
    try:
        module = _symbolic_module()
        opset = module.get_opset(light)
        if not opset or opset < 7:
            return {}
        # its own loop, not SymbolicShapeInference.infer_shapes: that one saves the model as
        # sym_shape_infer_temp.onnx in the working directory when some shape stays unknown (a user's
        # folder, a read-only disk), and raises where what it found is still of use
        inference = module.SymbolicShapeInference(2**31 - 1, True, False, 0)
        inference._preprocess(light)
        for _round in range(1000):
            if not inference.run_:
                break
            inference._infer_impl()
        inference._update_output_from_vi()
        inferred = inference.out_mp_
    except Exception:  # a hint only: an op it does not know, a custom domain, an ONNX Runtime without it
        return {}
    return _declared_types(inferred.graph)


def _symbolic_module():
    """ONNX Runtime's ``tools/symbolic_shape_infer.py``, loaded from its file: importing it as
    ``onnxruntime.tools.symbolic_shape_infer`` runs ``onnxruntime.tools``' ``__init__``, which
    imports PyTorch where it is installed (a second, for nothing)."""
    import importlib.util
    import os
    import sys

    name = "_srop_onnx_symbolic_shape_infer"
    if name not in sys.modules:
        import onnxruntime

        path = os.path.join(os.path.dirname(onnxruntime.__file__), "tools", "symbolic_shape_infer.py")
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        sys.modules[name] = module
    return sys.modules[name]


def symbolic_inference_missing() -> "str | None":
    """The package ONNX Runtime's symbolic shape inference needs and cannot import here (``sympy``,
    which ONNX Runtime itself no longer installs), or None where it loads."""
    try:
        _symbolic_module()
    except ImportError as exc:  # ONNX Runtime words its own: "sympy is required for symbolic shape inference"
        said = re.match(r"([A-Za-z_][\w.]*) is required", str(exc))
        return (exc.name or (said.group(1) if said else "sympy")).split(".")[0]
    except Exception:  # noqa: BLE001 - broken otherwise: nothing to install
        return None
    return None


def _fill_from(types: dict, other: dict) -> None:
    """Fill ``types`` in place with what ``other`` knows more of: a shape where there is none, a
    number where there is a symbol (same rank), an element type where it is 0."""
    for name, (elem, shape) in other.items():
        mine_elem, mine = types.get(name, (0, None))
        if mine is None or (shape is not None and len(shape) != len(mine)):
            merged = shape if mine is None else mine
        elif shape is None:
            merged = mine
        else:
            merged = tuple(_better_dim(a, b) for a, b in zip(mine, shape))
        types[name] = (mine_elem or elem, merged)


def _better_dim(a, b):
    """A number over a symbol; a symbol that says something (``frames``) over ONNX's ``unk__N``."""
    for d in (a, b):
        if isinstance(d, int) and d > 0:
            return d
    if b and (not a or str(a).startswith("unk__")):
        return b
    return a


def graph_inputs(model) -> list:
    """Real inputs of the model (graph inputs that are not initializers)."""
    inits = {i.name for i in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


_FLOAT_TYPES = frozenset({1, 10, 11, 16})  # FLOAT, FLOAT16, DOUBLE, BFLOAT16
#: floating types ONNX Runtime cannot hand to NumPy (bfloat16, the float8 and float4 kinds)
_UNREADABLE_FLOATS = {16: "bfloat16", 17: "float8e4m3fn", 18: "float8e4m3fnuz", 19: "float8e5m2",
                      20: "float8e5m2fnuz", 23: "float4e2m1"}
_QUANT_TYPES = frozenset({2, 3, 6})  # UINT8, INT8, INT32 (ConvInteger)


def stored_tensors(graph) -> dict[str, object]:
    """``name -> TensorProto`` of every tensor stored in ``graph``: initializers and the
    outputs of ``Constant(value=tensor)`` nodes (where Paddle exports keep weights)."""
    slots: dict[str, object] = {i.name: i for i in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.output:
            for attr in node.attribute:
                if attr.name == "value" and attr.HasField("t"):
                    slots[node.output[0]] = attr.t
    return slots


def resolve_stored(name: str, producers: dict[str, object], slots: dict[str, object]) -> str | None:
    """The stored tensor (``slots``: see :func:`stored_tensors`) that ``name`` is, following Identity
    chains back; None when ``name`` is computed at run time."""
    seen = set()
    while name not in slots:
        node = producers.get(name)
        if node is None or node.op_type != "Identity" or name in seen:
            return None
        seen.add(name)
        name = node.input[0]
    return name


def constant_values(model, names: set[str]) -> dict[str, np.ndarray]:
    """Values of the named stored tensors and scalar Constants (weights left external are skipped)."""
    from onnx import numpy_helper

    found = {name: numpy_helper.to_array(t) for name, t in stored_tensors(model.graph).items()
             if name in names and t.data_location != 1}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output and node.output[0] in names:
            for attr in node.attribute:
                if attr.name in ("value_float", "value_int"):
                    found[node.output[0]] = np.asarray(attr.f if attr.name == "value_float" else attr.i)
    return found


def _dequant_params(model, node) -> tuple[float, float] | None:
    if node.op_type == "ConvInteger":
        return (1.0, 0.0)
    if node.op_type != "QLinearConv" or len(node.input) < 8:
        return None
    scale_name, zp_name = node.input[6], node.input[7]
    vals = constant_values(model, {scale_name, zp_name})
    if scale_name not in vals or zp_name not in vals:
        return None
    scale, zp = np.asarray(vals[scale_name]).reshape(-1), np.asarray(vals[zp_name]).reshape(-1)
    return (float(scale[0]), float(zp[0]))


def find_taps(
    model: "onnx.ModelProto",
    *,
    ops: tuple[str, ...] | list[str] | None = None,
    all_tensors: bool = False,
    layers: str | None = None,
    types: dict | None = None,
) -> tuple[list[Tap], list[dict]]:
    """Tensors to analyse, in topological (depth) order, and the candidates skipped.

    Parameters
    ----------
    model : onnx.ModelProto
    ops : op types whose outputs are tapped (default :data:`DEFAULT_OPS`).
    all_tensors : tap every node output that is (or may be) a rank-3/4 float tensor.
    layers : regular expression matched (``re.search``) against tensor, node and module names.
    types : result of :func:`infer_value_types` (computed when omitted).

    Returns
    -------
    (taps, skipped) where skipped entries are ``{"tensor", "op", "reason"}``.
    """
    if types is None:
        types = infer_value_types(model)
    try:
        pattern = re.compile(layers) if layers else None
    except re.error as exc:
        raise UsageError(f"{option('layers')}: invalid regular expression {layers!r} ({exc})") from exc
    op_set = set(ops or DEFAULT_OPS)
    taps: list[Tap] = []
    skipped: list[dict] = []
    seen: set[str] = set()
    producers = {o: n for n in model.graph.node for o in n.output}
    for node in topological_order(model.graph):
        if not all_tensors and node.op_type not in op_set:
            continue
        taps_here = _node_taps(node, types, op_set, all_tensors)
        if node.op_type in POOL_OPS:
            name_pool(taps_here, node, producers, lambda n: n.op_type in _WEIGHT_OPS,
                      lambda n: _node_taps(n, types, {n.op_type}, False)[0])
        for tap in taps_here:
            if tap.tensor in seen:
                continue
            if pattern and not any(pattern.search(s or "") for s in (tap.tensor, tap.node, tap.name)):
                continue
            seen.add(tap.tensor)
            reason = _tap_problem(model, node, tap, types.get(tap.tensor, (0, None))[1])
            if reason:
                skipped.append({"tensor": tap.tensor, "op": node.op_type, "reason": reason})
            else:
                taps.append(tap)
    _final_names(taps, {o.name for o in model.graph.output}, keras2=model.producer_name == "keras2onnx")
    return taps, skipped


def _final_names(taps: list[Tap], graph_outs: set[str], keras2: bool = False) -> None:
    """The model-level naming rules over all taps (docs/models.md), then their depth indices."""
    _names_from_weights(taps)
    choices = [NameChoice(t.name, t.tf_raw, t.parents) for t in taps]
    for t, name in zip(taps, resolve_tf_suffixes(choices, keras2=keras2)):
        t.name = name
    follow_pooled(taps)
    for i, (t, name) in enumerate(zip(taps, disambiguate(taps))):
        t.index, t.name = i, name
        if t.tensor in graph_outs:
            t.notes.append("already a graph output")


def _names_from_weights(taps: list[Tap]) -> None:
    """Layers of one op that the node names give one name (a full-int8 TFLite model names several
    depthwise convs after one scope) take their weights' names instead, when those tell every one
    of them apart."""
    groups: dict[tuple[str, str], list[Tap]] = {}
    for t in taps:
        groups.setdefault((t.name, t.op), []).append(t)
    for group in groups.values():
        if len(group) < 2 or any(t.by_weight is None for t in group):
            continue
        scopes = [t.by_weight.tf_raw or t.by_weight.name for t in group]  # type: ignore[union-attr]
        if len(set(scopes)) == len(group):
            for t in group:
                t.name, t.tf_raw, t.parents = t.by_weight.name, t.by_weight.tf_raw, t.by_weight.parents  # type: ignore[union-attr]


def _node_taps(node, types: dict, op_set: set, all_tensors: bool) -> list[Tap]:
    """Candidate taps of one node: its first output (``--ops``), or every output that may be a
    rank-3/4 float tensor (``--all``)."""
    outputs = node.output[:1] if not all_tensors else [o for o in node.output if o]
    weight = node.input[1] if node.op_type in _WEIGHT_OPS and len(node.input) > 1 else None
    if node.op_type == "QLinearConv" and len(node.input) > 3:
        weight = node.input[3]
    kind = conv_kind(node, types.get(weight, (0, None))[1] if weight else None)
    choice = name_choice(node, weight, kind)
    out = []
    for tensor in outputs:
        if not tensor:
            continue
        elem, shape = types.get(tensor, (0, None))
        rank = len(shape) if shape is not None else None
        if all_tensors and node.op_type not in op_set:
            if (elem and elem not in _FLOAT_TYPES) or (rank is not None and rank not in (3, 4)):
                continue  # --all: silently only rank-3/4 float tensors
        out.append(Tap(index=0, tensor=tensor, node=node.name, op=node.op_type, name=choice.name,
                       elem_type=elem or None, shape_hint=shape, tf_raw=choice.tf_raw, parents=choice.parents,
                       kind=kind, by_weight=weight_choice(weight, kind) if weight else None))
    return out


def conv_kind(node, weight_shape) -> str | None:
    """``depthwise`` (one input channel per group), ``pointwise`` (a 1x1 kernel, one group) or
    ``conv`` for convolutions; None for other ops. ``weight_shape`` (M, C/group, k...) may be unknown."""
    if node.op_type not in _WEIGHT_OPS:
        return None
    group = next((a.i for a in node.attribute if a.name == "group"), 1)
    dims = tuple(weight_shape) if weight_shape else None
    if group > 1 and (dims is None or (len(dims) > 1 and dims[1] == 1)):
        return "depthwise"
    if group == 1 and dims is not None and len(dims) > 2 and all(d == 1 for d in dims[2:]):
        return "pointwise"
    return "conv"


def _tap_problem(model, node, tap: Tap, shape) -> str | None:
    """Why ``tap`` cannot be analysed (rank, element type), else None; sets ``tap.dequant``
    for quantized outputs with constant scale and zero point."""
    rank = len(shape) if shape is not None else None
    elem = tap.elem_type
    if elem in _UNREADABLE_FLOATS:
        return (f"{_UNREADABLE_FLOATS[elem]} tensor: ONNX Runtime cannot return it to NumPy (cast it to float32 in "
                "the model to analyse it)")
    if rank is not None and rank >= 5:
        return (f"rank {rank} tensor: a 3-D feature map (volume or clip); srop-onnx measures 1-D and 2-D maps "
                "(docs/method.md)")
    if rank is not None and rank < 3:
        return f"rank {rank} tensor: not a feature map"
    if elem and elem not in _FLOAT_TYPES:
        if node.op_type in _QUANT_OPS and elem in _QUANT_TYPES:
            tap.dequant = _dequant_params(model, node)
            return None if tap.dequant is not None else "quantized output whose scale/zero point are not constants"
        return f"non-float tensor (ONNX type {elem})"
    return None


def expose_outputs(model, taps: list[Tap]):
    """Copy of ``model`` with every tap tensor as a graph output (existing outputs kept).

    Outputs carry the inferred element type when known and no shape (shapes
    are hints; the runtime's arrays are the truth).
    """
    import onnx
    from onnx import helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    existing = {o.name for o in out.graph.output}
    for t in taps:
        if t.tensor in existing:
            continue
        if t.elem_type:
            vi = helper.make_tensor_value_info(t.tensor, t.elem_type, None)
        else:
            vi = onnx.ValueInfoProto()
            vi.name = t.tensor
        out.graph.output.append(vi)
        existing.add(t.tensor)
    return out


#: recurrent ops and the input slots that hold their state: (num_directions, batch, hidden)
_RNN_STATE_SLOTS = {"GRU": (5,), "RNN": (5,), "LSTM": (5, 6)}


#: ops a recurrent state passes through on its way to a GRU/LSTM/RNN: one stacked state (4, 1, 64) is
#: sliced, split or gathered along its first axis into each op's (2, 1, 64) (PyTorch 1.x exports)
_STATE_PASSES = frozenset({"Identity", "Cast", "Slice", "Split", "Gather", "Squeeze", "Unsqueeze", "Reshape"})


def recurrent_states(graph) -> dict[str, str]:
    """``{graph input: "GRU 'name'"}`` for each input that feeds a recurrent op's state
    (``initial_h``, LSTM's ``initial_c``), directly or through Identity, Cast, Slice, Split,
    Gather, Squeeze, Unsqueeze or Reshape."""
    alias = {vi.name: vi.name for vi in graph.input}
    for node in topological_order(graph):  # the state's parts keep the input's name
        if node.op_type in _STATE_PASSES and node.input and node.input[0] in alias:
            for out in node.output:
                if out:
                    alias[out] = alias[node.input[0]]
    found: dict[str, str] = {}
    for node in graph.node:
        for idx in _RNN_STATE_SLOTS.get(node.op_type, ()):
            if len(node.input) > idx and node.input[idx] in alias:
                found.setdefault(alias[node.input[idx]], f"{node.op_type} state of '{node.name}'")
    return found
