"""Readable module names for tapped nodes (SPEC 5), from any exporter's conventions.

Order of preference:
1. PyTorch >= 2.9 metadata ``pkg.torch.onnx.name_scopes`` (deepest module entry);
2. a scoped node name: PyTorch legacy ``/layer1/layer1.0/conv1/Conv`` ->
   ``layer1.0.conv1``; tf2onnx ``small_1/conv_b_1/convolution`` -> ``conv_b``;
3. for generic node names (tf2onnx ``Conv__26``, PyTorch ``node_Conv_153``, paddle2onnx 2
   ``Conv.0``, or a conv named after a BatchNorm folded into it): the scope of the weight
   input (Paddle parameters ``conv2d_0.w_0`` -> ``conv2d_0``);
4. the node name; 5. for unnamed nodes (Paddle), the output tensor's name.
"""

from __future__ import annotations

import ast
import re

__all__ = ["module_name", "scope_from_metadata", "scope_from_name", "is_generic_name"]

_GENERIC = re.compile(r"^(?:node_)?[A-Za-z]+(?:_{1,2}|\.)\d+$")  # Conv__26, node_Conv_153, Conv.0 (paddle2onnx 2)
_PADDLE_PARAM = re.compile(r"^(.+)\.(?:w|b)_\d+$")  # Paddle parameters: conv2d_0.w_0 -> conv2d_0
_BN_WORDS = re.compile(r"batch_?norm|batchnormalization|fusedbatchnorm|/bn\d*[_/]|^bn\d*[_/]", re.IGNORECASE)
_TF_UNIQ = re.compile(r"_\d+$")


def scope_from_metadata(node) -> str | None:
    """Deepest module path in ``pkg.torch.onnx.name_scopes``, or None."""
    for prop in node.metadata_props:
        if prop.key != "pkg.torch.onnx.name_scopes":
            continue
        try:
            scopes = ast.literal_eval(prop.value)
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
    return None


def scope_from_name(name: str) -> str | None:
    """Module path encoded in a scoped node or tensor name, or None when unscoped."""
    if not name:
        return None
    paddle = _PADDLE_PARAM.match(name)
    if paddle and "/" not in name:
        return paddle.group(1)
    if "/" not in name:
        return None
    if name.startswith("/"):  # PyTorch legacy exporter: /a/a.b/c/Op
        parts = [p for p in name.split("/") if p][:-1]
        path = ""
        for part in parts:
            if path and part.startswith(path + "."):
                path = part
            elif path:
                path = f"{path}.{part}"
            else:
                path = part
        return path or None
    # tf2onnx: model_1/[block_1/]layer_1/op[/more]: the scopes between the model
    # scope and the first op-like component (TF op names are CamelCase or known words)
    parts = [p for p in name.split(":")[0].split("/") if p]
    if len(parts) < 2:
        return None
    first_op = next((i for i, p in enumerate(parts) if i > 0 and _is_tf_op(p)), len(parts) - 1)
    scopes = parts[1:first_op] if first_op > 1 else parts[:first_op]
    scopes = [_TF_UNIQ.sub("", p) for p in scopes]
    return ".".join(p for p in scopes if p) or None


_TF_OP_WORDS = frozenset({"convolution", "depthwise", "conv2d_transpose", "separable_conv2d", "add", "mul", "sub", "pad"})


def _is_tf_op(part: str) -> bool:
    return part[:1].isupper() or part.lower() in _TF_OP_WORDS


def is_generic_name(name: str, op_type: str) -> bool:
    """True for exporter-generated names (``Conv__26``, ``node_Conv_153``, ``Conv_3``)
    and for a Conv named after a BatchNorm that was folded into it."""
    if not name:
        return False
    base = name.rsplit("/", 1)[-1]
    if _GENERIC.match(base) and op_type.lower() in base.lower():
        return True
    return op_type in ("Conv", "ConvTranspose", "QLinearConv", "ConvInteger") and bool(_BN_WORDS.search(name))


def module_name(node, weight_name: str | None = None) -> str:
    """Readable module name of ``node`` following SPEC 5."""
    meta = scope_from_metadata(node)
    if meta:
        return meta
    name = node.name or ""
    if not name:  # unnamed nodes (older Paddle exports): the output tensor's name
        return node.output[0] if node.output else node.op_type
    generic = is_generic_name(name, node.op_type)
    scoped = None if generic else scope_from_name(name)
    if scoped:
        return scoped
    if generic and weight_name:
        scoped = scope_from_name(weight_name)
        if scoped:
            return scoped
    return name
