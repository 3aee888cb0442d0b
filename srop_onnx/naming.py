"""Readable module names for tapped nodes (SPEC 5), from any exporter's conventions.

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

__all__ = ["module_name", "name_choice", "NameChoice", "resolve_tf_suffixes", "scope_from_metadata",
           "scope_from_name", "scope_from_weight", "is_generic_name"]

_PADDLE_PARAM = re.compile(r"^(.+)\.(?:w|b)_\d+$")  # Paddle 2.x parameters: conv2d_0.w_0 -> conv2d_0
_PADDLE_TMP = re.compile(r"^(.+)\.tmp_\d+$")  # paddle2onnx 1.x tensors: depthwise_conv2d_0.tmp_0
_P2O_TENSOR = re.compile(r"^p2o\.pd_op\.([A-Za-z0-9_]+)\.(\d+)\.\d+$")  # paddle2onnx 2.x: p2o.pd_op.pool2d.0.0
_PADDLE1_WEIGHT = re.compile(r"^(.+?)_(?:weights|weight|w|filter|kernel)$")  # paddle2onnx 1.x: conv1_weights
_TORCH_PARAM = re.compile(r"^([A-Za-z0-9_.]+)\.(?:weight|bias)$")  # 0.stft.conv_real.weight
_BN_WORDS = re.compile(r"batch_?norm|batchnormalization|fusedbatchnorm|/bn\d*[_/]|^bn\d*[_/]", re.IGNORECASE)
_BN_MODULE = re.compile(r"(?:^|[._])(?:bn|batch_?norm|norm)\d*$", re.IGNORECASE)
_TF_UNIQ = re.compile(r"_\d+$")
_CONV_OPS = ("Conv", "ConvTranspose", "QLinearConv", "ConvInteger")


@dataclass(frozen=True)
class NameChoice:
    """A layer's name; ``tf_raw`` is its TensorFlow scope before ``_N`` stripping (None when the
    name did not come from a TensorFlow scope)."""

    name: str
    tf_raw: str | None = None


def _metadata(node, key: str) -> str | None:
    return next((p.value for p in node.metadata_props if p.key == key), None)


def scope_from_metadata(node) -> str | None:
    """Deepest module path in ``pkg.torch.onnx.name_scopes``, or None."""
    value = _metadata(node, "pkg.torch.onnx.name_scopes")
    if value is None:
        return None
    try:
        scopes = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return None
    if not isinstance(scopes, (list, tuple)):
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


def _is_tf_op(part: str) -> bool:
    return part[:1].isupper() or part.lower() in _TF_OP_WORDS


def _tflite_segment(name: str) -> str:
    """TFLite through tf2onnx joins TensorFlow names with ``;``: the one naming the convolution."""
    if ";" not in name:
        return name
    segments = [s for s in name.split(";") if s]
    for s in reversed(segments):
        last = s.rsplit("/", 1)[-1].lower()
        if "conv" in last or "depthwise" in last:
            return s
    return segments[-1] if segments else name


def _tf_scope(name: str) -> str | None:
    parts = [p for p in _tflite_segment(name).split(":")[0].split("/") if p]
    if len(parts) < 2:
        return None
    first_op = next((i for i, p in enumerate(parts) if i > 0 and _is_tf_op(p)), len(parts) - 1)
    scopes = parts[1:first_op] if first_op > 1 else parts[:first_op]
    return ".".join(p for p in scopes if p) or None


def _strip_tf(scope: str) -> str:
    return ".".join(_TF_UNIQ.sub("", p) or p for p in scope.split("."))


def scope_from_name(name: str, *, strip_tf: bool = True) -> str | None:
    """Module path encoded in a scoped node or tensor name, or None when unscoped.

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


def is_generic_name(name: str, op_type: str) -> bool:
    """True for exporter-generated names: the op type plus separators and a number, whatever the
    separators (``Conv__26``, ``Conv.0``, ``Conv@0``, ``p2o.Conv.3``, ``node_Conv_153``, ``Conv_2``),
    and for a conv named after a BatchNorm that was folded into it."""
    if not name:
        return False
    base = name.rsplit("/", 1)[-1]
    generic = re.compile(rf"^(?:node_|p2o\.)?{re.escape(op_type)}(?:[_.@#:-]+\d+)+$", re.IGNORECASE)
    if generic.match(base):
        return True
    return op_type in _CONV_OPS and bool(_BN_WORDS.search(name))


def _from_weight_or_output(node, weight: str | None) -> NameChoice | None:
    scope = scope_from_weight(weight)
    if scope:
        tf = "/" in (weight or "")
        return NameChoice(_strip_tf(scope) if tf else scope, scope if tf else None)
    out = node.output[0] if node.output else ""
    tmp = _PADDLE_TMP.match(out)
    if tmp:
        return NameChoice(tmp.group(1))
    p2o = _P2O_TENSOR.match(out)
    if p2o:  # Paddle's own layer naming: pool2d_0
        return NameChoice(f"{p2o.group(1)}_{p2o.group(2)}")
    return None


def name_choice(node, weight_name: str | None = None) -> NameChoice:
    """The readable name of ``node`` following SPEC 5 (see the module docstring)."""
    meta = scope_from_metadata(node)
    if meta:
        if _fused_batchnorm(node, meta):
            scope = scope_from_weight(weight_name)
            if scope:
                return NameChoice(scope)
        return NameChoice(meta)
    name = node.name or ""
    if not name:  # unnamed nodes (older Paddle exports): the output tensor's name
        return NameChoice(node.output[0] if node.output else node.op_type)
    if is_generic_name(name, node.op_type):
        return _from_weight_or_output(node, weight_name) or NameChoice(name)
    if name.startswith("/"):
        scoped = scope_from_name(name)
        return NameChoice(scoped) if scoped else NameChoice(name)
    raw = scope_from_name(name, strip_tf=False)
    if raw:
        return NameChoice(_strip_tf(raw), raw)
    return NameChoice(name)


def module_name(node, weight_name: str | None = None) -> str:
    """Readable module name of ``node`` alone (TensorFlow ``_N`` suffixes stripped)."""
    return name_choice(node, weight_name).name


def resolve_tf_suffixes(choices: list[NameChoice]) -> list[str]:
    """Final names of a model's layers: a TensorFlow scope keeps its ``_N`` suffix unless stripping
    it leaves the name distinct from every other layer's (Keras 3's ``conv_b_1`` -> ``conv_b``;
    Keras 2's ``conv2d_1``, ``conv2d_2`` next to ``conv2d`` stay as they are)."""
    raw = [c.tf_raw or c.name for c in choices]
    stripped = [c.name for c in choices]
    out = []
    for i, c in enumerate(choices):
        if c.tf_raw is None or c.name == c.tf_raw:
            out.append(c.name)
            continue
        others = {n for j, n in enumerate(raw) if j != i} | {n for j, n in enumerate(stripped)
                                                              if j != i and raw[j] != raw[i]}
        out.append(c.tf_raw if c.name in others else c.name)
    return out
