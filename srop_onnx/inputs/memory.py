"""Inputs held in memory as a list: PIL images, or arrays and framework tensors.

From Python (a notebook, a dataset loaded by another library) inputs often are objects, not files:
``[Image.open(p) for p in paths]``, the images of a Hugging Face dataset, ``[x for x, _ in
loader]``. A list of PIL images is preprocessed exactly as image files are (EXIF orientation
included, so an opened file gives what its path gives); a list of arrays is the concatenation of its
items, each one sample or a batch of them. Each sample is known by its place in the list:
``image[i]`` or ``array[i]``.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputDataError, UsageError, option
from ..files.reading import size_text
from .samples import Sample, image_array

__all__ = ["InMemory", "ImageRows", "is_pil_image", "images_digest", "split_pairs", "take", "example_of"]


@dataclass(frozen=True)
class InMemory:
    """A list of in-memory inputs: ``kind`` ``'images'`` (PIL images) or ``'arrays'`` (NumPy arrays);
    ``targets``: what a data loader or data set gave with each item (its class, or a batch of them)."""

    kind: str
    items: tuple
    targets: "tuple | None" = None


#: the keys under which a data set's rows (dicts: Hugging Face ``datasets``, ``transformers`` batches)
#: hold the input and its class
INPUT_KEYS = ("pixel_values", "image", "images", "img", "input", "inputs", "input_values", "x")
TARGET_KEYS = ("label", "labels", "target", "targets", "y")


def take(source, limit: "int | None" = None, budget: "int | None" = None, progress=None, sample_rank=None) -> list:
    """The items of a list, a data loader or a data set (read by index when it has no ``__iter__``,
    as PyTorch's map-style ``Dataset``); with ``limit``, a loader is read only until its items hold
    that many samples: a batch counts its targets' rows, or its input's rows when the loader says it
    yields batches (PyTorch's ``batch_size``, Keras' ``PyDataset``) or when it has one axis more than
    a sample of the model (``sample_rank(first)``: that rank, None where it is not known; asked once,
    only when needed, with the first item's input), as the run reads it; an item known as neither counts as one (never too few).
    ``budget``: the bytes a loader's inputs may take in memory (they are held while
    they are measured); reading past it is a :class:`UsageError` that says to give ``limit``.
    ``progress(samples, limit)`` hears how far the reading is, and ``(samples, samples)`` at its end."""
    if isinstance(source, (list, tuple)):  # held already, by the caller
        return list(source)
    # PyTorch's DataLoader says its batch size (None when it yields samples); Keras' PyDataset yields batches
    batched = isinstance(getattr(source, "batch_size", None), int) or isinstance(
        getattr(type(source), "num_batches", None), property)
    items = iter(source) if hasattr(source, "__iter__") else (source[i] for i in range(len(source)))
    out, rows, held, rank = [], 0, 0, []
    for item in items:
        out.append(item)
        inputs, target = _parts(item)
        if not batched and not rank and limit is not None and sample_rank is not None and target is None:
            rank.append(sample_rank(inputs))  # the model's, asked once: a batch has one axis more than a sample
        rows += _rows(inputs, target, batched, rank[0] if rank else None)
        held += _nbytes(inputs)
        if budget is not None and held > budget:
            raise UsageError(f"inputs: the first {rows} samples read from the {type(source).__name__} already take "
                             f"{size_text(held)}, over half the memory free here; what is read is held while it is "
                             f"measured: give {option('limit')} (e.g. {option('limit', py=max(1, rows // 2))}), or "
                             "the image or array files themselves, which are read batch by batch")
        if progress:
            progress(rows, limit)
        if limit is not None and rows >= limit:
            break
    if progress and rows and (limit is None or rows < limit):  # the loader ended first: what was read is all
        progress(rows, rows)
    return out


def _parts(item) -> tuple:
    """``(inputs, target)`` of what a loader yields: an ``(input, target, ...)`` tuple, ``(input,)``, a dict
    row (:data:`INPUT_KEYS`, :data:`TARGET_KEYS`), or the input alone."""
    if isinstance(item, (tuple, list)) and item:
        return item[0], (item[1] if len(item) >= 2 else None)
    if isinstance(item, dict):
        return (next((item[k] for k in INPUT_KEYS if k in item), None),
                next((item[k] for k in TARGET_KEYS if k in item), None))
    return item, None


def _rows(inputs, target, batched: bool, sample_rank: "int | None" = None) -> int:
    """How many samples a loader's item holds, as far as it says: its targets' count (one class per
    sample), else, from a loader that yields batches or for an input of one axis more than a sample
    (a ``tf.data`` pipeline of batches alone), its input's first axis; else 1."""
    if target is not None and np.ndim(target) == 1:
        return len(target)
    shape = getattr(inputs, "shape", None)
    if shape is None or len(shape) < 1 or shape[0] is None:
        return 1
    return int(shape[0]) if batched or sample_rank is not None and len(shape) == sample_rank + 1 else 1


def _nbytes(x) -> int:
    """The bytes an input holds: an array's or tensor's (TensorFlow's by its shape and dtype), a PIL
    image's pixels; 0 when it does not say."""
    n = getattr(x, "nbytes", None)
    if isinstance(n, (int, np.integer)):
        return int(n)
    if is_pil_image(x):
        return x.width * x.height * len(x.getbands())
    try:
        return int(np.prod([int(d) for d in x.shape])) * int(getattr(x.dtype, "size", 4))
    except (AttributeError, TypeError, ValueError):
        return 0


def split_pairs(items: list) -> "tuple[list, list | None]":
    """Items as a data loader or a data set yields them, ``(input, target)`` pairs (or ``(input,)``, or
    ``(input, target, ...)`` such as Keras' ``(x, y, sample_weight)``, whose third and later parts are not used) or
    dicts with an input and a class (``{"pixel_values": ..., "labels": ...}``), as the inputs and their
    targets; other items as they are, with no targets."""
    if not items or not all(isinstance(x, (tuple, list, dict)) for x in items):
        return items, None
    inputs, targets = [], []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            x_key = next((k for k in INPUT_KEYS if k in item), None)
            y_key = next((k for k in TARGET_KEYS if k in item), None)
            if x_key is None:
                raise UsageError(f"inputs[{i}]: a dict with keys {', '.join(map(str, list(item)[:8]))}, none of them an "
                                 f"input ({', '.join(INPUT_KEYS)}); give the inputs alone: [row[KEY] for row in data]")
            inputs.append(item[x_key])
            targets.append(item.get(y_key) if y_key else None)
        elif item:  # (input,): a TensorDataset of inputs alone; (input, target, ...): Keras' (x, y, sample_weight),
            inputs.append(item[0])  # a data set's (image, label, index): what follows the target is not used
            targets.append(item[1] if len(item) >= 2 else None)
        else:
            raise UsageError(f"inputs[{i}]: an empty {type(item).__name__}; give samples or batches, or the "
                             "(input, target) pairs a data loader yields")
    return inputs, (None if all(t is None for t in targets) else targets)


def target_labels(held: InMemory, rows: "list[int]") -> "tuple[list | None, str | None]":
    """One class per sample from ``held``'s targets (``rows``: how many samples each item holds), and a
    note when they are not that (one-hot vectors, masks, boxes, items without one): then no labels."""
    out: list = []
    for t, n in zip(held.targets or (), rows):
        if t is None:
            return None, "some of the inputs came without a target; none is kept as a label (labels= gives the classes)"
        if hasattr(t, "detach"):  # a torch tensor
            t = t.detach().cpu().numpy()
        t = np.asarray(t, dtype=object) if isinstance(t, str) else np.asarray(t)
        if t.ndim == 0 and n == 1:
            out.append(t.item())
        elif t.ndim == 1 and len(t) == n:
            out.extend(t.tolist())
        else:
            return None, (f"the inputs' targets are not one class per sample (shape {tuple(t.shape)} for {n} "
                          "sample(s)); they are not kept as labels (labels= gives the classes)")
    return out, None


def is_pil_image(x) -> bool:
    """Whether ``x`` is a PIL image (without importing Pillow: a program that made one has)."""
    mod = sys.modules.get("PIL.Image")
    return mod is not None and isinstance(x, mod.Image)


def images_digest(images: Sequence) -> str:
    """What a list of images is, pixel for pixel: their modes, sizes and bytes (a checkpoint of a run
    over them resumes only over the same images)."""
    h = hashlib.sha256()
    for i, img in enumerate(images):
        h.update(f"{img.mode} {img.size}\n".encode())
        h.update(_readable(lambda: img.tobytes(), i))
    return h.hexdigest()


def _readable(read, row: int):
    """``read()``, with an image opened lazily from a file closed or cut since named by its place."""
    try:
        return read()
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputDataError(f"image[{row}]: cannot read image ({type(exc).__name__}: {exc})") from exc


class ImageRows(Sequence):
    """The samples of in-memory images ``images`` (rows ``start..start+len`` of ``total``), each
    preprocessed when it is taken, once :meth:`bind` has said how; ``labels``: each row's class or None."""

    def __init__(self, images: Sequence, start: int, total: int, labels: Sequence | None = None):
        self.images, self.start, self.total = tuple(images), start, total
        self.labels = tuple(labels) if labels is not None else (None,) * len(self.images)
        self.spec = self.pre = None

    def bind(self, spec, pre) -> "ImageRows":
        """Preprocess for the model input ``spec`` with ``pre`` (the plan's)."""
        self.spec, self.pre = spec, pre
        return self

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i):
        if isinstance(i, slice):
            lo, hi, step = i.indices(len(self))
            if step != 1:
                raise ValueError("ImageRows slices take every row")
            part = ImageRows(self.images[lo:hi], self.start + lo, self.total, self.labels[lo:hi])
            return part.bind(self.spec, self.pre)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        from PIL import ImageOps

        row = self.start + i
        where = f"image[{row}]"
        img = _readable(lambda: ImageOps.exif_transpose(self.images[i]), row)  # as an image file is read
        s = Sample(where, image_array(img, where, self.spec, self.pre), 0, row, self.total)
        s.label = self.labels[i]
        return s


def stack_arrays(items: Sequence[np.ndarray], spec, check) -> np.ndarray:
    """One batch of in-memory arrays, each a sample or a batch of them (``check``: samples.check_array)."""
    return np.concatenate([check(a, spec, f"inputs[{i}]") for i, a in enumerate(items)])


#: an input of this many axes or more (N, C, H, W) is a batch where nothing else says what it is: a
#: torch module given no example is exported from its first row
BATCH_NDIM = 4


def rank_by_shape(first) -> "int | None":
    """The rank of one sample where ``first``, a loader's first input, is a batch by its shape alone
    (:data:`BATCH_NDIM` axes or more, as :func:`first_batch` takes it); None where it is not."""
    shape = getattr(first, "shape", None)
    return len(shape) - 1 if shape is not None and len(shape) >= BATCH_NDIM else None


def first_batch(held: InMemory) -> "np.ndarray | None":
    """The first sample of in-memory arrays as a batch of one (an exporter's example), where its shape
    or its target says whether the first item is one sample or a batch: None when neither does."""
    if held.kind != "arrays" or not held.items:
        return None
    first = held.items[0]
    target = None if held.targets is None else held.targets[0]
    if target is not None and np.ndim(target) == 0:
        return first[None]
    if target is not None and np.ndim(target) == 1 and len(target) == len(first) or first.ndim >= BATCH_NDIM:
        return first[:1]
    return None


def example_of(held) -> "np.ndarray | None":
    """An exporter's example batch from inputs as :func:`~srop_onnx.inputs.inputset.in_memory` gives
    them: the first row of an array batch, the first sample of in-memory arrays (:func:`first_batch`);
    None for files and images (they are preprocessed for an ONNX model that is not there yet)."""
    if isinstance(held, np.ndarray):
        return held[:1]
    return first_batch(held) if isinstance(held, InMemory) else None
