"""Model inputs: the input's spec and layout, preprocessing presets, batches of samples.

Images are decoded by :mod:`srop_onnx.modelio`; this module turns them into
arrays shaped for the model (resize, crop, scale, normalise, layout) and
groups samples into batches. Bad files are reported, not fatal (unless strict).
"""

from __future__ import annotations

import queue
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import InputDataError, ModelError, UsageError
from .audio import AUDIO_SUFFIXES
from .modelio import ARRAY_SUFFIXES, IMAGE_SUFFIXES, check_readable, read_arrays, read_image, read_named_arrays

__all__ = [
    "PRESETS",
    "InputSpec",
    "Preprocess",
    "Sample",
    "input_spec",
    "make_preprocess",
    "parse_size",
    "iter_samples",
    "decode_workers",
    "batched",
    "prefetch",
    "shard_slice",
    "parse_shard",
    "parse_bytes",
]

_ONNX_TO_NUMPY = {1: np.float32, 10: np.float16, 11: np.float64, 2: np.uint8, 3: np.int8, 6: np.int32, 7: np.int64}


@dataclass(frozen=True)
class InputSpec:
    """The model input srop-onnx feeds.

    ``shape`` has ints for static dims and None for dynamic ones (the batch
    dim included); ``layout`` is NCHW, NHWC, NCL or NLC.
    """

    name: str
    shape: tuple
    dtype: str
    layout: str

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def channel_axis(self) -> int | None:
        """The channel axis; None for a raw waveform ``(N, samples)`` (layout NL)."""
        if self.layout == "NL":
            return None
        return 1 if self.layout in ("NCHW", "NCL") else self.rank - 1

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


def _dims(vi) -> tuple:
    tt = vi.type.tensor_type
    if not tt.HasField("shape"):
        return ()
    return tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in tt.shape.dim)


def detect_layout(shape: tuple) -> str:
    """NCHW/NHWC (rank 4), NCL (rank 3) or NL (rank 2, a raw waveform) from a static input shape."""
    if len(shape) == 2:
        return "NL"
    if len(shape) == 3:
        return "NCL"
    if len(shape) != 4:
        raise ModelError(f"model input has rank {len(shape)}; srop-onnx feeds rank-2 waveforms (N, samples), "
                         "rank-3 signals (N, C, L) or rank-4 images")
    c_first, c_last = shape[1], shape[3]
    small = (1, 2, 3, 4)
    if c_last in small and c_first not in small:
        return "NHWC"
    return "NCHW"


def _main_input(inputs: list):
    """The input to feed among several: the only float tensor of rank 2-4 whose first axis is the
    batch (dynamic or 1); a state (2, N, 128) or a sample rate (int64) is not it."""
    candidates = [i for i in inputs if i.type.tensor_type.elem_type in (1, 10, 11) and 2 <= len(_dims(i)) <= 4
                  and _dims(i)[0] in (None, 1)]
    if len(candidates) == 1:
        return candidates[0]
    names = ", ".join(i.name for i in inputs)
    raise UsageError(f"model has several inputs ({names}); choose the one to feed with --input NAME")


def input_spec(model, name: str | None = None, layout: str | None = None) -> InputSpec:
    """Pick and describe the model input to feed (``name`` when there are several)."""
    from .graph import graph_inputs

    inputs = graph_inputs(model)
    if not inputs:
        raise ModelError("model has no inputs to feed")
    if name is None:
        vi = inputs[0] if len(inputs) == 1 else _main_input(inputs)
    else:
        match = [i for i in inputs if i.name == name]
        if not match:
            names = ", ".join(i.name for i in inputs)
            raise UsageError(f"--input: model has no input '{name}'; its inputs are: {names}")
        vi = match[0]
    shape = _dims(vi)
    elem = vi.type.tensor_type.elem_type
    if elem not in (1, 10, 11):
        raise ModelError(f"model input '{vi.name}' has ONNX type {elem}; srop-onnx feeds float inputs")
    lay = (layout or detect_layout(shape)).upper()
    if lay not in ("NCHW", "NHWC", "NCL", "NLC", "NL"):
        raise UsageError(f"--layout must be NCHW, NHWC, NCL, NLC or NL, got {layout!r}")
    if len(shape) != {"NCHW": 4, "NHWC": 4, "NCL": 3, "NLC": 3, "NL": 2}[lay]:
        raise UsageError(f"--layout {lay} does not fit input '{vi.name}' of rank {len(shape)}")
    return InputSpec(name=vi.name, shape=shape, dtype=np.dtype(_ONNX_TO_NUMPY[elem]).name, layout=lay)


# -- preprocessing --------------------------------------------------------------
PRESETS: dict[str, dict] = {
    # scale: multiply 0..255 pixels; mean/std after scaling; crop: centre-crop ratio
    "imagenet": {"scale": 1 / 255, "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225), "crop": 0.875, "bgr": False},
    "unit": {"scale": 1 / 255, "mean": (0.0,), "std": (1.0,), "crop": 1.0, "bgr": False},
    "symmetric": {"scale": 1 / 255, "mean": (0.5,), "std": (0.5,), "crop": 1.0, "bgr": False},
    "raw": {"scale": 1.0, "mean": (0.0,), "std": (1.0,), "crop": 1.0, "bgr": False},
    "caffe": {"scale": 1.0, "mean": (103.939, 116.779, 123.68), "std": (1.0,), "crop": 0.875, "bgr": True},
}


@dataclass(frozen=True)
class Preprocess:
    """How images become model inputs: ``((pixels * scale) - mean) / std`` after
    resizing the shorter side to ``size / crop`` and centre-cropping ``size``."""

    preset: str
    size: tuple[int, int]
    scale: float
    mean: tuple[float, ...]
    std: tuple[float, ...]
    crop: float
    bgr: bool

    def to_dict(self) -> dict:
        d = asdict(self)
        d["size"] = list(self.size)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d


def parse_size(text: str | None) -> tuple[int, int] | None:
    """``"224"`` or ``"224x320"`` (H x W) to a tuple."""
    if text is None:
        return None
    parts = str(text).lower().replace("*", "x").split("x")
    try:
        vals = [int(p) for p in parts]
    except ValueError:
        raise UsageError(f"--size must look like 224 or 224x320 (H x W), got {text!r}") from None
    if len(vals) == 1:
        vals = vals * 2
    if len(vals) != 2 or min(vals) < 2:
        raise UsageError(f"--size must look like 224 or 224x320 (H x W), got {text!r}")
    return (vals[0], vals[1])


def _floats(vals, what: str, channels: int) -> tuple[float, ...]:
    vals = tuple(float(v) for v in vals)
    if len(vals) == 1:
        return vals * channels
    if len(vals) == 3 and channels == 1:
        return (float(np.mean(vals)),)
    if len(vals) != channels:
        raise UsageError(f"--{what} needs 1 or {channels} values for a {channels}-channel model, got {len(vals)}")
    return vals


def make_preprocess(
    spec: InputSpec,
    preset: str | None = None,
    mean=None,
    std=None,
    size: tuple[int, int] | None = None,
) -> Preprocess | None:
    """Preprocessing for image inputs, or None for models images cannot feed (1-D)."""
    if spec.rank != 4:
        return None
    channels = spec.channels or 3
    if preset is None:
        preset = "imagenet" if channels == 3 else "unit"
    if preset not in PRESETS:
        raise UsageError(f"--preprocess must be one of {', '.join(PRESETS)}, got {preset!r}")
    p = PRESETS[preset]
    static = spec.spatial
    if size is None:
        if any(d is None for d in static):
            size = None
        else:
            size = (int(static[0]), int(static[1]))
    elif all(d is not None for d in static) and tuple(size) != tuple(static):
        raise UsageError(f"--size {size[0]}x{size[1]} does not match the model's fixed input size {static[0]}x{static[1]}")
    return Preprocess(
        preset=preset,
        size=size if size else (0, 0),
        scale=float(p["scale"]),
        mean=_floats(mean if mean is not None else p["mean"], "mean", channels),
        std=_floats(std if std is not None else p["std"], "std", channels),
        crop=float(p["crop"]),
        bgr=bool(p["bgr"]) and channels == 3,
    )


def _image_to_hwc(img, channels: int) -> tuple[np.ndarray, object]:
    """(float32 H x W x C array in 0..255, resizable PIL image or None)."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float32)
        arr = arr * (255.0 / 65535.0) if arr.max(initial=0) > 255 or mode.startswith("I;16") else arr
        return arr[..., None], None
    if mode == "F":
        return np.asarray(img, dtype=np.float32)[..., None], None
    target = {1: "L", 3: "RGB", 4: "RGBA"}[channels]
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    return None, img.convert(target)


#: an image is resized to at most this many times the pixels of the model input before its crop
_MAX_RESIZE_FACTOR = 64


def _resize_crop(arr_or_img, size: tuple[int, int], crop: float) -> np.ndarray:
    from PIL import Image

    th, tw = size
    if isinstance(arr_or_img, np.ndarray):
        h, w = arr_or_img.shape[:2]
    else:
        w, h = arr_or_img.size
    scale = max(th / crop / h, tw / crop / w)
    nh, nw = max(th, round(h * scale)), max(tw, round(w * scale))
    if nh * nw > _MAX_RESIZE_FACTOR * th * tw:  # a 400000 x 1 image would become 1.5 GB before its crop
        raise ValueError(f"a {w}x{h} image would be resized to {nw}x{nh} for a {tw}x{th} crop; it is too elongated "
                         f"for this model (more than {_MAX_RESIZE_FACTOR}x the pixels it needs)")
    top, left = (nh - th) // 2, (nw - tw) // 2
    box = (left, top, left + tw, top + th)
    if isinstance(arr_or_img, np.ndarray):
        chans = [
            np.asarray(Image.fromarray(arr_or_img[..., c], "F").resize((nw, nh), Image.BILINEAR).crop(box))
            for c in range(arr_or_img.shape[2])
        ]
        return np.stack(chans, axis=-1).astype(np.float32)
    out = np.asarray(arr_or_img.resize((nw, nh), Image.BILINEAR).crop(box), dtype=np.float32)
    return out if out.ndim == 3 else out[..., None]


def image_to_input(img, spec: InputSpec, pre: Preprocess) -> np.ndarray:
    """One decoded image as a model-ready sample (no batch axis, model layout and dtype)."""
    channels = spec.channels or 3
    if channels not in (1, 3, 4):
        raise UsageError(
            f"model input '{spec.name}' has {channels} channels; images give 1, 3 or 4 - feed .npy arrays instead"
        )
    arr, pil = _image_to_hwc(img, channels)
    hwc = _resize_crop(arr if arr is not None else pil, pre.size, pre.crop)
    if hwc.shape[2] != channels:
        hwc = np.repeat(hwc[..., :1], channels, axis=2) if hwc.shape[2] == 1 else hwc[..., :channels]
    if pre.bgr:
        hwc = hwc[..., ::-1]
    # ((pixels * scale) - mean) / std, in place (the same float32 rounding, a third of the allocations)
    x = np.multiply(hwc, pre.scale, dtype=np.float32)
    x -= np.asarray(pre.mean, np.float32)
    x /= np.asarray(pre.std, np.float32)
    if spec.layout == "NCHW":
        x = np.transpose(x, (2, 0, 1))
    return np.ascontiguousarray(x, dtype=spec.dtype)


# -- samples and batches --------------------------------------------------------
@dataclass
class Sample:
    """One model-ready sample and where it came from: file ``file_index`` of the
    input list, row ``row`` of ``rows`` in that file (for resuming a run)."""

    source: str
    array: np.ndarray
    file_index: int = 0
    row: int = 0
    rows: int = 1
    #: other model inputs named in an .npz (fed as they are with every run, e.g. a sample rate, a state)
    extras: dict = field(default_factory=dict, repr=False)

    @property
    def position_after(self) -> tuple[int, int]:
        """(files fully consumed, rows consumed of the next file) once this sample is done."""
        if self.row + 1 >= self.rows:
            return (self.file_index + 1, 0)
        return (self.file_index, self.row + 1)


def _same_extras(log: "InputLog", s: Sample) -> None:
    """Every input file of a run feeds the same other model inputs (the first one's)."""
    if log.extras is None:
        log.extras = s.extras
        return
    for name in set(log.extras) | set(s.extras):
        a, b = log.extras.get(name), s.extras.get(name)
        if a is None or b is None or a.shape != b.shape or not np.array_equal(a, b):
            raise InputDataError(f"{s.source}: feeds model input '{name}' differently from the run's first input; "
                                 "one run feeds one value of each other input")


@dataclass
class InputLog:
    """What happened to the inputs: what was skipped (and at which file index), and the sample
    shape every input of the run must keep (set by the first sample, or by a resumed run)."""

    skipped: list[dict] = field(default_factory=list)
    skipped_at: list[int] = field(default_factory=list)
    shape: tuple | None = None
    extras: dict | None = None  # the other model inputs the run's first input file feeds

    def add(self, index: int, entry: dict) -> None:
        self.skipped.append(entry)
        self.skipped_at.append(index)

    def before(self, files_done: int) -> list[dict]:
        """Skipped entries of files before ``files_done`` (a checkpoint's view)."""
        return [e for e, i in zip(self.skipped, self.skipped_at) if i < files_done]


def check_array(arr: np.ndarray, spec: InputSpec, where: str) -> np.ndarray:
    """A sample or a batch for ``spec``; returns a batch (leading axis)."""
    given = tuple(arr.shape)
    if arr.ndim == spec.rank - 1:
        arr = arr[None]
    expect = "x".join("N" if i == 0 else (str(d) if d else "?") for i, d in enumerate(spec.shape))
    if arr.ndim != spec.rank or any(d is not None and i > 0 and d != arr.shape[i] for i, d in enumerate(spec.shape)):
        raise InputDataError(
            f"{where}: array of shape {given} does not fit input '{spec.name}' ({expect}, {spec.layout}); "
            "save arrays already shaped for the model input"
        )
    if not np.issubdtype(arr.dtype, np.number):
        raise InputDataError(f"{where}: array has dtype {arr.dtype}; save numeric arrays")
    if np.iscomplexobj(arr):
        raise InputDataError(f"{where}: array is complex ({arr.dtype}); models take real inputs - save the real "
                             "part or the magnitude yourself")
    return arr.astype(spec.dtype, copy=False)


def _load_file(index: int, path: Path, spec: InputSpec, pre: Preprocess | None) -> "list[Sample] | Exception":
    """The samples of one input file, or the InputDataError/UsageError that says why not
    (returned, not raised: this runs on a decode thread and the caller decides)."""
    suffix = path.suffix.lower()
    try:
        check_readable(path)
        if suffix in AUDIO_SUFFIXES:
            return [Sample(str(path), _audio_sample(path, spec, pre), index, 0, 1)]
        if suffix in ARRAY_SUFFIXES:
            named = read_named_arrays(path) if suffix == ".npz" else {}
            if spec.name in named:  # arrays named after the model's inputs: the input's rows, the rest as they are
                extras = {k: v for k, v in named.items() if k != spec.name}
                rows = list(check_array(named[spec.name], spec, str(path)))
                return [Sample(f"{path}[{i}]" if len(rows) > 1 else str(path), r, index, i, len(rows), extras)
                        for i, r in enumerate(rows)]
            batches = [check_array(a, spec, str(path)) for a in (named.values() if named else read_arrays(path))]
            rows = [(f"{path}[{i}]" if b.shape[0] > 1 or len(batches) > 1 else str(path), r)
                    for b in batches for i, r in enumerate(b)]
            return [Sample(src, r, index, j, len(rows)) for j, (src, r) in enumerate(rows)]
        if suffix in IMAGE_SUFFIXES:
            if not isinstance(pre, Preprocess):
                raise InputDataError(f"{path}: model input '{spec.name}' is {spec.layout}; images cannot feed it, use .npy arrays")
            if pre.size == (0, 0):
                raise UsageError(f"model input '{spec.name}' has dynamic spatial dims; pass --size HxW to feed images")
            try:
                arr = image_to_input(read_image(path), spec, pre)
            except (MemoryError, ValueError) as exc:  # a resize the model does not need (see _resize_crop)
                raise InputDataError(f"{path}: cannot preprocess ({type(exc).__name__}: {exc})") from exc
            return [Sample(str(path), arr, index, 0, 1)]
        raise InputDataError(f"{path}: not an image or array file ({suffix or 'no suffix'})")
    except (InputDataError, UsageError) as exc:
        return exc


def _audio_sample(path: Path, spec: InputSpec, prep) -> np.ndarray:
    from .audio import AudioPrep, audio_to_input
    from .modelio import read_wav

    if not isinstance(prep, AudioPrep):
        raise InputDataError(f"{path}: model input '{spec.name}' is {spec.layout}; WAV files feed raw-waveform "
                             "inputs (N, samples) or (N, C, samples) only")
    rate, data = read_wav(path)
    return audio_to_input(rate, data, spec, prep, str(path))


def decode_workers() -> int:
    """Threads that decode and preprocess input files ahead of the model: all cores but one
    (the one that feeds the model and the reduction), at least 1. No fixed cap: a 16-core GPU
    host decodes on 15 threads (``SROP_ONNX_THREADS`` caps the cores used)."""
    from ._xp import cpu_workers

    return max(1, cpu_workers() - 1)


def _decoded(files: list[Path], first: int, spec: InputSpec, pre: Preprocess | None,
             workers: int) -> Iterator[tuple[int, Path, "list[Sample] | Exception"]]:
    """``(index, path, samples or error)`` for ``files[first:]`` in file order; with several
    ``workers``, up to ``2 * workers`` files are decoded ahead in parallel (PIL and NumPy
    release the GIL while decoding, resizing and normalising)."""
    todo = ((i, files[i]) for i in range(first, len(files)))
    if workers <= 1:
        for index, path in todo:
            yield index, path, _load_file(index, path, spec, pre)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="srop-onnx-decode")
    window: deque = deque()
    try:
        for index, path in todo:
            window.append((index, path, pool.submit(_load_file, index, path, spec, pre)))
            if len(window) >= 2 * workers:
                index, path, fut = window.popleft()
                yield index, path, fut.result()
        while window:
            index, path, fut = window.popleft()
            yield index, path, fut.result()
    finally:  # the consumer may stop early (--limit, an error): drop what is queued
        pool.shutdown(wait=True, cancel_futures=True)


def iter_samples(
    files: list[Path],
    spec: InputSpec,
    pre: Preprocess | None,
    log: InputLog,
    *,
    strict: bool = False,
    limit: int | None = None,
    start: tuple[int, int] = (0, 0),
    workers: int | None = None,
) -> Iterator[Sample]:
    """Samples from input files in order; bad files are logged and skipped (or raise when strict).

    ``start = (f, k)`` resumes after ``f`` whole files and ``k`` rows of file ``f``
    (files before it are not read); ``log.shape``, when set, is the sample shape a
    resumed run must keep. Files are decoded on ``workers`` threads (default
    :func:`decode_workers`); what is yielded, logged and raised is in file order
    whatever the number of threads.
    """
    count = 0
    for index, path, loaded in _decoded(files, start[0], spec, pre, workers or decode_workers()):
        if limit is not None and count >= limit:
            return
        try:
            if isinstance(loaded, Exception):
                raise loaded
            for s in loaded:
                _same_extras(log, s)
                if log.shape is None:
                    log.shape = s.array.shape
                elif s.array.shape != log.shape:
                    raise InputDataError(
                        f"{s.source}: sample shape {s.array.shape} differs from the first input's {log.shape}; "
                        "all inputs of one run must share a shape"
                    )
        except UsageError:
            raise
        except InputDataError as exc:
            if strict:
                raise
            log.add(index, {"path": str(path), "reason": str(exc)})
            continue
        samples = loaded[start[1]:] if index == start[0] else loaded
        for s in samples:
            if limit is not None and count >= limit:
                return
            count += 1
            yield s


def shard_slice(n: int, shard: tuple[int, int] | None) -> slice:
    """Contiguous, deterministic slice ``I`` of ``N`` (1-based) over ``n`` items in input order."""
    if shard is None:
        return slice(0, n)
    i, count = shard
    return slice((i - 1) * n // count, i * n // count)


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"2/7"`` -> (2, 7)."""
    if text is None:
        return None
    try:
        i, n = (int(v) for v in str(text).split("/"))
    except ValueError:
        raise UsageError(f"--shard must look like I/N (e.g. 2/7), got {text!r}") from None
    if not (n >= 1 and 1 <= i <= n):
        raise UsageError(f"--shard {text}: need 1 <= I <= N")
    return (i, n)


def parse_bytes(text: str | None, option: str = "--max-memory") -> int | None:
    """``"2GB"``, ``"512MiB"``, ``"1e9"`` -> bytes."""
    if text is None:
        return None
    units = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "kib": 2**10, "m": 1e6, "mb": 1e6, "mib": 2**20,
             "g": 1e9, "gb": 1e9, "gib": 2**30, "t": 1e12, "tb": 1e12, "tib": 2**40}
    t = str(text).strip().lower().replace(" ", "")
    num = t.rstrip("kmgtib")
    try:
        value = float(num) * units[t[len(num):]]
    except (ValueError, KeyError):
        raise UsageError(f"{option} must look like 2GB, 512MiB or a number of bytes, got {text!r}") from None
    if value < 1:
        raise UsageError(f"{option} must be positive, got {text!r}")
    return int(value)


def batched(samples: Iterator[Sample], size: int) -> Iterator[list[Sample]]:
    batch: list[Sample] = []
    for s in samples:
        batch.append(s)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _put(q: queue.Queue, item, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _prefetch_worker(it: Iterator, q: queue.Queue, stop: threading.Event) -> None:
    try:
        for item in it:
            if not _put(q, ("item", item), stop):
                return
        _put(q, ("end", None), stop)
    except BaseException as exc:  # handed to the consumer
        _put(q, ("error", exc), stop)


def prefetch(it: Iterator, depth: int = 2) -> Iterator:
    """Run ``it`` in a background thread, ``depth`` items ahead (decoding overlaps inference)."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    t = threading.Thread(target=_prefetch_worker, args=(it, q, stop), name="srop-onnx-prefetch", daemon=True)
    t.start()
    try:
        while True:
            kind, item = q.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
