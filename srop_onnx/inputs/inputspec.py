"""The model input srop-onnx feeds: which one, its shape, element type and layout.

A rank-4 input is NCHW or NHWC, a rank-3 input NCL or NLC (a channels-last waveform or signal,
``(N, L, C)``) or NHW (a one-channel image or spectrogram, ``(N, H, W)``), a rank-2 input a raw
waveform ``(N, samples)`` (NL). The layout is read from what the graph does with the input before
its first convolution (:func:`srop_onnx.model.layouts.graph_layout`), else from the static shape;
``--layout`` overrides both.
"""

from __future__ import annotations

import re

from dataclasses import dataclass

import numpy as np

from ..errors import ModelError, UsageError, option

__all__ = ["feed_candidates", "InputSpec", "LAYOUT_RANKS", "detect_layout", "dtype_name", "input_spec"]

_ONNX_TO_NUMPY = {1: np.float32, 10: np.float16, 11: np.float64, 2: np.uint8, 3: np.int8, 6: np.int32, 7: np.int64}
#: the rank of an input in each layout
LAYOUT_RANKS = {"NCHW": 4, "NHWC": 4, "NCL": 3, "NLC": 3, "NHW": 3, "NL": 2, "NCDHW": 5}
#: layouts without a channel axis (one channel): a raw waveform, a one-channel image
_NO_CHANNEL_AXIS = ("NL", "NHW")
#: channel counts that mark the channel axis of a static shape
_FEW_CHANNELS = (1, 2, 3, 4)


@dataclass(frozen=True)
class InputSpec:
    """The model input srop-onnx feeds.

    ``shape`` has ints for static dims and None for dynamic ones (the batch
    dim included); ``layout`` is NCHW, NHWC, NCL, NLC, NHW, NL or NCDHW.
    """

    name: str
    shape: tuple
    dtype: str
    layout: str
    #: ``(name, rank, same)`` of the model's other inputs whose first axis can be this input's batch
    #: axis (dynamic, or the same fixed batch; ``same``: the same symbol): an .npz splits their arrays
    #: with the samples when they have a row per sample
    batched: tuple = ()

    @property
    def integer(self) -> bool:
        """An integer input (token ids, bytes, a quantized image): fed from arrays of integers only."""
        return np.issubdtype(np.dtype(self.dtype), np.integer)

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def channel_axis(self) -> int | None:
        """The channel axis; None for a raw waveform ``(N, samples)`` (NL) or a one-channel image
        ``(N, H, W)`` (NHW)."""
        if self.layout in _NO_CHANNEL_AXIS:
            return None
        return 1 if self.layout in ("NCHW", "NCL", "NCDHW") else self.rank - 1

    @property
    def channels(self) -> int | None:
        return 1 if self.channel_axis is None else self.shape[self.channel_axis]

    @property
    def spatial_axes(self) -> tuple[int, ...]:
        return tuple(a for a in range(1, self.rank) if a != self.channel_axis)

    @property
    def spatial(self) -> tuple:
        return tuple(self.shape[a] for a in self.spatial_axes)

    @property
    def batch(self) -> int | None:
        return self.shape[0]


#: ONNX element types in words (TensorProto.DataType)
_ONNX_NAMES = {1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "string",
               9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 14: "complex64",
               15: "complex128", 16: "bfloat16"}


def dtype_name(elem: int) -> str:
    """An ONNX element type in words: ``int32``, ``float16`` (never "type 6")."""
    return _ONNX_NAMES.get(elem, f"ONNX element type {elem}")


def _dims(vi) -> tuple:
    tt = vi.type.tensor_type
    if not tt.HasField("shape"):
        return ()
    return tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in tt.shape.dim)


def detect_layout(shape: tuple) -> str:
    """The layout of a static input shape: NCHW or NHWC (rank 4), NCL or NLC (rank 3), NL (rank 2,
    a raw waveform). The channel axis is the one with few channels (1-4) where the other end is not:
    ``(N, 224, 224, 3)`` is NHWC, ``(N, 43844, 1)`` a channels-last waveform (NLC)."""
    if len(shape) == 2:
        return "NL"
    if len(shape) == 5:  # a volume or a clip (N, C, D, H, W): its layers are listed, as 3-D maps they are skipped
        return "NCDHW"
    if len(shape) not in (3, 4):
        raise ModelError(f"model input has rank {len(shape)}; srop-onnx feeds rank-2 waveforms (N, samples), "
                         "rank-3 signals (N, C, L) or (N, L, C), or rank-4 images")
    c_first, c_last = shape[1], shape[-1]
    channels_last = c_last in _FEW_CHANNELS and c_first not in _FEW_CHANNELS
    if len(shape) == 3:
        return "NLC" if channels_last else "NCL"
    return "NHWC" if channels_last else "NCHW"


def _candidates(inputs: list, states: set[str]) -> list:
    """The inputs that could be the one fed: float tensors of rank 2-4 whose first axis is the batch
    (dynamic or 1), not a recurrent op's state."""
    return [i for i in inputs if i.type.tensor_type.elem_type in (1, 10, 11) and 2 <= len(_dims(i)) <= 4
            and _dims(i)[0] in (None, 1) and i.name not in states]


def feed_candidates(model) -> list[str]:
    """Names of the inputs of ``model`` that ``analyze`` could feed, in the graph's order (one
    when it picks by itself; several when it needs ``--input`` or an ``.npz`` that names one)."""
    from ..model.graph import graph_inputs, recurrent_states

    inputs = graph_inputs(model)
    if len(inputs) == 1:
        return [inputs[0].name]
    return [i.name for i in _candidates(inputs, set(recurrent_states(model.graph)))]


def _main_input(inputs: list, states: set[str] = frozenset(), named=None):
    """The input to feed among several: the only float tensor of rank 2-4 whose first axis is the
    batch (dynamic or 1); a state (2, N, 128), a recurrent op's initial state or a sample rate
    (int64) is not it. When several qualify and ``named()`` (the arrays an .npz input names) names
    some of them, the first of those in the graph's order: every named input is fed anyway."""
    candidates = _candidates(inputs, states)
    if len(candidates) == 1:
        return candidates[0]
    given = set(named() or ()) if named is not None and len(candidates) > 1 else set()
    chosen = [i for i in candidates if i.name in given]
    if chosen:
        return chosen[0]
    names = ", ".join(i.name for i in inputs)
    raise UsageError(f"model has several inputs ({names}); choose the one to feed with {option('input', 'NAME')}")


#: dim names that say an axis is time (a sequence's length), whatever its size
_TIME_NAMES = re.compile(r"^(?:.*[_ ])?(?:time|times|frames?|seq(?:uence)?(?:_?len(?:gth)?)?|len(?:gth)?|"
                         r"feats?_?len(?:gth)?|num_frames|time_?steps|t)(?:[_ ]\w*)?$", re.IGNORECASE)


def _time_axis_layout(vi) -> str | None:
    """NLC or NCL for a rank-3 input whose dim names say which axis is time (FSMN-VAD's
    ``speech (1, feats_length, 400)`` is 400 features over time, not 400 channels of length T);
    None when the names do not tell (both, or neither, axis named like time)."""
    tt = vi.type.tensor_type
    if not tt.HasField("shape") or len(tt.shape.dim) != 3:
        return None
    timed = [bool(d.dim_param and _TIME_NAMES.match(d.dim_param)) for d in tt.shape.dim[1:]]
    if timed == [True, False]:
        return "NLC"
    if timed == [False, True]:
        return "NCL"
    return None


def _first_axis(vi) -> "str | int | None":
    """The first axis of an input: its static size, its symbol, or None (unnamed dynamic, or no shape)."""
    tt = vi.type.tensor_type
    if not tt.HasField("shape") or not tt.shape.dim:
        return None
    d = tt.shape.dim[0]
    if d.HasField("dim_value") and d.dim_value > 0:
        return int(d.dim_value)
    return d.dim_param or None


def _batched_inputs(inputs: list, main) -> tuple:
    """``(name, rank, same)`` of the other inputs whose first axis can be ``main``'s batch axis: a
    dynamic one (``same`` when it carries the same symbol, or neither has one), or the same fixed
    batch; a state (2, N, 64) or a table (1000, 64) cannot."""
    axis = _first_axis(main)
    out = []
    for i in inputs:
        first = _first_axis(i)
        if i.name == main.name or not _dims(i) or (isinstance(first, int) and first != axis):
            continue
        out.append((i.name, len(_dims(i)), first == axis))
    return tuple(out)


def input_spec(model, name: str | None = None, layout: str | None = None, named=None) -> InputSpec:
    """Pick and describe the model input to feed (``name`` when there are several; else, among
    several, the first that ``named()`` - the arrays an .npz input names - names)."""
    from ..model.graph import graph_inputs, recurrent_states

    inputs = graph_inputs(model)
    if not inputs:
        raise ModelError("model has no inputs to feed")
    if name is None:
        vi = inputs[0] if len(inputs) == 1 else _main_input(inputs, set(recurrent_states(model.graph)), named)
    else:
        match = [i for i in inputs if i.name == name]
        if not match:
            names = ", ".join(i.name for i in inputs)
            raise UsageError(f"{option('input')}: model has no input '{name}'; its inputs are: {names}")
        vi = match[0]
    shape = _dims(vi)
    elem = vi.type.tensor_type.elem_type
    if elem not in _ONNX_TO_NUMPY:
        raise ModelError(f"model input '{vi.name}' is {dtype_name(elem)}; srop-onnx feeds float and integer inputs")
    from ..model.layouts import graph_layout

    lay = (layout or graph_layout(model, vi.name, len(shape), shape) or _time_axis_layout(vi)
           or detect_layout(shape)).upper()
    if lay not in LAYOUT_RANKS:
        raise UsageError(f"{option('layout')} must be NCHW, NHWC, NCL, NLC, NHW, NL or NCDHW, got {layout!r}")
    if len(shape) != LAYOUT_RANKS[lay]:
        raise UsageError(f"{option('layout', lay)} does not fit input '{vi.name}' of rank {len(shape)}")
    return InputSpec(name=vi.name, shape=shape, dtype=np.dtype(_ONNX_TO_NUMPY[elem]).name, layout=lay,
                     batched=_batched_inputs(inputs, vi))
