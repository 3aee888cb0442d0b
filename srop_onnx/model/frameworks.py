"""Models from training frameworks as ONNX, for tracking SROPs during training.

A model handed to :class:`srop_onnx.Tracker` may be a path, ONNX bytes or an ``onnx.ModelProto``
(used as they are), a ``torch.nn.Module`` or a Keras 3 model (exported here, in memory). A
framework is imported only when the object comes from it: the class's own module says so.

PyTorch: the TorchScript exporter (``dynamo=False``, opset 17, the batch axis dynamic), run under
``eval()`` and ``torch.no_grad()``; the module's training mode is restored afterwards, whatever
happens. Keras 3: ``model.export(path, format="onnx")`` into a temporary folder that is removed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from ..errors import ModelError, UsageError, option

__all__ = ["framework_of", "to_onnx", "NATIVE_SUFFIXES", "resolve_factory", "load_native"]

#: checkpoints that hold a framework's weights, not a graph: built into a model, then exported
NATIVE_SUFFIXES = (".pt", ".pth", ".ckpt", ".keras")

#: the exporter each kind of model goes through (recorded in a track; a track never mixes two)
EXPORTERS = {"onnx": "ONNX file or bytes, as given", "torch": "torch.onnx.export (TorchScript, dynamo=False)",
             "keras": "keras Model.export(format='onnx')"}


def framework_of(model) -> str:
    """``torch``, ``keras`` or ``onnx`` (a path, bytes, a ModelProto): read from the object's classes,
    without importing any framework."""
    if isinstance(model, (str, os.PathLike, bytes, bytearray, memoryview)):
        return "onnx"
    for cls in type(model).__mro__:
        root = (cls.__module__ or "").split(".")[0]
        if root == "torch" and cls.__name__ == "Module":
            return "torch"
        if root == "keras" and cls.__name__ in ("Model", "Layer"):
            return "keras"
        if root == "onnx" and cls.__name__ == "ModelProto":
            return "onnx"
    raise UsageError(f"model: a path, ONNX bytes, an onnx.ModelProto, a torch.nn.Module or a Keras 3 model, got "
                     f"{type(model).__module__}.{type(model).__name__}")


def to_onnx(model, example=None, input_name: str = "input") -> "tuple[object, str]":
    """``(model as a path/bytes/ModelProto, framework)``; a torch module or a Keras model is
    exported to ONNX bytes (``example``: an input batch for the PyTorch exporter)."""
    kind = framework_of(model)
    if kind == "torch":
        return _torch_bytes(model, example, input_name), kind
    if kind == "keras":
        return _keras_bytes(model, example), kind
    return model, kind


#: a torch module a Tracker step cannot export: no example, and none from the inputs
NO_TRACKER_EXAMPLE = "a torch.nn.Module needs an example input to export: Tracker.add(step, model, example=batch)"


def _torch_bytes(module, example, input_name: str) -> bytes:
    import io

    import torch

    if example is None:
        raise UsageError(NO_TRACKER_EXAMPLE)
    args = tuple(_on_module(module, a) for a in (example if isinstance(example, (tuple, list)) else (example,)))
    names = [input_name] if len(args) == 1 else [f"{input_name}_{i}" for i in range(len(args))]
    was_training = module.training
    buf = io.BytesIO()
    try:
        module.eval()
        with torch.no_grad(), quiet_exporter():
            torch.onnx.export(module, args, buf, dynamo=False, opset_version=17, input_names=names,
                              dynamic_axes={n: {0: "batch"} for n in names})
    except Exception as exc:  # noqa: BLE001 - the exporter's many errors, as one line
        raise ModelError(f"torch.onnx.export failed: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}") from exc
    finally:
        module.train(was_training)
    return buf.getvalue()


def _on_module(module, x):
    """``x`` (a tensor, or a NumPy array in the weights' type: NumPy's float64 or pixels fail the export)
    on the device of ``module``'s weights."""
    import numpy as np
    import torch

    weight = next(iter(module.parameters()), None)
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
        if x.is_floating_point() or x.dtype == torch.uint8:
            x = x.to(torch.float32 if weight is None else weight.dtype)
    return x.to(weight.device) if weight is not None and hasattr(x, "to") else x


def _keras_bytes(model, example=None) -> bytes:
    with tempfile.TemporaryDirectory(prefix="srop-onnx-keras-") as tmp:
        path = Path(tmp) / "model.onnx"
        try:
            _keras_export(model, path)
        except Exception as exc:  # noqa: BLE001
            if "never called" not in str(exc) or not _keras_call_once(model, example):
                raise _keras_error(exc) from exc
            try:  # a model built with keras.Input but never called: called once, exported
                _keras_export(model, path)
            except Exception as again:  # noqa: BLE001
                raise _keras_error(again) from again
        return _keras_names(model, path.read_bytes())


def _keras_error(exc: Exception) -> Exception:
    """Keras's export error as one line; the missing exporter of its TensorFlow backend says how."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, ImportError) and "tf2onnx" in text:
        return UsageError("Keras on its TensorFlow backend exports to ONNX through tf2onnx, which is not installed; "
                          "pip install tf2onnx")
    return ModelError(f"Keras model.export(format='onnx') failed: {text}")


@contextlib.contextmanager
def quiet_exporter():
    """A context in which the exporters' own warnings stay out of the user's training log: the
    TorchScript tracer's ``TracerWarning`` (a Python ``if`` on a tensor, traced as a constant: the
    export is of one fixed input shape, which is what is measured) and the legacy-exporter and
    deprecation notices, three and more per step otherwise."""
    import warnings

    with warnings.catch_warnings():
        try:
            from torch.jit import TracerWarning

            warnings.simplefilter("ignore", TracerWarning)
        except ImportError:  # Keras on TensorFlow: no torch
            pass
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        yield


def _keras_export(model, path: Path) -> None:
    with quiet_exporter():
        try:
            model.export(str(path), format="onnx", verbose=False)
        except TypeError:  # Keras versions without the verbose argument
            model.export(str(path), format="onnx")


def _keras_call_once(model, example) -> bool:
    """Call a model once, on ``example`` or on zeros shaped like its inputs (unknown sizes: 1 for
    the batch, 32 elsewhere), so that Keras can export it; False when it cannot be called."""
    import numpy as np

    try:
        if example is None:
            inputs = getattr(model, "inputs", None) or []
            if not inputs:
                return False
            arrays = [np.zeros(tuple((1 if i == 0 else 32) if d is None else d for i, d in enumerate(t.shape)),
                               dtype=getattr(t, "dtype", "float32") or "float32") for t in inputs]
            example = arrays[0] if len(arrays) == 1 else arrays
        model(example, training=False)
        return True
    except Exception:  # noqa: BLE001 - the export's own error is the one to tell
        return False


def _keras_names(model, data: bytes) -> bytes:
    """Keras 3 on the PyTorch backend exports weights as ``onnx::Conv_51``: name each weight after
    the Keras layer it holds (``conv_a.weight``, found by its values), so layers get their Keras
    names (docs/models.md, rule 4). Exports whose weights have names already are left as they are."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    proto = onnx.load_model_from_string(data)
    pools = _keras_pool_names(model, proto)
    generic = [t for t in proto.graph.initializer if t.name.startswith("onnx::")]
    if not generic:
        return proto.SerializeToString() if pools else data
    kernels = []
    for layer in getattr(model, "layers", []):
        for attr in ("kernel", "depthwise_kernel"):
            var = getattr(layer, attr, None)
            if var is not None and hasattr(var, "numpy"):
                kernels.append((layer.name, np.sort(np.asarray(var.numpy(), dtype=np.float64).ravel())))
    renamed = {}
    for t in generic:
        values = np.sort(numpy_helper.to_array(t).astype(np.float64).ravel())
        match = [name for name, k in kernels if k.size == values.size and np.array_equal(k, values)]
        if len(match) == 1 and f"{match[0]}.weight" not in renamed.values():
            renamed[t.name] = f"{match[0]}.weight"
    for t in proto.graph.initializer:
        t.name = renamed.get(t.name, t.name)
    for node in proto.graph.node:
        node.input[:] = [renamed.get(i, i) for i in node.input]
    return proto.SerializeToString() if renamed or pools else data


#: Keras pooling layers by the ONNX op they export to (global pools export to other ops)
_KERAS_POOLS = {"MaxPool": ("MaxPooling1D", "MaxPooling2D"), "AveragePool": ("AveragePooling1D", "AveragePooling2D")}


def _keras_pool_names(model, proto) -> int:
    """Name exported pools after their Keras layers (``MaxPooling2D(name="pool")`` -> ``pool``): the
    PyTorch backend's export calls them ``/MaxPool``, ``/MaxPool_1``. Matched by order, op by op, only
    when the counts agree and the exported names are generic; returns how many were renamed."""
    import re

    layers = list(getattr(model, "layers", []))
    renamed = 0
    for op, classes in _KERAS_POOLS.items():
        keras_pools = [layer.name for layer in layers if type(layer).__name__ in classes]
        nodes = [n for n in proto.graph.node if n.op_type == op]
        if not nodes or len(nodes) != len(keras_pools):
            continue
        if not all(re.fullmatch(rf"/?{op}(?:_\d+)?", n.name or "") for n in nodes):
            continue
        for node, name in zip(nodes, keras_pools):
            node.name = name
            renamed += 1
    return renamed


def resolve_factory(factory):
    """``factory`` as a callable: itself, or ``"module:function"`` (``module`` importable, or a
    module of the current folder), which builds the network a checkpoint's weights go into."""
    if factory is None or callable(factory):
        return factory
    import importlib
    import sys

    text = str(factory)
    module, sep, attr = text.partition(":")
    if not sep or not module or not attr:
        raise UsageError(f"{option('model-factory')} {text!r}: give module:function (e.g. mynets:make_net), the function that "
                         "builds the network")
    if os.getcwd() not in sys.path:  # a module beside the user, as `python -m` finds it
        sys.path.insert(0, os.getcwd())
    try:
        found = importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - the user's module: any error is theirs, said in one line
        raise UsageError(f"{option('model-factory')} {text}: cannot import {module} ({type(exc).__name__}: {exc})") from None
    obj = found
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise UsageError(f"{option('model-factory')} {text}: {module} has no {attr}")
    if not callable(obj):
        raise UsageError(f"{option('model-factory')} {text}: {attr} is not a function or class")
    return obj


def _state_dict(path: Path):
    """The weights a PyTorch checkpoint holds: a state dict, or the ``state_dict`` (Lightning) or
    ``model_state_dict`` entry of a training checkpoint; tensors only are unpickled."""
    import torch

    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - not a checkpoint, or one holding more than weights
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path}: cannot read its weights ({first[:200]}); save the model's state_dict() "
                         "(torch.save(model.state_dict(), path))") from None
    if isinstance(state, dict):
        for key in ("state_dict", "model_state_dict"):
            if isinstance(state.get(key), dict):
                return state[key]
    return state


def load_native(path, factory=None):
    """The model a native checkpoint holds: a ``.keras`` file loaded by Keras; a PyTorch ``.pt``,
    ``.pth`` or Lightning ``.ckpt`` loaded into the network ``factory()`` builds (its
    ``load_state_dict``, strict)."""
    path = Path(path)
    if path.suffix.lower() == ".keras":
        import keras

        try:
            return keras.saving.load_model(str(path), compile=False)
        except Exception as exc:  # noqa: BLE001
            raise ModelError(f"{path}: Keras cannot load it ({str(exc).strip().splitlines()[0][:200]})") from None
    if factory is None:
        raise UsageError(f"{path}: a {path.suffix} checkpoint holds weights, not the network; give {option('model-factory', 'module:function')} "
                         f"that builds it, and {option('example-shape')}")
    model = resolve_factory(factory)()
    try:
        model.load_state_dict(_state_dict(path))
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise ModelError(f"{path}: its weights do not fit the network the factory builds "
                         f"({' '.join(first[:2])[:240]})") from None
    return model
