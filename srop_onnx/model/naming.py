"""Readable module names for tapped nodes (docs/models.md), from any exporter's conventions.

Order of preference (:func:`name_choice`):

1. PyTorch >= 2.9 metadata ``pkg.torch.onnx.name_scopes``: the deepest module entry; when that
   entry is a BatchNorm fused into this conv (``layer1.0.bn2``), the conv's weight's module
   (``layer1.0.conv2.weight`` -> ``layer1.0.conv2``);
2. a scoped node name: PyTorch legacy ``/layer1/layer1.0/conv1/Conv`` -> ``layer1.0.conv1`` (a
   repeated level such as ``/downsample/downsample.0/`` is one module); tf2onnx
   ``small_1/conv_b_1/convolution`` -> ``conv_b``; TFLite through tf2onnx joins several TensorFlow
   names with ``;``: the segment that names the convolution;
3. for generic node names (the op type plus separators and a number: ``Conv__26``, ``Conv.0``,
   ``Conv@0``, ``p2o.Conv.3``, ``node_Conv_153``, ``Conv_2``) or a conv named after a BatchNorm
   folded into it: the weight's name (tf2onnx scope, PyTorch ``0.stft.conv_real.weight``, Paddle 2.x
   ``conv2d_0.w_0``, paddle2onnx 1.x ``conv1_weights``), else the output tensor's name
   (``depthwise_conv2d_0.tmp_0`` -> ``depthwise_conv2d_0``);
4. the node name; 5. for unnamed nodes, the output tensor's name.

TensorFlow appends ``_N`` to uniquified scopes (Keras 3: layer ``conv_b``, scope ``conv_b_1``) but
Keras 2 layers are themselves named ``conv2d_1``: :func:`resolve_tf_suffixes` strips one trailing
``_N`` only where the stripped names stay distinct across the model's layers.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

__all__ = ["module_name", "name_choice", "NameChoice", "resolve_tf_suffixes", "scope_from_metadata", "unreadable_metadata",
           "scope_from_name", "scope_from_weight", "is_generic_name", "tflite_segment", "tf_scope_parts",
           "disambiguate", "strip_quant", "weight_choice"]

_PADDLE_PARAM = re.compile(r"^(.+)\.(?:w|b)_\d+$")  # Paddle 2.x parameters: conv2d_0.w_0 -> conv2d_0
_PADDLE_TMP = re.compile(r"^(.+)\.tmp_\d+$")  # paddle2onnx 1.x tensors: depthwise_conv2d_0.tmp_0
#: what an inliner puts before the names it copies out of a function or an If branch
#: (``F0::If_0_then_branch__Inline_0__/encoder/0/reparam_conv/Conv``: Silero VAD for OpenVINO)
_INLINED = re.compile(r"^(?:[A-Za-z]\w*::)?\w*?__Inline_\d+__")
_P2O_TENSOR = re.compile(r"^p2o\.pd_op\.([A-Za-z0-9_]+)\.(\d+)\.\d+$")  # paddle2onnx 2.x: p2o.pd_op.pool2d.0.0
_PADDLE1_WEIGHT = re.compile(r"^(.+?)_(?:weights|weight|w|filter|kernel)$")  # paddle2onnx 1.x: conv1_weights
_TORCH_PARAM = re.compile(r"^([A-Za-z0-9_.]+)\.(?:weight|bias)$")  # 0.stft.conv_real.weight
_BN_WORDS = re.compile(r"batch_?norm|batchnormalization|fusedbatchnorm|/bn\d*[_/]|^bn\d*[_/]", re.IGNORECASE)
_BN_MODULE = re.compile(r"(?:^|[._])(?:bn|batch_?norm|norm)\d*$", re.IGNORECASE)
_TF_UNIQ = re.compile(r"_\d+$")
_CONV_OPS = ("Conv", "ConvTranspose", "QLinearConv", "ConvInteger")
#: what quantization tools append to a node's name (TFLite int8 ``..._prequant``, onnxruntime
#: QOperator ``Conv__175_quant``, tensors ``..._quantized``)
_QUANT_SUFFIX = re.compile(r"_(?:pre|de)?quant(?:ized)?$")
#: jax2tf wraps a Flax model in ``pjit_<function>_`` / ``jit_<function>`` scopes; below it the path
#: is the Flax modules' own (``MagikaV2/Conv_0``)
_JAX_WRAPPER = re.compile(r"^p?jit_")
#: a Keras layer's default name as the last part of a node name (tf2onnx 1.15 names nodes after it)
_KERAS_CONV_LAYER = re.compile(r"^conv[123]d(?:_\d+)?$")
#: the bias input of each conv op (its name carries the layer when the weight was constant-folded)
_BIAS_SLOT = {"Conv": 2, "ConvTranspose": 2, "QLinearConv": 8}


def strip_quant(name: str) -> str:
    """``name`` without a quantization tool's suffix (``conv2d/Conv2D1_prequant`` -> ``conv2d/Conv2D1``)."""
    return _QUANT_SUFFIX.sub("", name)


@dataclass(frozen=True)
class NameChoice:
    """A layer's name; ``tf_raw`` is its TensorFlow scope before ``_N`` stripping (None when the
    name did not come from a TensorFlow scope); ``parents`` are the scopes above it, outermost
    first (they tell apart layers that would share a name)."""

    name: str
    tf_raw: str | None = None
    parents: tuple[str, ...] = ()


#: metadata values longer than this are not read (a real module path list is a few hundred
#: characters; an exporter's or an attacker's 200 kB value would cost memory and recursion)
MAX_METADATA_CHARS = 16_384
#: deepest bracket nesting parsed in a name-scope list (a real one is flat: ['', 'layer1', ...])
MAX_METADATA_NESTING = 4


def _metadata(node, key: str) -> str | None:
    value = next((p.value for p in node.metadata_props if p.key == key), None)
    return None if value is None or len(value) > MAX_METADATA_CHARS else value


def _nesting(text: str) -> int:
    depth = deepest = 0
    for c in text:
        if c in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in ")]}":
            depth -= 1
    return deepest


def _scopes(node) -> list | None:
    """``pkg.torch.onnx.name_scopes`` parsed as a list of strings, or None when absent, too large,
    too deeply nested or unreadable (any failure of the parser: the node's other names serve)."""
    value = _metadata(node, "pkg.torch.onnx.name_scopes")
    if value is None or _nesting(value) > MAX_METADATA_NESTING:
        return None
    try:
        scopes = ast.literal_eval(value)
    except Exception:  # noqa: BLE001 - ValueError, SyntaxError, RecursionError, MemoryError...: not a name
        return None
    return list(scopes) if isinstance(scopes, (list, tuple)) else None


def unreadable_metadata(nodes) -> int:
    """How many of ``nodes`` carry a name-scope value that is not read (over
    :data:`MAX_METADATA_CHARS`, nested deeper than :data:`MAX_METADATA_NESTING`, or not a list): they
    are named from their node names, and the plan says so."""
    key = "pkg.torch.onnx.name_scopes"
    return sum(1 for n in nodes for p in n.metadata_props if p.key == key and _scopes(n) is None)


def scope_from_metadata(node) -> str | None:
    """Deepest module path in ``pkg.torch.onnx.name_scopes``, or None."""
    scopes = _scopes(node)
    if scopes is None:
        return None
    modules: list[str] = []
    for entry in scopes[:-1] if len(scopes) > 1 else scopes:  # last entry is the op itself
        entry = str(entry)
        if not entry:
            continue
        if not modules or entry.startswith(modules[-1] + "."):
            modules.append(entry)
        else:
            modules.append(modules[-1] + "." + entry)
    return modules[-1] if modules else None


def _fused_batchnorm(node, module: str) -> bool:
    """The deepest module of a conv is a BatchNorm folded into it (dynamo exporter + onnxscript)."""
    if node.op_type not in _CONV_OPS:
        return False
    classes = _metadata(node, "pkg.torch.onnx.class_hierarchy") or ""
    rules = _metadata(node, "pkg.onnxscript.rewriter.rule_name") or ""
    modules = [c for c in re.findall(r"'([^']*)'", classes) if not c.startswith("aten.")]
    return ("BatchNorm" in (modules[-1] if modules else "") or "FuseBatchNorm" in rules
            or bool(_BN_MODULE.search(module)))


def _legacy_path(parts: list[str]) -> str | None:
    """Module path of PyTorch legacy scopes ``a / a.b / c / c.0``: a part that extends the previous
    one (``downsample.0`` after ``downsample``) replaces it instead of nesting below it."""
    path, prev = "", ""
    for part in parts:
        if path and part.startswith(path + "."):
            path = part
        elif prev and part.startswith(prev + ".") and path.endswith(prev):
            path = path[: len(path) - len(prev)] + part
        elif path:
            path = f"{path}.{part}"
        else:
            path = part
        prev = part
    return path or None


_TF_OP_WORDS = frozenset({"convolution", "depthwise", "conv2d_transpose", "separable_conv2d", "add", "mul", "sub", "pad"})
#: the last part of a TensorFlow name that is a convolution op (TFLite joins names with ';')
_CONV_SEGMENT = re.compile(r"^(?:conv[123]d(?:_?\d+)?|convolution(?:_\d+)?|depthwise(?:conv2dnative)?(?:_\d+)?"
                           r"|conv2d_transpose(?:_\d+)?|separable_conv2d(?:_\d+)?)$", re.IGNORECASE)


def _is_tf_op(part: str) -> bool:
    """A TensorFlow op's name: CamelCase (``Conv2D``, ``BiasAdd``), or a lowercase op word with an
    optional counter (``depthwise``, ``depthwise1``, ``add_1``)."""
    return part[:1].isupper() or re.sub(r"_?\d+$", "", part.lower()) in _TF_OP_WORDS


def tflite_segment(name: str, kind: str | None = None) -> str:
    """TFLite through tf2onnx joins the names of every op fused into one tensor with ``;``: the
    segment that names the convolution (its last part is a conv op); where several do, the one
    whose kind matches the node (``depthwise`` for a depthwise conv, a plain conv otherwise), else
    the last; a name without a conv segment gives its last segment."""
    if ";" not in name:
        return name
    segments = [s for s in name.split(";") if strip_quant(s)]  # a bare '_prequant' segment names nothing
    if not segments:
        return name
    convs = [s for s in segments if _CONV_SEGMENT.match(strip_quant(s.rsplit("/", 1)[-1]))]
    if not convs:  # the last segment that is not a folded BatchNorm's op (Keras 3: .../batchnorm/sub)
        return next((s for s in reversed(segments) if not _BN_WORDS.search(s)), segments[-1])
    if kind in ("depthwise", "conv", "pointwise"):
        wanted = kind == "depthwise"
        same = [s for s in convs if s.rsplit("/", 1)[-1].lower().startswith("depthwise") == wanted]
        if same:
            return same[-1]
    return convs[-1]


def tf_scope_parts(name: str) -> list[str] | None:
    """The scopes of a TensorFlow name, outermost first, down to the layer (the trailing op names
    dropped): ``model_1/conv2d_1/convolution`` -> ``[model_1, conv2d_1]``. A layer named like
    its op (Keras ``separable_conv2d``) stays; a root followed by ops only is the layer itself."""
    parts = [p for p in tflite_segment(name).split(":")[0].split("/") if p]
    if len(parts) < 2:
        return None
    if _KERAS_CONV_LAYER.match(strip_quant(parts[-1])):
        return parts  # a node named after its Keras layer (tf2onnx 1.15: cq_t2010v2_1/conv1d_3)
    end = len(parts) - 1  # the last part is the node's own (op) name
    while end > 1 and _is_tf_op(parts[end - 1]):
        end -= 1
    if end == 1 and len(parts) > 2 and not parts[1][:1].isupper():
        end = 2  # model/separable_conv2d/separable_conv2d/depthwise: the layer is named like its op
    return parts[:end]


def _tf_scope(name: str) -> str | None:
    parts = tf_scope_parts(name)
    return parts[-1] if parts else None


def _strip_tf(scope: str) -> str:
    return ".".join(_TF_UNIQ.sub("", p) or p for p in scope.split("."))


def scope_from_name(name: str, *, strip_tf: bool = True) -> str | None:
    """Module path encoded in a scoped node or tensor name, or None when unscoped. For a
    TensorFlow name, the layer's own scope (``small_1/conv_b_1/convolution`` -> ``conv_b``).

    ``strip_tf=False`` keeps TensorFlow's ``_N`` suffixes (the model-level rule decides)."""
    if not name:
        return None
    paddle = _PADDLE_PARAM.match(name)
    if paddle and "/" not in name:
        return paddle.group(1)
    if "/" not in name:
        return None
    if name.startswith("/"):  # PyTorch legacy exporter: /a/a.b/c/Op
        return _legacy_path([p for p in name.split("/") if p][:-1])
    scope = _tf_scope(name)
    return _strip_tf(scope) if scope and strip_tf else scope


def scope_from_weight(weight: str | None) -> str | None:
    """The module a weight's name names: a scoped name, a PyTorch parameter
    (``0.stft.conv_real.weight``), a Paddle parameter (``conv2d_0.w_0``) or a paddle2onnx 1.x
    weight (``conv1_weights``)."""
    if not weight:
        return None
    for pattern in (_TORCH_PARAM, _PADDLE_PARAM, _PADDLE1_WEIGHT):
        found = pattern.match(weight)
        if found and "/" not in weight:
            return found.group(1)
    return scope_from_name(weight, strip_tf=False)


#: ONNXMLTools (CoreML, Keras 1) names each operator after its kind and a counter (``convolution1``,
#: ``pooling3``) and keeps the source model's layer names on the tensors
_COUNTED_OP = {"Conv": "convolution", "ConvTranspose": "(?:de)?convolution", "MaxPool": "pooling",
               "AveragePool": "pooling", "LpPool": "pooling"}


def _counted_op_name(name: str, op_type: str) -> bool:
    word = _COUNTED_OP.get(op_type)
    return bool(word and re.match(rf"^{word}\d*$", name, re.IGNORECASE))


def is_generic_name(name: str, op_type: str) -> bool:
    """True for exporter-generated names: the op type alone or plus separators and a number, whatever
    the separators (``Conv``, ``Conv__26``, ``Conv.0``, ``Conv@0``, ``p2o.Conv.3``, ``node_Conv_153``, ``Conv_2``),
    and for a conv named after a BatchNorm that was folded into it."""
    if not name:
        return False
    base = strip_quant(name.rsplit("/", 1)[-1])
    for op in (op_type, "Conv") if op_type in ("QLinearConv", "ConvInteger") else (op_type,):
        if re.match(rf"^(?:node_|p2o\.)?{re.escape(op)}(?:[_.@#:-]+\d+)+$", base, re.IGNORECASE):
            return True
        if base.lower() == op.lower() and "/" not in name.lstrip("/"):  # the op alone, unscoped: "/Conv"
            return True
    return op_type in _CONV_OPS and bool(_BN_WORDS.search(name))


def _tf_choice(name: str) -> NameChoice | None:
    """The choice a TensorFlow-scoped name gives: the layer (``_N`` stripped for now), its raw
    scope, and the scopes above it."""
    parts = tf_scope_parts(name)
    if not parts:
        return None
    return NameChoice(_strip_tf(parts[-1]), parts[-1], tuple(parts[:-1]))


def _jax_path(name: str) -> str | None:
    """The Flax module path below a jax2tf wrapper: ``.../pjit_get_logits_/MagikaV2/Conv_0/Conv2D``
    -> ``MagikaV2.Conv_0`` (the last part is the op)."""
    parts = [p for p in name.split(":")[0].split("/") if p]
    wrappers = [i for i, p in enumerate(parts) if _JAX_WRAPPER.match(p)]
    if not wrappers or wrappers[-1] >= len(parts) - 2:
        return None
    return ".".join(parts[wrappers[-1] + 1 : -1])


def _from_stored(name: str | None, kind: str | None) -> NameChoice | None:
    """The layer a stored input's name (a weight, a bias) names, if any."""
    if name and "/" in name and not name.startswith("/"):
        found = _tf_choice(tflite_segment(name, kind))
        if found:
            return found
    scope = scope_from_weight(name)
    return NameChoice(scope) if scope else None


def uninlined(name: str) -> str:
    """``name`` without the prefix an inliner gave it (``F0::If_0_then_branch__Inline_0__``)."""
    return _INLINED.sub("", name, count=1) if "__Inline_" in name else name


def weight_choice(weight: str | None, kind: str | None = None) -> NameChoice | None:
    """The layer a conv's weight (or its dequantized weight) names, if its name names one."""
    return _from_stored(strip_quant(re.sub(r"_dequant$", "", uninlined(weight))) if weight else weight, kind)


def _from_weight_or_output(node, weight: str | None, kind: str | None) -> NameChoice | None:
    found = _from_stored(uninlined(weight) if weight else weight, kind)
    if found:
        return found
    slot = _BIAS_SLOT.get(node.op_type)
    bias = node.input[slot] if slot is not None and len(node.input) > slot else None
    if bias and not _BN_WORDS.search(bias):  # a constant-folded weight (Keras 3): the bias keeps the layer
        found = _from_stored(bias, kind)
        if found:
            return found
    out = node.output[0] if node.output else ""
    tmp = _PADDLE_TMP.match(out)
    if tmp:
        return NameChoice(tmp.group(1))
    p2o = _P2O_TENSOR.match(out)
    if p2o:  # Paddle's own layer naming: pool2d_0
        return NameChoice(f"{p2o.group(1)}_{p2o.group(2)}")
    if "/" in out and not out.startswith("/"):  # tf2onnx renames a conv it fused a Pad into (Conv__440) and
        return _tf_choice(tflite_segment(out, kind))  # keeps its output: model/bn_stage0_block0_branch2b/...:0
    return None


def name_choice(node, weight_name: str | None = None, kind: str | None = None) -> NameChoice:
    """The readable name of ``node`` following the naming rules of docs/models.md (see the
    module docstring); ``kind`` (``depthwise``, ``pointwise``, ``conv``) picks a TFLite segment."""
    meta = scope_from_metadata(node)
    if meta and "/" in meta:  # onnx2torch: an ONNX node's name became a module's, '.' turned '/'
        carried = _carried_name(meta)
        if carried:
            return NameChoice(carried)
    if meta:
        if _fused_batchnorm(node, meta):
            scope = scope_from_weight(weight_name)
            if scope:
                return NameChoice(scope)
        return NameChoice(meta)
    name = uninlined(node.name or "")
    if not name:  # unnamed nodes (older Paddle exports): the output tensor's name
        return NameChoice(node.output[0] if node.output else node.op_type)
    name = tflite_segment(name, kind)
    if _counted_op_name(name, node.op_type):  # ONNXMLTools: the layer's name is on its output tensor
        out = node.output[0] if node.output else ""
        if out and not is_generic_name(out, node.op_type) and not _counted_op_name(out, node.op_type) \
                and not out.isdigit():
            return NameChoice(out)
    if is_generic_name(name, node.op_type):
        return _from_weight_or_output(node, weight_name, kind) or NameChoice(strip_quant(name))
    jax = _jax_path(name)
    if jax:
        return NameChoice(jax)
    if name.startswith("/"):
        scoped = scope_from_name(name)
        return NameChoice(scoped) if scoped else NameChoice(name)
    return _tf_choice(name) or NameChoice(name)


def _carried_name(module: str) -> str | None:
    """The layer a module named after an ONNX node names (a model converted by onnx2torch and
    exported again: ``layer1/layer1/0/conv1/Conv`` from ``/layer1/layer1.0/conv1/Conv``): the
    repeated parent the dots' loss leaves is dropped, then read as PyTorch's legacy path
    (``layer1.0.conv1``)."""
    parts = [p for p in module.split("/") if p]
    if len(parts) < 2:
        return None
    parts[-1] = re.sub(r"\.\d+$", "", parts[-1])  # a module name used twice: MaxPool.1
    kept = [p for i, p in enumerate(parts) if i == 0 or p != parts[i - 1]]
    return scope_from_name("/" + "/".join(kept))


def module_name(node, weight_name: str | None = None) -> str:
    """Readable module name of ``node`` alone (TensorFlow ``_N`` suffixes stripped)."""
    return name_choice(node, weight_name).name


def resolve_tf_suffixes(choices: list[NameChoice], keras2: bool = False) -> list[str]:
    """Final names of a model's layers: a TensorFlow scope loses one trailing ``_N`` (Keras 3's
    ``conv_b_1`` -> ``conv_b``) unless that makes it the name of another layer (Keras 2's
    ``conv2d_1``, ``conv2d_2`` next to ``conv2d`` stay as they are): names that would clash keep
    their suffix, until no stripped name clashes with any other. ``keras2``: the model is known to
    come from Keras 2 (keras2onnx converted nothing else), whose scopes are the layers' own names."""
    raw = [c.tf_raw or c.name for c in choices]
    # Keras 2 scopes are the layers' own names under a root that has no suffix either (``model/bn_1``):
    # only a root that TensorFlow made unique (Keras 3: ``functional_1``, ``small_1``) says `_N` was added
    final = [r if c.tf_raw and (keras2 or (c.parents and not _TF_UNIQ.search(c.parents[0]))) else c.name
             for c, r in zip(choices, raw)]
    for _round in range(len(choices) + 1):
        owners: dict[str, set[str]] = {}  # the scopes a final name stands for (one layer's two convs: one)
        for n, r in zip(final, raw):
            owners.setdefault(n, set()).add(r)
        clash = [i for i in range(len(choices)) if final[i] != raw[i] and len(owners[final[i]]) > 1]
        if not clash:
            break
        for i in clash:
            final[i] = raw[i]
    return final


def _separable_pair(group: list) -> bool:
    """Two convolutions of one layer: a depthwise and a pointwise conv under the same scopes
    (Keras ``SeparableConv2D``)."""
    return (len(group) == 2 and sorted(e.kind or "" for e in group) == ["depthwise", "pointwise"]
            and group[0].parents == group[1].parents)


def _with_parents(group: list) -> tuple[list[str], int] | None:
    """The shortest parent-scope prefixes (``k`` levels) that tell more of ``group`` apart than
    their names do, or None when the parents cannot help."""
    depth = max(len(e.parents) for e in group)
    best, best_count = None, 1
    for k in range(1, depth + 1):
        names = [".".join((*e.parents[-k:], e.name)) for e in group]
        count = len(set(names))
        if count > best_count:
            best, best_count = (names, k), count
        if count == len(group):
            break
    return best


def disambiguate(entries: list) -> list[str]:
    """Unique names for a model's layers (``entries`` have ``name``, ``parents``, ``kind`` and
    ``op``), in this order of preference: a Keras separable conv's two convolutions become
    ``NAME.depthwise`` and ``NAME.pointwise``; other layers that share a name keep the parent scope
    that tells them apart (``cq_t2010v2.conv1d_3``); then the op type (``NAME:MaxPool``); a counter
    (``NAME#2``) is the last resort."""
    from collections import defaultdict
    from types import SimpleNamespace

    items = [SimpleNamespace(name=e.name, parents=tuple(e.parents), kind=e.kind, op=e.op) for e in entries]
    for _round in range(8):  # each round resolves one level; models are never this deep in clashes
        groups: dict[str, list] = defaultdict(list)
        for it in items:
            groups[it.name].append(it)
        changed = False
        for name, group in groups.items():
            if len(group) < 2:
                continue
            if _separable_pair(group):
                for it in group:
                    it.name = f"{name}.{it.kind}"
                changed = True
                continue
            better = _with_parents(group)
            if better is not None:
                names, k = better
                for it, new in zip(group, names):
                    it.parents = it.parents[: max(0, len(it.parents) - k)]
                    it.name = new
                changed = True
        if not changed:
            break
    return _last_resort([it.name for it in items], [it.op for it in items])


def _last_resort(names: list[str], ops: list[str]) -> list[str]:
    """The op type where it tells layers of one name apart (``NAME:MaxPool`` beside ``NAME``'s
    conv), then a counter in depth order (``NAME#2``: the calls of one shared Keras layer)."""
    kinds: dict[str, set[str]] = {}
    for n, op in zip(names, ops):
        kinds.setdefault(n, set()).add(op)
    names = [f"{n}:{op}" if len(kinds[n]) > 1 else n for n, op in zip(names, ops)]
    seen: dict[str, int] = {}
    out = []
    for n in names:
        k = seen.get(n, 0)
        seen[n] = k + 1
        out.append(f"{n}#{k + 1}" if k else n)
    return out
