"""Sample streams: input files decoded on worker threads into model-ready samples, in file order,
grouped into batches and prefetched ahead of the model.

Bad files are reported, not fatal (unless strict): each file yields its samples or the error that
says why not, and :func:`iter_samples` logs and skips it.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from ..core._xp import preload
from ..errors import InputDataError, UsageError, option
from ..files.filetypes import ARRAY_SUFFIXES, AUDIO_SUFFIXES, IMAGE_SUFFIXES
from ..files.remote import is_remote
from .inputspec import InputSpec
from ..model.modelio import check_readable, content_digest, read_hashed, read_image, read_wav
from .arrayfiles import read_arrays, read_named_arrays
from .preprocess import Preprocess, image_to_input
from .readahead import _ReadAhead

__all__ = ["Sample", "InputLog", "FileList", "check_array", "image_array", "split_named", "stack_rows", "iter_samples", "decode_workers", "batched", "prefetch"]


@dataclass
class Sample:
    """One model-ready sample and where it came from: file ``file_index`` of the
    input list, row ``row`` of ``rows`` in that file (for resuming a run).

    ``source`` is the path as given (for people); ``key`` is the sample's identity, independent of
    how the path was typed or where the command runs: the file's path inside the folder argument
    it was found under, or its name when given directly, plus ``[row]`` in a multi-row array
    (seeded noise of a sweep depends on it)."""

    source: str
    array: np.ndarray
    file_index: int = 0
    row: int = 0
    rows: int = 1
    #: other model inputs named in an .npz (fed as they are with every run, e.g. a sample rate, a state)
    extras: dict = field(default_factory=dict, repr=False)
    key: str = ""
    #: this sample's row of each other model input that shares the batch axis (split with the samples)
    rows_of: dict = field(default_factory=dict, repr=False)
    #: the sample's class (``--labels``), None when unlabelled
    label: str | None = None

    def __post_init__(self):
        if not self.key:
            self.key = self.source

    @property
    def position_after(self) -> tuple[int, int]:
        """(files fully consumed, rows consumed of the next file) once this sample is done."""
        if self.row + 1 >= self.rows:
            return (self.file_index + 1, 0)
        return (self.file_index, self.row + 1)


def _same_extras(log: "InputLog", s: Sample) -> None:
    """Every input file of a run feeds the same other model inputs (the first one's)."""
    if log.extras is None:
        log.extras, log.row_inputs = s.extras, sorted(s.rows_of)
        return
    if sorted(s.rows_of) != log.row_inputs:
        given = ", ".join(sorted(s.rows_of)) or "none"
        raise InputDataError(f"{s.source}: gives per-sample rows of {given}, the run's first input of "
                             f"{', '.join(log.row_inputs) or 'none'}; every input file must name the same arrays")
    for name in set(log.extras) | set(s.extras):
        a, b = log.extras.get(name), s.extras.get(name)
        if a is None or b is None or a.shape != b.shape or not np.array_equal(a, b):
            raise InputDataError(f"{s.source}: feeds model input '{name}' differently from the run's first input; "
                                 "one run feeds one value of each other input")


@dataclass
class InputLog:
    """What happened to the inputs: what was skipped (and at which file index), the sample shape
    every input of the run must keep (set by the first sample, or by a resumed run), and the
    content digest of every file read (by file index, when the run keeps a checkpoint)."""

    skipped: list[dict] = field(default_factory=list)
    skipped_at: list[int] = field(default_factory=list)
    shape: tuple | None = None
    extras: dict | None = None  # the other model inputs the run's first input file feeds
    row_inputs: list = field(default_factory=list)  # the other inputs it splits with its samples
    digests: dict[int, str] = field(default_factory=dict)
    hashing: bool = False  # hash every file as it is read (into ``digests``)
    labels: object = None  # the LabelRule that gives every sample read its class (``--labels``)

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
        pixels = arr.dtype == np.uint8 and arr.ndim >= 3 and arr.shape[-1] in (1, 3, 4) and not spec.integer
        hint = (" (pixels, H x W x channels? images are preprocessed when given as image files, or as PIL images "
                "from Python)") if pixels else ""
        raise InputDataError(
            f"{where}: array of shape {given} does not fit input '{spec.name}' ({expect}, {spec.layout}); "
            f"give arrays already shaped for the model input{hint}"
        )
    if not np.issubdtype(arr.dtype, np.number):
        raise InputDataError(f"{where}: array has dtype {arr.dtype}; save numeric arrays")
    if np.iscomplexobj(arr):
        raise InputDataError(f"{where}: array is complex ({arr.dtype}); models take real inputs - save the real "
                             "part or the magnitude yourself")
    if spec.integer:
        return _integer_array(arr, spec, where)
    return _float_array(arr, spec, where)


def _float_array(arr: np.ndarray, spec: InputSpec, where: str) -> np.ndarray:
    """Floats for a float input, in its own type (a float16 array for a float16 input is fed as it
    is); finite values that the input's type cannot hold are refused, never fed as infinities."""
    want = np.dtype(spec.dtype)
    if arr.dtype == want:
        return arr
    if arr.size and np.issubdtype(arr.dtype, np.floating) and np.finfo(arr.dtype).max > np.finfo(want).max:
        finite = np.abs(arr[np.isfinite(arr)]) if not np.all(np.isfinite(arr)) else np.abs(arr)
        top = float(finite.max()) if finite.size else 0.0
        if top > float(np.finfo(want).max):
            raise InputDataError(f"{where}: {arr.dtype} values up to {top:.6g} do not fit model input '{spec.name}' "
                                 f"({want}: at most {float(np.finfo(want).max):.6g}); scale the array or save it as "
                                 f"{want}")
    return arr.astype(want, copy=False)


def _integer_array(arr: np.ndarray, spec: InputSpec, where: str) -> np.ndarray:
    """Integers for an integer input, as they are: a float array is refused (casting would truncate
    silently), an integer array is cast only when every value fits the input's type."""
    want = np.dtype(spec.dtype)
    if not np.issubdtype(arr.dtype, np.integer) and arr.dtype != np.bool_:
        raise InputDataError(f"{where}: a {arr.dtype} array for model input '{spec.name}', which is {want}; save "
                             f"the array as {want} (srop-onnx does not round floats into integers)")
    if arr.size and arr.dtype != want:
        info = np.iinfo(want)
        lo, hi = int(arr.min()), int(arr.max())
        if lo < info.min or hi > info.max:
            raise InputDataError(f"{where}: {arr.dtype} values {lo}..{hi} do not fit model input '{spec.name}' "
                                 f"({want}: {info.min}..{info.max}); save the array as {want}")
    return arr.astype(want, copy=False)


@dataclass(frozen=True)
class _File:
    """One input file of the list: its place, its path, its identity key."""

    index: int
    path: Path
    key: str

    def sample(self, array: np.ndarray, row: int = 0, rows: int = 1, extras: dict | None = None,
               rows_of: dict | None = None) -> Sample:
        tag = f"[{row}]" if rows > 1 else ""
        return Sample(f"{self.path}{tag}", array, self.index, row, rows, extras or {}, f"{self.key}{tag}",
                      rows_of or {})


def split_named(named: dict, spec: InputSpec, where: str) -> tuple[np.ndarray, dict, dict]:
    """An .npz's arrays named after the model's inputs as ``(batch of the fed input, per-sample
    arrays, whole arrays)``: another input that shares the fed input's batch axis
    (:attr:`InputSpec.batched`) is split with the samples when it has a row per sample (or is one
    sample, next to a one-sample fed input); anything else (a state, a table, a sample rate) goes
    whole with every run."""
    given = named[spec.name]
    batch = check_array(given, spec, where)
    n, one = batch.shape[0], given.ndim == spec.rank - 1
    ranks = {name: (rank, same) for name, rank, same in spec.batched}
    per, whole = {}, {}
    for k, v in named.items():
        if k == spec.name:
            continue
        rank, same = ranks.get(k, (-1, False))
        if one and v.ndim == rank - 1:
            per[k] = v[None]
        elif v.ndim == rank and v.shape[0] == n:
            per[k] = v
        elif v.ndim == rank and same and spec.batch is None:
            raise InputDataError(f"{where}: array '{k}' has {v.shape[0]} rows and '{spec.name}' has {n}; the model "
                                 f"feeds both along one batch axis, so save a row of '{k}' per sample")
        else:
            whole[k] = v
    return batch, per, whole


def _array_samples(f: _File, spec: InputSpec, data: bytes | None, labels=None) -> list[Sample]:
    named = read_named_arrays(f.path, data) if f.path.suffix.lower() == ".npz" else {}
    if labels is not None and labels.kind == "npz":  # the labels' array is never fed to the model
        return _labelled(_array_samples_of(f, spec, data, named, labels.key), named, labels.key, str(f.path))
    return _array_samples_of(f, spec, data, named)


def _labelled(samples: list[Sample], named: dict, key: str, where: str) -> list[Sample]:
    """``samples`` with their labels from the .npz array ``key`` (one per row)."""
    from ..config.labels import label_text

    if key not in named:
        if not named:  # a .npy file: its rows are unlabelled (reported with the others)
            return samples
        raise InputDataError(f"{where}: no array '{key}' for {option('labels', f'npz:{key}')} (it holds {', '.join(sorted(named))}); "
                             "name the labels' array")
    given = np.asarray(named[key])
    given = given.reshape(1) if given.ndim == 0 else given
    if given.ndim != 1 or given.shape[0] != len(samples):
        raise InputDataError(f"{where}: array '{key}' has shape {tuple(given.shape)}, not one label per sample "
                             f"({len(samples)}); save a 1-D array of labels")
    for s, value in zip(samples, given.tolist()):
        s.label = label_text(value)
    return samples


def _array_samples_of(f: _File, spec: InputSpec, data: bytes | None, named: dict, skip: str = "") -> list[Sample]:
    named = {k: v for k, v in named.items() if k != skip}
    if spec.name in named:  # arrays named after the model's inputs: rows split with the samples, the rest whole
        batch, per, whole = split_named(named, spec, str(f.path))
        n = batch.shape[0]
        return [f.sample(batch[i], i, n, whole, {k: v[i] for k, v in per.items()}) for i in range(n)]
    batches = [check_array(a, spec, str(f.path)) for a in (named.values() if named else read_arrays(f.path, data))]
    rows = [r for b in batches for r in b]
    return [f.sample(r, j, len(rows)) for j, r in enumerate(rows)]


def _image_sample(f: _File, spec: InputSpec, pre, data: bytes | None) -> Sample:
    _image_fits(str(f.path), spec, pre, lambda: _own_size(f.path, data))
    return f.sample(_preprocessed(read_image(f.path, data), str(f.path), spec, pre))


def image_array(img, where: str, spec: InputSpec, pre) -> np.ndarray:
    """An in-memory image (PIL, already oriented) as the model's input, preprocessed by ``pre``; errors
    spell options as Python does (``size=(H, W)``)."""
    _image_fits(where, spec, pre, lambda: (img.height, img.width), python=True)
    return _preprocessed(img, where, spec, pre)


def _image_fits(where: str, spec: InputSpec, pre, own_size, python: bool = False) -> None:
    """Refuse images for a model input they cannot feed, or without a size to feed them at
    (``own_size()``: the image's (h, w) or None, read only then, for the hint)."""
    if not isinstance(pre, Preprocess):
        what = f"{spec.dtype} (integers)" if spec.integer else spec.layout
        arrays = "give arrays" if python else "use .npy arrays"
        raise InputDataError(f"{where}: model input '{spec.name}' is {what}; images cannot feed it, "
                             f"{arrays}{' of ' + spec.dtype if spec.integer else ''}")
    if pre.size == (0, 0):
        size = _size_hint(spec)
        if not size and (hw := own_size()) is not None:
            whole = f", {option('crop', 1, py=1.0)} without cutting their borders" if pre.crop < 1 else ""
            at = option("size", f"{hw[0]}x{hw[1]}", py=hw)
            size = f" ({where} is {hw[0]}x{hw[1]}: {at} feeds images at that size{whole})"
        raise UsageError(f"model input '{spec.name}' has dynamic spatial dims; pass "
                         f"{option('size', 'HxW', py='(H, W)')} to feed images{size}")


def _preprocessed(img, where: str, spec: InputSpec, pre) -> np.ndarray:
    try:
        return image_to_input(img, spec, pre)
    except (MemoryError, ValueError) as exc:  # a resize the model does not need (see preprocess._resize_crop)
        raise InputDataError(f"{where}: cannot preprocess ({type(exc).__name__}: {exc})") from exc


def _size_hint(spec: InputSpec) -> str:
    """`` (its height is 64: --size 64xW)`` when one spatial side is fixed, else ''."""
    dims = [spec.shape[a] if a < len(spec.shape) else None for a in spec.spatial_axes]
    if len(dims) != 2:
        return ""
    h, w = (d if isinstance(d, int) and d > 0 else None for d in dims)
    if h and not w:
        return (f" (its height is {h}: {option('size', f'{h}xW', py=f'({h}, W)')}, "
                f"e.g. {option('size', f'{h}x{4 * h}', py=(h, 4 * h))})")
    if w and not h:
        return f" (its width is {w}: {option('size', f'Hx{w}', py=f'(H, {w})')})"
    return ""


def _own_size(path: Path, data: bytes | None) -> "tuple[int, int] | None":
    """An image file's (height, width), or None when it cannot be read."""
    try:
        w, h = read_image(path, data).size
    except InputDataError:
        return None
    return h, w


def _load_file(f: _File, spec: InputSpec, pre, hashing: bool = False, labels=None,
               fetched=None) -> "tuple[list[Sample] | Exception, str | None]":
    """The samples of one input file, or the InputDataError/UsageError that says why not
    (returned, not raised: this runs on a decode thread and the caller decides), and, when
    ``hashing``, the digest of the bytes decoded (the file is read once, hashed and decoded from
    memory; a memory-mapped ``.npy`` is hashed as mapped). ``fetched``: the future of an object's
    bytes that a reader thread is getting (see :class:`_ReadAhead`)."""
    suffix = f.path.suffix.lower()
    digest = None
    try:
        data = None
        if is_remote(f.path):  # an object in a bucket: read into memory, decoded from bytes
            data = fetched.result() if fetched is not None else f.path.read()
            if isinstance(data, Exception):
                raise data
            digest = hashlib.sha256(data).hexdigest() if hashing else None
        else:
            check_readable(f.path)
        if hashing and data is None:
            data, digest = read_hashed(f.path, keep=suffix != ".npy")
        if suffix in AUDIO_SUFFIXES:
            return [f.sample(_audio_sample(f.path, spec, pre, data))], digest
        if suffix in ARRAY_SUFFIXES:
            return _array_samples(f, spec, data, labels), digest
        if suffix in IMAGE_SUFFIXES:
            return [_image_sample(f, spec, pre, data)], digest
        raise InputDataError(f"{f.path}: not an image or array file ({suffix or 'no suffix'})")
    except (InputDataError, UsageError) as exc:
        return exc, digest or (content_digest(f.path) if hashing and not is_remote(f.path) else None)


def _audio_sample(path: Path, spec: InputSpec, prep, data: bytes | None) -> np.ndarray:
    from .audio import AudioPrep, audio_to_input

    if not isinstance(prep, AudioPrep):
        raise InputDataError(f"{path}: model input '{spec.name}' is {spec.layout}; WAV files feed raw-waveform "
                             "inputs (N, samples), (N, C, samples) or (N, samples, C) only")
    rate, samples = read_wav(path, data)
    return audio_to_input(rate, samples, spec, prep, str(path))


def decode_workers() -> int:
    """Threads that decode and preprocess input files ahead of the model: all cores but one
    (the one that feeds the model and the reduction), at least 1. No fixed cap: a 16-core GPU
    host decodes on 15 threads (``SROP_ONNX_THREADS`` caps the cores used)."""
    from ..core._xp import cpu_workers

    return max(1, cpu_workers() - 1)


@dataclass(frozen=True)
class FileList:
    """The input files of a run in order, with their identity keys (see :class:`Sample`)."""

    files: list[Path]
    keys: list[str]

    def __len__(self) -> int:
        return len(self.files)

    def entry(self, i: int) -> _File:
        return _File(i, self.files[i], self.keys[i])


def _decoded(todo: FileList, first: int, spec: InputSpec, pre, workers: int,
             hashing: bool, labels=None) -> Iterator[tuple[_File, "list[Sample] | Exception", str | None]]:
    """``(file, samples or error, digest)`` for the files from ``first`` on, in file order; with
    several ``workers``, up to ``2 * workers`` files are decoded ahead in parallel (PIL and NumPy
    release the GIL while decoding, resizing and normalising). The first call runs on the caller's
    thread, which imports the decoders here when any file needs them (see _xp.preload)."""
    suffixes = {Path(str(f)).suffix.lower() for f in todo.files}
    images, wav = bool(suffixes - set(ARRAY_SUFFIXES) - set(AUDIO_SUFFIXES)), bool(suffixes & set(AUDIO_SUFFIXES))
    if images or wav:
        preload(images=images, wav=wav)
    entries = [todo.entry(i) for i in range(first, len(todo))]
    ahead = _ReadAhead(entries) if any(is_remote(f.path) for f in entries) else None
    pool = None
    try:
        if workers <= 1:
            for k, f in enumerate(entries):
                yield (f, *_load_file(f, spec, pre, hashing, labels, ahead and ahead.take(k)))
            return
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="srop-onnx-decode")
        window: deque = deque()
        for k, f in enumerate(entries):
            window.append((f, pool.submit(_load_file, f, spec, pre, hashing, labels, ahead and ahead.take(k))))
            if len(window) >= 2 * workers:
                f, fut = window.popleft()
                yield (f, *fut.result())
        while window:
            f, fut = window.popleft()
            yield (f, *fut.result())
    finally:  # the consumer may stop early (--limit, an error): drop what is queued
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if ahead is not None:
            ahead.close()


def _check_samples(log: InputLog, loaded: list[Sample]) -> None:
    """Every sample of a run has the first one's shape and feeds the same other inputs."""
    for s in loaded:
        _same_extras(log, s)
        if log.shape is None:
            log.shape = s.array.shape
        elif s.array.shape != log.shape:
            raise InputDataError(f"{s.source}: sample shape {s.array.shape} differs from the first input's "
                                 f"{log.shape}; all inputs of one run must share a shape")


def iter_samples(
    files: "FileList | list[Path]",
    spec: InputSpec,
    pre,
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
    whatever the number of threads. With ``log.hashing``, the digest of every file read is
    recorded in ``log.digests`` (checkpoints prove with it that a resumed run reads the same).
    With ``log.labels`` (a :class:`~srop_onnx.config.labels.LabelRule`), every sample gets its class.
    """
    if not isinstance(files, FileList):
        files = FileList(list(files), [Path(f).name for f in files])
    count, labels = 0, log.labels
    workers = workers or decode_workers()
    for f, loaded, digest in _decoded(files, start[0], spec, pre, workers, log.hashing, labels):
        if limit is not None and count >= limit:
            return
        if digest is not None:
            log.digests[f.index] = digest
        try:
            if isinstance(loaded, Exception):
                raise loaded
            _check_samples(log, loaded)
        except UsageError:
            raise
        except InputDataError as exc:
            if strict:
                raise
            log.add(f.index, {"path": str(f.path), "reason": str(exc)})
            continue
        for s in loaded[start[1]:] if f.index == start[0] else loaded:
            if limit is not None and count >= limit:
                return
            count += 1
            if labels is not None and labels.kind != "npz":
                s.label = labels.rows[f.index] if labels.kind == "files" else labels.of(s.key)
            yield s


def stack_rows(batch: list[Sample]) -> dict[str, np.ndarray]:
    """The per-sample rows of the other model inputs for a batch (empty when there are none)."""
    if not batch or not batch[0].rows_of:
        return {}
    return {k: np.stack([s.rows_of[k] for s in batch]) for k in batch[0].rows_of}


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
